"""The employer service point's pages: its own organisations' options, a shortlist for one of
them (the API's shortlist service: the same ranking, capacity checks, idempotency and audit
record as POST /v1/options/{id}/shortlist), and its shortlists again later. Another
organisation's option or shortlist is a 404 page, exactly as one that does not exist."""

from __future__ import annotations

import re
import secrets
from typing import Annotated, Any, get_args

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from api.limits import MAX_K
from api.routers.shortlists import IDEMPOTENCY_PATTERN
from api.schemas import LEVELS, ShortlistCreate
from api.security import Role
from api.services.own_options import option_for, options_for
from api.shortlist_service import read_latest, read_one, read_page
from api.shortlisting import make_ask
from api.web.forms import FormProblems, choice, decimal_number, read_form, whole_number
from api.web.navigation import NavItem
from api.web.session import PageError, SessionUser, require_page
from api.web.templating import render
from matcher.i18n import N_, _

router = APIRouter(tags=["pages"])
NAV = [NavItem("/service-point", N_("Our options"),
               frozenset({Role.employer_service_point}), order=20)]
ServicePoint = Annotated[SessionUser, Depends(require_page(Role.employer_service_point))]
FIELDS = {"k", "max_km", "min_dutch_level", "request_key"}
DUTCH_LEVELS: tuple[str, ...] = get_args(LEVELS)
#: How many of its shortlists for one option the option's page lists.
SHOWN = 20


#: A shortlist's status as people read it.
STATUS = {"open": N_("open"), "closed": N_("closed"), "expired": N_("expired")}


def status_label(status: str) -> str:
    return _(STATUS.get(status, status))


def _not_found() -> PageError:
    return PageError(404, _("This page does not exist, or it is not yours to see."))


def _option(request: Request, user: SessionUser, option_id: str) -> dict[str, Any]:
    option = option_for(request.app.state.db, user.caller, option_id)
    if option is None:
        raise _not_found()
    return option


@router.get("/service-point")
def options_page(request: Request, user: ServicePoint) -> Response:
    return render(request, "servicepoint/options.html",
                  {"options": options_for(request.app.state.db, user.caller)})


def _option_page(request: Request, user: SessionUser, option: dict[str, Any],
                 values: dict[str, str] | None = None, problems: FormProblems | None = None,
                 status_code: int = 200) -> Response:
    state = request.app.state
    try:
        latest = read_latest(state.db, state.policy, user.caller, option["option_id"])
    except HTTPException:
        latest = None
    mine = read_page(state.db, state.policy, user.caller, option["option_id"], "all", 0, SHOWN)
    return render(request, "servicepoint/option.html", {
        "option": option, "latest": latest, "shortlists": mine["items"],
        "total": mine["total"], "levels": DUTCH_LEVELS, "max_k": MAX_K,
        "values": values or {"k": "10"}, "problems": (problems or FormProblems()).by_field,
        "request_key": secrets.token_urlsafe(24), "status_label": status_label},
        status_code=status_code)


@router.get("/service-point/options/{option_id}")
def option_page(request: Request, option_id: str, user: ServicePoint) -> Response:
    return _option_page(request, user, _option(request, user, option_id))


def _shortlist_request(values: dict[str, str], problems: FormProblems) -> ShortlistCreate | None:
    k = whole_number(values, "k", problems, 1, MAX_K)
    if k is None and "k" not in problems.by_field:
        problems.add("k", _("Fill in how many candidates you want."))
    max_km = decimal_number(values, "max_km", problems, 0, 1000)
    level = choice(values, "min_dutch_level", problems, DUTCH_LEVELS)
    if problems:
        return None
    try:
        return ShortlistCreate.model_validate({"k": k, "max_km": max_km,
                                               "min_dutch_level": level})
    except ValidationError:
        problems.add("k", _("Fill in a number from {low} to {high}.").format(low=1, high=MAX_K))
        return None


@router.post("/service-point/options/{option_id}/shortlist")
async def request_shortlist(request: Request, option_id: str, user: ServicePoint) -> Response:
    option = _option(request, user, option_id)
    values = await read_form(request, FIELDS)
    problems = FormProblems()
    req = _shortlist_request(values, problems)
    if req is None:
        return _option_page(request, user, option, values, problems, status_code=422)
    key = values.get("request_key") or None
    if key is not None and not _valid_key(key):
        raise PageError(422, _("This form has expired or did not come from this site. Go back, "
                               "reload the page and try again."))
    ask = make_ask(user.caller, option_id, req, key and f"page:{key}")
    try:
        done, _seconds = await request.app.state.batcher.issue(ask)
    except HTTPException as exc:
        if exc.status_code == 404:
            raise _not_found() from None
        raise
    return RedirectResponse(f"/service-point/shortlists/{done.result['id']}", status_code=303)


def _valid_key(key: str) -> bool:
    return re.fullmatch(IDEMPOTENCY_PATTERN, f"page:{key}") is not None


@router.get("/service-point/shortlists/{shortlist_id}")
def shortlist_page(request: Request, shortlist_id: str, user: ServicePoint) -> Response:
    if not shortlist_id.isdigit() or len(shortlist_id) > 18:
        raise _not_found()
    try:
        shortlist = read_one(request.app.state.db, user.caller, int(shortlist_id))
    except HTTPException as exc:
        if exc.status_code == 404:
            raise _not_found() from None
        raise
    option = _option(request, user, shortlist["option_id"])
    return render(request, "servicepoint/shortlist.html",
                  {"shortlist": shortlist, "option": option, "status_label": status_label})
