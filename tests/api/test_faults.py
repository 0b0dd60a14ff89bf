"""Faults: processes killed with SIGKILL, the database cut off, two claimers, a full disk.

After each: the audit chain verifies and nothing half-written is visible. Budget (with the Dask
tests): 4 minutes of CI in all; each case says what it tried in /work/notes/ops.md terms.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError

from api.audit import verify
from api.db import Database
from api.models import AuditRecord, Record, Round, RoundJob, Shortlist
from api.services.jobs import JobConfig, Worker
from api.settings import sqlite_url
from api.store import jobs
from tests.api.conftest import _pg_schema, make_api
from tests.api.faultkit import (
    csv_files,
    data_folder,
    free_port,
    kill9,
    nothing_half_written,
    process,
    wait_http,
)

FAST = JobConfig(lease_seconds=2.0, heartbeat_seconds=0.5, poll_seconds=0.2, max_attempts=2)

pytestmark = pytest.mark.faults


class Cut:
    """A TCP forwarder to PostgreSQL that can be cut (every connection dropped, new ones
    refused) and restored: the database going away and coming back, as the app sees it."""

    def __init__(self, target: tuple[str, int] = ("127.0.0.1", 5432)) -> None:
        self.target = target
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.listener.listen(64)
        self.up = True
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up:
                client.close()
                continue
            server = socket.create_connection(self.target)
            self.conns += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                with contextlib.suppress(OSError):
                    s.close()

    def cut(self) -> None:
        self.up = False
        for c in self.conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
                c.close()
            except OSError:
                pass
        self.conns = []

    def restore(self) -> None:
        self.up = True

    def close(self) -> None:
        self.cut()
        self.listener.close()


@pytest.fixture
def cut_pg() -> Iterator[tuple[Cut, str]]:
    cut = Cut()
    for url in _pg_schema():
        yield cut, url.replace("127.0.0.1:5432", f"127.0.0.1:{cut.port}")
    cut.close()


@pytest.mark.postgres
def test_database_unreachable_is_503_with_a_clear_message_then_recovers(
        cut_pg: tuple[Cut, str]) -> None:
    cut, url = cut_pg
    for api in make_api(url, job_poll_seconds=0.2):
        api.import_pilot()
        assert api.get("/v1/rounds").status_code == 200
        cut.cut()
        r = api.get("/v1/rounds")
        assert r.status_code == 503, r.text
        assert "database is unreachable" in r.json()["detail"] and r.headers["Retry-After"]
        r = api.post("/v1/rounds", json={})
        assert r.status_code == 503
        ready = api.client.get("/ready")
        assert ready.status_code == 503 and "unreachable" in ready.json()["checks"]["database"]
        assert api.client.get("/health").status_code == 200  # alive, not ready
        cut.restore()
        assert api.get("/v1/rounds").json()["total"] == 0  # nothing half-made while it was away
        assert api.post("/v1/rounds", json={}).status_code == 201
        assert verify(api.app.state.db).ok


# ---- processes killed with SIGKILL -----------------------------------------------------------

def _prepared(tmp_path: Path, n: int = 1000) -> tuple[str, dict[str, str], list[str]]:
    """A SQLite service database with n generated candidates imported; (url, keys, options)."""
    url = sqlite_url(tmp_path / "m.db")
    folder = data_folder(n, tmp_path / f"data{n}")
    for api in make_api(url, in_process_worker=False, sync_round_max_candidates=10):
        r = api.post("/v1/imports/csv", files=csv_files(folder))
        assert r.status_code == 201, r.text
        options = [o["option_id"] for o in api.all_items("/v1/options")]
        keys = dict(api.keys)
    return url, keys, options


def _queued_round(tmp_path: Path) -> tuple[str, int]:
    """A prepared database with one round queued as a job (no worker runs it yet)."""
    url, keys, _ = _prepared(tmp_path)
    for api in make_api(url, in_process_worker=False, sync_round_max_candidates=10):
        api.keys = keys
        rid = api.round()["id"]
    return url, rid


def _db(url: str) -> Database:
    return Database(url)


def test_kill9_during_a_round_then_taken_up_again(tmp_path: Path) -> None:
    url, rid = _queued_round(tmp_path)
    db = _db(url)
    with process(["worker"], url, tmp_path / "worker.log") as p:
        stage = _wait_stage(db, rid)
        kill9(p)
    with db.session() as s:
        assert s.get(Round, rid).status == "running"  # the dead worker's claim
    restart = time.monotonic()
    stop = threading.Event()
    w = Worker(db, FAST, stopping=stop)
    t = threading.Thread(target=w.serve)
    t.start()
    try:
        final = _wait_final(db, rid, timeout=120)
    finally:
        stop.set()
        t.join()
    took = time.monotonic() - restart
    assert final == ("done", 2), final
    counts = nothing_half_written(db)
    print(f"FIGURE round killed at stage {stage!r}; done on attempt 2, {took:.1f} s after the "
          f"restart; {counts}")
    db.dispose()


def _wait_stage(db: Database, rid: int, timeout: float = 120) -> str:
    """Wait until the round is running past its claim (scoring or solving)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with db.session() as s:
            rnd = s.get(Round, rid)
            if rnd is not None and rnd.status == "running" and not rnd.stage.startswith("running"):
                return rnd.stage
            if rnd is not None and rnd.status == "done":
                raise AssertionError("the round finished before it could be killed")
        time.sleep(0.05)
    raise AssertionError("the round never started")


