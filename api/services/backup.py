"""`matcher backup` / `matcher restore`: SQLite's online backup API (the server may keep
running during a backup), ``pg_dump``/``pg_restore`` (custom format) for PostgreSQL."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy.engine import make_url


class BackupError(Exception):
    """A backup or restore that could not be made; nothing was changed."""


def _sqlite_path(url: str) -> Path | None:
    u = make_url(url)
    if u.get_backend_name() != "sqlite":
        return None
    if not u.database or u.database == ":memory:":
        raise BackupError("an in-memory SQLite database has nothing to back up")
    return Path(u.database)


def libpq_url(url: str) -> str:
    """The SQLAlchemy URL as libpq (pg_dump, psql) reads it."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} is not on the PATH (install the PostgreSQL client tools of "
                          "the server's major version)")
    return found


def backup(url: str, out: Path) -> str:
    """Write a consistent copy of the database to `out` (replaced only when complete)."""
    tmp = out.with_name(out.name + ".partial")
    path = _sqlite_path(url)
    try:
        if path is not None:
            if not path.exists():
                raise BackupError(f"{path}: no such database file")
            _sqlite_backup(path, tmp)
        else:
            _run([_tool("pg_dump"), "--format=custom", "--no-owner", f"--file={tmp}",
                  libpq_url(url)])
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return f"{out} ({out.stat().st_size} bytes)"


def _sqlite_backup(path: Path, tmp: Path) -> None:
    src = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    dst = sqlite3.connect(tmp)
    try:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=DELETE")
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"cannot use the database {path}: {exc}") from None
    finally:
        dst.close()
        src.close()


def restore(url: str, src: Path, force: bool = False) -> None:
    """Replace the database's content by the backup `src` (stop the service first)."""
    if not src.is_file():
        raise BackupError(f"{src}: no such backup file")
    path = _sqlite_path(url)
    if path is None:
        _run([_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--single-transaction",
              f"--dbname={libpq_url(url)}", str(src)])
        return
    _check_sqlite_backup(src)
    if path.exists() and not force:
        raise BackupError(f"{path} exists: restoring replaces it; pass --force")
    if path.exists():
        _check_matcher_database(path)
    tmp = path.with_name(path.name + ".restoring")
    try:
        shutil.copyfile(src, tmp)
        for suffix in ("-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _integrity(path: Path) -> str:
    """SQLite's integrity check of a matcher database file (raises sqlite3.DatabaseError for a
    file that is not one)."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        ok = str(con.execute("PRAGMA integrity_check").fetchone()[0])
        con.execute("SELECT version_num FROM alembic_version").fetchone()
    finally:
        con.close()
    return ok


def _check_sqlite_backup(src: Path) -> None:
    try:
        ok = _integrity(src)
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{src} is not a matcher SQLite backup ({exc})") from None
    if ok != "ok":
        raise BackupError(f"{src} fails SQLite's integrity check: {ok}")


def _check_matcher_database(path: Path) -> None:
    """--force replaces a matcher database, never some other file at its path."""
    try:
        _integrity(path)
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} is not a matcher database ({exc}); restore does not "
                          "replace it, even with --force") from None


def _run(cmd: list[str]) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        said = " ".join(line.strip() for line in done.stderr.splitlines() if line.strip())
        raise BackupError(f"{Path(cmd[0]).name} failed: {said[:2000]}")
