"""API keys: list and revoke from the command line; a revoked key is refused (401) everywhere."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from api.security import hash_key, list_keys, revoke_key
from matcher.cli import app as cli
from tests.api.conftest import Api

ENDPOINTS = ["/v1/options/TCK-KEUKEN/shortlist", "/v1/options/IDID-PRODUCTIE/shortlist",
             "/v1/options/NO-SUCH/shortlist", "/v1/options", "/v1/rounds", "/v1/candidates",
             "/v1/audit/records", "/v1/protected"]


def test_revoked_keys_get_401_everywhere_at_once(api: Api) -> None:
    api.import_pilot()
    db = api.app.state.db
    revoked = []
    for who in ("esp_tck", "coordinator"):  # remembered by the shortlist fast path
        assert api.post("/v1/options/TCK-KEUKEN/shortlist", who).status_code == 201
    for who, role in (("esp_tck", "employer_service_point"), ("coordinator", "coordinator"),
                      ("auditor", "auditor")):
        key_id = next(k.id for k in list_keys(db) if k.role == role)
        info, now = revoke_key(db, key_id)
        assert now and info.revoked_at
        revoked.append(key_id)
        for path in ENDPOINTS:
            r = api.get(path, who)
            assert r.status_code == 401, (who, path, r.status_code)
            assert r.json() == {"detail": "unknown or revoked API key"}
    # Other keys work on; the revocations are in the audit trail, which still verifies.
    assert api.get("/v1/rounds", "planner").status_code == 200
    assert api.post("/v1/options/IDID-PRODUCTIE/shortlist", "esp_idid").status_code == 201
    assert revoke_key(db, revoked[-1])[1] is False  # already: nothing new recorded
    assert sorted(k.id for k in list_keys(db) if k.revoked_at) == sorted(revoked)
    from api.audit import verify
    assert verify(db).ok
    with db.session() as s:
        from sqlalchemy import select

        from api.models import AuditRecord
        recs = s.execute(select(AuditRecord.action, AuditRecord.target, AuditRecord.key_id)
                         .where(AuditRecord.action == "apikey.revoke")
                         .order_by(AuditRecord.seq)).all()
    assert [(a, t, k) for a, t, k in recs] == [("apikey.revoke", f"apikey/{i}", None)
                                               for i in revoked]


def test_cli_list_and_revoke(tmp_path: Path) -> None:
    db = str(tmp_path / "keys.db")
    run = CliRunner().invoke
    coordinator = run(cli, ["apikey", "create", "--role", "coordinator", "--db", db]).stdout.strip()
    esp = run(cli, ["apikey", "create", "--role", "employer_service_point", "--organisation",
                    "TCK", "--organisation", "IDID", "--db", db]).stdout.strip()
    listed = run(cli, ["apikey", "list", "--db", db])
    assert listed.exit_code == 0
    lines = [line.split("\t") for line in listed.stdout.strip().splitlines()]
    assert lines[0] == ["id", "role", "organisations", "created", "revoked"]
    assert [(r[0], r[1], r[2], r[4]) for r in lines[1:]] == [
        ("1", "coordinator", "-", "-"), ("2", "employer_service_point", "IDID TCK", "-")]
    for secret in (coordinator, esp, hash_key(coordinator), hash_key(esp)):
        assert secret not in listed.stdout
    r = run(cli, ["apikey", "revoke", "2", "--db", db])
    assert r.exit_code == 0 and "key 2 (employer_service_point) revoked at" in r.stdout
    r = run(cli, ["apikey", "revoke", "2", "--db", db])
    assert r.exit_code == 0 and "revoked already" in r.stdout
    r = run(cli, ["apikey", "revoke", "9", "--db", db])
    assert r.exit_code == 2 and "no API key with id 9" in r.output
    lines = [line.split("\t") for line in
             run(cli, ["apikey", "list", "--db", db]).stdout.strip().splitlines()]
    assert lines[1][4] == "-" and lines[2][4].endswith("Z")
    r = run(cli, ["audit-trail", "verify", "--db", db])
    assert r.exit_code == 0 and "1 records" in r.stdout
