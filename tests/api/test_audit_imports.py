"""Imports all or nothing, the audit chain, caps and rate limits."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sqlalchemy import delete, update
from typer.testing import CliRunner

from api.audit import verify
from api.models import AuditRecord
from matcher.cli import app
from tests.api.conftest import PILOT, Api, make_api


def test_json_import_is_all_or_nothing_with_row_and_field(api: Api) -> None:
    api.import_pilot()
    cands = api.get("/v1/candidates").json()["items"]
    changed = [dict(cands[0], hours_available="20"),
               dict(cands[1], dutch_level="Z9"),
               dict(cands[2], guidance_need="many")]
    r = api.post("/v1/imports", json={"candidates": changed})
    assert r.status_code == 422
    probs = {(p["table"], p["index"], p["field"]) for p in r.json()["problems"]}
    assert probs == {("candidates", 1, "dutch_level"), ("candidates", 2, "guidance_need")}
    # nothing was stored, not even the good row
    assert api.get("/v1/candidates").json()["items"] == cands
    assert len(api.all_items("/v1/imports")) == 1


def test_csv_import_names_the_spreadsheet_row(api: Api) -> None:
    text = (PILOT / "options.csv").read_text().splitlines()
    text[3] = text[3].replace(",programme,", ",course,")  # row 4 of the sheet
    files = {t: (f"{t}.csv", (PILOT / f"{t}.csv").read_bytes(), "text/csv")
             for t in ("organisations", "candidates")}
    files["options"] = ("options.csv", ("\n".join(text) + "\n").encode(), "text/csv")
    r = api.post("/v1/imports/csv", files=files)
    assert r.status_code == 422, r.text
    assert [(p["table"], p["row"], p["field"]) for p in r.json()["problems"]] == [
        ("options", 4, "kind")]
    assert api.get("/v1/options").json()["total"] == 0
    # a first import without candidates cannot be validated as a whole
    r = api.post("/v1/imports/csv", files={"organisations": files["organisations"]})
    assert r.status_code == 422
    assert {p["table"] for p in r.json()["problems"]} == {"options", "candidates"}


def test_decisions_import_needs_reasons_and_known_pairs(api: Api) -> None:
    api.import_pilot(("organisations", "options", "candidates"))
    r = api.post("/v1/imports", json={"decisions": [
        {"candidate_id": "P-001", "option_id": "TCK-KEUKEN", "decision": "lock", "reason": ""},
        {"candidate_id": "P-999", "option_id": "TCK-KEUKEN", "decision": "forbid", "reason": "x"},
        {"candidate_id": "P-002", "option_id": "TCK-KEUKEN", "decision": "maybe", "reason": "x"}]})
    assert r.status_code == 422
    assert {(p["index"], p["field"]) for p in r.json()["problems"]} == {
        (0, "reason"), (1, "candidate_id"), (2, "decision")}
    r = api.post("/v1/imports", json={"protected": [{"candidate_id": "P-999", "gender": "x"}]})
    assert r.status_code == 422 and r.json()["problems"][0]["field"] == "candidate_id"


def test_audit_chain_records_everything_verifies_and_detects_tampering(api: Api) -> None:
    api.import_pilot()
    rnd = api.round()
    a = api.all_items(f"/v1/rounds/{rnd['id']}/assignments")[0]
    api.post("/v1/decisions", json={"candidate_id": a["candidate_id"], "option_id": a["option_id"],
                                    "kind": "accept", "reason": "ok", "round_id": rnd["id"]})
    api.post("/v1/options/TCK-KEUKEN/shortlist", "esp_tck")
    api.post("/v1/imports", json={"candidates": [{"candidate_id": "X"}]})  # refused, audited
    recs = api.all_items("/v1/audit/records", "auditor")
    assert [r["action"] for r in recs] == ["import", "round.create.official", "round.finish",
                                           "decision.accept", "shortlist", "import.refused"]
    assert all(r["key_id"] and len(r["input_hash"]) == 64 for r in recs)
    assert '"ortools": "9.15' in recs[1]["versions"] and recs[1]["policy_hash"] == rnd["policy_hash"]
    assert api.get("/v1/audit/verify", "auditor").json() == {
        "ok": True, "records": 6, "first_broken": None, "problem": None}
    db = api.app.state.db
    with db.write() as s:
        s.execute(update(AuditRecord).where(AuditRecord.seq == 4).values(target="decision/99"))
    report = verify(db)
    assert not report.ok and report.first_broken == 4
    with db.write() as s:
        s.execute(update(AuditRecord).where(AuditRecord.seq == 4)
                  .values(target=recs[3]["target"]))
    assert verify(db).ok
    with db.write() as s:
        s.execute(delete(AuditRecord).where(AuditRecord.seq == 2))
    report = verify(db)
    assert not report.ok and report.first_broken == 2 and "missing" in (report.problem or "")


def test_cli_apikey_and_audit_verify(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    runner = CliRunner()
    r = runner.invoke(app, ["apikey", "create", "--role", "coordinator", "--db", str(db)])
    assert r.exit_code == 0 and r.stdout.strip().startswith("mk_")
    r = runner.invoke(app, ["apikey", "create", "--role", "boss", "--db", str(db)])
    assert r.exit_code == 2
    r = runner.invoke(app, ["apikey", "create", "--role", "employer_service_point", "--db", str(db)])
    assert r.exit_code == 2
    assert runner.invoke(app, ["audit-trail", "verify", "--db", str(db)]).exit_code == 0


def test_rate_limit_body_cap_and_page_caps(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    for api in make_api(url, rate_per_second=0.01, rate_burst=3, max_body_bytes=4096):
        codes = [api.get("/v1/rounds").status_code for _ in range(5)]
        assert codes == [200, 200, 200, 429, 429]
        assert int(api.get("/v1/rounds").headers["Retry-After"]) >= 1
        assert api.get("/v1/rounds", "planner").status_code == 200  # per key
        big = {"candidates": [{"candidate_id": f"C{i}", "skills": "x" * 50} for i in range(100)]}
        assert api.post("/v1/imports", "auditor", json=big).status_code == 413
        assert api.get("/v1/imports", "auditor", params={"limit": 5000}).status_code == 422
        assert api.post("/v1/options/X/shortlist", "esp_tck", params={"k": 1000}).status_code == 422


def test_large_rounds_run_in_the_background(tmp_path: Path) -> None:
    for api in make_api(f"sqlite:///{tmp_path / 'm.db'}", sync_round_max_candidates=10,
                        job_poll_seconds=0.05):
        api.import_pilot()
        r = api.post("/v1/rounds", json={})
        assert r.status_code == 202 and r.json()["status"] in ("queued", "running")
        for _ in range(600):
            polled = api.get(f"/v1/rounds/{r.json()['id']}").json()
            if polled["status"] == "done":
                break
            time.sleep(0.1)
        assert polled["status"] == "done" and polled["counts"]["matched"] > 0


def _csv(table: str, keep: Any = None) -> tuple[str, bytes, str]:
    lines = (PILOT / f"{table}.csv").read_text().splitlines()
    rows = [lines[0]] + [r for r in lines[1:] if keep is None or keep(r)]
    return f"{table}.csv", ("\n".join(rows) + "\n").encode(), "text/csv"


def test_replace_import_warns_about_decisions_it_leaves_behind(api: Api) -> None:
    api.import_pilot()
    # Replacing the candidates without P-007 (locked to COMPASS-CATERING) and the options
    # without VEBEGO-SCHOONMAAK (P-012 forbidden there): both decisions can no longer apply.
    r = api.post("/v1/imports/csv", data={"mode": "replace"}, files={
        "candidates": _csv("candidates", lambda row: not row.startswith("P-007,")),
        "options": _csv("options", lambda row: not row.startswith("VEBEGO-SCHOONMAAK,"))})
    assert r.status_code == 201, r.text
    warnings = r.json()["warnings"]
    assert [(w["table"], w["field"], w["row"]) for w in warnings] == [
        ("decisions", "candidate_id", None), ("decisions", "option_id", None)]
    assert "'P-007'" in warnings[0]["message"] and "COMPASS-CATERING" in warnings[0]["message"]
    assert "removes" in warnings[0]["message"]
    assert "'VEBEGO-SCHOONMAAK'" in warnings[1]["message"] and "forbid" in warnings[1]["message"]
    # Still in force in the history; a round simply cannot apply them.
    assert len(api.get("/v1/decisions/in-force").json()) == 2
    assert api.round()["status"] == "done"
    # Nothing is removed by a merge, or by a replace that keeps them: no such warning.
    assert api.import_pilot()["warnings"] == []
    r = api.post("/v1/imports/csv", data={"mode": "replace"},
                 files={"candidates": _csv("candidates")})
    assert r.status_code == 201 and r.json()["warnings"] == []


def test_many_left_behind_decisions_are_summarised(sqlite_api: Api) -> None:
    api = sqlite_api
    api.import_pilot(("organisations", "options", "candidates"))
    ids = [c["candidate_id"] for c in api.get("/v1/candidates").json()["items"]]
    options = [o["option_id"] for o in api.get("/v1/options").json()["items"]]
    decisions = [{"candidate_id": c, "option_id": o, "decision": "forbid", "reason": "test"}
                 for c in ids[:3] for o in options]  # 33 decisions in force
    assert api.post("/v1/imports", json={"decisions": decisions}).status_code == 201
    r = api.post("/v1/imports/csv", data={"mode": "replace"}, files={
        "candidates": _csv("candidates", lambda row: row.split(",")[0] not in ids[:3])})
    warnings = r.json()["warnings"]
    assert len(warnings) == 26 and "more rows with the same problem" in warnings[-1]["message"]
