"""The audit trail, for auditors: records (paged) and a check of the hash chain."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from api import audit
from api.deps import DB, Auditor
from api.limits import MAX_OFFSET, MAX_PAGE
from api.schemas import AuditRecordPublic, ChainPublic, Page
from api.services.audit_trail import records_page

router = APIRouter(prefix="/v1/audit", tags=["audit"])


@router.get("/records", response_model=Page[AuditRecordPublic])
def records(db: DB, caller: Auditor, offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
            limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100) -> Any:
    total, items = records_page(db, offset, limit)
    return {"total": total, "offset": offset, "limit": limit, "items": items}


@router.get("/verify", response_model=ChainPublic)
def verify(db: DB, caller: Auditor) -> Any:
    r = audit.verify(db)
    return {"ok": r.ok, "records": r.records, "first_broken": r.first_broken, "problem": r.problem}
