"""Reading shortlists back and closing them: who may see which, and the answers' shape.

Routers call these; these call the store (`api.shortlist_store`). Issuing is
`api.shortlisting` (batched, on the event loop)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import HTTPException

from api.audit import append, content_hash
from api.db import Database, utcnow
from api.models import Shortlist, ShortlistFeedback
from api.security import Caller, Role
from api.shortlist_store import close, feedback, get, latest_open, page
from api.shortlisting import FMT, stored_answer, visible
from matcher.policy import Policy

SHORTLIST_NOT_FOUND = "shortlist not found"


def open_since(policy: Policy) -> str:
    """Shortlists issued before this are expired (no longer open)."""
    return (datetime.now(UTC) - timedelta(days=policy.shortlist.open_days)).strftime(FMT)


def _feedback_public(f: ShortlistFeedback) -> dict[str, Any]:
    return {"id": f.id, "candidate_id": f.candidate_id, "kind": f.kind,
            "reason_code": f.reason_code, "note": f.note, "at": f.at,
            "confirmed_decision_id": f.confirmed_decision_id}


def answer(sl: Shortlist, fb: list[ShortlistFeedback]) -> dict[str, Any]:
    """A stored shortlist as ShortlistPublic: as issued, with its status and feedback now."""
    out = stored_answer(sl.body, sl.id, sl.closed_at)
    if sl.body is None:  # issued before answers were stored: what the table holds
        out |= {"option_id": sl.option_id, "organisation_id": sl.organisation_id, "k": sl.k,
                "issued_at": sl.issued_at, "open_until": sl.issued_at,
                "max_open_shortlists": 0, "entries": [], "status": out["status"]}
    out["feedback"] = [_feedback_public(f) for f in fb]
    return out


def read_latest(db: Database, policy: Policy, caller: Caller, option_id: str) -> dict[str, Any]:
    """The caller's (API key's) newest open shortlist for the option; 404 if none."""
    with db.session() as s:
        sl = latest_open(s, caller.key_id, option_id, open_since(policy))
        if sl is None or not visible(caller, sl.organisation_id):
            raise HTTPException(404, "no open shortlist of yours for this option")
        return answer(sl, feedback(s, [sl.id])[sl.id])


def _visible_one(s: Any, caller: Caller, shortlist_id: int) -> Shortlist:
    sl = get(s, shortlist_id)
    if sl is None or not visible(caller, sl.organisation_id):
        raise HTTPException(404, SHORTLIST_NOT_FOUND)  # exactly as a missing one
    return sl


def read_one(db: Database, caller: Caller, shortlist_id: int) -> dict[str, Any]:
    with db.session() as s:
        sl = _visible_one(s, caller, shortlist_id)
        return answer(sl, feedback(s, [sl.id])[sl.id])


def read_page(db: Database, policy: Policy, caller: Caller, option_id: str | None, status: str,
              offset: int, limit: int) -> dict[str, Any]:
    """A page of the shortlists the caller may see (a service point: its organisations')."""
    orgs = caller.organisations if caller.role is Role.employer_service_point else None
    with db.session() as s:
        total, rows = page(s, orgs, option_id, status, open_since(policy), offset, limit)
        fb = feedback(s, [r.id for r in rows])
        items = [answer(r, fb[r.id]) for r in rows]
    return {"total": total, "offset": offset, "limit": limit, "items": items}


def close_one(db: Database, caller: Caller, shortlist_id: int) -> dict[str, Any]:
    """Close a shortlist (once; closing again answers the same); audited."""
    with db.write() as s:
        sl = _visible_one(s, caller, shortlist_id)
        if sl.closed_at is None:
            close(s, sl, utcnow())
            append(s, key_id=caller.key_id, action="shortlist.close",
                   target=f"shortlist/{shortlist_id}", input_hash=content_hash(shortlist_id),
                   output_hash=content_hash(sl.closed_at))
        return {"id": sl.id, "closed_at": sl.closed_at}
