"""Two rounds compared: who moved, from what to what, and why."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from api.limits import MAX_ID
from api.services.round_diff import Why, round_diff
from api.web.names import Names, load_names
from api.web.pages.rounds import round_or_404
from api.web.session import PageError, ReaderUser
from api.web.templating import render
from matcher.i18n import N_, _

router = APIRouter(tags=["pages"])
RoundQuery = Annotated[int | None, Query(ge=1, le=MAX_ID)]
WHY = {
    "decision": N_("a coordinator's decision: {decision} {option} ({reason})"),
    "own_data": N_("the person's own data changed"),
    "option_changed": N_("{option} changed (seats, hours or rules)"),
    "option_gone": N_("{option} is no longer in the data"),
    "new_person": N_("new in this round"),
    "left": N_("no longer in the data"),
    "shared": N_("other changes in the round (seats and job coaches are shared)"),
}


def why_text(w: Why, names: Names) -> str:
    params = dict(w.params)
    if "option" in params:
        params["option"] = names.option(params["option"])
    if "decision" in params:
        params["decision"] = _("locked to") if params["decision"] == "lock" else _("kept apart from")
    return _(WHY[w.code]).format(**params)


@router.get("/rounds/compare")
async def compare_page(request: Request, user: ReaderUser, first: RoundQuery = None,
                       second: RoundQuery = None) -> Response:
    if first is None or second is None or first == second:
        raise PageError(422, _("Choose two different finished rounds to compare."))
    for rid in (first, second):
        if round_or_404(request, rid)["status"] != "done":
            raise PageError(409, _("Only finished rounds can be compared."))
    diff = await run_in_threadpool(round_diff, request.app.state.db, first, second)
    names = load_names(request.app.state.db)
    moves: list[dict[str, Any]] = [
        {"candidate_id": m.candidate_id,
         "before": names.option(m.before) if m.before else None,
         "after": names.option(m.after) if m.after else None,
         "why": [why_text(w, names) for w in m.why]} for m in diff.moves]
    return render(request, "compare.html", {"first": first, "second": second, "moves": moves,
                                            "same": diff.same,
                                            "compared_inputs": diff.compared_inputs})


