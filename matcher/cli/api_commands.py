"""`matcher serve`, `matcher apikey create|revoke|list` and `matcher audit-trail verify` (the web
service).

The web and database code lives in `api/`; it is imported only when these commands run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from matcher.cli.app import EXIT_BAD_INPUT, app, console, err_console
from matcher.i18n import _

DbOpt = Annotated[Path | None, typer.Option(
    "--db", help="SQLite file (default: $DATABASE_URL if set, else ./matcher.db).")]

apikey_app = typer.Typer(help="API keys for the web service.", no_args_is_help=True)
audit_app = typer.Typer(help="The web service's audit trail.", no_args_is_help=True)
app.add_typer(apikey_app, name="apikey")
app.add_typer(audit_app, name="audit-trail")


#: The database the running command uses, for the one-line message on a database error.
DATABASE: dict[str, str] = {}


def _settings(db: Path | None):
    from api.dberrors import check_url
    from api.settings import Settings, sqlite_url
    settings = Settings(database_url=sqlite_url(db)) if db is not None else Settings()
    DATABASE["url"] = settings.database_url
    check_url(settings.database_url)
    return settings


def database_error_line(exc: BaseException) -> str | None:
    """One line for a database the command cannot use (None: not such an error)."""
    import sys
    if "sqlalchemy" not in sys.modules:
        return None
    from api.dberrors import describe
    return describe(exc, DATABASE.get("url"))


def _database(db: Path | None):
    from api.db import Database, migrate
    database = Database(_settings(db).database_url)
    migrate(database.engine)
    return database


def _reachable(url: str) -> None:
    """Connect once (raises the database's error if it cannot be reached or opened)."""
    from sqlalchemy import text

    from api.db import make_engine
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    finally:
        engine.dispose()


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    db: DbOpt = None,
    workers: Annotated[int, typer.Option(
        min=1, help="Server processes (PostgreSQL only; each ranks the data in memory).")] = 1,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Start the web API (creates and migrates the database first)."""
    import os

    import uvicorn

    from api.app import create_app
    from api.observe import configure_logging
    settings = _settings(db)
    configure_logging(settings.log_format, "debug" if verbose else settings.log_level)
    if workers > 1 and not settings.database_url.startswith("postgresql"):
        err_console.print(
            "error: --workers needs PostgreSQL (DATABASE_URL=postgresql+psycopg://...). On "
            "SQLite every shortlist is a write to one file, so writers in several processes "
            "would wait on SQLite's file lock (it retries with sleeps of up to 100 ms) instead "
            "of taking turns in one process; run one process.", highlight=False)
        raise typer.Exit(EXIT_BAD_INPUT)
    # A bad or unreachable database: one line here, not a traceback from the app's start-up.
    _reachable(settings.database_url)
    console.print(f"matcher API on http://{host}:{port} (docs at /docs), "
                  f"database {settings.database_url.split('@')[-1]}"
                  + (f", {workers} worker processes" if workers > 1 else ""), highlight=False)
    # Our own access lines (JSON, with request ids; MATCHER_ACCESS_LOG) replace uvicorn's.
    common = {"host": host, "port": port, "log_config": None, "access_log": False,
              "proxy_headers": True}
    if workers == 1:
        uvicorn.run(create_app(settings), **common)  # type: ignore[arg-type]
        return
    # Migrate once here, not in every worker at the same time; the workers read their settings
    # from the environment.
    _database(db).dispose()
    os.environ["DATABASE_URL"] = settings.database_url
    os.environ["MATCHER_MIGRATE_ON_START"] = "false"
    uvicorn.run("api.app:create_app", factory=True, workers=workers,
                **common)  # type: ignore[arg-type]


@app.command()
def worker(
    db: DbOpt = None,
    metrics_port: Annotated[int | None, typer.Option(
        help="Serve this worker's Prometheus metrics on this port (rounds by status and "
             "duration).")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Run round jobs from the durable queue until stopped (Ctrl-C or SIGTERM give the running
    job back to the queue). Any number of workers on PostgreSQL; on SQLite they take turns on
    the file's writer lock. Settings (lease, heartbeat, attempts) come from MATCHER_JOB_*."""
    import signal
    import threading

    from api.observe import configure_logging
    from api.services.jobs import Worker
    from api.settings import job_config, scheduled_purge
    settings = _settings(db)
    configure_logging(settings.log_format, "debug" if verbose else settings.log_level)
    if metrics_port is not None:
        from prometheus_client import start_http_server
        start_http_server(metrics_port)
    database = _database(db)
    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.set())
    w = Worker(database, job_config(settings), role="worker", stopping=stopping,
               housekeeping=scheduled_purge(settings, database),
               housekeeping_seconds=settings.purge_every_hours * 3600)
    console.print(f"matcher worker {w.name} on {settings.database_url.split('@')[-1]}",
                  highlight=False)
    try:
        w.serve()
    finally:
        database.dispose()


@apikey_app.command("create")
def apikey_create(
    role: Annotated[str, typer.Option(help="coordinator, employer_service_point, planner or "
                                           "auditor")],
    organisation: Annotated[list[str] | None, typer.Option(
        "--organisation", help="Organisation id this key acts for (employer service points; "
                               "repeat for several).")] = None,
    db: DbOpt = None,
) -> None:
    """Create an API key; it is printed once and only its SHA-256 hash is stored."""
    from api.security import Role, create_key
    try:
        r = Role(role)
    except ValueError:
        err_console.print(f"error: --role must be one of {', '.join(x.value for x in Role)}")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    try:
        key_id, token = create_key(_database(db), r, organisation or [])
    except ValueError as exc:
        err_console.print(f"error: {exc}")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    err_console.print(f"key {key_id} ({r.value}) created; store it now, it is not shown again:")
    typer.echo(token)


