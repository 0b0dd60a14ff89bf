"""Helpers of the fault tests: generated data, a `matcher serve` or `matcher worker` process
that can be killed with SIGKILL, and checks that nothing half-written is visible."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from sqlalchemy import func, select

from api.audit import verify
from api.db import Database
from api.models import AuditRecord, Import, Round, RoundAssignment, RoundUnmatched, Shortlist, ShortlistEntry
from matcher.synth.generate import generate, write_generated

FAST_JOBS = {"MATCHER_JOB_LEASE_SECONDS": "2", "MATCHER_JOB_HEARTBEAT_SECONDS": "0.5",
             "MATCHER_JOB_POLL_SECONDS": "0.2"}


def data_folder(n: int, out: Path, seed: int = 1) -> Path:
    write_generated(generate(n, seed=seed, protected=False, decisions=False), out)
    return out


def csv_files(folder: Path, tables: tuple[str, ...] = ("organisations", "options", "candidates")
              ) -> dict[str, tuple[str, bytes, str]]:
    return {t: (f"{t}.csv", (folder / f"{t}.csv").read_bytes(), "text/csv") for t in tables}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(url: str, extra: dict[str, str] | None) -> dict[str, str]:
    env = {**os.environ, "DATABASE_URL": url, "MATCHER_LOG_FORMAT": "json", **FAST_JOBS}
    return env | (extra or {})


@contextmanager
def process(args: list[str], url: str, log: Path, extra: dict[str, str] | None = None
            ) -> Iterator[subprocess.Popen[bytes]]:
    """`matcher ARGS` on the database `url`; killed (SIGKILL) at the end if still running."""
    with log.open("ab") as out:
        p = subprocess.Popen([sys.executable, "-m", "matcher", *args], env=_env(url, extra),
                             stdout=out, stderr=out)
    try:
        yield p
    finally:
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
        p.wait(timeout=30)


def wait_http(base: str, path: str = "/health", timeout: float = 120) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            if httpx.get(base + path, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{base}{path} did not answer within {timeout} s")


def kill9(p: subprocess.Popen[bytes]) -> None:
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=30)


def nothing_half_written(db: Database) -> dict[str, int]:
    """The audit chain verifies; every import, finished round and shortlist is whole and has
    its audit record; no round is left running without a live claim. Returns the counts."""
    report = verify(db)
    assert report.ok, report
    with db.session() as s:
        actions = dict(s.execute(select(AuditRecord.action, func.count())
                                 .group_by(AuditRecord.action)).all())
        imports = s.scalar(select(func.count()).select_from(Import)) or 0
        assert actions.get("import", 0) == imports
        shortlists = s.scalar(select(func.count()).select_from(Shortlist)) or 0
        assert actions.get("shortlist", 0) == shortlists
        empty = s.scalar(select(func.count()).select_from(Shortlist).where(
            ~Shortlist.id.in_(select(ShortlistEntry.shortlist_id)))) or 0
        assert empty == 0
        for rnd in s.scalars(select(Round)):
            n_assign = s.scalar(select(func.count()).select_from(RoundAssignment)
                                .where(RoundAssignment.round_id == rnd.id)) or 0
            n_unm = s.scalar(select(func.count()).select_from(RoundUnmatched)
                             .where(RoundUnmatched.round_id == rnd.id)) or 0
            if rnd.status == "done":
                counts = (rnd.summary or {})["counts"]
                assert n_assign == counts["matched"], (rnd.id, n_assign, counts)
            else:
                assert n_assign == 0 and n_unm == 0, (rnd.id, rnd.status)
    return {"imports": imports, "shortlists": shortlists, "records": report.records}


def claim_concurrently(url: str, claimers: int) -> list[tuple[str, int]]:
    """Claim every claimable job from `claimers` threads at once, each with its own Database
    (as separate processes would have: no shared lock in Python; only the database's SKIP
    LOCKED / BEGIN IMMEDIATE keeps the claims apart); (kind, target) of each claim."""
    import threading

    from api.store import jobs
    from api.store.jobs import Expired

    dbs = [Database(url) for _ in range(claimers)]
    claimed: list[tuple[str, int]] = []
    start = threading.Barrier(claimers)

    def claimer(i: int) -> None:
        start.wait()
        while True:
            with jobs.claiming(dbs[i]) as s:
                got = jobs.claim(s, f"w{i}", 60)
            if got is None:
                return
            assert not isinstance(got, Expired)
            claimed.append((got.kind, got.target))

    threads = [threading.Thread(target=claimer, args=(i,)) for i in range(claimers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for d in dbs:
        d.dispose()
    return claimed
