"""The server's storage failing (full, read-only, an operating-system error) is a 503 with a
clear body and Retry-After, never a 500; the request changed nothing; the audit chain verifies;
the service works again once the storage does (issue #33, case 5: the API part)."""

from __future__ import annotations

import errno
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from api import importing, storage_errors
from api.audit import verify
from api.services.jobs import Worker
from api.settings import job_config, sqlite_url
from tests.api.conftest import Api, make_api


def _on_connect(api: Api, sql: str | None) -> Callable[[], None]:
    """Run `sql` on every new database connection of the app from now on (the pool and the
    shortlist store's own connection are renewed); returns the undo."""
    engine = api.app.state.db.engine

    def run(conn: Any, _record: Any) -> None:
        cur = conn.cursor()
        cur.execute(sql)
        cur.close()
        conn.commit()  # PostgreSQL: a SET in a transaction rolled back would be undone

    def renew() -> None:
        engine.dispose()
        api.app.state.shortlists.close()

    event.listen(engine, "connect", run)
    renew()

    def undo() -> None:
        event.remove(engine, "connect", run)
        renew()
    return undo


def _refused(r: Any, detail: str) -> None:
    assert r.status_code == 503, r.text
    assert r.json() == {"detail": detail} and int(r.headers["Retry-After"]) > 0


def _counts(api: Api) -> tuple[int, int, int]:
    return (api.get("/v1/imports").json()["total"], api.get("/v1/rounds").json()["total"],
            api.get("/v1/candidates").json()["total"])


def test_a_full_sqlite_database(tmp_path: Path) -> None:
    # no in-process worker: the test takes the job up itself once there is room again (a
    # worker polling meanwhile would spend both attempts while the disk is still full)
    for api in make_api(sqlite_url(tmp_path / "m.db"), job_lease_seconds=1,
                        job_heartbeat_seconds=0.2, in_process_worker=False):
        _full(api)


def _full(api: Api) -> None:
    api.import_pilot()
    imports, _, candidates = _counts(api)
    pages = api.app.state.db.engine.connect().exec_driver_sql("PRAGMA page_count").scalar()
    undo = _on_connect(api, f"PRAGMA max_page_count={int(pages)}")
    try:
        _refused(api.post("/v1/imports", json={"organisations": [
            {"organisation_id": f"NEW{i}", "name": "New " * 50, "kind": "employer",
             "guidance_capacity": 0}
            for i in range(200)]}), storage_errors.DISK_FULL)
        # a round: refused before it is stored (503), or stored but its result not (202:
        # a worker takes its job up again once there is room)
        r = api.post("/v1/rounds", json={})
        assert r.status_code in (202, 503), r.text
        if r.status_code == 503:
            _refused(r, storage_errors.DISK_FULL)
        else:
            assert r.json()["status"] in ("running", "queued") and r.json()["counts"] is None
        # shortlists (the fast path answers these outside FastAPI's handlers): some may still
        # fit in the pages there are, the rest are refused the same way; none is a 500
        answers = [api.client.post("/v1/options/TCK-KEUKEN/shortlist?k=50",
                                   headers={**api.h("esp_tck"), "Idempotency-Key": f"full-{i}"})
                   for i in range(40)]
        assert {a.status_code for a in answers} <= {201, 503}
        refused = [a for a in answers if a.status_code == 503]
        assert refused, "the database never filled up"
        for a in refused:
            _refused(a, storage_errors.DISK_FULL)
        issued = len(answers) - len(refused)
    finally:
        undo()
    assert _counts(api)[::2] == (imports, candidates)  # nothing half-imported
    if r.status_code == 202:  # taken up again by a worker once there is room
        time.sleep(1.2)  # the request's lease runs out
        assert Worker(api.app.state.db, job_config(api.app.state.settings)).run_once()
        body = api.get(f"/v1/rounds/{r.json()['id']}").json()
        assert body["status"] == "done" and body["job"]["attempts"] == 2
    assert api.post("/v1/rounds", json={}).status_code == 201
    assert api.get("/v1/shortlists", "esp_tck").json()["total"] == issued
    assert verify(api.app.state.db).ok


def test_a_read_only_database(api: Api, database_url: str) -> None:
    api.import_pilot()
    before = _counts(api)
    sql = ("PRAGMA query_only=1" if database_url.startswith("sqlite")
           else "SET default_transaction_read_only = on")
    undo = _on_connect(api, sql)
    try:
        assert api.get("/v1/rounds").status_code == 200  # reading still works
        _refused(api.post("/v1/rounds", json={}), storage_errors.READ_ONLY)
        _refused(api.post("/v1/imports", json={"organisations": [
            {"organisation_id": "NEW", "name": "New", "kind": "employer", "guidance_capacity": 0}]}),
            storage_errors.READ_ONLY)
    finally:
        undo()
    assert _counts(api) == before
    assert api.post("/v1/rounds", json={}).status_code == 201
    assert verify(api.app.state.db).ok


@pytest.mark.parametrize(("code", "detail"), [
    (errno.ENOSPC, storage_errors.DISK_FULL), (errno.EFBIG, storage_errors.DISK_FULL),
    (errno.EROFS, storage_errors.READ_ONLY), (errno.EIO, None)])
def test_an_operating_system_error_while_importing(sqlite_api: Api, code: int,
                                                   detail: str | None,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    api = sqlite_api

    def fail(*a: object, **k: object) -> None:
        raise OSError(code, __import__("os").strerror(code), "/srv/matcher/spool/upload-1")

    monkeypatch.setattr(importing, "from_csv", fail)
    r = api.client.post("/v1/imports/csv", headers=api.h("coordinator"),
                        files={"organisations": ("organisations.csv", b"organisation_id\nX\n")})
    assert r.status_code == 503, r.text
    body = r.json()["detail"]
    assert "/srv/matcher" not in body and "nothing was changed" in body  # no server path
    if detail is not None:
        assert body == detail
    else:
        assert __import__("os").strerror(code) in body
    assert api.get("/v1/imports").json()["total"] == 0
