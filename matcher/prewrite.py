"""edges.csv written while a round is solved.

edges.csv (one row per scored pair, by far the largest output: 589 MB at 200,000 candidates)
depends on the scored pairs only, not on the answer. A round solved by region in worker
processes leaves its calling process waiting for the parts, so the CLI and the benchmarks write
edges.csv then, in a thread, into a temporary folder beside the output folder, and
`matcher.round.write_round` moves the finished file into the round's folder. The round stays
all or nothing: a failed or abandoned round leaves no file behind, and the bytes (and sha256)
are those `write_round` writes itself.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pandas as pd

from matcher.atomic import staging_dir
from matcher.csvout import write_csv_frames
from matcher.model import Instance
from matcher.scoring import EdgeTable

log = logging.getLogger(__name__)

EDGES_FILE = "edges.csv"


class Cancelled(Exception):
    """The round was abandoned while its edges.csv was being written."""


def write_edges(edges: EdgeTable, inst: Instance, path: Path, csv_options: dict[str, str],
                cancel: threading.Event | None = None) -> str:
    """Write edges.csv (`EdgeTable.to_frames`, piece by piece) to `path`; returns its sha256.
    With `cancel` set the write stops before its next piece (raises `Cancelled`)."""

    def pieces() -> Iterator[pd.DataFrame]:
        for frame in edges.to_frames(inst, categorical_ids=True):
            if cancel is not None and cancel.is_set():
                raise Cancelled(str(path))
            yield frame

    return write_csv_frames(pieces(), path, **csv_options)


class EdgesPrewrite:
    """edges.csv of a round written in a background thread (use as a context manager).

    `start(edges, inst)` begins the write into a new temporary folder beside `out_dir`;
    `move_to(path)` waits for it, moves the file to `path` and returns its sha256 (None when
    never started, so the caller writes the file itself); leaving the context stops an
    unfinished write and removes whatever was not moved.
    """

    def __init__(self, out_dir: Path, csv_options: dict[str, str]) -> None:
        self.out_dir = Path(out_dir)
        self.csv_options = dict(csv_options)
        self.seconds: float | None = None  # how long the background write took
        self._cancel = threading.Event()
        self._pool: ThreadPoolExecutor | None = None
        self._future: Future[str] | None = None
        self._dir: Path | None = None

    def start(self, edges: EdgeTable, inst: Instance) -> None:
        if self._future is not None:
            raise RuntimeError("edges.csv is already being written")
        self._dir = staging_dir(self.out_dir)
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="edges-csv")
        self._future = self._pool.submit(self._write, edges, inst, self._dir / EDGES_FILE)
        log.info("writing %s in the background while the round is solved", EDGES_FILE)

    def _write(self, edges: EdgeTable, inst: Instance, path: Path) -> str:
        t = time.perf_counter()
        digest = write_edges(edges, inst, path, self.csv_options, self._cancel)
        self.seconds = time.perf_counter() - t
        return digest

    def move_to(self, path: Path) -> str | None:
        """Wait for the background write (re-raising its error), move the file to `path` and
        return its sha256; None if no write was started or it was already moved."""
        if self._future is None or self._dir is None:
            return None
        digest = self._future.result()
        (self._dir / EDGES_FILE).rename(path)
        self._future = None
        return digest

    def close(self) -> None:
        self._cancel.set()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def __enter__(self) -> EdgesPrewrite:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
