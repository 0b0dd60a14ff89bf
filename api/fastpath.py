"""A short way in for ordinary shortlist requests, past FastAPI's routing and dependencies.

`POST /v1/options/{option_id}/shortlist` is the service's hot path. Through FastAPI, matching
it against the routes before it and resolving its dependencies cost about as much CPU as issuing
the shortlist itself. This middleware answers a request itself only when it is an ordinary one
whose answer cannot differ from the route's: its query parameters (each at most once) or its
JSON body (never both) validate as `ShortlistCreate` (the model the route uses), a valid
Idempotency-Key or none, a key already answered from memory with an allowed role, a token in
its rate-limit bucket. It then calls the same functions as the route (`make_ask`,
`shortlist_response`) and answers errors that they raise exactly as FastAPI's handler would
(``{"detail": ...}`` with the exception's headers). Everything else (no key, an unknown key, a
bad or unknown parameter, another method, 429) goes on to the FastAPI route, with the body it
read handed on unchanged; the route answers, validates and documents it.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

import orjson
from fastapi import HTTPException
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.deps import SHORTLIST_ROLES
from api.routers.shortlists import IDEMPOTENCY_PATTERN, shortlist_response
from api.schemas import ShortlistCreate
from api.security import Caller
from api.shortlisting import make_ask

PREFIX, SUFFIX = "/v1/options/", "/shortlist"
ROLES = frozenset(SHORTLIST_ROLES)
#: Larger bodies go to the route.
MAX_BODY = 4096
_IDEM = re.compile(IDEMPOTENCY_PATTERN)


def _query(query: bytes) -> dict[str, str] | None:
    """The query parameters, each given once; None when one is repeated or not decodable."""
    if not query:
        return {}
    try:
        pairs = parse_qsl(query.decode("ascii"), keep_blank_values=True, strict_parsing=True)
    except (UnicodeDecodeError, ValueError):
        return None
    out = dict(pairs)
    return out if len(out) == len(pairs) else None


def _request(query: dict[str, str], body: bytes) -> ShortlistCreate | None:
    """The request as the route would read it, or None (the route answers it)."""
    if body and query:
        return None
    try:
        data: Any = orjson.loads(body) if body else query
        if not isinstance(data, dict):
            return None
        return ShortlistCreate.model_validate(data)
    except (orjson.JSONDecodeError, ValidationError):
        return None


async def _read_body(scope: Scope, receive: Receive) -> tuple[bytes, list[Message]] | None:
    """The body (and the messages it came in) when it is small and JSON or empty; None when the
    route should read it."""
    headers = dict(scope["headers"])
    length = headers.get(b"content-length", b"0")
    if b"transfer-encoding" in headers or not length.isdigit() or int(length) > MAX_BODY:
        return None
    if int(length) and headers.get(b"content-type", b"").split(b";")[0].strip() != \
            b"application/json":
        return None
    messages, chunks = [], []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks), messages


def _replaying(messages: list[Message], receive: Receive) -> Receive:
    """A receive that hands on the messages already read, then the rest."""
    pending = list(messages)

    async def replay() -> Message:
        return pending.pop(0) if pending else await receive()

    return replay


class ShortlistFastPath:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] == "http" and scope["method"] == "POST" and not scope.get("root_path")
                and self._ours(scope)):
            read = await _read_body(scope, receive)
            if read is not None:
                body, messages = read
                response = await self._answer(scope, body)
                if response is not None:
                    await response(scope, receive, send)
                    return
                receive = _replaying(messages, receive)
        await self.app(scope, receive, send)

    @staticmethod
    def _ours(scope: Scope) -> bool:
        path: str = scope["path"]
        option_id = path[len(PREFIX):-len(SUFFIX)]
        return (path.startswith(PREFIX) and path.endswith(SUFFIX) and bool(option_id)
                and "/" not in option_id and len(option_id) <= 200)

    async def _answer(self, scope: Scope, body: bytes) -> Response | None:
        path: str = scope["path"]
        option_id = path[len(PREFIX):-len(SUFFIX)]
        query = _query(scope["query_string"])
        req = None if query is None else _request(query, body)
        if req is None:
            return None
        headers = scope["headers"]
        key = next((v for n, v in headers if n == b"x-api-key"), None)
        idem = [v for n, v in headers if n == b"idempotency-key"]
        if not key or len(idem) > 1:
            return None
        idem_key = idem[0].decode("latin-1") if idem else None
        if idem_key is not None and not _IDEM.match(idem_key):
            return None
        state = scope["app"].state
        token = key.decode("latin-1")
        caller: Caller | None = state.key_cache.get(token)
        if caller is None or caller.role not in ROLES or state.limiter.allow(caller.key_id) > 0:
            return None  # the route looks the key up, or answers 403 or 429
        try:
            return await shortlist_response(state, make_ask(caller, option_id, req, idem_key),
                                            token)
        except HTTPException as exc:
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code,
                                headers=exc.headers)
