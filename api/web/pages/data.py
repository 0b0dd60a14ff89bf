"""Coordinators: upload the data (one Excel workbook or the CSV files) and see what changed."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from api.models import Import
from api.security import Role
from api.services.imports import Outcome, TableChange, parse_upload, run_import
from api.web.names import Names, load_names
from api.web.navigation import NavItem
from api.web.problems import shown
from api.web.session import CoordinatorUser
from api.web.templating import render
from matcher.i18n import N_

router = APIRouter(tags=["pages"])
NAV = [NavItem("/data", N_("Data"), frozenset({Role.coordinator}), order=10)]
LAST_IMPORTS = 20


def _imports(request: Request) -> list[Import]:
    with request.app.state.db.session() as s:
        rows = s.scalars(select(Import).order_by(Import.id.desc()).limit(LAST_IMPORTS)).all()
        s.expunge_all()
        return list(rows)


def _named(change: TableChange, names: Names) -> dict[str, object]:
    def label(i: str) -> str:
        if change.table == "options":
            return names.option(i)
        if change.table == "organisations":
            return f"{names.organisations.get(i, i)} ({i})"
        return i

    return {"table": change.table, "added": [label(i) for i in change.added],
            "changed": [label(i) for i in change.changed],
            "removed": [label(i) for i in change.removed], "unchanged": change.unchanged}


def _page(request: Request, outcome: Outcome | None = None, status_code: int = 200) -> Response:
    context: dict[str, object] = {"imports": _imports(request), "outcome": None}
    if outcome is not None:
        names = load_names(request.app.state.db)
        context["outcome"] = {
            "stored": outcome.imp is not None,
            "import": outcome.imp,
            "problems": [shown(p) for p in outcome.problems],
            "warnings": [shown(p) for p in outcome.warnings],
            "changes": [_named(c, names) for c in outcome.changes],
        }
    return render(request, "data.html", context, status_code=status_code)


@router.get("/data")
def data_page(request: Request, user: CoordinatorUser) -> Response:
    return _page(request)


@router.post("/data")
async def upload(request: Request, user: CoordinatorUser,
                 files: Annotated[list[UploadFile], File()],
                 csrf_token: Annotated[str, Form()],
                 mode: Annotated[str, Form(pattern="^(merge|replace)$")] = "merge") -> Response:
    given = [(f.filename or "", await f.read()) for f in files]
    parsed = parse_upload(given)
    outcome = await run_in_threadpool(run_import, request.app.state.db, request.app.state.cache,
                                      parsed, mode, user.caller.key_id)
    return _page(request, outcome, 201 if outcome.imp is not None else 422)
