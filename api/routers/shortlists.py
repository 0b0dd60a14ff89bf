"""Shortlists for employer service points, capacity-aware across service points.

`POST /v1/options/{id}/shortlist` issues one; `GET` on the same path reads the caller's newest
open one; `GET /v1/shortlists[/{id}]` reads them back with their feedback. A shortlist is
*open* from the moment it is issued until it is closed (POST /v1/shortlists/{id}/close) or
``policy.shortlist.open_days`` days have passed. A candidate on
``policy.shortlist.max_open_shortlists`` open shortlists of other options is skipped.
"""

from __future__ import annotations

import time
from datetime import date
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Body, Header, HTTPException, Path, Query, Request, Response

from api.deps import DB, Coordinator, ServerPolicy, ShortlistCaller, ShortlistIssuer
from api.limits import MAX_ID, MAX_K, MAX_OFFSET, MAX_PAGE
from api.schemas import (
    LEVELS,
    MAX_OFFSET_K,
    FeedbackCreate,
    FeedbackGiven,
    FeedbackResolve,
    Page,
    ShortlistClosed,
    ShortlistCreate,
    ShortlistPublic,
)
from api.shortlist_service import (
    close_one,
    give_feedback,
    read_latest,
    read_one,
    read_page,
    resolve_hire,
)
from api.shortlisting import Ask, make_ask

router = APIRouter(tags=["shortlists"])

OptionId = Annotated[str, Path(min_length=1, max_length=200)]
ShortlistId = Annotated[int, Path(ge=1, le=MAX_ID)]
IDEMPOTENCY_PATTERN = r"^[\x21-\x7e]{1,200}$"
IdempotencyKey = Annotated[str | None, Header(
    pattern=IDEMPOTENCY_PATTERN, description=(
        "Makes a retry safe: within 24 hours, the same key (for your API key) with the same "
        "request answers the shortlist issued first (200); with a different request, 422."))]


_ID = "$response.body#/id"
#: OpenAPI links (for clients and schemathesis' stateful tests): from an issued shortlist to
#: reading it back, feedback on its first candidate and closing it.
ISSUED_LINKS = {
    "GetShortlist": {"operationId": "get_shortlist_v1_shortlists__shortlist_id__get",
                     "parameters": {"shortlist_id": _ID}},
    "LatestShortlist": {"operationId": "latest_shortlist_v1_options__option_id__shortlist_get",
                        "parameters": {"option_id": "$response.body#/option_id"}},
    "GiveFeedback": {"operationId": "post_feedback_v1_shortlists__shortlist_id__feedback_post",
                     "parameters": {"shortlist_id": _ID},
                     "requestBody": {"candidate_id": "$response.body#/entries/0/candidate_id",
                                     "kind": "invited"}},
    "CloseShortlist": {"operationId": "close_shortlist_v1_shortlists__shortlist_id__close_post",
                       "parameters": {"shortlist_id": _ID}},
}
FEEDBACK_LINKS = {
    name: {"operationId": f"{name.lower()}_hire_v1_shortlists__shortlist_id__feedback__"
                          f"feedback_id__{name.lower()}_post",
           "parameters": {"shortlist_id": "$response.body#/shortlist_id",
                          "feedback_id": "$response.body#/id"}}
    for name in ("Confirm", "Reject")}


@router.post("/v1/options/{option_id}/shortlist", status_code=201,
             response_model=ShortlistPublic, responses={
                 201: {"links": ISSUED_LINKS},
                 200: {"model": ShortlistPublic,
                       "description": "the shortlist first issued under this Idempotency-Key"},
                 404: {"description": "no such option (or not one of yours)"},
                 422: {"description": "invalid request, or an Idempotency-Key reused with "
                                      "another request"}})
