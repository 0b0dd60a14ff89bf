"""The auditor's page: the audit trail's check (every record linked to the one before by its
hash, api.audit.verify as GET /v1/audit/verify) and its records, a page at a time, with the
person behind each record when it was made from a page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from api import audit
from api.limits import MAX_OFFSET
from api.security import Role
from api.services.audit_trail import records_page, user_names
from api.web.navigation import NavItem
from api.web.session import SessionUser, require_page
from api.web.templating import render
from matcher.i18n import N_

router = APIRouter(tags=["pages"])
NAV = [NavItem("/auditor/audit-trail", N_("Audit trail"), frozenset({Role.auditor}), order=40)]
Auditor = Annotated[SessionUser, Depends(require_page(Role.auditor))]
PER_PAGE = 50


@router.get("/auditor/audit-trail")
async def audit_trail(request: Request, user: Auditor,
                      offset: Annotated[int | None, Query(ge=0, le=MAX_OFFSET)] = None
                      ) -> Response:
    """Without `offset`: the newest records."""
    db = request.app.state.db
    chain = await run_in_threadpool(audit.verify, db)
    total, _ = records_page(db, 0, 0)
    start = max(0, total - PER_PAGE) if offset is None else min(offset, max(0, total - 1))
    total, records = records_page(db, start, PER_PAGE)
    keys = {r["key_id"] for r in records if r["key_id"] is not None}
    return render(request, "auditor/audit_trail.html", {
        "chain": chain, "records": records, "names": user_names(db, keys), "total": total,
        "start": start, "per_page": PER_PAGE,
        "previous": max(0, start - PER_PAGE) if start > 0 else None,
        "next": start + PER_PAGE if start + PER_PAGE < total else None})
