"""The audit chain stays one valid chain when shortlists (and other appends) run concurrently."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from api.audit import append, verify
from api.db import Database
from api.models import AuditRecord
from tests.api.conftest import Api

OPTIONS = ["FCU-SPORTWERK", "TCK-KEUKEN", "TCK-BEDIENING", "IDID-NAAIATELIER", "IDID-PRODUCTIE",
           "SPEC-TESTER", "USTAL-STALLING", "COMPASS-CATERING"]


def test_concurrent_shortlists_append_one_valid_chain(api: Api) -> None:
    api.import_pilot()
    asked = OPTIONS * 4

    def issue(option: str) -> tuple[int, int]:
        r = api.post(f"/v1/options/{option}/shortlist?k=5")
        return r.status_code, r.json()["id"]

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(issue, asked))
    assert all(code == 201 for code, _ in results)
    ids = sorted(i for _, i in results)
    assert len(set(ids)) == len(asked)
    report = api.get("/v1/audit/verify", "auditor").json()
    assert report["ok"] and report["records"] == 1 + len(asked)
    recs = api.all_items("/v1/audit/records", "auditor")
    assert [r["seq"] for r in recs] == list(range(1, len(recs) + 1))
    assert sorted(int(r["target"].split("/")[1]) for r in recs if r["action"] == "shortlist") == ids


@pytest.fixture
def servers(database_url: str) -> Iterator[list[Database]]:
    """Several independent engines on one database, as several server processes would have."""
    if not database_url.startswith("postgresql"):
        pytest.skip("several server processes are supported on PostgreSQL only")
    from api.db import migrate
    dbs = [Database(database_url) for _ in range(4)]
    migrate(dbs[0].engine)
    yield dbs
    for db in dbs:
        db.dispose()


def test_appends_from_several_processes_keep_one_chain(servers: list[Database]) -> None:
    def work(i: int) -> None:
        db = servers[i % len(servers)]
        with db.write() as s:
            append(s, key_id=i, action="test", target=f"t/{i}", input_hash="0" * 64,
                   output_hash="1" * 64)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(work, range(60)))
    report = verify(servers[0])
    assert report.ok and report.records == 60
    with servers[0].session() as s:
        targets = s.scalars(select(AuditRecord.target)).all()
        assert sorted(targets) == sorted(f"t/{i}" for i in range(60))
