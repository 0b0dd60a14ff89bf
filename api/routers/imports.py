"""POST /v1/imports (JSON) and /v1/imports/csv (files): validated whole, all or nothing."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Query, UploadFile
from fastapi.responses import JSONResponse
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool

from api import importing
from api.deps import DB, Cache, Coordinator, Reader
from api.limits import MAX_OFFSET, MAX_PAGE
from api.models import Import
from api.schemas import ImportCreate, ImportPublic, Page, ProblemPublic
from api.services.imports import run_import

router = APIRouter(prefix="/v1/imports", tags=["imports"])


def _run(db: DB, cache: Cache, parsed: importing.Parsed, mode: str, key_id: int) -> Any:
    done = run_import(db, cache, parsed, mode, key_id)
    if done.imp is None:
        problems = importing.problem_dicts(done.problems, parsed.json)
        return JSONResponse(status_code=422, content={
            "detail": f"{len(problems)} problem(s) in the import; nothing was stored",
            "problems": problems})
    imp = done.imp
    return ImportPublic(id=imp.id, at=imp.at, mode=imp.mode, counts=imp.counts,
                        content_hash=imp.content_hash,
                        warnings=[ProblemPublic.model_validate(d)
                                  for d in importing.problem_dicts(done.warnings, parsed.json)])


@router.post("", status_code=201, response_model=ImportPublic)
def import_json(body: ImportCreate, db: DB, cache: Cache, caller: Coordinator) -> Any:
    """Import tables given as JSON rows (organisations, options, candidates, routes,
    protected, decisions); the same columns as the CSV files."""
    rows = {t: getattr(body, t) for t in importing.TABLES if getattr(body, t) is not None}
    if not rows:
        raise HTTPException(422, "give at least one table")
    return _run(db, cache, importing.from_json(rows), body.mode, caller.key_id)


@router.post("/csv", status_code=201, response_model=ImportPublic)
async def import_csv(
    db: DB, cache: Cache, caller: Coordinator,
    organisations: UploadFile | None = None, options: UploadFile | None = None,
    candidates: UploadFile | None = None, protected: UploadFile | None = None,
    decisions: UploadFile | None = None, routes: UploadFile | None = None,
    mode: Annotated[str, Form(pattern="^(merge|replace)$")] = "merge",
) -> Any:
    """Import the CSV files of a data folder (multipart form, one field per table)."""
    given = {"organisations": organisations, "options": options, "candidates": candidates,
             "protected": protected, "decisions": decisions, "routes": routes}
    files = {name: await f.read() for name, f in given.items() if f is not None}
    if not files:
        raise HTTPException(422, "give at least one file")
    parsed = importing.from_csv(files)
    return await run_in_threadpool(_run, db, cache, parsed, mode, caller.key_id)


@router.get("", response_model=Page[ImportPublic])
def list_imports(db: DB, caller: Reader, offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
                 limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100) -> Any:
    with db.session() as s:
        total = s.scalar(select(func.count()).select_from(Import)) or 0
        rows = s.scalars(select(Import).order_by(Import.id).offset(offset).limit(limit)).all()
        items = [ImportPublic(id=r.id, at=r.at, mode=r.mode, counts=r.counts,
                              content_hash=r.content_hash) for r in rows]
    return Page[ImportPublic](total=total, offset=offset, limit=limit, items=items)
