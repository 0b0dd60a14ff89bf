"""`matcher purge`, `matcher erase`, `matcher backup` and `matcher restore` (operating the web
service's database; see docs/operations.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from matcher.cli.api_commands import DbOpt, _database, _reachable, _settings
from matcher.cli.app import EXIT_BAD_INPUT, app, console, err_console


@app.command()
def purge(
    db: DbOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would go; change "
                                                             "nothing.")] = False,
) -> None:
    """Purge personal data older than the retention periods (MATCHER_RETENTION_ROUND_INPUTS_DAYS,
    MATCHER_RETENTION_SHORTLISTS_DAYS, MATCHER_RETENTION_OUTCOMES_DAYS): round input snapshots,
    candidates listed on shortlists and feedback on them, outcomes. The purge is an audit
    record; the audit chain keeps verifying."""
    from api.services.protection import purge as run_purge
    from api.settings import retention_set
    settings = _settings(db)
    if not retention_set(settings):
        console.print("no retention period is set (MATCHER_RETENTION_ROUND_INPUTS_DAYS, "
                      "MATCHER_RETENTION_SHORTLISTS_DAYS, MATCHER_RETENTION_OUTCOMES_DAYS): "
                      "nothing is purged", highlight=False)
        return
    database = _database(db)
    try:
        done = run_purge(database, settings.retention_round_inputs_days,
                         settings.retention_shortlists_days, dry_run=dry_run,
                         outcome_days=settings.retention_outcomes_days)
    finally:
        database.dispose()
    verb = "would purge" if dry_run else "purged"
    console.print(f"{verb}: inputs of {len(done.rounds)} round(s) and "
                  f"{len(done.whatifs)} what-if(s) finished before "
                  f"{done.rounds_before or '-'}; {done.shortlist_entries} shortlist entries "
                  f"issued before {done.shortlists_before or '-'}; {done.outcomes} outcomes "
                  f"recorded before {done.outcomes_before or '-'}", highlight=False)


@app.command()
def erase(
    candidate_id: Annotated[str, typer.Argument(help="The person's candidate id (pseudonym).")],
    db: DbOpt = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Erase one person on request (AVG/GDPR art. 17): their current data and protected
    attributes are deleted; decisions, round results, round snapshots and shortlist entries get
    a tombstone instead of them. Recorded in the audit trail without their id."""
    from api.services.protection import erase as run_erase
    if not yes and not typer.confirm(f"erase {candidate_id!r} everywhere? This cannot be undone"):
        raise typer.Exit(1)
    database = _database(db)
    try:
        counts = run_erase(database, candidate_id)
    except LookupError as exc:
        err_console.print(f"error: {exc}", highlight=False)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    finally:
        database.dispose()
    console.print("erased: " + ", ".join(f"{k} {v}" for k, v in counts.items()), highlight=False)


@app.command()
def backup(
    out: Annotated[Path, typer.Argument(help="Backup file to write (replaced when complete).")],
    db: DbOpt = None,
) -> None:
    """Back up the database: SQLite with its online backup (the server may keep running),
    PostgreSQL with pg_dump (custom format)."""
    from api.services.backup import BackupError
    from api.services.backup import backup as run_backup
    url = _settings(db).database_url
    if not url.startswith("sqlite"):
        _reachable(url)  # the server first: one line if it cannot be reached
    try:
        console.print(f"backup written: {run_backup(url, out)}", highlight=False)
    except (BackupError, OSError) as exc:
        err_console.print(f"error: {exc}", highlight=False)
        raise typer.Exit(EXIT_BAD_INPUT) from None


@app.command()
def restore(
    src: Annotated[Path, typer.Argument(help="A file made by matcher backup.")],
    db: DbOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing SQLite file.")] = False,
) -> None:
    """Restore a backup (stop the service first), bring it to this version's schema and check
    its audit chain."""
    from api.audit import verify
    from api.services.backup import BackupError
    from api.services.backup import restore as run_restore
    url = _settings(db).database_url
    if not url.startswith("sqlite"):
        _reachable(url)  # the server first: one line if it cannot be reached
    try:
        run_restore(url, src, force)
    except (BackupError, OSError) as exc:
        err_console.print(f"error: {exc}", highlight=False)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    database = _database(db)
    try:
        report = verify(database)
    finally:
        database.dispose()
    if not report.ok:
        err_console.print(f"restored, but the audit chain is BROKEN at record "
                          f"{report.first_broken}: {report.problem}", highlight=False)
        raise typer.Exit(1)
    console.print(f"restored {src}; audit chain ok: {report.records} records", highlight=False)
