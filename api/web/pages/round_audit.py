"""A round's equal-chances audit: placement per group, disparate impact, equal opportunity.
Only counts per group are shown, never a person's attribute."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from api.limits import MAX_ID
from api.services.round_audit import round_audit
from api.web.pages.rounds import round_or_404
from api.web.session import PageError, ReaderUser
from api.web.templating import render
from matcher.audit.metrics import FOUR_FIFTHS, MIN_GROUP
from matcher.i18n import N_, _

router = APIRouter(tags=["pages"])
ATTRIBUTE_NAMES = {"gender": N_("gender"), "age_band": N_("age group"),
                   "migration_background": N_("migration background"),
                   "disability": N_("disability")}


def attribute_name(name: str) -> str:
    parts = [_(ATTRIBUTE_NAMES.get(p, p)) for p in name.split(" x ")]
    return " \u00d7 ".join(parts)


@router.get("/rounds/{round_id}/audit")
async def audit_page(request: Request, round_id: Annotated[int, Path(ge=1, le=MAX_ID)],
                     user: ReaderUser) -> Response:
    if round_or_404(request, round_id)["status"] != "done":
        raise PageError(409, _("This round has not finished yet."))
    audit = await run_in_threadpool(round_audit, request.app.state.replays,
                                    request.app.state.db, round_id)
    sections = []
    if audit is not None:
        for where in ("attributes", "intersections"):
            for name, entry in audit[where].items():
                if where == "intersections" and entry.get("large_groups", 0) < 2:
                    continue
                sections.append({"name": attribute_name(name), "entry": entry})
    return render(request, "audit.html", {"round_id": round_id, "audit": audit,
                                          "sections": sections, "min_group": MIN_GROUP,
                                          "four_fifths": FOUR_FIFTHS})
