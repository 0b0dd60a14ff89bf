"""Rounds: the history, starting a round (a durable job) and watching it, and its proposals."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool

from api import rounding
from api.limits import MAX_ID, MAX_OFFSET
from api.models import Round, RoundAssignment, RoundJob, RoundUnmatched
from api.security import Role
from api.services.round_start import RoundRefused, start_round
from api.state import decision_events
from api.web.names import Names, load_names
from api.web.navigation import NavItem
from api.web.problems import shown
from api.web.session import CoordinatorUser, PageError, ReaderUser
from api.web.templating import render
from matcher.decisions import decisions_in_force
from matcher.errors import InputError
from matcher.explain_words import UNMATCHED_WORDS
from matcher.i18n import N_, _

router = APIRouter(tags=["pages"])
READERS = (Role.coordinator, Role.planner, Role.auditor)
NAV = [NavItem("/rounds", N_("Rounds"), frozenset(READERS), order=20)]
PAGE = 100
RoundId = Annotated[int, Path(ge=1, le=MAX_ID)]


def round_or_404(request: Request, round_id: int) -> dict[str, Any]:
    """The round as the API shows it (rounding.public), or a 404 page."""
    with request.app.state.db.session() as s:
        rnd = s.get(Round, round_id)
        if rnd is None:
            raise PageError(404, _("This page does not exist, or it is not yours to see."))
        job = s.scalars(select(RoundJob).where(RoundJob.round_id == round_id)).first()
        return rounding.public(rnd, job)


def reason_words(code: str, detail: str = "") -> str:
    return _(UNMATCHED_WORDS[code]) if code in UNMATCHED_WORDS else (detail or code)


@router.get("/rounds")
def rounds_page(request: Request, user: ReaderUser) -> Response:
    with request.app.state.db.session() as s:
        rows = s.scalars(select(Round).order_by(Round.id.desc()).limit(200)).all()
        items = [rounding.public(r) for r in rows]
    return render(request, "rounds.html", {"rounds": items, "problems": []})


@router.post("/rounds")
async def start(request: Request, user: CoordinatorUser,
                csrf_token: Annotated[str, Form()]) -> Response:
    """An official round over the stored data, queued as a job for the worker."""
    try:
        round_id, _queued = await run_in_threadpool(
            start_round, request.app.state, user.caller, "official", None, False)
    except RoundRefused as exc:
        raise PageError(exc.status, exc.translated()) from None
    except InputError as exc:
        with request.app.state.db.session() as s:
            items = [rounding.public(r) for r in
                     s.scalars(select(Round).order_by(Round.id.desc()).limit(200)).all()]
        return render(request, "rounds.html", {"rounds": items,
                                               "problems": [shown(p) for p in exc.problems]},
                      status_code=422)
    return RedirectResponse(f"/rounds/{round_id}", status_code=303)


def status_data(rnd: dict[str, Any]) -> dict[str, Any]:
    """What the progress display needs (also the JSON the page's script polls)."""
    job = rnd["job"] or {}
    progress = job.get("progress") or {}
    finished = rnd["status"] in ("done", "failed", "cancelled")
    words = {"queued": _("Waiting for a worker to start it"), "running": _("Running"),
             "done": _("Finished"), "failed": _("Failed"), "cancelled": _("Cancelled")}
    return {"id": rnd["id"], "status": rnd["status"], "finished": finished,
            "status_text": words.get(rnd["status"], rnd["status"]),
            "stage": progress.get("stage") or rnd["stage"],
            "done": progress.get("done"), "total": progress.get("total"),
            "attempts": job.get("attempts"), "max_attempts": job.get("max_attempts")}


@router.get("/rounds/{round_id}/status.json")
def round_status(request: Request, round_id: RoundId, user: ReaderUser) -> JSONResponse:
    return JSONResponse(status_data(round_or_404(request, round_id)))


def _people(request: Request, round_id: int, offset: int, names: Names
            ) -> tuple[int, list[dict[str, Any]]]:
    with request.app.state.db.session() as s:
        matched = {a.candidate_id: a for a in s.scalars(
            select(RoundAssignment).where(RoundAssignment.round_id == round_id))}
        unmatched = {u.candidate_id: u for u in s.scalars(
            select(RoundUnmatched).where(RoundUnmatched.round_id == round_id))}
        in_force = decisions_in_force(decision_events(s))
    people = sorted(set(matched) | set(unmatched))
    decided: dict[str, list[str]] = {}
    for r in in_force.itertuples(index=False):
        word = _("locked to {option}") if r.decision == "lock" else _("not {option}")
        decided.setdefault(r.candidate_id, []).append(word.format(option=names.option(r.option_id)))
    rows = []
    for cid in people[offset:offset + PAGE]:
        a, u = matched.get(cid), unmatched.get(cid)
        rows.append({"candidate_id": cid,
                     "proposal": names.option(a.option_id) if a else None,
                     "locked": bool(a and a.locked),
                     "why": "" if a or not u else reason_words(u.reason, u.detail),
                     "decisions": decided.get(cid, [])})
    return len(people), rows


@router.get("/rounds/{round_id}")
def round_page(request: Request, round_id: RoundId, user: ReaderUser,
               offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0) -> Response:
    rnd = round_or_404(request, round_id)
    context: dict[str, Any] = {"round": rnd, "status": status_data(rnd), "people": [],
                               "total": 0, "offset": offset, "page": PAGE,
                               "problems": rnd["problems"], "previous": None}
    if rnd["status"] == "done":
        names = load_names(request.app.state.db)
        context["total"], context["people"] = _people(request, round_id, offset, names)
        with request.app.state.db.session() as s:
            context["previous"] = s.scalar(select(func.max(Round.id)).where(
                Round.id < round_id, Round.status == "done"))
    return render(request, "round.html", context)
