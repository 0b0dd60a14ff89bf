"""edges.csv written while a round is solved, on the CPU time the round leaves idle.

edges.csv (one row per scored pair, by far the largest output: 589 MB at 200,000 candidates,
4.5 GB at 1.3 million) depends on the scored pairs only, not on the answer, and a round solved
by region leaves a core idle for long stretches after its first pass (the coordination's serial
steps, the whole-problem auctions' serial half, the last class-quota flow). So the CLI and the
benchmarks hand edges.csv, before such a round's solve, to a forked child process at the lowest
CPU priority (Linux ``SCHED_IDLE``, else nice 19): it runs only on a core nothing else wants,
and it shares the pairs copy-on-write instead of copying them. `matcher.round.write_round`
moves the finished file into the round's folder. (A city's round does not use it: there the
writer's cache and memory traffic slowed the solve by more than the write it saved.)

If the file is not finished when `write_round` needs it (an idle-priority process may get no
core on a machine busy with other work), the writer is stopped and `write_round` writes the file
itself, as it always did; so it does where processes cannot be forked (`EdgesPrewrite.start`
then does nothing). The round stays all or nothing: the file goes to a temporary folder beside
the output folder, a failed or abandoned round leaves nothing behind, and the bytes (and
sha256) are the same either way.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import shutil
import time
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path

from matcher.atomic import staging_dir
from matcher.csvout import write_csv_frames
from matcher.model import Instance
from matcher.scoring import EdgeTable

log = logging.getLogger(__name__)

EDGES_FILE = "edges.csv"
#: Whether a writer process can be forked here (it shares the pairs instead of copying them).
CAN_FORK = "fork" in multiprocessing.get_all_start_methods()


def write_edges(edges: EdgeTable, inst: Instance, path: Path,
                csv_options: dict[str, str]) -> str:
    """Write edges.csv (`EdgeTable.to_frames`, piece by piece) to `path`; returns its sha256."""
    return write_csv_frames(edges.to_frames(inst, categorical_ids=True), path, **csv_options)


def _lowest_priority() -> None:
    """Run this process only on CPU time nothing else wants (Linux SCHED_IDLE, else nice 19)."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):
        with contextlib.suppress(AttributeError, OSError):
            os.setpriority(os.PRIO_PROCESS, 0, 19)


def _writer(edges: EdgeTable, inst: Instance, path: Path, csv_options: dict[str, str],
            conn: Connection) -> None:
    """The forked child: write the file, then send (sha256, seconds) or the exception."""
    try:
        _lowest_priority()
        t = time.perf_counter()
        digest = write_edges(edges, inst, path, csv_options)
        conn.send((digest, time.perf_counter() - t))
    except BaseException as exc:  # reported to the parent, which raises it
        try:
            conn.send(exc)
        except Exception:  # not picklable: its text then
            conn.send(RuntimeError(f"writing {path.name} failed: {exc!r}"))
    finally:
        conn.close()


class EdgesPrewrite:
    """edges.csv of a round written by a low-priority child process (use as a context manager).

    `start(edges, inst)` forks the writer into a new temporary folder beside `out_dir`;
    `move_to(path)` moves the finished file to `path` and returns its sha256 (None when never
    started or not finished, so the caller writes the file itself; with `wait` it waits for an
    unfinished one); leaving the context stops an unfinished write and removes whatever was not
    moved.
    """

    def __init__(self, out_dir: Path, csv_options: dict[str, str], wait: bool = False) -> None:
        self.out_dir = Path(out_dir)
        self.csv_options = dict(csv_options)
        self.wait = wait
        self.seconds: float | None = None  # how long the background write took
        self._proc: BaseProcess | None = None
        self._conn: Connection | None = None
        self._dir: Path | None = None

    def start(self, edges: EdgeTable, inst: Instance) -> None:
        if self._proc is not None:
            raise RuntimeError("edges.csv is already being written")
        if not CAN_FORK:
            return
        self._dir = staging_dir(self.out_dir)
        ctx = multiprocessing.get_context("fork")
        recv, send = ctx.Pipe(duplex=False)
        self._proc = ctx.Process(target=_writer, name="edges-csv", daemon=True,
                                 args=(edges, inst, self._dir / EDGES_FILE, self.csv_options,
                                       send))
        self._proc.start()
        send.close()
        self._conn = recv
        log.info("writing %s in a low-priority process while the round is solved", EDGES_FILE)

    def move_to(self, path: Path) -> str | None:
        """Move the finished file to `path` and return its sha256 (raising the writer's error).
        None, so that the caller writes the file itself, if no write was started, it was moved
        already, or it has not finished (the writer is stopped then, unless `wait`): at the
        lowest priority it may not get a core soon on a machine that is busy with other work,
        and writing it at normal priority now costs what it always did."""
        if self._proc is None or self._conn is None or self._dir is None:
            return None
        if not self.wait and not self._conn.poll():
            log.info("%s was not finished in the background; writing it now", EDGES_FILE)
            self.close()
            return None
        try:
            got = self._conn.recv()
        except EOFError:
            self._proc.join()
            raise RuntimeError(f"the process writing {EDGES_FILE} ended without an answer "
                               f"(exit code {self._proc.exitcode})") from None
        self._proc.join()
        if isinstance(got, BaseException):
            raise got
        digest, self.seconds = got
        (self._dir / EDGES_FILE).rename(path)
        self._conn.close()
        self._proc, self._conn = None, None
        return str(digest)

    def close(self) -> None:
        if self._proc is not None:
            if self._proc.is_alive():
                self._proc.terminate()
            self._proc.join()
            self._proc = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def __enter__(self) -> EdgesPrewrite:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
