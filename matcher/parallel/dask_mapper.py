"""The parts of a round solved by region on a Dask cluster (`dask.distributed`), as a mapper.

`matcher.solver.decompose.solve_decomposed` hands every part's work to a ``map``-like callable
(tasks and answers are picklable, every task is a pure function, answers come back in task
order), and to its ``submit`` where it has one. `matcher.parallel.ProcessMapper` does that with local worker
processes; `DaskMapper` does it with a `distributed.Client`, so the same round runs on a Dask
cluster (one machine or many) with the same answer. This module imports Dask only in
`connect` (``matcher run --dask ADDRESS``); otherwise the caller makes the client
(``Client(address)`` or ``Client(LocalCluster(...))``) and owns it.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from matcher.errors import InputError, Problem

log = logging.getLogger(__name__)


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


@contextmanager
def connect(address: str, option: str = "--dask", connect_timeout: float = 10
            ) -> Iterator[DaskMapper]:
    """A `DaskMapper` on the scheduler at `address` (``tcp://host:8786``) for the duration of the
    block. InputError naming `option` when Dask is not installed or the scheduler does not
    answer."""
    try:
        from distributed import Client
    except ImportError:
        raise InputError([Problem(option, None, None, "needs Dask: pip install 'matcher[dask]'")]
                         ) from None
    try:
        client = Client(address, timeout=connect_timeout)
    except (OSError, TimeoutError, ValueError) as exc:
        raise InputError([Problem(option, None, None, f"cannot reach the Dask scheduler at "
                                  f"{address!r}: {exc}")]) from None
    with client:
        log.info("solving on the Dask cluster at %s (%d worker threads)", address,
                 sum(client.nthreads().values()))
        yield DaskMapper(client)