@apikey_app.command("revoke")
def apikey_revoke(
    key_id: Annotated[int, typer.Argument(help="The key's id (see `matcher apikey list`).")],
    db: DbOpt = None,
) -> None:
    """Revoke an API key: every server refuses it (401) from its next request on. The
    revocation is recorded in the audit trail."""
    from api.security import revoke_key
    try:
        info, now = revoke_key(_database(db), key_id)
    except LookupError as exc:
        err_console.print(f"error: {exc} (see matcher apikey list)", highlight=False)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    if now:
        console.print(f"key {info.id} ({info.role}) revoked at {info.revoked_at}",
                      highlight=False)
    else:
        console.print(f"key {info.id} ({info.role}) was revoked already, at {info.revoked_at}",
                      highlight=False)


@apikey_app.command("list")
def apikey_list(db: DbOpt = None) -> None:
    """The API keys, one a line, tab-separated: id, role, organisations (space-separated),
    when created and when revoked ("-" if not); never the key, which is not stored."""
    from api.security import list_keys
    keys = list_keys(_database(db))
    typer.echo("id\trole\torganisations\tcreated\trevoked")
    for k in keys:
        typer.echo("\t".join([str(k.id), k.role, " ".join(k.organisations) or "-", k.created_at,
                              k.revoked_at or "-"]))


@audit_app.command("verify")
def audit_verify(db: DbOpt = None) -> None:
    """Check the audit trail's hash chain; exit 1 and name the first broken record if it fails."""
    from api.audit import verify
    report = verify(_database(db))
    if report.ok:
        console.print(f"audit chain ok: {report.records} records", highlight=False)
        return
    err_console.print(f"audit chain BROKEN at record {report.first_broken}: {report.problem} "
                      f"({report.records} records before it verify)", highlight=False)
    raise typer.Exit(1)


user_app = typer.Typer(help="People who log in to the web pages.", no_args_is_help=True)
app.add_typer(user_app, name="user")
PasswordStdin = Annotated[bool, typer.Option(
    "--password-stdin", help="Read the password from standard input (required).")]


def _password(stdin: bool) -> str:
    import sys
    if not stdin:
        err_console.print(_("error: give --password-stdin and the password on standard input"))
        raise typer.Exit(EXIT_BAD_INPUT)
    return sys.stdin.readline()


def _user_error(exc: Exception) -> typer.Exit:
    err_console.print(_("error: {problem}").format(problem=exc), highlight=False)
    return typer.Exit(EXIT_BAD_INPUT)


@user_app.command("create")
def user_create(
    name: Annotated[str, typer.Option("--name", help="The login name (no spaces).")],
    role: Annotated[str, typer.Option(help="coordinator, employer_service_point, planner or "
                                           "auditor")],
    password_stdin: PasswordStdin = False,
    organisation: Annotated[list[str] | None, typer.Option(
        "--organisation", help="Organisation id the user acts for (employer service points; "
                               "repeat for several).")] = None,
    db: DbOpt = None,
) -> None:
    """Create a user who logs in to the web pages; prints the user's id. The password (read
    from standard input) is kept only as an argon2 hash."""
    from api.security import Role
    from api.users import UserError, create_user
    try:
        r = Role(role)
    except ValueError:
        err_console.print(f"error: --role must be one of {', '.join(x.value for x in Role)}")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    password = _password(password_stdin)
    try:
        user_id = create_user(_database(db), name, r, password, organisation or [])
    except UserError as exc:
        raise _user_error(exc) from None
    typer.echo(str(user_id))


@user_app.command("list")
def user_list(db: DbOpt = None) -> None:
    """Every user: id, name, role, organisations, created, disabled (never a password)."""
    from api.users import list_users
    table = Table(box=None)
    for col in ("id", "name", "role", "organisations", "created", "disabled"):
        table.add_column(col)
    for u in list_users(_database(db)):
        table.add_row(str(u.id), u.name, u.role, ",".join(u.organisations), u.created_at,
                      "yes" if u.disabled else "no")
    console.print(table)


def _switch(name: str, db: Path | None, disabled: bool) -> None:
    from api.users import UserError, set_disabled
    try:
        info = set_disabled(_database(db), name, disabled)
    except UserError as exc:
        raise _user_error(exc) from None
    console.print((_("user {name} disabled") if disabled else _("user {name} enabled")).format(
        name=info.name), highlight=False)


@user_app.command("disable")
def user_disable(name: Annotated[str, typer.Argument(help="The user's name.")],
                 db: DbOpt = None) -> None:
    """Refuse the user's logins and end their sessions (audited)."""
    _switch(name, db, True)


@user_app.command("enable")
def user_enable(name: Annotated[str, typer.Argument(help="The user's name.")],
                db: DbOpt = None) -> None:
    """Let a disabled user log in again (audited)."""
    _switch(name, db, False)


@user_app.command("set-password")
def user_set_password(name: Annotated[str, typer.Argument(help="The user's name.")],
                      password_stdin: PasswordStdin = False, db: DbOpt = None) -> None:
    """Give a user a new password (read from standard input); their sessions end."""
    from api.users import UserError, set_password
    password = _password(password_stdin)
    try:
        set_password(_database(db), name, password)
    except UserError as exc:
        raise _user_error(exc) from None
    console.print(_("password of {name} changed").format(name=name), highlight=False)
