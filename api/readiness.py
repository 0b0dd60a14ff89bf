"""What ``/ready`` checks: the database answers, its schema is current, a worker is alive."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from api.db import Database, alembic_config
from api.settings import Settings
from api.store import jobs


@cache
def newest_revisions(url: str) -> frozenset[str]:
    return frozenset(ScriptDirectory.from_config(alembic_config(url)).get_heads())


def checks(db: Database, settings: Settings) -> dict[str, str]:
    out = {"database": "not checked", "migrations": "not checked", "worker": "not checked"}
    try:
        with db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            current = frozenset(MigrationContext.configure(conn).get_current_heads())
            with db.session() as s:
                seen = jobs.last_seen(s)
    except Exception as exc:
        out["database"] = f"unreachable: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
        return out
    out["database"] = "ok"
    want = newest_revisions(db.url)
    out["migrations"] = "ok" if current == want else (
        f"schema at {', '.join(sorted(current)) or 'nothing'}, this version needs "
        f"{', '.join(sorted(want))}: run matcher serve (migrates on start) or alembic upgrade")
    out["worker"] = _worker(seen, 2 * settings.job_lease_seconds)
    return out


def _worker(seen: str | None, within: float) -> str:
    if seen is None:
        return "no job worker has run (start matcher worker, or serve with the in-process one)"
    then = datetime.strptime(seen, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    age = (datetime.now(UTC) - then).total_seconds()
    return "ok" if age <= within else f"no job worker seen for {age:.0f} s"
