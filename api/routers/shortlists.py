"""Shortlists for employer service points, capacity-aware across service points.

A shortlist is *open* from the moment it is issued until it is closed
(POST /v1/shortlists/{id}/close) or ``policy.shortlist.open_days`` days have passed. A candidate
on ``policy.shortlist.max_open_shortlists`` open shortlists of other options is skipped.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, HTTPException, Path, Query, Request, Response
from sqlalchemy import update

from api.audit import append, content_hash
from api.db import utcnow
from api.deps import DB, ShortlistCaller, ShortlistIssuer
from api.limits import MAX_ID, MAX_K
from api.models import Shortlist, ShortlistEntry
from api.schemas import ShortlistClosed, ShortlistPublic
from api.security import Caller
from api.shortlisting import visible

router = APIRouter(tags=["shortlists"])


@router.get("/v1/options/{option_id}/shortlist", response_model=ShortlistPublic,
            responses={404: {"description": "no such option (or not one of yours)"}})
async def get_shortlist(option_id: str, request: Request, caller: ShortlistIssuer,
                        k: Annotated[int, Query(ge=1, le=MAX_K)] = 10) -> Any:
    """Issue a shortlist: the best eligible candidates not committed elsewhere, by pseudonym,
    with score components and reasons, skipping candidates on too many other open shortlists."""
    # Ordinary requests are answered by `api.fastpath` (the same function, without FastAPI's
    # routing and dependency resolution); this route answers the rest and documents them all.
    return await shortlist_response(request.app.state, caller, option_id, k,
                                    request.headers.get("x-api-key"))


async def shortlist_response(state: Any, caller: Caller, option_id: str, k: int,
                             key: str | None) -> Response:
    """The answer to a shortlist request from an authenticated caller allowed to ask for one.

    Issued with the other requests that arrived meanwhile, in one transaction
    (`api.shortlisting`), on the event loop rather than in a thread (measured faster under 20
    concurrent clients); on PostgreSQL the batch awaits the database, so the loop serves other
    requests while it waits. The body is built in exactly the shape of ShortlistPublic (field order
    included) and encoded once with orjson, instead of validating and re-encoding it through
    the model. A key found revoked is forgotten (the next request looks it up again)."""
    t0 = time.perf_counter()
    try:
        out, db_seconds = await state.batcher.issue(caller, option_id, k)
    except HTTPException as exc:
        if exc.status_code == 401 and key is not None:
            state.key_cache.pop(key, None)
        raise
    body = orjson.dumps(out)
    headers = None
    if state.settings.server_timing:
        headers = {"Server-Timing": f"handler;dur={(time.perf_counter() - t0) * 1000:.3f}, "
                                    f"db;dur={db_seconds * 1000:.3f}"}
    return Response(body, media_type="application/json", headers=headers)


@router.post("/v1/shortlists/{shortlist_id}/close", response_model=ShortlistClosed,
             responses={404: {"description": "no such shortlist (or not one of yours)"}})
def close_shortlist(shortlist_id: Annotated[int, Path(ge=1, le=MAX_ID)], db: DB,
                    caller: ShortlistCaller) -> Any:
    """Close a shortlist: its candidates no longer count as put forward for that option."""
    with db.write() as s:
        sl = s.get(Shortlist, shortlist_id)
        if sl is None or not visible(caller, sl.organisation_id):
            raise HTTPException(404, "shortlist not found")
        if sl.closed_at is None:
            sl.closed_at = utcnow()
            s.execute(update(ShortlistEntry).where(ShortlistEntry.shortlist_id == shortlist_id)
                      .values(closed=True))
            append(s, key_id=caller.key_id, action="shortlist.close",
                   target=f"shortlist/{shortlist_id}", input_hash=content_hash(shortlist_id),
                   output_hash=content_hash(sl.closed_at))
        return {"id": sl.id, "closed_at": sl.closed_at}
