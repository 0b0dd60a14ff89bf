"""The stored data, read back: pseudonymous fields only; protected attributes for auditors."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import func, select

from api.deps import DB, Auditor, DataReader, OptionReader
from api.limits import MAX_OFFSET, MAX_PAGE
from api.models import Protected, Record
from api.schemas import CandidatePublic, OptionPublic, OrganisationPublic, Page, ProtectedPublic
from api.security import Role

router = APIRouter(prefix="/v1", tags=["data"])
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET)]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE)]


def _page(db: DB, kind: str, offset: int, limit: int, orgs: frozenset[str] | None = None
          ) -> tuple[int, list[dict[str, Any]]]:
    where = [Record.kind == kind]
    if orgs is not None:
        where.append(Record.organisation_id.in_(sorted(orgs)))
    with db.session() as s:
        total = s.scalar(select(func.count()).select_from(Record).where(*where)) or 0
        rows = s.scalars(select(Record.data).where(*where).order_by(Record.entity_id)
                         .offset(offset).limit(limit)).all()
    return total, list(rows)


@router.get("/organisations", response_model=Page[OrganisationPublic])
def organisations(db: DB, caller: DataReader, offset: Offset = 0, limit: Limit = 100) -> Any:
    total, rows = _page(db, "organisations", offset, limit)
    return {"total": total, "offset": offset, "limit": limit, "items": rows}


@router.get("/options", response_model=Page[OptionPublic])
def options(db: DB, caller: OptionReader, offset: Offset = 0, limit: Limit = 100) -> Any:
    """Employer service points see only their own organisations' options."""
    orgs = caller.organisations if caller.role is Role.employer_service_point else None
    total, rows = _page(db, "options", offset, limit, orgs)
    return {"total": total, "offset": offset, "limit": limit, "items": rows}


@router.get("/candidates", response_model=Page[CandidatePublic])
def candidates(db: DB, caller: DataReader, offset: Offset = 0, limit: Limit = 100) -> Any:
    total, rows = _page(db, "candidates", offset, limit)
    return {"total": total, "offset": offset, "limit": limit, "items": rows}


@router.get("/protected", response_model=Page[ProtectedPublic])
def protected(db: DB, caller: Auditor, offset: Offset = 0, limit: Limit = 100) -> Any:
    """Protected attributes: auditors only, for equal-chances audits; never used in scores."""
    with db.session() as s:
        total = s.scalar(select(func.count()).select_from(Protected)) or 0
        rows = s.scalars(select(Protected).order_by(Protected.candidate_id)
                         .offset(offset).limit(limit)).all()
        items = [{"candidate_id": r.candidate_id,
                  "attributes": {k: str(v) for k, v in r.data.items()}} for r in rows]
    return {"total": total, "offset": offset, "limit": limit, "items": items}
