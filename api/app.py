"""The FastAPI application: `create_app(settings)` wires the database, cache and routers."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError
from starlette.types import ASGIApp, Receive, Scope, Send

from api import apidocs, metrics, readiness, storage_errors
from api.appstate import AppState, app_state
from api.appstate import limiter_for as limiter_for  # api.web imports it from here
from api.asgi import Headers, HttpMiddleware, editing_headers
from api.fastpath import ShortlistFastPath
from api.observe import Observe
from api.routers import (
    audit,
    data,
    decisions,
    imports,
    jobs,
    outcomes,
    protection,
    rounds,
    shortlists,
    whatif,
)
from api.schemas import ErrorPublic
from api.settings import Settings
from api.storage_errors import StorageErrors
from api.strict import refuse_unknown_query
from matcher import __version__

log = logging.getLogger(__name__)
DESCRIPTION = """Matching rounds, coordinators' decisions and employer shortlists over shared data.

Every call needs an API key in the `X-API-Key` header (`matcher apikey create`). Roles:
coordinator, employer_service_point, planner, auditor. Responses carry pseudonyms only;
protected attributes are readable by auditors only. Every import, round, decision and
shortlist appends a record to a hash-chained audit trail."""


class Message(BaseModel):
    detail: str


class Health(BaseModel):
    status: str
    version: str
    data_version: int


class Ready(BaseModel):
    status: str = Field(description="ready, or not ready (503)")
    checks: dict[str, str] = Field(description="database, migrations, worker: ok or why not")


COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": Message, "description": "no API key, or an unknown one"},
    403: {"model": Message, "description": "the key's role may not do this"},
    404: {"model": Message, "description": "not found (or not visible to this key)"},
    422: {"model": ErrorPublic, "description": "invalid request or refused content"},
    413: {"model": Message, "description": "request body too large"},
    429: {"model": Message, "description": "rate limit for this key exceeded (see Retry-After)"},
    503: {"model": Message, "description": "the database or the server's storage is away, busy, "
                                           "full or read-only; nothing was changed (see "
                                           "Retry-After)"},
}


class BodyCap:
    """413 for a declared body over the cap, 411 for a chunked body without a length.

    Plain ASGI (no BaseHTTPMiddleware): it looks at the headers only and adds no task or stream
    wrapping to the requests it lets through."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            length = chunked = None
            for name, value in scope["headers"]:
                if name == b"content-length" and length is None:
                    length = value.decode("latin-1")
                elif name == b"transfer-encoding" and chunked is None:
                    chunked = value.decode("latin-1").lower() == "chunked"
            refusal = None
            if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
                refusal = JSONResponse(status_code=413, content={
                    "detail": f"request body larger than {self.max_bytes} bytes"})
            elif length is None and chunked:
                refusal = JSONResponse(status_code=411, content={"detail": "send a Content-Length"})
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)


class ServerTiming(HttpMiddleware):
    """Adds ``Server-Timing: app;dur=MS`` (from the app's first look at the request to the start
    of its answer), after any timings the handler set itself (``db;dur=MS`` on shortlists)."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        t0 = time.perf_counter()

        def timed(headers: Headers) -> Headers:
            ms = (time.perf_counter() - t0) * 1000
            own = [v for k, v in headers if k == b"server-timing"]
            headers = [(k, v) for k, v in headers if k != b"server-timing"]
            value = b", ".join([f"app;dur={ms:.3f}".encode(), *own])
            return [*headers, (b"server-timing", value)]

        await self.app(scope, receive, editing_headers(send, timed))


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = app.state
        assert isinstance(state, AppState)
        worker = state.open(settings)
        state.cache.warm()
        state.cache.watch()
        thread = worker.start() if settings.in_process_worker else None
        try:
            yield
        finally:
            state.stopping.set()
            if thread is not None:
                thread.join(timeout=60)
            state.close()

    # /docs is served from local files (api/apidocs); FastAPI's own pages load a CDN.
    app = FastAPI(title="matcher", version=__version__, description=DESCRIPTION,
                  lifespan=lifespan, dependencies=[Depends(refuse_unknown_query)],
                  docs_url=None, redoc_url=None, swagger_ui_oauth2_redirect_url=None)
    app.state = AppState()  # typed; filled by `AppState.open` at start-up
    apidocs.install(app)

    # Innermost first: the shortlist fast path sees only what the body cap let through; a
    # storage error it (or anything below) raises is answered, never a 500.
    app.add_middleware(ShortlistFastPath)
    app.add_middleware(StorageErrors)
    app.add_middleware(BodyCap, max_bytes=settings.max_body_bytes)
    if settings.server_timing:
        app.add_middleware(ServerTiming)
    app.add_middleware(Observe, access=settings.access_log)
    app.add_exception_handler(DBAPIError, storage_errors.handler)
    app.add_exception_handler(OSError, storage_errors.handler)
    app.add_exception_handler(sqlite3.Error, storage_errors.handler)
    for error in storage_errors.driver_errors():
        app.add_exception_handler(error, storage_errors.handler)

    for module in (imports, data, rounds, jobs, whatif, decisions, shortlists, outcomes, audit,
                   protection):
        app.include_router(module.router, responses=COMMON_RESPONSES)
    from api import web
    web.install(app, settings)

    @app.get("/health", tags=["meta"])
    def health(request: Request) -> Health:
        """No key needed. `data_version`: the import this server process ranks shortlists from
        (with several workers, each answers for itself; a newer import is being ranked when it
        is behind `GET /v1/imports`)."""
        snap = app_state(request).cache.ready
        return Health(status="ok", version=__version__,
                      data_version=0 if snap is None else snap.version)

    @app.get("/ready", tags=["meta"], responses={503: {"model": Ready}})
    def ready(request: Request) -> Any:
        """No key needed. 200 when the database answers, its schema is the newest this
        version knows, and a job worker was seen within two leases; else 503 naming what is
        not."""
        checks = readiness.checks(app_state(request).db, settings)
        ok = all(v == "ok" for v in checks.values())
        return JSONResponse(status_code=200 if ok else 503, content={
            "status": "ready" if ok else "not ready", "checks": checks})

    if settings.metrics:
        @app.get("/metrics", tags=["meta"], include_in_schema=False)
        def prometheus(request: Request) -> Response:
            return Response(metrics.exposition(app_state(request).db),
                            media_type=metrics.CONTENT_TYPE)

    return app
