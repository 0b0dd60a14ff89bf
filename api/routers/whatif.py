"""What-ifs: a planner's scenario and sweep, run as a durable job (kind whatif) beside rounds.

`POST /v1/whatif` answers 202 at once with the job; poll `GET /v1/whatif/{id}` (or the job's
`GET /v1/jobs/{id}` for its progress); once done, the answer holds the report and the names of
its plots (`GET /v1/whatif/{id}/plots/{name}.png`). Cancel and retry as for rounds.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Request
from fastapi.responses import JSONResponse, Response

from api.deps import DB, Reader, RoundWriter, ServerPolicy
from api.limits import MAX_ID
from api.models import WhatIfRun
from api.schemas import WhatIfCreate, WhatIfPublic
from api.services import jobs as job_service
from api.services import whatif_jobs
from api.store import jobs
from matcher.errors import InputError
from matcher.whatif import Sweep
from matcher.whatif.scenario import parse_values

router = APIRouter(prefix="/v1/whatif", tags=["whatif"])
WhatIfId = Annotated[int, Path(ge=1, le=MAX_ID)]
PlotName = Annotated[str, Path(pattern=r"^[A-Za-z0-9._-]{1,100}$")]


def _problems(exc: InputError) -> JSONResponse:
    return JSONResponse(status_code=422, content={
        "detail": f"{len(exc.problems)} problem(s); no what-if was queued",
        "problems": [{"table": p.file.removesuffix(".csv"), "row": p.row, "index": None,
                      "field": p.column, "message": p.message} for p in exc.problems]})


def request_of(body: WhatIfCreate) -> whatif_jobs.WhatIfRequest:
    """The service's request (raises InputError for a sweep's values)."""
    sweep = None
    if body.sweep is not None:
        values = parse_values(body.sweep.set, body.sweep.values)
        sweep = Sweep(body.sweep.name or body.sweep.set, body.sweep.set, values)
    return whatif_jobs.WhatIfRequest(body.name, tuple(body.sets), sweep)


@router.post("", status_code=202, response_model=WhatIfPublic,
             responses={422: {"description": "a bad edit or sweep, named"}})
def create_whatif(body: WhatIfCreate, request: Request, db: DB, base: ServerPolicy,
                  caller: RoundWriter) -> Any:
    """Snapshot the data and decisions in force, check the edits against them, and queue the
    what-if as a durable job (202): a worker solves the baseline, the scenario and each sweep
    point (warm-started from the baseline) and stores the report."""
    settings = request.app.state.settings
    try:
        run_id = whatif_jobs.create(db, base, request_of(body), caller.key_id,
                                    settings.job_max_attempts)
    except InputError as exc:
        return _problems(exc)
    return _get(db, run_id)


def _get(db: DB, run_id: int) -> dict[str, Any]:
    with db.session() as s:
        run = s.get(WhatIfRun, run_id)
        if run is None:
            raise HTTPException(404, "what-if not found")
        return whatif_jobs.public(run, jobs.job_for_round(s, run_id, "whatif"))


@router.get("/{run_id}", response_model=WhatIfPublic)
def get_whatif(run_id: WhatIfId, db: DB, caller: Reader) -> Any:
    """A what-if's status, its job's progress, and its report once done."""
    return _get(db, run_id)


@router.get("/{run_id}/plots/{name}.png", response_class=Response,
            responses={200: {"content": {"image/png": {}}}})
def get_plot(run_id: WhatIfId, name: PlotName, db: DB, caller: Reader) -> Response:
    """One of a finished what-if's plots (PNG)."""
    with db.session() as s:
        run = s.get(WhatIfRun, run_id)
        plots = whatif_jobs.unpack_plots(None if run is None else run.plots)
    if name not in plots:
        raise HTTPException(404, "plot not found")
    return Response(plots[name], media_type="image/png")


@router.post("/{run_id}/cancel", status_code=202, response_model=WhatIfPublic,
             responses={409: {"description": "the what-if has finished already"}})
def cancel_whatif(run_id: WhatIfId, db: DB, caller: RoundWriter) -> Any:
    """Cancel a what-if: a queued one at once; a running one stops before its next step or
    solver phase. Recorded in the audit trail."""
    _get(db, run_id)
    job_service.cancel_or_409(db, run_id, "whatif", "what-if")
    return _get(db, run_id)


@router.post("/{run_id}/retry", status_code=202, response_model=WhatIfPublic,
             responses={409: {"description": "the what-if has not failed or been cancelled"}})
def retry_whatif(run_id: WhatIfId, request: Request, db: DB, caller: RoundWriter) -> Any:
    """Queue a failed or cancelled what-if again on the same snapshot, with fresh attempts."""
    _get(db, run_id)
    job_service.retry_or_409(db, run_id, request.app.state.settings.job_max_attempts,
                             caller.key_id, "whatif", "what-if")
    return _get(db, run_id)
