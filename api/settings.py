"""Server settings, read from the environment (prefix ``MATCHER_``; ``DATABASE_URL`` as is)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from collections.abc import Callable

    from api.db import Database
    from api.services.jobs import JobConfig

DEFAULT_DB = Path("matcher.db")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MATCHER_", extra="ignore")

    #: SQLAlchemy URL. Default: a SQLite file in the working folder. PostgreSQL:
    #: ``postgresql+psycopg://postgres@127.0.0.1:5432/matcher``.
    database_url: str = Field(
        default=f"sqlite:///{DEFAULT_DB}",
        validation_alias=AliasChoices("DATABASE_URL", "MATCHER_DATABASE_URL"),
    )
    #: Policy TOML used for rounds and shortlists (default: the shipped policy).
    policy_path: Path | None = None
    #: Per-key token bucket: sustained requests per second and burst size.
    rate_per_second: float = Field(default=20.0, gt=0)
    rate_burst: int = Field(default=60, ge=1)
    #: Where rate limits are counted: unset = in each server process (N processes allow N
    #: times the rate); ``redis://host:6379/0`` = shared by all processes (api/shared_limits.py).
    rate_limit_storage: str | None = None
    #: Invalid API keys: after this many unknown or revoked keys from one client address within
    #: `bad_key_window_seconds`, the client is answered 429 (Retry-After) until the window
    #: has room again, valid keys included (no oracle). Behind a proxy the address is the one
    #: it forwards (uvicorn's --forwarded-allow-ips); clients behind one NAT share it.
    bad_key_limit: int = Field(default=20, ge=1)
    bad_key_window_seconds: int = Field(default=60, ge=1)
    #: Web pages: login attempts per minute (sustained) and burst, per client address and per
    #: name; how long a login lasts; Secure session cookies (unset: when the request came over
    #: HTTPS, as seen through uvicorn's --proxy-headers).
    login_attempts_per_minute: float = Field(default=6.0, gt=0)
    login_burst: int = Field(default=10, ge=1)
    session_hours: float = Field(default=8.0, gt=0)
    session_cookie_secure: bool | None = None
    #: Largest accepted request body (bytes); larger bodies get 413.
    max_body_bytes: int = Field(default=20_000_000, ge=1024)
    #: Rounds over more candidates than this run as a job in the durable queue (202 + polling);
    #: smaller ones run in the request (201).
    sync_round_max_candidates: int = Field(default=2000, ge=0)
    #: Round jobs: a worker's claim lasts this long unless renewed (seconds); a killed worker's
    #: job is taken up again (or failed, after `job_max_attempts` claims) when it expires.
    job_lease_seconds: float = Field(default=30.0, ge=1)
    #: How often a worker renews its lease, stores progress and looks for a cancel (seconds).
    job_heartbeat_seconds: float = Field(default=5.0, gt=0)
    #: How often an idle worker looks for a job (seconds).
    job_poll_seconds: float = Field(default=1.0, gt=0)
    job_max_attempts: int = Field(default=2, ge=1)
    #: Run one job worker inside the server process (the embedded default). Set to false when
    #: separate ``matcher worker`` processes run the jobs.
    in_process_worker: bool = True
    #: Workers solve the parts of rounds solved by region on this Dask scheduler
    #: (``tcp://host:8786``; needs matcher[dask]); unset: in the worker's process.
    dask_scheduler: str | None = None
    #: Retention (days; unset = kept): a finished round's snapshot of personal inputs, and the
    #: candidates listed on shortlists, are purged this long after the round finished or the
    #: shortlist was issued (``matcher purge``; workers run it every `purge_every_hours`).
    #: Service settings, not the matching policy: they change no match and no policy hash.
    retention_round_inputs_days: int | None = Field(default=None, ge=1)
    retention_shortlists_days: int | None = Field(default=None, ge=1)
    #: Outcomes (started, completed, dropped out...) are kept this long after they were recorded.
    retention_outcomes_days: int | None = Field(default=None, ge=1)
    purge_every_hours: float = Field(default=24.0, gt=0)
    #: Logs on stderr: ``json`` (one object a line) or ``text``; level; one access line per
    #: request (with its request id).
    log_format: Literal["json", "text"] = "json"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    access_log: bool = True
    #: Serve Prometheus metrics at ``/metrics`` (no key: keep it off the public side of the
    #: proxy, see docs/operations.md).
    metrics: bool = True
    #: Run migrations on start (``matcher serve`` does, once, before starting its workers).
    migrate_on_start: bool = True
    #: Add a ``Server-Timing`` header (time in the app; in the database for shortlists), for
    #: ``benchmarks.api_latency``: it splits a request's latency into inside and outside the app.
    server_timing: bool = False


def job_config(settings: Settings) -> JobConfig:
    from api.services.jobs import JobConfig
    return JobConfig(lease_seconds=settings.job_lease_seconds,
                     heartbeat_seconds=min(settings.job_heartbeat_seconds,
                                           settings.job_lease_seconds / 3),
                     poll_seconds=settings.job_poll_seconds,
                     max_attempts=settings.job_max_attempts,
                     dask_address=settings.dask_scheduler)


def retention_set(settings: Settings) -> bool:
    return any(d is not None for d in (settings.retention_round_inputs_days,
                                       settings.retention_shortlists_days,
                                       settings.retention_outcomes_days))


def scheduled_purge(settings: Settings, db: Database) -> Callable[[], object] | None:
    """The retention purge a worker runs on schedule, or None when no period is set."""
    if not retention_set(settings):
        return None

    def run() -> object:
        from api.services.protection import purge
        return purge(db, settings.retention_round_inputs_days, settings.retention_shortlists_days,
                     outcome_days=settings.retention_outcomes_days)

    return run


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{Path(path).resolve()}"
