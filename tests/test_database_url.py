"""A DATABASE_URL (or --db) that cannot be used gives one line and exit 2 in every command that
takes one: malformed, an unknown kind, a missing driver, a server that is down, a file that is
not a database. Never a traceback, never the password (issue #33, case 5)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from matcher.cli import main

COMMANDS = [
    ["serve"], ["worker"], ["apikey", "create", "--role", "coordinator"],
    ["apikey", "revoke", "1"], ["apikey", "list"], ["audit-trail", "verify"],
    ["user", "create", "--name", "ann", "--role", "coordinator", "--password-stdin"],
    ["user", "list"], ["user", "disable", "ann"], ["user", "enable", "ann"],
    ["user", "set-password", "ann", "--password-stdin"], ["purge"], ["erase", "C1", "--yes"],
    ["backup", "{tmp}/b.bak"], ["restore", "{tmp}/b.bak", "--force"],
]
URLS = {
    "down": ("postgresql+psycopg://matcher:s3cret@127.0.0.1:1/matcher", "cannot reach"),
    "malformed": ("not a url at all", "is not a database URL"),
    "unknown kind": ("mongo://matcher:s3cret@db/matcher", "unknown kind of database"),
    "no driver": ("mysql://matcher:s3cret@db/matcher", "not installed"),
    "not a database": ("sqlite:///{tmp}/notes.db", "cannot use the database"),
}


def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        args: list[str]) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["matcher", *args])
    with pytest.raises(SystemExit) as exc:
        main()
    out = capsys.readouterr()
    return int(exc.value.code or 0), out.out, out.err


#: Every command with a server that is down and with a malformed URL; the other kinds on a few
#: (they all go through the same check of the URL and the same message for a database error).
CASES = [(c, k) for k in ("down", "malformed") for c in COMMANDS] + [
    (c, k) for k in ("unknown kind", "no driver", "not a database")
    for c in (["apikey", "list"], ["worker"], ["backup", "{tmp}/b.bak"], ["restore", "{tmp}/b.bak"])]


@pytest.mark.parametrize(("command", "case"), CASES,
                         ids=[f"{k}-{' '.join(c[:2])}" for c, k in CASES])
def test_a_database_that_cannot_be_used_is_one_line(
        command: list[str], case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "notes.db").write_text("my notes, not a database\n")
    (tmp_path / "b.bak").write_bytes(b"")
    url, says = URLS[case]
    monkeypatch.setenv("DATABASE_URL", url.format(tmp=tmp_path))
    monkeypatch.setenv("MATCHER_RETENTION_ROUND_INPUTS_DAYS", "30")
    monkeypatch.setattr(sys, "stdin", __import__("io").StringIO("a long enough password 1\n"))
    code, out, err = run(monkeypatch, capsys, [c.format(tmp=tmp_path) for c in command])
    assert code == 2, (out, err)
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    if command[0] == "restore" and case == "not a database":
        says = "not a matcher SQLite backup"  # the backup (an empty file) is checked first
    assert says in err and "s3cret" not in err + out
    assert out == ""  # nothing printed as if it had worked
    assert (tmp_path / "notes.db").read_text() == "my notes, not a database\n"


def test_restore_never_replaces_a_file_that_is_not_a_matcher_database(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    good, notes = tmp_path / "m.db", tmp_path / "notes.db"
    assert run(monkeypatch, capsys, ["apikey", "list", "--db", str(good)])[0] == 0
    assert run(monkeypatch, capsys, ["backup", str(tmp_path / "b.bak"), "--db", str(good)])[0] == 0
    notes.write_text("my notes\n")
    code, _, err = run(monkeypatch, capsys,
                       ["restore", str(tmp_path / "b.bak"), "--db", str(notes), "--force"])
    assert code == 2 and "is not a matcher database" in err and notes.read_text() == "my notes\n"
    code, out, _ = run(monkeypatch, capsys,
                       ["restore", str(tmp_path / "b.bak"), "--db", str(good), "--force"])
    assert code == 0 and "audit chain ok" in out


def test_a_bad_db_file_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "photo.db"
    bad.write_bytes(b"\x89PNG not sqlite")
    code, _, err = run(monkeypatch, capsys, ["apikey", "list", "--db", str(bad)])
    assert code == 2 and str(bad) in err and "not a database" in err
