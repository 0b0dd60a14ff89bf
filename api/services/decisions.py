"""Recording a coordinator's decision (the checks of `POST /v1/decisions`), for the decisions
router and for the services that turn something else into a decision (a confirmed hire)."""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.audit import append, content_hash
from api.db import utcnow
from api.models import DecisionEvent, Record, Round, RoundAssignment
from api.schemas import DecisionCreate
from api.security import Caller
from api.store.data import ROUTES, decision_events, route_key
from matcher.decisions import committed_elsewhere, decisions_in_force
from matcher.i18n import N_, _


class DecisionRefused(HTTPException):
    """A refused decision: an HTTP error whose detail is the English message (the API's), with
    its template and parameters so the pages can show it in the reader's language."""

    def __init__(self, status: int, template: str, **params: Any) -> None:
        super().__init__(status, template.format(**params))
        self.template, self.params = template, params

    def translated(self) -> str:
        return _(self.template).format(**self.params)


UNKNOWN = N_("{field}: unknown {kind} {value!r}")
NEEDS_ROUND = N_("round_id: accept and reject need the round whose proposal is decided on")
NO_ROUND = N_("round_id: no finished official round with this id")
NOT_PROPOSED = N_("round {round_id} did not propose candidate {candidate!r} for option {option!r}")
COMMITTED = N_("candidate {candidate!r} is already committed to option {other!r}; release that "
               "decision first")


def public(e: DecisionEvent) -> dict[str, Any]:
    return {c.name: getattr(e, c.name) for c in DecisionEvent.__table__.columns}


def _check_known(s: Session, body: DecisionCreate) -> None:
    for kind, value, field in (("candidates", body.candidate_id, "candidate_id"),
                               ("options", body.option_id, "option_id"),
                               ("options", body.next_option_id, "next_option_id")):
        if value is None:
            continue
        found = s.scalar(select(Record.id).where(Record.kind == kind, Record.entity_id == value))
        if found is None:
            raise DecisionRefused(404, UNKNOWN, field=field, kind=kind[:-1], value=value)
    if body.next_option_id is not None and s.scalar(select(Record.id).where(
            Record.kind == ROUTES,
            Record.entity_id == route_key(body.option_id, body.next_option_id))) is None:
        raise HTTPException(422, f"next_option_id: routes.csv has no route from "
                                 f"{body.option_id!r} to {body.next_option_id!r}")


def _check_proposed(s: Session, body: DecisionCreate) -> str:
    """The proposal's follow-on place ('' when the round proposed the option alone): accepting
    or rejecting a proposed route decides on the route."""
    if body.round_id is None:
        raise DecisionRefused(422, NEEDS_ROUND)
    rnd = s.get(Round, body.round_id)
    if rnd is None or rnd.kind != "official" or rnd.status != "done":
        raise DecisionRefused(404, NO_ROUND)
    proposed = s.scalar(select(RoundAssignment.next_option_id).where(
        RoundAssignment.round_id == body.round_id,
        RoundAssignment.candidate_id == body.candidate_id,
        RoundAssignment.option_id == body.option_id))
    if proposed is None:
        raise DecisionRefused(422, NOT_PROPOSED, round_id=body.round_id,
                              candidate=body.candidate_id, option=body.option_id)
    if body.next_option_id is not None and body.next_option_id != proposed:
        raise HTTPException(422, f"next_option_id: round {body.round_id} proposed the follow-on "
                                 f"place {proposed!r}, not {body.next_option_id!r}")
    return str(proposed)


def record_decision(s: Session, caller: Caller, body: DecisionCreate, source: str = "api"
                    ) -> DecisionEvent:
    """Check and add the decision (404 unknown candidate/option/round, 422 accept/reject of a
    pair not proposed, 409 a second commitment), with its audit record, in session `s`."""
    _check_known(s, body)
    next_option_id = body.next_option_id or ""
    if body.kind in ("accept", "reject"):
        next_option_id = _check_proposed(s, body)
    if body.kind in ("accept", "lock"):
        other = committed_elsewhere(decisions_in_force(decision_events(s)), body.candidate_id,
                                    body.option_id)
        if other is not None:
            raise DecisionRefused(409, COMMITTED, candidate=body.candidate_id, other=other)
    event = DecisionEvent(at=utcnow(), key_id=caller.key_id, candidate_id=body.candidate_id,
                          option_id=body.option_id, kind=body.kind, reason=body.reason,
                          round_id=body.round_id, source=source, next_option_id=next_option_id)
    s.add(event)
    s.flush()
    append(s, key_id=caller.key_id, action=f"decision.{body.kind}",
           target=f"decision/{event.id}", input_hash=content_hash(body.model_dump()),
           output_hash=content_hash(public(event)))
    return event
