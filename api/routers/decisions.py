"""Coordinators' decisions: accept/reject a proposal, lock/forbid/release a pair, with a reason.

Decisions are events: the history is kept and the latest per pair is in force
(:mod:`matcher.decisions`); the next round and every shortlist respect them.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from sqlalchemy import func, select

from api.audit import append, content_hash
from api.db import utcnow
from api.deps import DB, Coordinator, Reader
from api.limits import MAX_OFFSET, MAX_PAGE
from api.models import DecisionEvent, Record, Round, RoundAssignment
from api.schemas import DecisionCreate, DecisionPublic, InForcePublic, Page
from api.state import ROUTES, decision_events, route_key
from matcher.decisions import committed_elsewhere, decisions_in_force

router = APIRouter(prefix="/v1/decisions", tags=["decisions"])


def _public(e: DecisionEvent) -> dict[str, Any]:
    return {c.name: getattr(e, c.name) for c in DecisionEvent.__table__.columns}


@router.post("", status_code=201, response_model=DecisionPublic,
             responses={404: {"description": "unknown candidate, option or round"},
                        409: {"description": "conflicts with a decision in force"},
                        422: {"description": "accept/reject of a pair the round did not propose"}})
def decide(body: DecisionCreate, db: DB, caller: Coordinator) -> Any:
    with db.write() as s:
        for kind, value, field in (("candidates", body.candidate_id, "candidate_id"),
                                   ("options", body.option_id, "option_id"),
                                   ("options", body.next_option_id, "next_option_id")):
            if value is None:
                continue
            found = s.scalar(select(Record.id).where(Record.kind == kind,
                                                     Record.entity_id == value))
            if found is None:
                raise HTTPException(404, f"{field}: unknown {kind[:-1]} {value!r}")
        if body.next_option_id is not None and s.scalar(select(Record.id).where(
                Record.kind == ROUTES,
                Record.entity_id == route_key(body.option_id, body.next_option_id))) is None:
            raise HTTPException(422, f"next_option_id: routes.csv has no route from "
                                     f"{body.option_id!r} to {body.next_option_id!r}")
        next_option_id = body.next_option_id or ""
        if body.kind in ("accept", "reject"):
            if body.round_id is None:
                raise HTTPException(422, "round_id: accept and reject need the round whose "
                                         "proposal is decided on")
            rnd = s.get(Round, body.round_id)
            if rnd is None or rnd.kind != "official" or rnd.status != "done":
                raise HTTPException(404, "round_id: no finished official round with this id")
            proposed = s.scalar(select(RoundAssignment.next_option_id).where(
                RoundAssignment.round_id == body.round_id,
                RoundAssignment.candidate_id == body.candidate_id,
                RoundAssignment.option_id == body.option_id))
            if proposed is None:
                raise HTTPException(422, f"round {body.round_id} did not propose candidate "
                                         f"{body.candidate_id!r} for option {body.option_id!r}")
            if body.next_option_id is not None and body.next_option_id != proposed:
                raise HTTPException(422, f"next_option_id: round {body.round_id} proposed "
                                         f"the follow-on place {proposed!r}, not "
                                         f"{body.next_option_id!r}")
            next_option_id = proposed  # accepting a route holds its follow-on place
        if body.kind in ("accept", "lock"):
            other = committed_elsewhere(decisions_in_force(decision_events(s)), body.candidate_id,
                                        body.option_id)
            if other is not None:
                raise HTTPException(409, f"candidate {body.candidate_id!r} is already committed "
                                         f"to option {other!r}; release that decision first")
        event = DecisionEvent(at=utcnow(), key_id=caller.key_id, candidate_id=body.candidate_id,
                              option_id=body.option_id, kind=body.kind, reason=body.reason,
                              round_id=body.round_id, source="api",
                              next_option_id=next_option_id)
        s.add(event)
        s.flush()
        out = _public(event)
        append(s, key_id=caller.key_id, action=f"decision.{body.kind}",
               target=f"decision/{event.id}", input_hash=content_hash(body.model_dump()),
               output_hash=content_hash(out))
    return out


@router.get("", response_model=Page[DecisionPublic])
def history(db: DB, caller: Reader, candidate_id: str | None = None, option_id: str | None = None,
            offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
            limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100) -> Any:
    """Every decision ever taken, oldest first (optionally for one candidate or option)."""
    where = []
    if candidate_id is not None:
        where.append(DecisionEvent.candidate_id == candidate_id)
    if option_id is not None:
        where.append(DecisionEvent.option_id == option_id)
    with db.session() as s:
        total = s.scalar(select(func.count()).select_from(DecisionEvent).where(*where)) or 0
        rows = s.scalars(select(DecisionEvent).where(*where).order_by(DecisionEvent.id)
                         .offset(offset).limit(limit)).all()
        items = [_public(e) for e in rows]
    return {"total": total, "offset": offset, "limit": limit, "items": items}


@router.get("/in-force", response_model=list[InForcePublic])
def in_force(db: DB, caller: Reader) -> Any:
    """The decisions the next round will respect (locks and forbids)."""
    with db.session() as s:
        return decisions_in_force(decision_events(s)).to_dict("records")
