"""Coordinators' decisions: accept/reject a proposal, lock/forbid/release a pair, with a reason.

Decisions are events: the history is kept and the latest per pair is in force
(:mod:`matcher.decisions`); the next round and every shortlist respect them.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import func, select

from api.deps import DB, Coordinator, Reader
from api.limits import MAX_OFFSET, MAX_PAGE
from api.models import DecisionEvent
from api.schemas import DecisionCreate, DecisionPublic, InForcePublic, Page
from api.services.decisions import public, record_decision
from api.store.data import decision_events
from matcher.decisions import decisions_in_force

router = APIRouter(prefix="/v1/decisions", tags=["decisions"])


@router.post("", status_code=201, response_model=DecisionPublic,
             responses={404: {"description": "unknown candidate, option or round"},
                        409: {"description": "conflicts with a decision in force"},
                        422: {"description": "accept/reject of a pair the round did not propose"}})
def decide(body: DecisionCreate, db: DB, caller: Coordinator) -> Any:
    with db.write() as s:
        return public(record_decision(s, caller, body))


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
        items = [public(e) for e in rows]
    return {"total": total, "offset": offset, "limit": limit, "items": items}


@router.get("/in-force", response_model=list[InForcePublic])
def in_force(db: DB, caller: Reader) -> Any:
    """The decisions the next round will respect (locks and forbids)."""
    with db.session() as s:
        return decisions_in_force(decision_events(s)).to_dict("records")
