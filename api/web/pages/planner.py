"""The planner's page: a simple what-if (an option's seats and language requirement, an
organisation's guidance capacity) on the data imported now, and the what-if report's own
sections and plots shown in the page (matcher.whatif, as `matcher whatif --set`)."""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from api.security import Role
from api.services.own_options import options_for, organisations
from api.services.planner_whatif import WhatIfAsk, WhatIfResult, what_if
from api.web.forms import FormProblems, choice, read_form, whole_number
from api.web.navigation import NavItem
from api.web.pages.servicepoint import DUTCH_LEVELS
from api.web.session import SessionUser, require_page
from api.web.templating import render
from matcher.errors import InputError
from matcher.i18n import N_, _, problem_text

router = APIRouter(tags=["pages"])
NAV = [NavItem("/planner/what-if", N_("What if"), frozenset({Role.planner}), order=30)]
Planner = Annotated[SessionUser, Depends(require_page(Role.planner))]
FIELDS = {"option_id", "seats", "min_dutch_level", "organisation_id", "guidance_capacity"}
MAX_NUMBER = 100_000


def _page(request: Request, user: SessionUser, values: dict[str, str] | None = None,
          problems: FormProblems | None = None, result: WhatIfResult | None = None,
          refused: list[str] | None = None, status_code: int = 200) -> Response:
    db = request.app.state.db
    plots = {} if result is None else {
        name: "data:image/png;base64," + base64.b64encode(png).decode("ascii")
        for name, png in result.plots.items()}
    return render(request, "planner/whatif.html", {
        "options": options_for(db, user.caller), "organisations": organisations(db),
        "levels": DUTCH_LEVELS, "values": values or {},
        "problems": (problems or FormProblems()).by_field, "result": result, "plots": plots,
        "refused": refused or [], "cell": _cell}, status_code=status_code)


def _cell(value: Any) -> str:
    """A table cell as the report's own tables write it."""
    if isinstance(value, float):
        return f"{value:.4f}".rstrip("0").rstrip(".") if value == value else ""
    return "" if value is None else str(value)


@router.get("/planner/what-if")
def whatif_form(request: Request, user: Planner) -> Response:
    return _page(request, user)


def _ask(request: Request, user: SessionUser, values: dict[str, str],
         problems: FormProblems) -> WhatIfAsk:
    db = request.app.state.db
    option = choice(values, "option_id", problems,
                    [o["option_id"] for o in options_for(db, user.caller)])
    organisation = choice(values, "organisation_id", problems,
                          [o["organisation_id"] for o in organisations(db)])
    ask = WhatIfAsk(option, whole_number(values, "seats", problems, 0, MAX_NUMBER),
                    choice(values, "min_dutch_level", problems, DUTCH_LEVELS), organisation,
                    whole_number(values, "guidance_capacity", problems, 0, MAX_NUMBER))
    if option is None and (ask.seats is not None or ask.min_dutch_level is not None):
        problems.add("option_id", _("Choose the option whose seats or language you change."))
    if organisation is None and ask.guidance_capacity is not None:
        problems.add("organisation_id",
                     _("Choose the organisation whose guidance capacity you change."))
    if not problems and not ask.sets():
        problems.add("seats", _("Change at least one figure."))
    return ask


@router.post("/planner/what-if")
async def whatif_run(request: Request, user: Planner) -> Response:
    values = await read_form(request, FIELDS)
    problems = FormProblems()
    ask = _ask(request, user, values, problems)
    if problems:
        return _page(request, user, values, problems, status_code=422)
    state = request.app.state
    try:
        result = await run_in_threadpool(what_if, state.db, state.policy, ask, _("what if"))
    except InputError as exc:
        return _page(request, user, values, refused=[problem_text(p) for p in exc.problems],
                     status_code=422)
    return _page(request, user, values, result=result)
