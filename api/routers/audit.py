"""The audit trail, for auditors: records (paged) and a check of the hash chain."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import func, select

from api import audit
from api.deps import DB, Auditor
from api.limits import MAX_OFFSET, MAX_PAGE
from api.models import AuditRecord
from api.schemas import AuditRecordPublic, ChainPublic, Page

router = APIRouter(prefix="/v1/audit", tags=["audit"])


@router.get("/records", response_model=Page[AuditRecordPublic])
def records(db: DB, caller: Auditor, offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
            limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100) -> Any:
    with db.session() as s:
        total = s.scalar(select(func.count()).select_from(AuditRecord)) or 0
        rows = s.scalars(select(AuditRecord).order_by(AuditRecord.seq).offset(offset)
                         .limit(limit)).all()
        items = [{c.name: getattr(r, c.name) for c in AuditRecord.__table__.columns} for r in rows]
    return {"total": total, "offset": offset, "limit": limit, "items": items}


@router.get("/verify", response_model=ChainPublic)
def verify(db: DB, caller: Auditor) -> Any:
    r = audit.verify(db)
    return {"ok": r.ok, "records": r.records, "first_broken": r.first_broken, "problem": r.problem}
