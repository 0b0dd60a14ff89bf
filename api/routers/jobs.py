"""Jobs: the durable queue's view of a long computation (today a round), for a page to poll."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path

from api.deps import DB, Reader
from api.limits import MAX_ID
from api.models import RoundJob
from api.schemas import JobStatusPublic
from api.services import jobs as job_service

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])


@router.get("/{job_id}", response_model=JobStatusPublic)
def get_job(job_id: Annotated[int, Path(ge=1, le=MAX_ID)], db: DB, caller: Reader) -> Any:
    """A job's status, stage and progress (0..1), renewed by its worker every heartbeat; the
    job of a round is `job.id` in the round's answer (`POST /v1/rounds` 202). Its result is
    the round `round_id` once `status` is done."""
    with db.session() as s:
        job = s.get(RoundJob, job_id)
        if job is None:
            raise HTTPException(404, "job not found")
        return job_service.public(job)