async def issue_shortlist(
    option_id: OptionId, request: Request, caller: ShortlistIssuer,
    body: Annotated[ShortlistCreate | None, Body()] = None,
    k: Annotated[int | None, Query(ge=1, le=MAX_K)] = None,
    offset: Annotated[int | None, Query(ge=0, le=MAX_OFFSET_K)] = None,
    max_km: Annotated[float | None, Query(gt=0, le=1000)] = None,
    min_hours: Annotated[float | None, Query(ge=0, le=168)] = None,
    min_dutch_level: Annotated[LEVELS | None, Query()] = None,
    sector: Annotated[str | None, Query(min_length=1, max_length=100,
                                        pattern=r"^[^\x00-\x1f]+$")] = None,
    available_by: Annotated[date | None, Query()] = None,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Issue a shortlist: the best eligible candidates not committed elsewhere, by pseudonym,
    with score components and reasons, skipping candidates on too many other open shortlists.
    `k` and the filters come in the JSON body or as query parameters (not both)."""
    # Ordinary requests are answered by `api.fastpath` (the same functions, without FastAPI's
    # routing and dependency resolution); this route answers the rest and documents them all.
    query = {name: value for name, value in (
        ("k", k), ("offset", offset), ("max_km", max_km), ("min_hours", min_hours),
        ("min_dutch_level", min_dutch_level), ("sector", sector),
        ("available_by", available_by)) if value is not None}
    if body is not None and query:
        raise HTTPException(422, f"give {', '.join(sorted(query))} in the body or in the query, "
                                 "not both")
    req = body if body is not None else ShortlistCreate.model_validate(query)
    return await shortlist_response(request.app.state, make_ask(caller, option_id, req,
                                                                idempotency_key),
                                    request.headers.get("x-api-key"))


async def shortlist_response(state: Any, ask: Ask, key: str | None) -> Response:
    """The answer to a shortlist request from an authenticated caller allowed to ask for one.

    Issued with the other requests that arrived meanwhile, in one transaction
    (`api.shortlisting`), on the event loop rather than in a thread (measured faster under 20
    concurrent clients); on PostgreSQL the batch awaits the database, so the loop serves other
    requests while it waits. The body is built in exactly the shape of ShortlistPublic (field order
    included) and encoded once with orjson, instead of validating and re-encoding it through
    the model. A key found revoked is forgotten (the next request looks it up again)."""
    t0 = time.perf_counter()
    try:
        done, db_seconds = await state.batcher.issue(ask)
    except HTTPException as exc:
        if exc.status_code == 401 and key is not None:
            state.key_cache.pop(key, None)
        raise
    body = orjson.dumps(done.result)
    headers = {"Idempotent-Replayed": "true"} if done.replayed else {}
    if state.settings.server_timing:
        headers["Server-Timing"] = (f"handler;dur={(time.perf_counter() - t0) * 1000:.3f}, "
                                    f"db;dur={db_seconds * 1000:.3f}")
    return Response(body, status_code=200 if done.replayed else 201,
                    media_type="application/json", headers=headers)


@router.get("/v1/options/{option_id}/shortlist", response_model=ShortlistPublic,
            responses={404: {"description": "no open shortlist of yours for this option"}})
def latest_shortlist(option_id: OptionId, db: DB, policy: ServerPolicy,
                     caller: ShortlistCaller) -> Any:
    """Your (this API key's) newest open shortlist for the option, with its feedback. Issues
    nothing (POST issues)."""
    return read_latest(db, policy, caller, option_id)


@router.get("/v1/shortlists", response_model=Page[ShortlistPublic])
def list_shortlists(db: DB, policy: ServerPolicy, caller: ShortlistCaller,
                    status: Literal["open", "closed", "all"] = "all",
                    option_id: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
                    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
                    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100) -> Any:
    """Shortlists with their feedback, by id: a service point's are those of its
    organisations (every key's); a coordinator's, all. `closed` includes expired ones."""
    return read_page(db, policy, caller, option_id, status, offset, limit)


@router.get("/v1/shortlists/{shortlist_id}", response_model=ShortlistPublic,
            responses={404: {"description": "no such shortlist (or not one of yours)"}})
def get_shortlist(shortlist_id: ShortlistId, db: DB, caller: ShortlistCaller) -> Any:
    """One shortlist as issued, with its status and feedback now."""
    return read_one(db, caller, shortlist_id)


@router.post("/v1/shortlists/{shortlist_id}/close", response_model=ShortlistClosed,
             responses={404: {"description": "no such shortlist (or not one of yours)"}})
def close_shortlist(shortlist_id: ShortlistId, db: DB, caller: ShortlistCaller) -> Any:
    """Close a shortlist: its candidates no longer count as put forward for that option."""
    return close_one(db, caller, shortlist_id)


@router.post("/v1/shortlists/{shortlist_id}/feedback", status_code=201,
             response_model=FeedbackGiven, responses={
                 201: {"links": FEEDBACK_LINKS},
                 404: {"description": "no such shortlist (or not one of yours)"},
                 409: {"description": "already reported (not_suitable, hired and withdrawn are "
                                      "final), or hired while reported hired or committed "
                                      "elsewhere"},
                 422: {"description": "invalid feedback, or the candidate is not on the "
                                      "shortlist"}})
def post_feedback(shortlist_id: ShortlistId, body: FeedbackCreate, db: DB,
                  caller: ShortlistCaller) -> Any:
    """Say what happened to one candidate of the shortlist: `invited`, `not_suitable` (with a
    reason code), `hired` (a report, confirmed or rejected by a coordinator) or `withdrawn`."""
    return give_feedback(db, caller, shortlist_id, body)


FeedbackId = Annotated[int, Path(ge=1, le=MAX_ID)]
_RESOLVE_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"description": "no such shortlist or feedback"},
    409: {"description": "not a pending hire, or (confirm) the candidate is committed "
                         "elsewhere"}}


@router.post("/v1/shortlists/{shortlist_id}/feedback/{feedback_id}/confirm",
             response_model=FeedbackGiven, responses=_RESOLVE_RESPONSES)
def confirm_hire(shortlist_id: ShortlistId, feedback_id: FeedbackId, body: FeedbackResolve,
                 db: DB, caller: Coordinator) -> Any:
    """Confirm a reported hire: the pair becomes a lock decision (with this reason), which the
    next round and every shortlist respect."""
    return resolve_hire(db, caller, shortlist_id, feedback_id, True, body)


@router.post("/v1/shortlists/{shortlist_id}/feedback/{feedback_id}/reject",
             response_model=FeedbackGiven, responses=_RESOLVE_RESPONSES)
def reject_hire(shortlist_id: ShortlistId, feedback_id: FeedbackId, body: FeedbackResolve,
                db: DB, caller: Coordinator) -> Any:
    """Reject a reported hire: the person may be put forward on new shortlists again (the
    shortlists they left stay as they are)."""
    return resolve_hire(db, caller, shortlist_id, feedback_id, False, body)
