"""Rate limits shared by every server process through Redis (the `limits` library).

With several server processes (``matcher serve --workers N``, or several hosts) the in-process
token bucket (`api.security.RateLimiter`) allows N times the configured rate. Setting
``MATCHER_RATE_LIMIT_STORAGE=redis://host:6379/0`` makes all processes count in one Redis: a
sliding window of `burst` requests per ``burst / rate`` seconds per key, the same sustained
rate and burst as the bucket. When Redis does not answer, requests are let through (logged
once a minute): the rate limit protects the service, it must not take it down.
"""

from __future__ import annotations

import logging
import math
import time

from limits import RateLimitItemPerSecond
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter, SlidingWindowCounterRateLimiter

log = logging.getLogger(__name__)


class SharedRateLimiter:
    """Same interface as `api.security.RateLimiter`: `allow(key_id)` is 0 or seconds to wait."""

    def __init__(self, rate: float, burst: int, storage_uri: str, prefix: str = "matcher") -> None:
        window = max(1, math.ceil(burst / rate))
        self.item = RateLimitItemPerSecond(max(1, round(rate * window)), window)
        self.storage = storage_from_string(storage_uri)
        self.limiter = SlidingWindowCounterRateLimiter(self.storage)
        self.prefix = prefix
        self._warned = 0.0

    def allow(self, key_id: int | str) -> float:
        key = f"{self.prefix}:key:{key_id}"
        try:
            if self.limiter.hit(self.item, key):
                return 0.0
            stats = self.limiter.get_window_stats(self.item, key)
        except Exception:
            now = time.monotonic()
            if now - self._warned > 60:
                log.warning("rate-limit storage unreachable: requests not limited",
                            exc_info=True)
                self._warned = now
            return 0.0
        return max(0.001, stats.reset_time - time.time())


class BadKeyThrottle:
    """Invalid API keys per client (issue #33, case 8): after `limit` unknown or revoked keys
    from one client address within `window` seconds, that client's requests are refused (429,
    Retry-After) before any key is looked up, valid keys included, so that guessing cannot
    tell a valid key by its answer. Counted in the `limits` storage: shared by every process
    through Redis when MATCHER_RATE_LIMIT_STORAGE is set, in this process's memory otherwise.
    When the storage does not answer, requests are let through (logged once a minute)."""

    def __init__(self, limit: int, window: int, storage_uri: str | None,
                 prefix: str = "matcher") -> None:
        self.item = RateLimitItemPerSecond(limit, window)
        self.limiter = MovingWindowRateLimiter(storage_from_string(storage_uri or "memory://"))
        self.prefix = prefix
        self._warned = 0.0

    def _key(self, client: str) -> str:
        return f"{self.prefix}:badkey:{client}"

    def wait(self, client: str) -> float:
        """0 when the client may try a key, else the seconds until it may."""
        try:
            if self.limiter.test(self.item, self._key(client)):
                return 0.0
            stats = self.limiter.get_window_stats(self.item, self._key(client))
        except Exception:
            self._storage_away()
            return 0.0
        return max(0.001, stats.reset_time - time.time())

    def failed(self, client: str) -> None:
        """Count one unknown or revoked key from `client`."""
        try:
            self.limiter.hit(self.item, self._key(client))
        except Exception:
            self._storage_away()

    def _storage_away(self) -> None:
        now = time.monotonic()
        if now - self._warned > 60:
            log.warning("rate-limit storage unreachable: invalid keys not throttled",
                        exc_info=True)
            self._warned = now