def _wait_final(db: Database, rid: int, timeout: float) -> tuple[str, int]:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with db.session() as s:
            job = jobs.job_for_round(s, rid)
            if job is not None and job.status in jobs.FINAL:
                return job.status, job.attempts
        time.sleep(0.1)
    raise AssertionError(f"round {rid} did not finish")


@pytest.mark.parametrize("kill_after", [0.4, 2.5])
def test_kill9_during_an_import_and_shortlist_batches(tmp_path: Path, kill_after: float) -> None:
    """Killed while a 5,000-candidate import (about 1 s) and shortlist batches are written:
    at 0.4 s (inside the import) and 2.5 s (after it committed)."""
    url, keys, options = _prepared(tmp_path)
    big = data_folder(5000, tmp_path / "data5000", seed=2)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    head = {"X-API-Key": keys["coordinator"]}
    issued: list[int] = []
    outcome: dict[str, object] = {}

    def importer() -> None:
        try:
            r = httpx.post(base + "/v1/imports/csv", headers=head, files=csv_files(big),
                           data={"mode": "replace"}, timeout=120)
            outcome["import"] = r.status_code
        except httpx.HTTPError as exc:
            outcome["import"] = type(exc).__name__

    def shortlister(i: int) -> None:
        with httpx.Client(base_url=base, headers=head, timeout=30) as c:
            for j in range(10_000):
                try:
                    r = c.post(f"/v1/options/{options[(i * 7 + j) % len(options)]}/shortlist")
                except httpx.HTTPError:
                    return
                if r.status_code == 201:
                    issued.append(r.json()["id"])

    with process(["serve", "--port", str(port)], url, tmp_path / "serve.log") as p:
        wait_http(base)
        threads = [threading.Thread(target=importer)] + [
            threading.Thread(target=shortlister, args=(i,)) for i in range(3)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        time.sleep(kill_after)
        kill9(p)
        for t in threads:
            t.join()
    db = _db(url)
    counts = nothing_half_written(db)
    with db.session() as s:
        cands = s.scalar(select(func.count()).select_from(Record)
                         .where(Record.kind == "candidates"))
    assert cands in (1000, 5000)
    assert set(issued) <= _ids(db)  # every shortlist a client got is stored whole
    print(f"FIGURE killed {time.monotonic() - t0:.1f} s into an import of 5000 candidates "
          f"({outcome.get('import')}) and {len(issued)} shortlists answered: {cands} candidates "
          f"stored, {counts}")
    db.dispose()
    for api in make_api(url, in_process_worker=False):
        api.keys = keys
        assert api.post(f"/v1/options/{options[0]}/shortlist").status_code == 201
        nothing_half_written(api.app.state.db)


def _ids(db: Database) -> set[int]:
    with db.session() as s:
        return set(s.scalars(select(Shortlist.id)))


def test_kill9_during_an_output_write(tmp_path: Path) -> None:
    folder = data_folder(1000, tmp_path / "data")
    out = tmp_path / "out"
    log = tmp_path / "run.log"
    with log.open("ab") as f:
        p = subprocess.Popen([sys.executable, "-m", "matcher", "run", str(folder), "--out",
                              str(out)], stdout=f, stderr=f)
    try:
        staging = _wait_glob(tmp_path, ".out.tmp-*", p)
        kill9(p)
    finally:
        if p.poll() is None:
            kill9(p)
    assert not out.exists()  # nothing half-written under the name a user reads
    left = [x.name for x in tmp_path.glob(".out.*")]
    print(f"FIGURE output write killed with {len(list(staging.iterdir()))} file(s) staged: "
          f"{out.name} absent; hidden staging folders left: {left}")


def _wait_glob(folder: Path, pattern: str, p: subprocess.Popen[bytes]) -> Path:
    end = time.monotonic() + 180
    while time.monotonic() < end:
        found = [x for x in folder.glob(pattern) if any(x.iterdir())]
        if found:
            return found[0]
        if p.poll() is not None:
            raise AssertionError("matcher run ended before it wrote anything")
        time.sleep(0.01)
    raise AssertionError("no staging folder appeared")


# ---- a full disk, two claimers ---------------------------------------------------------------

def test_disk_full_while_writing_a_round(tmp_path: Path) -> None:
    url, rid = _queued_round(tmp_path)
    db = _db(url)
    limit = {"pages": 0}

    @event.listens_for(db.engine, "connect")
    def _cap(conn: Any, _rec: Any) -> None:
        if limit["pages"]:
            conn.execute(f"PRAGMA max_page_count={limit['pages']}")

    with db.engine.connect() as conn:
        limit["pages"] = int(conn.exec_driver_sql("PRAGMA page_count").scalar() or 0) + 10
    db.engine.dispose()
    w = Worker(db, FAST)
    with pytest.raises(OperationalError, match="full"):
        w.run_once()
    counts = nothing_half_written(db)
    with db.session() as s:
        assert s.get(Round, rid).status == "running"
    limit["pages"] = 0
    db.engine.dispose()
    time.sleep(FAST.lease_seconds + 0.2)
    assert w.run_once()
    assert _wait_final(db, rid, 5) == ("done", 2)
    print(f"FIGURE disk full (SQLite max_page_count) while storing a round: nothing stored, "
          f"{counts}; done on attempt 2 once space returned")
    nothing_half_written(db)
    db.dispose()


def test_two_worker_processes_claim_each_job_once(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "m.db")
    for api in make_api(url, in_process_worker=False, sync_round_max_candidates=10):
        api.import_pilot()
        ids = [api.round()["id"] for _ in range(6)]
    db = _db(url)
    with process(["worker"], url, tmp_path / "w1.log"), \
            process(["worker"], url, tmp_path / "w2.log"):
        finals = [_wait_final(db, rid, timeout=180) for rid in ids]
    assert finals == [("done", 1)] * 6
    with db.session() as s:
        finished = s.scalar(select(func.count()).select_from(AuditRecord)
                            .where(AuditRecord.action == "round.finish"))
        workers = set(s.scalars(select(RoundJob.worker)))
    assert finished == 6
    counts = nothing_half_written(db)
    print(f"FIGURE 2 worker processes, 6 jobs: each done once by {len(workers)} worker(s); "
          f"{counts}")
    db.dispose()
