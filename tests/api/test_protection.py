"""Retention purges, the erasure of one person, backup and restore, and the upgrade from a
database made by migrations 0001-0002 (tests/data/matcher-0002.db, made with the code of
commit 37fbaaa: an import of the pilot, a round, a shortlist, a decision)."""

from __future__ import annotations

import gzip
import re
import shutil
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select, text, update
from typer.testing import CliRunner

from api.audit import verify
from api.db import Database
from api.models import Base, Outcome, Round, Shortlist, ShortlistFeedback
from matcher.cli import app as cli
from tests.api.conftest import Api, make_api

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "matcher-0002.db"
runner = CliRunner()


def _everything(db: Database) -> str:
    """Every stored value, round snapshots decompressed, as one text."""
    parts: list[str] = []
    with db.session() as s:
        for table in Base.metadata.sorted_tables:
            for row in s.execute(select(table)):
                for v in row:
                    parts.append(gzip.decompress(v).decode() if isinstance(v, bytes) else str(v))
    return "\n".join(parts)


def test_erasure_replaces_a_person_everywhere_and_the_chain_verifies(api: Api) -> None:
    db = api.app.state.db
    api.import_pilot()
    rid = api.round()["id"]
    listed = api.post("/v1/options/TCK-KEUKEN/shortlist", "esp_tck").json()["entries"]
    who, other = listed[0]["candidate_id"], listed[1]["candidate_id"]
    assert api.post("/v1/decisions", json={"candidate_id": who, "option_id": "TCK-KEUKEN",
                                           "kind": "forbid", "reason": "r"}).status_code == 201
    with db.write() as s:  # feedback and an outcome (their routes are the shortlist lane's)
        sl = s.scalars(select(Shortlist.id)).first()
        s.add(ShortlistFeedback(shortlist_id=sl, option_id="TCK-KEUKEN", candidate_id=who,
                                kind="invited", note="called", at="2026-01-01T00:00:00.000000Z"))
        # A coordinator's free-text reason for rejecting a reported hire may name the person.
        s.add(ShortlistFeedback(shortlist_id=sl, option_id="TCK-KEUKEN", candidate_id=who,
                                kind="hired", note="", at="2026-01-01T00:00:00.000000Z",
                                resolution="rejected", resolved_at="2026-01-02T00:00:00.000000Z",
                                resolution_reason=f"{who} took another job"))
        s.add(Outcome(candidate_id=who, option_id="TCK-KEUKEN", event="started",
                      date="2026-01-02", reason="", at="2026-01-02T00:00:00.000000Z"))
    assert re.search(rf"\b{who}\b", _everything(db))
    assert api.post(f"/v1/candidates/{who}/erase", "planner").status_code == 403
    r = api.post(f"/v1/candidates/{who}/erase")
    assert r.status_code == 200, r.text
    counts = r.json()["erased"]
    assert counts["candidates"] == 1 and counts["decisions"] >= 1
    assert counts["shortlist_entries"] == 1 and counts["round_snapshots"] == 1
    assert counts["round_assignments"] + counts["round_unmatched"] == 1
    assert counts["shortlist_answers"] == 1 and counts["shortlist_feedback"] == 2
    assert counts["outcomes"] == 1
    stored = _everything(db)
    assert not re.search(rf"\b{who}\b", stored)
    assert verify(db).ok
    # The others' explanations still work; the erased person is not in the round any more.
    assert api.get(f"/v1/rounds/{rid}/explain/{other}").status_code == 200
    assert api.get(f"/v1/rounds/{rid}/explain/{who}").status_code == 404
    assert api.round()["status"] == "done"  # a new round, without them
    assert api.post(f"/v1/candidates/{who}/erase").status_code == 404
    records = api.all_items("/v1/audit/records", "auditor")
    erase = [x for x in records if x["action"] == "erase"]
    assert len(erase) == 1 and who not in str(erase)
    # The command line does the same.
    url = str(db.engine.url.render_as_string(hide_password=False))
    if url.startswith("sqlite"):
        path = url.removeprefix("sqlite:///")
        assert runner.invoke(cli, ["erase", other, "--db", path, "--yes"]).exit_code == 0
        assert runner.invoke(cli, ["erase", other, "--db", path, "--yes"]).exit_code == 2
        assert runner.invoke(cli, ["audit-trail", "verify", "--db", path]).exit_code == 0


