"""Request ids, access logs and request metrics (one plain ASGI middleware), and the logging
set-up of the service's commands (JSON lines or plain text)."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import metrics, requestid

access_log = logging.getLogger("matcher.access")
SHORTLIST = "/v1/options/{option_id}/shortlist"


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, request id, and for access lines
    method, route, path, status and milliseconds."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(), "logger": record.name,
            "message": record.getMessage(),
        }
        rid = getattr(record, "request_id", None) or requestid.current()
        if rid:
            out["request_id"] = rid
        out.update(getattr(record, "access", {}))
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        rid = getattr(record, "request_id", None) or requestid.current()
        return f"{line} [request {rid}]" if rid else line


def configure_logging(fmt: str = "json", level: str = "info") -> None:
    """Log to stderr as JSON lines (`fmt` "json") or plain text ("text")."""
    handler = logging.StreamHandler(sys.stderr)
    handler.formatter = (JsonFormatter() if fmt == "json" else _TextFormatter(
        "%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.Formatter.converter = time.gmtime
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True


def route_of(scope: Scope) -> str:
    """The route's path template (bounded label values), not the raw path."""
    route = scope.get("route")
    if route is not None and hasattr(route, "path"):
        return str(route.path)
    path: str = scope.get("path", "")
    if path.startswith("/v1/options/") and path.endswith("/shortlist"):
        return SHORTLIST
    return "unmatched"


class Observe:
    """Outermost middleware: gives each request an id (the caller's X-Request-ID when plain,
    else a new one; sent back in X-Request-ID), logs one access line and counts it."""

    def __init__(self, app: ASGIApp, access: bool = True) -> None:
        self.app, self.access = app, access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v for k, v in scope["headers"] if k == b"x-request-id"), None)
        rid = requestid.from_header(given)
        token = requestid.REQUEST_ID.set(rid)
        t0, status = time.perf_counter(), 500

        async def tagged(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", []),
                                                  (b"x-request-id", rid.encode())]}
            await send(message)

        try:
            await self.app(scope, receive, tagged)
        finally:
            seconds = time.perf_counter() - t0
            route = route_of(scope)
            metrics.REQUESTS.labels(scope["method"], route, str(status)).inc()
            metrics.LATENCY.labels(route).observe(seconds)
            if self.access:
                access_log.info("%s %s %d", scope["method"], scope["path"], status, extra={
                    "request_id": rid, "access": {
                        "method": scope["method"], "route": route, "path": scope["path"],
                        "status": status, "ms": round(seconds * 1000, 2),
                        "client": (scope.get("client") or ["-"])[0]}})
            requestid.REQUEST_ID.reset(token)
