"""Parallel work as ``map``-like callables, for the library's two parallel jobs: scoring
(`matcher.scoring.build_edges`: chunks of candidates) and solving by region
(`matcher.solver.decompose`: the parts' tasks). Each takes its own mapper
(`matcher.round.run_round(score_mapper=..., solve_mapper=...)`).

`Mapper` is the protocol: ``mapper(fn, items)`` yields ``fn(item)`` for each item, in order (the
built-in ``map`` is one, the default everywhere: sequential, in this process). A mapper that
also offers ``submit(fn, item)`` (a future with ``result()``) lets the solve by region start one
task early (`SubmitMapper`). Two mappers ship: `ProcessMapper` (local worker processes) and
`matcher.parallel.dask_mapper.DaskMapper` (a Dask cluster, imported only when used). Tasks and
answers are picklable and every task is a pure function, so any mapper gives the same answer.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, Protocol, runtime_checkable


class Mapper(Protocol):
    """``mapper(fn, items)`` yields ``fn(item)`` for each item, in the items' order."""

    def __call__(self, fn: Callable[[Any], Any], items: Iterable[Any], /) -> Iterable[Any]: ...


@runtime_checkable
class SubmitMapper(Mapper, Protocol):
    """A mapper that can also run one task now and hand back its future."""

    def submit(self, fn: Callable[[Any], Any], item: Any, /) -> Any: ...


class ProcessMapper:
    """A ``map``-like callable over worker processes (`concurrent.futures.ProcessPoolExecutor`,
    spawned, so nothing of the caller's state is inherited), for the parts' work on a machine
    with several cores. Results come back in task order and each task is a pure function, so
    the answer is the same as with the built-in ``map``; at most ``2 * workers`` tasks are in
    flight, so only that many parts' arrays are held at once. The pool is started on first use
    and kept until `close` (use as a context manager). A Ray or Dask map plugs in the same way.
    Spawned workers import the caller's main module: a script that uses this must keep its work
    under ``if __name__ == "__main__":`` (the CLI and `python -m benchmarks...` do).
    """

    def __init__(self, workers: int) -> None:
        self.workers = max(1, workers)
        self._pool: ProcessPoolExecutor | None = None

    def _started(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self.workers,
                                             mp_context=multiprocessing.get_context("spawn"))
        return self._pool

    def submit(self, fn: Callable[[Any], Any], item: Any) -> Future[Any]:
        """One task in a worker process, now; its answer when asked for (`Future.result`).
        `solve_decomposed` uses this, where a mapper offers it, to run the whole problem's
        class-quota flow while the coordination runs."""
        return self._started().submit(fn, item)

    def __call__(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
        pool = self._started()
        pending: deque[Future[Any]] = deque()
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= 2 * self.workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def __enter__(self) -> ProcessMapper:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
