"""A short way in for ordinary shortlist requests, past FastAPI's routing and dependencies.

`GET /v1/options/{option_id}/shortlist` is the service's hot path. Through FastAPI, matching it
against the routes before it and resolving its dependencies cost about as much CPU as issuing
the shortlist itself. This middleware answers a request itself only when it is an ordinary one
whose answer cannot differ from the route's: a plain ``k`` (or none), a key already answered
from memory with an allowed role, a token in its rate-limit bucket. It then calls the same
function as the route (`shortlist_response`) and answers errors that function raises exactly as
FastAPI's handler would (``{"detail": ...}`` with the exception's headers). Everything else
(no key, an unknown key, a bad ``k``, a second ``k``, another method, 429) goes on to the
FastAPI route, which answers, validates and documents it.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from fastapi import HTTPException
from fastapi.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from api.deps import SHORTLIST_ROLES
from api.limits import MAX_K
from api.routers.shortlists import shortlist_response
from api.security import Caller

PREFIX, SUFFIX = "/v1/options/", "/shortlist"
ROLES = frozenset(SHORTLIST_ROLES)
DEFAULT_K = 10


def _k(query: bytes) -> int | None:
    """k from the query string when it is a plain 1..MAX_K (default 10); None otherwise."""
    if not query:
        return DEFAULT_K
    ks = [v for name, v in parse_qsl(query.decode("latin-1"), keep_blank_values=True)
          if name == "k"]
    if not ks:
        return DEFAULT_K
    if len(ks) > 1 or not (ks[0].isascii() and ks[0].isdigit()) or ks[0].startswith("0"):
        return None
    k = int(ks[0])
    return k if k <= MAX_K else None


class ShortlistFastPath:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] == "http" and scope["method"] == "GET" and not scope.get("root_path")
                and (response := await self._answer(scope)) is not None):
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _answer(self, scope: Scope) -> Response | None:
        path: str = scope["path"]
        if not (path.startswith(PREFIX) and path.endswith(SUFFIX)):
            return None
        option_id = path[len(PREFIX):-len(SUFFIX)]
        if not option_id or "/" in option_id:
            return None
        k = _k(scope["query_string"])
        if k is None:
            return None
        key = next((v for n, v in scope["headers"] if n == b"x-api-key"), None)
        if not key:
            return None
        state = scope["app"].state
        token = key.decode("latin-1")
        caller: Caller | None = state.key_cache.get(token)
        if caller is None or caller.role not in ROLES or state.limiter.allow(caller.key_id) > 0:
            return None  # the route looks the key up, or answers 403 or 429
        try:
            return await shortlist_response(state, caller, option_id, k, token)
        except HTTPException as exc:
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code,
                                headers=exc.headers)
