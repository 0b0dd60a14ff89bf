"""Data protection for coordinators: the erasure of one person on request."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path
from pydantic import BaseModel, Field

from api.deps import DB, Coordinator
from api.services import protection

router = APIRouter(prefix="/v1/candidates", tags=["data protection"])


class ErasurePublic(BaseModel):
    erased: dict[str, int] = Field(description="Rows replaced or deleted, per table (no ids).")


@router.post("/{candidate_id}/erase", response_model=ErasurePublic,
             responses={404: {"description": "the id is nowhere in the data, rounds or "
                                             "shortlists"}})
def erase(candidate_id: Annotated[str, Path(min_length=1, max_length=200)], db: DB,
          caller: Coordinator) -> Any:
    """Erase one person (AVG/GDPR art. 17), as `matcher erase`: current data and protected
    attributes deleted; decisions, round results, round snapshots and shortlist entries get a
    tombstone. The audit record counts rows and names nobody; the chain still verifies."""
    try:
        return {"erased": protection.erase(db, candidate_id, caller.key_id)}
    except LookupError as exc:
        raise HTTPException(404, str(exc)) from None
