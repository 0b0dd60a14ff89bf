"""The application's state (`app.state`), typed: what the server opens at start-up and every
request reads (the database, the policy, the data cache, the shortlist store and batcher, the
rate limits, the key cache, the in-request job runner).

`AppState.open` builds it all in one place and `AppState.close` releases it; routers, services
and dependencies read it through `app_state(request)`, which is typed, instead of reaching
into untyped attributes. It stays a Starlette ``State`` (attributes kept in a dict), so the
web pages' own attributes (`api.web.install`: the login limit and the navigation) live beside
it, and ``request.app.state.db`` reads the same object."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from starlette.datastructures import State
from starlette.requests import HTTPConnection

from api.security import RateLimiter
from api.settings import Settings
from api.shared_limits import BadKeyThrottle, SharedRateLimiter

if TYPE_CHECKING:  # the services import the dependencies, which read this state
    from api.db import Database
    from api.rounding import Replays
    from api.security import Caller
    from api.services.jobs import Worker
    from api.shortlist_tx import ShortlistStore
    from api.shortlisting import ShortlistBatcher
    from api.state import DataCache
    from matcher.policy import Policy


class AppState(State):
    """Typed ``app.state``: each attribute below is set by `open` before the first request."""

    settings: Settings
    db: Database
    policy: Policy  # the server's policy (a round may override parts of it)
    cache: DataCache  # the newest import as the library sees it, ranked for shortlists
    shortlists: ShortlistStore  # issuing's own connection (one SQL dialect per database)
    batcher: ShortlistBatcher
    replays: Replays  # finished rounds rebuilt to explain them
    limiter: RateLimiter | SharedRateLimiter  # per API key
    bad_keys: BadKeyThrottle  # per client address, for unknown keys
    key_cache: dict[str, Caller]  # API key -> caller, for the shortlist fast path
    runner: Worker  # runs a small round's job in the request that started it
    stopping: threading.Event  # set at shutdown: every worker of this process stops

    def open(self, settings: Settings) -> Worker:
        """Connect, migrate (if asked), load the policy and build every service; returns the
        process's own job worker (not started)."""
        from api.db import Database, migrate
        from api.rounding import Replays
        from api.services.jobs import Worker
        from api.settings import job_config, scheduled_purge
        from api.shortlist_tx import store_for
        from api.shortlisting import ShortlistBatcher
        from api.state import DataCache
        from matcher.policy import load_policy

        db = Database(settings.database_url, background_checkpoint=True)
        if settings.migrate_on_start:
            migrate(db.engine)
        self.settings, self.db = settings, db
        self.policy = load_policy(settings.policy_path)
        self.cache = DataCache(self.policy, db.session)
        self.shortlists = store_for(db)
        self.batcher = ShortlistBatcher(self.shortlists, self.cache)
        self.replays = Replays()
        self.limiter = limiter_for(settings)
        self.bad_keys = throttle_for(settings)
        self.key_cache = {}
        self.stopping = threading.Event()
        cfg = job_config(settings)
        self.runner = Worker(db, cfg, role="request", stopping=self.stopping)
        return Worker(db, cfg, role="serve", stopping=self.stopping,
                      housekeeping=scheduled_purge(settings, db),
                      housekeeping_seconds=settings.purge_every_hours * 3600)

    def close(self) -> None:
        """Release what `open` made (after the workers stopped)."""
        self.cache.close()
        self.shortlists.close()
        self.db.dispose()


def app_state(conn: HTTPConnection) -> AppState:
    """The typed state of the application serving this request."""
    state = conn.app.state
    if not isinstance(state, AppState):
        raise TypeError("the application was not made by api.app.create_app")
    return state


def _prefix(settings: Settings) -> str:
    from api.audit import content_hash

    # keys are numbered per database: count per database in a shared Redis
    return "matcher:" + content_hash(settings.database_url)[:12]


def throttle_for(settings: Settings) -> BadKeyThrottle:
    return BadKeyThrottle(settings.bad_key_limit, settings.bad_key_window_seconds,
                          settings.rate_limit_storage, _prefix(settings))


def limiter_for(settings: Settings, rate: float | None = None, burst: int | None = None,
                scope: str = "key") -> RateLimiter | SharedRateLimiter:
    """The in-process token bucket, or the Redis-backed shared limit when storage is set
    (`rate` and `burst` default to the API keys'; `scope` names what is counted)."""
    rate = settings.rate_per_second if rate is None else rate
    burst = settings.rate_burst if burst is None else burst
    if settings.rate_limit_storage:
        prefix = _prefix(settings)
        if scope != "key":
            prefix += f":{scope}"
        return SharedRateLimiter(rate, burst, settings.rate_limit_storage, prefix)
    return RateLimiter(rate, burst)
