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
from api.models import ApiKey

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
        self._buckets: dict[int, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def allow(self, key_id: int) -> float:
        """0 when allowed, else the seconds to wait."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key_id, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens >= 1:
                self._buckets[key_id] = (tokens - 1, now)
                return 0.0
            self._buckets[key_id] = (tokens, now)
            return (1 - tokens) / self.rate
