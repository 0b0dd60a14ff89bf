"""Coordinators: one person's proposal in a round, explained in plain words, with the options
that also fit, the decisions taken on them, and the forms to accept, reject, lock or forbid."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import quote

import numpy as np
from fastapi import APIRouter, Form, HTTPException, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from api.limits import MAX_ID
from api.models import DecisionEvent, User
from api.rounding import explained
from api.schemas import DecisionCreate
from api.security import Caller
from api.services.decisions import DecisionRefused, record_decision
from api.state import decision_events
from api.web.names import Names, load_names
from api.web.pages.rounds import round_or_404
from api.web.session import CoordinatorUser, PageError, ReaderUser
from api.web.templating import render
from matcher.decisions import decisions_in_force
from matcher.explain_person import candidate_index
from matcher.explain_words import explanation_text
from matcher.i18n import _
from matcher.round import Round as LibraryRound
from matcher.scoring.table import FORBID

router = APIRouter(tags=["pages"])
RoundId = Annotated[int, Path(ge=1, le=MAX_ID)]
PersonId = Annotated[str, Path(min_length=1, max_length=200)]
FITTING = 8
KINDS = ("accept", "reject", "lock", "forbid", "release")


def fitting_options(rnd: LibraryRound, candidate_id: str, limit: int = FITTING) -> list[str]:
    """The options that fit this person's hard rules in the round (not forbidden), best score
    first: what a coordinator may lock instead."""
    c = candidate_index(rnd.instance, candidate_id)
    e = rnd.edges
    idx = np.flatnonzero((e.cand == c) & e.eligible & (e.decision != FORBID))
    idx = idx[np.argsort(-e.score_micro[idx], kind="stable")][:limit]
    ids = rnd.instance.options["option_id"].to_numpy()
    return [str(ids[int(e.opt[i])]) for i in idx]


def _history(request: Request, candidate_id: str, names: Names) -> list[dict[str, Any]]:
    with request.app.state.db.session() as s:
        users = dict(s.execute(select(User.key_id, User.name)).all())
        events = s.scalars(select(DecisionEvent).where(DecisionEvent.candidate_id == candidate_id)
                           .order_by(DecisionEvent.id)).all()
        return [{"at": e.at[:19].replace("T", " "), "kind": e.kind, "option": names.option(e.option_id),
                 "reason": e.reason, "round_id": e.round_id,
                 "by": users.get(e.key_id) or (_("an API key") if e.key_id else _("an import"))}
                for e in events]


def _in_force(request: Request, candidate_id: str) -> list[dict[str, str]]:
    with request.app.state.db.session() as s:
        df = decisions_in_force(decision_events(s))
    return df[df["candidate_id"] == candidate_id].to_dict("records")


def _context(request: Request, round_id: int, candidate_id: str) -> dict[str, Any]:
    rnd_public = round_or_404(request, round_id)
    if rnd_public["status"] != "done":
        raise PageError(409, _("This round has not finished yet."))
    rnd, x = explained(request.app.state.replays, request.app.state.db, round_id, candidate_id)
    names = load_names(request.app.state.db)
    proposed = x["match"]["option_id"] if x["status"] == "matched" else None
    in_force = _in_force(request, candidate_id)
    choices = list(dict.fromkeys([*([proposed] if proposed else []),
                                  *fitting_options(rnd, candidate_id),
                                  *[d["option_id"] for d in in_force]]))
    alt = x.get("alternative")
    return {"round": rnd_public, "candidate_id": candidate_id, "x": x,
            "text": explanation_text(x), "proposed": proposed,
            "proposed_name": names.option(proposed) if proposed else None,
            "alternative": None if alt is None else names.option(alt["option_id"]),
            "fitting": [{"id": o, "name": names.option(o)} for o in choices if o != proposed],
            "choices": [{"id": o, "name": names.option(o)} for o in choices],
            "in_force": [{"decision": d["decision"], "option": names.option(d["option_id"]),
                          "reason": d["reason"]} for d in in_force],
            "history": _history(request, candidate_id, names),
            "error": None, "saved": False, "form": {}}


def _record(request: Request, caller: Caller, body: DecisionCreate) -> None:
    with request.app.state.db.write() as s:
        record_decision(s, caller, body, source="web")


@router.get("/rounds/{round_id}/people/{candidate_id}")
def person_page(request: Request, round_id: RoundId, candidate_id: PersonId, user: ReaderUser,
                saved: Annotated[bool, Query()] = False) -> Response:
    context = _context(request, round_id, candidate_id)
    context["saved"] = saved
    return render(request, "person.html", context)


@router.post("/rounds/{round_id}/people/{candidate_id}")
async def decide_on_person(
        request: Request, round_id: RoundId, candidate_id: PersonId, user: CoordinatorUser,
        csrf_token: Annotated[str, Form()],
        kind: Annotated[Literal["accept", "reject", "lock", "forbid", "release"], Form()],
        option_id: Annotated[str, Form(min_length=1, max_length=200)],
        reason: Annotated[str, Form(max_length=2000)] = "") -> Response:
    """One decision through the API's decision service (its checks, its audit record)."""
    error = None
    try:
        body = DecisionCreate(candidate_id=candidate_id, option_id=option_id, kind=kind,
                              reason=reason.strip(),
                              round_id=round_id if kind in ("accept", "reject") else None)
    except ValidationError:
        error, status = _("Give a reason for the decision."), 422
    else:
        try:
            await run_in_threadpool(_record, request, user.caller, body)
        except DecisionRefused as exc:
            error, status = exc.translated(), exc.status_code
        except HTTPException as exc:  # a refusal without a translation (routes)
            error, status = str(exc.detail), exc.status_code
    if error is None:
        return RedirectResponse(f"/rounds/{round_id}/people/{quote(candidate_id, safe='')}?saved=true",
                                status_code=303)
    context = _context(request, round_id, candidate_id)
    context["error"] = error
    context["form"] = {"kind": kind, "option_id": option_id, "reason": reason}
    return render(request, "person.html", context, status_code=status)
