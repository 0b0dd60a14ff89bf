"""Rounds: create (coordinator: official or scenario; planner: scenario), poll, read results."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy import func, select

from api import rounding
from api.appstate import app_state
from api.deps import DB, Reader, RoundWriter
from api.limits import MAX_ID, MAX_OFFSET, MAX_PAGE
from api.models import Round, RoundAssignment, RoundJob, RoundUnmatched
from api.schemas import (
    AssignmentPublic,
    ExplanationPublic,
    Page,
    RoundCreate,
    RoundPublic,
    UnmatchedPublic,
    UtilisationPublic,
)
from api.security import Role
from api.services import jobs as job_service
from api.services.round_start import RoundRefused, start_round
from matcher.errors import InputError

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1/rounds", tags=["rounds"])
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET)]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE)]


def _problems(exc: InputError) -> JSONResponse:
    return JSONResponse(status_code=422, content={
        "detail": f"{len(exc.problems)} problem(s); no round was run",
        "problems": [{"table": p.file.removesuffix(".csv"), "row": p.row, "index": None,
                      "field": p.column, "message": p.message} for p in exc.problems]})


RoundId = Annotated[int, Path(ge=1, le=MAX_ID)]


@router.post("", status_code=201, response_model=RoundPublic,
             responses={202: {"model": RoundPublic,
                              "description": "queued as a job: poll GET /v1/rounds/{id}"}})
def create_round(body: RoundCreate, request: Request, db: DB, caller: RoundWriter) -> Any:
    """Snapshot the data, decisions in force and policy, and run the solver. Small rounds
    answer at once (201); larger ones are queued as a durable job (202) that a worker runs:
    poll GET /v1/rounds/{id} (its `job` shows attempts and progress)."""
    try:
        round_id, queued = start_round(app_state(request), caller, body.kind, body.policy,
                                       previous_round_id=body.previous_round_id)
    except RoundRefused as exc:
        raise HTTPException(exc.status, exc.template) from None
    except InputError as exc:
        return _problems(exc)
    if queued:
        return JSONResponse(status_code=202, content=_get(db, round_id))
    return _get(db, round_id)


def _get(db: DB, round_id: int) -> dict[str, Any]:
    with db.session() as s:
        rnd = s.get(Round, round_id)
        if rnd is None:
            raise HTTPException(404, "round not found")
        job = s.scalars(select(RoundJob).where(RoundJob.round_id == round_id)).first()
        return rounding.public(rnd, job)


def _own(db: DB, round_id: int, caller: Any) -> None:
    with db.session() as s:
        rnd = s.get(Round, round_id)
        if rnd is None:
            raise HTTPException(404, "round not found")
        if caller.role is Role.planner and rnd.kind != "scenario":
            raise HTTPException(403, "planners may cancel or retry scenario rounds only")


@router.post("/{round_id}/cancel", status_code=202, response_model=RoundPublic,
             responses={409: {"description": "the round has finished already"}})
def cancel_round(round_id: RoundId, db: DB, caller: RoundWriter) -> Any:
    """Cancel a round: a queued one at once (status `cancelled`); a running one stops at the
    solver's next phase (its job shows `cancel_requested` until then). Recorded in the audit
    trail."""
    _own(db, round_id, caller)
    job_service.cancel_or_409(db, round_id, "round", "round")
    return _get(db, round_id)


@router.post("/{round_id}/retry", status_code=202, response_model=RoundPublic,
             responses={409: {"description": "the round has not failed or been cancelled"}})
def retry_round(round_id: RoundId, request: Request, db: DB, caller: RoundWriter) -> Any:
    """Queue a failed or cancelled round again, on the same snapshot and policy, with a fresh
    set of attempts (recorded in the audit trail)."""
    _own(db, round_id, caller)
    job_service.retry_or_409(db, round_id, app_state(request).settings.job_max_attempts,
                             caller.key_id, "round", "round")
    return _get(db, round_id)


@router.get("", response_model=Page[RoundPublic])
def list_rounds(db: DB, caller: Reader, offset: Offset = 0, limit: Limit = 100) -> Any:
    with db.session() as s:
        total = s.scalar(select(func.count()).select_from(Round)) or 0
        rows = s.scalars(select(Round).order_by(Round.id).offset(offset).limit(limit)).all()
        found = s.scalars(select(RoundJob).where(RoundJob.round_id.in_([r.id for r in rows])))
        by_round = {j.round_id: j for j in found}
        items = [rounding.public(r, by_round.get(r.id)) for r in rows]
    return {"total": total, "offset": offset, "limit": limit, "items": items}


@router.get("/{round_id}", response_model=RoundPublic)
def get_round(round_id: Annotated[int, Path(ge=1, le=MAX_ID)], db: DB, caller: Reader) -> Any:
    return _get(db, round_id)


@router.get("/{round_id}/assignments", response_model=Page[AssignmentPublic])
def assignments(round_id: Annotated[int, Path(ge=1, le=MAX_ID)], db: DB, caller: Reader, offset: Offset = 0,
                limit: Limit = 100) -> Any:
    return _rows(db, round_id, RoundAssignment, offset, limit)


@router.get("/{round_id}/unmatched", response_model=Page[UnmatchedPublic])
def unmatched(round_id: Annotated[int, Path(ge=1, le=MAX_ID)], db: DB, caller: Reader, offset: Offset = 0,
              limit: Limit = 100) -> Any:
    return _rows(db, round_id, RoundUnmatched, offset, limit)


@router.get("/{round_id}/utilisation", response_model=list[UtilisationPublic])
def utilisation(round_id: Annotated[int, Path(ge=1, le=MAX_ID)], db: DB, caller: Reader) -> Any:
    with db.session() as s:
        rnd = s.get(Round, round_id)
        if rnd is None:
            raise HTTPException(404, "round not found")
        return rnd.utilisation or []


@router.get("/{round_id}/explain/{candidate_id}", response_model=ExplanationPublic,
            responses={409: {"description": "the round has not finished (or it failed)"}})
def explain(round_id: Annotated[int, Path(ge=1, le=MAX_ID)], candidate_id: str,
            request: Request, db: DB, caller: Reader) -> Any:
    """Why one person got this round's proposal, in plain words (as `matcher explain`): the
    match and why, or why none; the best option not chosen and why; what one change would
    open. By pseudonym; no protected attribute is used or shown."""
    return rounding.explanation(app_state(request).replays, db, round_id, candidate_id)


def _rows(db: DB, round_id: int, model: Any, offset: int, limit: int) -> dict[str, Any]:
    with db.session() as s:
        if s.get(Round, round_id) is None:
            raise HTTPException(404, "round not found")
        where = model.round_id == round_id
        total = s.scalar(select(func.count()).select_from(model).where(where)) or 0
        rows = s.scalars(select(model).where(where).order_by(model.candidate_id)
                         .offset(offset).limit(limit)).all()
        items = [{c.name: getattr(r, c.name) for c in model.__table__.columns} for r in rows]
    return {"total": total, "offset": offset, "limit": limit, "items": items}
