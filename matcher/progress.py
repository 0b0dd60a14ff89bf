"""Progress of long computations, reported through a hook (library code never prints).

A front end (the CLI's rich progress bar, a web job, a benchmark) installs a hook for the
duration of a call::

    with progress_hook(lambda stage, done, total: ...):
        run_round(inst, policy)

Library code calls :func:`report`; without a hook it does nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

ProgressHook = Callable[[str, int, int], None]
_HOOK: ContextVar[ProgressHook | None] = ContextVar("matcher_progress_hook", default=None)


@contextmanager
def progress_hook(hook: ProgressHook | None) -> Iterator[None]:
    token = _HOOK.set(hook)
    try:
        yield
    finally:
        _HOOK.reset(token)


def report(stage: str, done: int, total: int) -> None:
    """Tell the installed hook (if any) that `done` of `total` units of `stage` are finished."""
    hook = _HOOK.get()
    if hook is not None:
        hook(stage, done, total)
