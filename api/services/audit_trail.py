"""The audit trail read back: a page of records (with the page user behind each key, when a
person made it) and the hash chain's check (api.audit.verify)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from api.db import Database
from api.models import AuditRecord, User


def records_page(db: Database, offset: int, limit: int) -> tuple[int, list[dict[str, Any]]]:
    """(total, records seq offset+1 .. offset+limit as dicts of their columns)."""
    with db.session() as s:
        total = s.scalar(select(func.count()).select_from(AuditRecord)) or 0
        rows = s.scalars(select(AuditRecord).order_by(AuditRecord.seq).offset(offset)
                         .limit(limit)).all()
        items = [{c.name: getattr(r, c.name) for c in AuditRecord.__table__.columns}
                 for r in rows]
    return int(total), items


def user_names(db: Database, key_ids: set[int]) -> dict[int, str]:
    """The name of the person behind each key that is a page user's (API keys have none)."""
    with db.session() as s:
        rows = s.execute(select(User.key_id, User.name).where(
            User.key_id.in_(sorted(key_ids)))).all()
    return {int(k): str(n) for k, n in rows}
