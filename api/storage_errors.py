"""Errors of the server's storage as answers, never a 500 with a traceback (issue #33, case 5).

A full disk, a read-only disk or database, a database that is away or busy: 503 with a clear
`detail` and Retry-After (the request changed nothing: its transaction rolled back); a value the
database cannot hold: 422; a write that lost a race with another: 409. The server's paths are
logged, never sent. Used as the app's exception handler and, around the shortlist fast path
(which answers outside FastAPI's handlers), as a plain ASGI middleware.
"""

from __future__ import annotations

import errno
import logging

from fastapi import Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from starlette.types import Message, Receive, Scope, Send

from api.asgi import HttpMiddleware

log = logging.getLogger(__name__)

NOTHING = "nothing was changed"
DB_DOWN = f"the database is unreachable or not answering; {NOTHING}: try again shortly"
DISK_FULL = (f"the server's storage is full; {NOTHING}: try again later (the operators are "
             "told in the server's log)")
READ_ONLY = (f"the server's storage is read-only just now; {NOTHING}: try again later (the "
             "operators are told in the server's log)")
BUSY = f"the database is busy with another write; {NOTHING}: try again"
CONFLICT = f"the request conflicts with a change made at the same time; {NOTHING}: try again"
TOO_BIG = (f"a value does not fit what the database stores (a number beyond 64 bits, or a text "
           f"too long); {NOTHING}")

_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
_READ_ONLY = {errno.EROFS, errno.EACCES, errno.EPERM}
#: PostgreSQL SQLSTATEs: class 53 insufficient resources (53100 disk full), 25006 read-only
#: transaction, 40001/40P01 serialisation failure and deadlock.
_PG_FULL_CLASS, _PG_READ_ONLY, _PG_RETRY = "53", "25006", ("40001", "40P01")


def _answer(status: int, detail: str, retry_after: int | None = None) -> JSONResponse:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return JSONResponse(status_code=status, content={"detail": detail}, headers=headers)


def for_os_error(exc: OSError) -> JSONResponse:
    log.error("storage error: %s (%s)", exc.strerror or exc, exc.filename or "-")
    if exc.errno in _FULL:
        return _answer(503, DISK_FULL, 60)
    if exc.errno in _READ_ONLY:
        return _answer(503, READ_ONLY, 60)
    return _answer(503, f"the server could not read or write its storage "
                        f"({exc.strerror or type(exc).__name__}); {NOTHING}: try again later", 30)


def _pep249(exc: BaseException, name: str) -> bool:
    """`exc` is the driver's (sqlite3's, psycopg's) PEP 249 exception class `name`."""
    return any(c.__name__ == name and c.__module__.split(".")[0] in ("sqlite3", "psycopg")
               for c in type(exc).__mro__)


def for_db_error(exc: BaseException) -> JSONResponse:
    """A database error through SQLAlchemy, or straight from the driver (the shortlist store
    talks to sqlite3 and psycopg itself)."""
    orig = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    said = str(orig)
    state = str(getattr(orig, "sqlstate", "") or "")
    log.error("database error: %s", said.splitlines()[0] if said else type(orig).__name__)
    if isinstance(exc, IntegrityError) or _pep249(orig, "IntegrityError") or state in _PG_RETRY:
        return _answer(409, CONFLICT)
    if isinstance(exc, DataError) or _pep249(orig, "DataError"):
        return _answer(422, TOO_BIG)
    lower = said.lower()
    if state.startswith(_PG_FULL_CLASS) or "disk is full" in lower or "disk full" in lower:
        return _answer(503, DISK_FULL, 60)
    if state == _PG_READ_ONLY or "readonly database" in lower or "read-only" in lower:
        return _answer(503, READ_ONLY, 60)
    if "database is locked" in lower:
        return _answer(503, BUSY, 1)
    return _answer(503, DB_DOWN, 5)


def answer(exc: BaseException | None) -> JSONResponse | None:
    """The answer for a storage error (or an error caused by one: a shortlist batch that
    failed), None for any other exception."""
    while exc is not None:
        if isinstance(exc, DBAPIError) or _pep249(exc, "Error"):
            return for_db_error(exc)
        if isinstance(exc, OSError):
            return for_os_error(exc)
        exc = exc.__cause__
    return None


def driver_errors() -> list[type[Exception]]:
    """psycopg's base error, when it is installed (the shortlist store raises it itself)."""
    try:
        import psycopg
    except ImportError:
        return []
    return [psycopg.Error]


def handler(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI exception handler for DBAPIError, OSError and the drivers' own errors."""
    got = answer(exc)
    assert got is not None
    return got


class StorageErrors(HttpMiddleware):
    """Answers a storage error raised below it (before its answer started) as `answer` does."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception as exc:
            got = answer(exc)
            if started or got is None:
                raise
            await got(scope, receive, send)
