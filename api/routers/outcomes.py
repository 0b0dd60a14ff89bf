"""Outcomes after a placement: POST one, POST an outcomes.csv, GET them (coordinators and
employer service points, the latter for their organisations' options)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, UploadFile
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from api.deps import DB, ShortlistCaller
from api.importing import problem_dicts
from api.limits import MAX_OFFSET, MAX_PAGE
from api.schemas import OutcomeCreate, OutcomePublic, OutcomesImported, Page
from api.services.outcomes import import_outcomes, list_outcomes, record_outcome
from matcher.errors import InputError

router = APIRouter(prefix="/v1/outcomes", tags=["outcomes"])


@router.post("", status_code=201, response_model=OutcomePublic, responses={
    404: {"description": "unknown candidate, or unknown option (or not one of yours)"},
    409: {"description": "this event is already recorded for the candidate and option"}})
def post_outcome(body: OutcomeCreate, db: DB, caller: ShortlistCaller) -> Any:
    """Record what happened after a placement: started, dropped_out (with a reason),
    in_work_3m or in_work_6m."""
    return record_outcome(db, caller, body)


@router.post("/csv", status_code=201, response_model=OutcomesImported, responses={
    422: {"description": "problems in the file, each naming its row and column; nothing stored"}})
async def post_outcomes_csv(outcomes: UploadFile, db: DB, caller: ShortlistCaller) -> Any:
    """Record an outcomes.csv (candidate_id, option_id, event, date, optional reason), all or
    nothing."""
    content = await outcomes.read()
    try:
        n = await run_in_threadpool(import_outcomes, db, caller, content)
    except InputError as exc:
        return JSONResponse(status_code=422, content={
            "detail": f"{len(exc.problems)} problem(s) in outcomes.csv; nothing was stored",
            "problems": problem_dicts(exc.problems, False)})
    except UnicodeDecodeError as exc:  # pragma: no cover - read_table decodes any bytes
        raise HTTPException(422, f"outcomes: {exc}") from None
    return {"recorded": n}


@router.get("", response_model=Page[OutcomePublic])
def get_outcomes(db: DB, caller: ShortlistCaller,
                 candidate_id: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
                 option_id: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
                 offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
                 limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100) -> Any:
    """Outcomes recorded, oldest first (a service point: its organisations' options')."""
    return list_outcomes(db, caller, candidate_id, option_id, offset, limit)
