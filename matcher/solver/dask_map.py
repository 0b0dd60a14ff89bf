"""The parts of a round solved by region on a Dask cluster (`dask.distributed`), as a mapper.

`matcher.solver.decompose.solve_decomposed` hands every part's work to a ``map``-like callable
(tasks and answers are picklable, every task is a pure function, answers come back in task
order), and to its ``submit`` where it has one. `ProcessMapper` does that with local worker
processes; `DaskMapper` does it with a `distributed.Client`, so the same round runs on a Dask
cluster (one machine or many) with the same answer. This module does not import Dask: the
caller makes the client (``Client(address)`` or ``Client(LocalCluster(...))``) and owns it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any


class DaskMapper:
    """A mapper over a `distributed.Client`: each task is ``client.submit(fn, task)``; at most
    `in_flight` tasks are out at once (default: twice the cluster's worker threads, as
    `ProcessMapper` keeps twice its processes), so only that many parts' arrays are held at
    once; answers come back in task order. Tasks are submitted with ``pure=False`` (no hashing
    of the large arrays they carry; each is run once)."""

    def __init__(self, client: Any, in_flight: int | None = None) -> None:
        self.client = client
        if in_flight is None:
            threads = sum(client.nthreads().values()) or 1
            in_flight = 2 * threads
        self.in_flight = max(1, in_flight)

    def submit(self, fn: Callable[[Any], Any], item: Any) -> Any:
        """One task on the cluster, now; its answer from the returned future's ``result()``."""
        return self.client.submit(fn, item, pure=False)

    def __call__(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
        pending: deque[Any] = deque()
        for item in items:
            pending.append(self.submit(fn, item))
            if len(pending) >= self.in_flight:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
