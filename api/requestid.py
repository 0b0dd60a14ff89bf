"""The current request's id (set by `api.observe.Observe`), read by logs and the audit trail."""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

REQUEST_ID: ContextVar[str | None] = ContextVar("matcher_request_id", default=None)
_ACCEPTED = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def current() -> str | None:
    return REQUEST_ID.get()


def from_header(value: bytes | None) -> str:
    """The caller's (or the proxy's) X-Request-ID when it is short and plain, else a new id."""
    if value:
        text = value.decode("latin-1")
        if _ACCEPTED.fullmatch(text):
            return text
    return uuid.uuid4().hex
