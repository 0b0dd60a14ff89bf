"""Reading shortlists back and closing them: who may see which, and the answers' shape.

Routers call these; these call the store (`api.shortlist_store`). Issuing is
`api.shortlisting` (batched, on the event loop)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import HTTPException
from sqlalchemy.orm import Session

from api.audit import append, content_hash
from api.db import Database, utcnow
from api.models import Shortlist, ShortlistFeedback
from api.schemas import DecisionCreate, FeedbackCreate, FeedbackResolve
from api.security import Caller, Role
from api.services.decisions import record_decision
from api.shortlist_store import (
    close,
    feedback,
    get,
    get_feedback,
    latest_feedback,
    latest_open,
    leave,
    left,
    on_shortlist,
    page,
    pending_hire,
)
from api.shortlisting import FMT, stored_answer, visible
from api.state import decision_events
from matcher.decisions import committed_elsewhere, decisions_in_force
from matcher.policy import Policy

SHORTLIST_NOT_FOUND = "shortlist not found"


def open_since(policy: Policy) -> str:
    """Shortlists issued before this are expired (no longer open)."""
    return (datetime.now(UTC) - timedelta(days=policy.shortlist.open_days)).strftime(FMT)


def _feedback_public(f: ShortlistFeedback) -> dict[str, Any]:
    return {"id": f.id, "candidate_id": f.candidate_id, "kind": f.kind,
            "reason_code": f.reason_code, "note": f.note, "at": f.at,
            "confirmed_decision_id": f.confirmed_decision_id, "resolution": f.resolution,
            "resolved_at": f.resolved_at, "resolution_reason": f.resolution_reason}


def answer(sl: Shortlist, fb: list[ShortlistFeedback],
           gone: list[str] | None = None) -> dict[str, Any]:
    """A stored shortlist as ShortlistPublic: as issued, with its status and feedback now."""
    out = stored_answer(sl.body, sl.id, sl.closed_at)
    if sl.body is None:  # issued before answers were stored: what the table holds
        out |= {"option_id": sl.option_id, "organisation_id": sl.organisation_id, "k": sl.k,
                "issued_at": sl.issued_at, "open_until": sl.issued_at,
                "max_open_shortlists": 0, "entries": [], "status": out["status"]}
    out["feedback"] = [_feedback_public(f) for f in fb]
    out["left"] = gone or []
    return out


def _answers(s: Session, rows: list[Shortlist]) -> list[dict[str, Any]]:
    ids = [r.id for r in rows]
    fb, gone = feedback(s, ids), left(s, ids)
    return [answer(r, fb[r.id], gone[r.id]) for r in rows]


def read_latest(db: Database, policy: Policy, caller: Caller, option_id: str) -> dict[str, Any]:
    """The caller's (API key's) newest open shortlist for the option; 404 if none."""
    with db.session() as s:
        sl = latest_open(s, caller.key_id, option_id, open_since(policy))
        if sl is None or not visible(caller, sl.organisation_id):
            raise HTTPException(404, "no open shortlist of yours for this option")
        return _answers(s, [sl])[0]


def _visible_one(s: Any, caller: Caller, shortlist_id: int) -> Shortlist:
    sl = get(s, shortlist_id)
    if sl is None or not visible(caller, sl.organisation_id):
        raise HTTPException(404, SHORTLIST_NOT_FOUND)  # exactly as a missing one
    return sl


def read_one(db: Database, caller: Caller, shortlist_id: int) -> dict[str, Any]:
    with db.session() as s:
        sl = _visible_one(s, caller, shortlist_id)
        return _answers(s, [sl])[0]


def read_page(db: Database, policy: Policy, caller: Caller, option_id: str | None, status: str,
              offset: int, limit: int) -> dict[str, Any]:
    """A page of the shortlists the caller may see (a service point: its organisations')."""
    orgs = caller.organisations if caller.role is Role.employer_service_point else None
    with db.session() as s:
        total, rows = page(s, orgs, option_id, status, open_since(policy), offset, limit)
        items = _answers(s, rows)
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


#: Feedback after which nothing more is said about the candidate on that shortlist.
FINAL = frozenset({"not_suitable", "hired", "withdrawn"})
#: Feedback that frees the candidate's cap slot on that shortlist (the entry closes).
FREES_SLOT = frozenset({"not_suitable", "withdrawn"})


def _check_feedback(s: Session, sl: Shortlist, body: FeedbackCreate) -> None:
    """422 for a request that does not hold together, 409 for one the state refuses."""
    if body.kind == "not_suitable" and body.reason_code is None:
        raise HTTPException(422, "reason_code: not_suitable needs a reason code")
    if body.kind != "not_suitable" and body.reason_code is not None:
        raise HTTPException(422, f"reason_code: only with not_suitable, not with {body.kind}")
    if body.reason_code == "other" and not body.note.strip():
        raise HTTPException(422, "note: reason code other needs a note")
    if not on_shortlist(s, sl.id, body.candidate_id):
        raise HTTPException(422, f"candidate_id: {body.candidate_id!r} is not on shortlist "
                                 f"{sl.id}")
    last = latest_feedback(s, sl.id, body.candidate_id)
    if last is not None and (last.kind in FINAL or last.kind == body.kind):
        raise HTTPException(409, f"candidate {body.candidate_id!r} is already reported "
                                 f"{last.kind} on shortlist {sl.id}")
    if body.kind == "hired":
        other = pending_hire(s, body.candidate_id)
        if other is not None:
            raise HTTPException(409, f"candidate {body.candidate_id!r} is already reported hired "
                                     f"for option {other.option_id!r} (not yet confirmed or "
                                     "rejected by a coordinator)")
        committed = committed_elsewhere(decisions_in_force(decision_events(s)),
                                        body.candidate_id, sl.option_id)
        if committed is not None:
            raise HTTPException(409, f"candidate {body.candidate_id!r} is committed to option "
                                     f"{committed!r} by a coordinator's decision")


def give_feedback(db: Database, caller: Caller, shortlist_id: int,
                  body: FeedbackCreate) -> dict[str, Any]:
    """Record what happened to one candidate of a shortlist (see `FeedbackCreate`); audited.

    invited keeps the cap slot; not_suitable and withdrawn free it here; hired closes the
    person's entries on every other shortlist (they leave them at once) and keeps them off new
    shortlists until a coordinator rejects the report (`resolve_hire`)."""
    with db.write() as s:
        sl = _visible_one(s, caller, shortlist_id)
        _check_feedback(s, sl, body)
        f = ShortlistFeedback(shortlist_id=sl.id, option_id=sl.option_id,
                              candidate_id=body.candidate_id, kind=body.kind,
                              reason_code=body.reason_code, note=body.note, at=utcnow(),
                              key_id=caller.key_id)
        s.add(f)
        s.flush()
        gone: list[int] = []
        if body.kind in FREES_SLOT:
            leave(s, body.candidate_id, sl.id, here=True)
        elif body.kind == "hired":
            gone = leave(s, body.candidate_id, sl.id, here=False)
        out = _feedback_public(f) | {"shortlist_id": sl.id, "left_shortlists": gone}
        append(s, key_id=caller.key_id, action=f"shortlist.feedback.{body.kind}",
               target=f"shortlist/{sl.id}/feedback/{f.id}",
               input_hash=content_hash(body.model_dump()), output_hash=content_hash(out))
        return out


def resolve_hire(db: Database, caller: Caller, shortlist_id: int, feedback_id: int,
                 confirm: bool, body: FeedbackResolve) -> dict[str, Any]:
    """A coordinator confirms a reported hire (it becomes a lock decision on the pair, with the
    usual checks and the reason given) or rejects it (the person may be put forward again).
    409 unless it is a hire still pending; audited."""
    with db.write() as s:
        _visible_one(s, caller, shortlist_id)
        f = get_feedback(s, shortlist_id, feedback_id)
        if f is None:
            raise HTTPException(404, "feedback not found")
        if f.kind != "hired" or f.resolution is not None:
            state = f.kind if f.kind != "hired" else f"hired, already {f.resolution}"
            raise HTTPException(409, f"feedback {feedback_id} is not a pending hire ({state})")
        if confirm:
            event = record_decision(s, caller, DecisionCreate(
                candidate_id=f.candidate_id, option_id=f.option_id, kind="lock",
                reason=body.reason, round_id=None), source="shortlist")
            f.confirmed_decision_id = event.id
        f.resolution = "confirmed" if confirm else "rejected"
        f.resolved_at, f.resolved_key_id, f.resolution_reason = utcnow(), caller.key_id, body.reason
        out = _feedback_public(f) | {"shortlist_id": shortlist_id, "left_shortlists": []}
        append(s, key_id=caller.key_id, action="shortlist.hire." + ("confirm" if confirm else "reject"),
               target=f"shortlist/{shortlist_id}/feedback/{f.id}",
               input_hash=content_hash(body.model_dump()), output_hash=content_hash(out))
        return out
