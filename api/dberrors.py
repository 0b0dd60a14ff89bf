"""One line for a database the command line cannot use: a malformed or unknown DATABASE_URL, a
driver that is not installed, a server that is down or refuses the login, a file that is not a
database (issue #33, case 5). Never the password; never a traceback."""

from __future__ import annotations

import re

from sqlalchemy.engine import make_url
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    InterfaceError,
    NoSuchModuleError,
    OperationalError,
)

SUPPORTED = "sqlite:///PATH or postgresql+psycopg://USER:PASSWORD@HOST:PORT/NAME"
_PASSWORD = re.compile(r"(//[^:/@]*:)[^@]*@")


class DatabaseUrlError(Exception):
    """DATABASE_URL (or --db) names no database matcher can open."""


def shown(url: str) -> str:
    """The URL with its password hidden (also when it does not parse)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return _PASSWORD.sub(r"\1***@", url)


def check_url(url: str) -> None:
    """Raise DatabaseUrlError for a URL that does not parse, names an unknown kind of
    database, or needs a driver that is not installed."""
    from sqlalchemy import create_engine
    try:  # NoSuchModuleError is an ArgumentError: caught first
        create_engine(url).dispose()  # parses and loads the driver; connects to nothing
    except NoSuchModuleError:
        kind = url.split(":", 1)[0]
        raise DatabaseUrlError(f"DATABASE_URL names an unknown kind of database {kind!r} "
                               f"(expected {SUPPORTED})") from None
    except ArgumentError:
        raise DatabaseUrlError(f"DATABASE_URL {shown(url)!r} is not a database URL "
                               f"(expected {SUPPORTED})") from None
    except ImportError as exc:
        raise DatabaseUrlError(f"DATABASE_URL {shown(url)!r} needs the Python driver "
                               f"{exc.name or exc}, which is not installed (expected "
                               f"{SUPPORTED})") from None


def cause(exc: DBAPIError) -> str:
    """The driver's own first line (connection refused, no such role, not a database)."""
    text = str(exc.orig) if exc.orig is not None else str(exc)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else type(exc.orig or exc).__name__


def describe(exc: BaseException, url: str | None) -> str | None:
    """The one-line message for a database error, or None if `exc` is not one."""
    where = f" {shown(url)}" if url else ""
    if isinstance(exc, DatabaseUrlError):
        return f"error: {exc}"
    if isinstance(exc, OperationalError | InterfaceError):
        return (f"error: cannot reach the database{where}: {cause(exc)} (check that it runs "
                "and that DATABASE_URL or --db is right)")
    if isinstance(exc, DBAPIError):
        return f"error: cannot use the database{where}: {cause(exc)}"
    return None
