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
from limits.strategies import SlidingWindowCounterRateLimiter

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
