"""API keys (stored as SHA-256 hashes), roles, and a per-key token-bucket rate limit."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.db import Database, utcnow
from api.models import ApiKey, User

KEY_PREFIX = "mk_"


class Role(StrEnum):
    coordinator = "coordinator"
    employer_service_point = "employer_service_point"
    planner = "planner"
    auditor = "auditor"


@dataclass(frozen=True)
class Caller:
    key_id: int
    role: Role
    organisations: frozenset[str]


def hash_key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_key(db: Database, role: Role, organisations: list[str] | None = None) -> tuple[int, str]:
    """Store a new key's hash; returns (key id, the key). The key itself is never stored."""
    orgs = sorted(set(organisations or []))
    if role is Role.employer_service_point and not orgs:
        raise ValueError("an employer_service_point key needs at least one --organisation")
    token = KEY_PREFIX + secrets.token_urlsafe(32)
    with db.write() as s:
        row = ApiKey(key_hash=hash_key(token), role=role.value, organisations=orgs,
                     created_at=utcnow(), revoked=False)
        s.add(row)
        s.flush()
        key_id = row.id
    return key_id, token


@dataclass(frozen=True)
class KeyInfo:
    """What may be shown about a key: never the key, nor its hash."""

    id: int
    role: str
    organisations: list[str]
    created_at: str
    revoked_at: str | None  # None while the key is valid


def _info(row: ApiKey) -> KeyInfo:
    return KeyInfo(row.id, row.role, list(row.organisations or []), row.created_at,
                   (row.revoked_at or "(time not recorded)") if row.revoked else None)


def list_keys(db: Database) -> list[KeyInfo]:
    with db.session() as s:
        users = select(User.key_id)  # a user's own key row is not a key anyone holds
        return [_info(r) for r in s.scalars(select(ApiKey).where(ApiKey.id.not_in(users))
                                            .order_by(ApiKey.id))]


def revoke_key(db: Database, key_id: int) -> tuple[KeyInfo, bool]:
    """Revoke a key (every server process refuses it from its next request on, 401) and append
    an audit record; (the key, whether it was revoked now). A key revoked already is left as it
    is (no second record). Raises LookupError for an unknown id."""
    from api.audit import append, content_hash
    with db.write() as s:
        row = s.get(ApiKey, key_id)
        if row is None:
            raise LookupError(f"no API key with id {key_id}")
        if row.revoked:
            return _info(row), False
        row.revoked, row.revoked_at = True, utcnow()
        s.flush()
        append(s, key_id=None, action="apikey.revoke", target=f"apikey/{key_id}",
               input_hash=content_hash({"key_id": key_id}),
               output_hash=content_hash({"key_id": key_id, "revoked_at": row.revoked_at}))
        return _info(row), True


def lookup(session: Session, token: str) -> Caller | None:
    row = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(token)))
    if row is None or row.revoked:
        return None
    return Caller(row.id, Role(row.role), frozenset(row.organisations or []))


class RateLimiter:
    """In-process token bucket per key: `rate` requests a second sustained, bursts of `burst`.

    Limits are per server process (with several workers each keeps its own buckets).
    """

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, float(burst)
        self._buckets: dict[int | str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def allow(self, key_id: int | str) -> float:
        """0 when allowed, else the seconds to wait (`key_id`: a key's id, or what else is
        counted, such as a login name)."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key_id, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens >= 1:
                self._buckets[key_id] = (tokens - 1, now)
                return 0.0
            self._buckets[key_id] = (tokens, now)
            return (1 - tokens) / self.rate