def test_purge_removes_old_personal_inputs_and_is_an_audit_record(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "m.db"
    for api in make_api(f"sqlite:///{path}"):
        db = api.app.state.db
        api.import_pilot()
        old, new = api.round()["id"], api.round()["id"]
        assert api.post("/v1/options/TCK-KEUKEN/shortlist", "esp_tck").status_code == 201
        with db.write() as s:
            s.execute(update(Round).where(Round.id == old)
                      .values(finished_at="2020-01-01T00:00:00.000000Z"))
            s.execute(update(Shortlist).values(issued_at="2020-01-01T00:00:00.000000Z"))
        cand = api.get(f"/v1/rounds/{old}/assignments").json()["items"][0]["candidate_id"]
        assert runner.invoke(cli, ["purge", "--db", str(path)]).stdout.startswith(
            "no retention period")
        monkeypatch.setenv("MATCHER_RETENTION_ROUND_INPUTS_DAYS", "30")
        monkeypatch.setenv("MATCHER_RETENTION_SHORTLISTS_DAYS", "30")
        dry = runner.invoke(cli, ["purge", "--db", str(path), "--dry-run"])
        assert "would purge: inputs of 1 round(s)" in dry.stdout
        assert api.get(f"/v1/rounds/{old}/explain/{cand}").status_code == 200
        r = runner.invoke(cli, ["purge", "--db", str(path)])
        assert r.exit_code == 0 and "purged: inputs of 1 round(s)" in r.stdout, r.stdout
        assert "shortlist entries" in r.stdout
        gone = api.get(f"/v1/rounds/{old}/explain/{cand}")
        assert gone.status_code == 410 and "purged" in gone.json()["detail"]
        assert api.get(f"/v1/rounds/{new}/explain/{cand}").status_code == 200
        assert api.get(f"/v1/rounds/{old}/assignments").json()["total"] > 0  # the proposal stays
        with db.session() as s:
            assert s.scalar(text("SELECT count(*) FROM shortlist_entries")) == 0
        actions = [x["action"] for x in api.all_items("/v1/audit/records", "auditor")]
        assert actions[-1] == "purge"
        assert runner.invoke(cli, ["purge", "--db", str(path)]).stdout.startswith(
            "purged: inputs of 0")
        assert verify(db).ok


def test_sqlite_backup_while_serving_and_restore(tmp_path: Path) -> None:
    path, bak = tmp_path / "m.db", tmp_path / "m.bak"
    for api in make_api(f"sqlite:///{path}"):
        api.import_pilot()
        api.round()
        r = runner.invoke(cli, ["backup", str(bak), "--db", str(path)])
        assert r.exit_code == 0, r.stdout
        api.round()
        assert api.get("/v1/rounds").json()["total"] == 2
    r = runner.invoke(cli, ["restore", str(bak), "--db", str(path)])
    assert r.exit_code == 2 and "--force" in r.stderr
    r = runner.invoke(cli, ["restore", str(bak), "--db", str(path), "--force"])
    assert r.exit_code == 0 and "audit chain ok" in r.stdout, r.stdout
    for api in make_api(f"sqlite:///{path}"):
        assert api.get("/v1/rounds").json()["total"] == 1
    junk = tmp_path / "junk"
    junk.write_text("not a database")
    r = runner.invoke(cli, ["restore", str(junk), "--db", str(path), "--force"])
    assert r.exit_code == 2 and "not a matcher SQLite backup" in r.stderr


@pytest.mark.postgres
def test_postgres_backup_and_restore(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import psycopg
    names = [f"matcher_bk_{uuid.uuid4().hex[:8]}" for _ in range(2)]
    admin = psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True)
    for n in names:
        admin.execute(f'CREATE DATABASE "{n}"')
    src, dst = (f"postgresql+psycopg://postgres@127.0.0.1:5432/{n}" for n in names)
    try:
        for api in make_api(src):
            api.import_pilot()
            api.round()
        bak = tmp_path / "pg.dump"
        monkeypatch.setenv("DATABASE_URL", src)
        assert runner.invoke(cli, ["backup", str(bak)]).exit_code == 0
        monkeypatch.setenv("DATABASE_URL", dst)
        r = runner.invoke(cli, ["restore", str(bak)])
        assert r.exit_code == 0 and "audit chain ok" in r.stdout, r.stdout + r.stderr
        for api in make_api(dst):
            assert api.get("/v1/rounds").json()["total"] == 1
    finally:
        for n in names:
            admin.execute(f'DROP DATABASE IF EXISTS "{n}" WITH (FORCE)')
        admin.close()


def test_upgrade_from_a_database_made_by_migrations_0001_0002(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    shutil.copyfile(FIXTURE, path)
    for api in make_api(f"sqlite:///{path}"):
        db = api.app.state.db
        assert verify(db).ok
        ready = api.client.get("/ready").json()["checks"]
        assert ready["migrations"] == "ok"
        old = api.get("/v1/rounds").json()["items"]
        assert [r["status"] for r in old] == ["done"] and old[0]["job"] is None
        cand = api.get("/v1/rounds/1/assignments").json()["items"][0]["candidate_id"]
        assert api.get(f"/v1/rounds/1/explain/{cand}").status_code == 200
        assert api.round()["status"] == "done"
        records = api.all_items("/v1/audit/records", "auditor")
        assert [x["record_version"] for x in records[:5]] == [None] * 5
        assert {x["record_version"] for x in records[5:]} == {2}
        assert len(api.get("/v1/decisions/in-force").json()) >= 1
        assert verify(db).ok
