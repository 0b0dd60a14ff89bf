"""`matcher user ...`: people who log in to the pages, argon2-hashed, audited, key-only API kept."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from typer.testing import CliRunner

from api.db import Database
from api.settings import sqlite_url
from api.users import session_user, start_session, verify_login
from matcher.cli import app


def _run(args: list[str], stdin: str | None = None):
    return CliRunner().invoke(app, args, input=stdin)


def test_create_list_disable_enable_set_password(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    made = _run(["user", "create", "--name", "anna", "--role", "coordinator", "--password-stdin",
                 "--db", str(db)], "geheim-wachtwoord\n")
    assert made.exit_code == 0, made.output
    user_id = int(made.stdout.strip())
    again = _run(["user", "create", "--name", "anna", "--role", "planner", "--password-stdin",
                  "--db", str(db)], "nog-een-wachtwoord\n")
    assert again.exit_code == 2 and "exists already" in again.output
    wsp = _run(["user", "create", "--name", "wsp", "--role", "employer_service_point",
                "--organisation", "ORG-1", "--organisation", "ORG-2", "--password-stdin",
                "--db", str(db)], "wachtwoord-wsp\n")
    assert wsp.exit_code == 0
    assert _run(["user", "create", "--name", "x", "--role", "employer_service_point",
                 "--password-stdin", "--db", str(db)], "wachtwoord-x\n").exit_code == 2
    assert _run(["user", "create", "--name", "y", "--role", "boss", "--password-stdin",
                 "--db", str(db)], "wachtwoord-y\n").exit_code == 2
    assert _run(["user", "create", "--name", "z", "--role", "planner", "--password-stdin",
                 "--db", str(db)], "short\n").exit_code == 2
    assert _run(["user", "create", "--name", "z", "--role", "planner", "--db", str(db)],
                "wachtwoord-z\n").exit_code == 2
    listed = _run(["user", "list", "--db", str(db)])
    assert "anna" in listed.output and "ORG-1,ORG-2" in listed.output
    assert "geheim" not in listed.output and "argon2" not in listed.output

    database = Database(sqlite_url(db))
    stored = sqlite3.connect(db).execute("SELECT password_hash FROM users WHERE name='anna'").fetchone()[0]
    assert stored.startswith("$argon2id$") and "geheim" not in stored
    anna = verify_login(database, "anna", "geheim-wachtwoord")
    assert anna is not None and anna.id == user_id
    assert verify_login(database, "anna", "fout") is None
    assert verify_login(database, "nobody", "geheim-wachtwoord") is None
    token = start_session(database, user_id, __import__("datetime").timedelta(hours=1))
    assert session_user(database, token) is not None

    assert _run(["user", "disable", "anna", "--db", str(db)]).exit_code == 0
    assert verify_login(database, "anna", "geheim-wachtwoord") is None
    assert session_user(database, token) is None  # disabling ends the sessions
    assert _run(["user", "enable", "anna", "--db", str(db)]).exit_code == 0
    assert verify_login(database, "anna", "geheim-wachtwoord") is not None
    assert _run(["user", "disable", "nobody", "--db", str(db)]).exit_code == 2
    changed = _run(["user", "set-password", "anna", "--password-stdin", "--db", str(db)],
                   "een-nieuw-wachtwoord\n")
    assert changed.exit_code == 0, changed.output
    assert verify_login(database, "anna", "geheim-wachtwoord") is None
    assert verify_login(database, "anna", "een-nieuw-wachtwoord") is not None
    # the users' own key rows are not keys anyone holds: not in apikey list
    keys = _run(["apikey", "list", "--db", str(db)])
    assert keys.exit_code == 0 and "coordinator" not in keys.output
    actions = [r[0] for r in sqlite3.connect(db).execute("SELECT action FROM audit_records ORDER BY seq")]
    assert actions == ["user.create", "user.create", "user.disable", "user.enable",
                       "user.set_password"]
    assert _run(["audit-trail", "verify", "--db", str(db)]).exit_code == 0
    database.dispose()


def test_expired_session_is_refused(tmp_path: Path) -> None:
    import datetime

    db = tmp_path / "m.db"
    assert _run(["user", "create", "--name", "p", "--role", "planner", "--password-stdin",
                 "--db", str(db)], "wachtwoord-p\n").exit_code == 0
    database = Database(sqlite_url(db))
    token = start_session(database, 1, datetime.timedelta(seconds=-1))
    assert session_user(database, token) is None
    assert session_user(database, "made-up") is None
    database.dispose()
