"""Server settings, read from the environment (prefix ``MATCHER_``; ``DATABASE_URL`` as is)."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

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
    #: Largest accepted request body (bytes); larger bodies get 413.
    max_body_bytes: int = Field(default=20_000_000, ge=1024)
    #: Rounds over more candidates than this run as a background job (202 + polling).
    sync_round_max_candidates: int = Field(default=2000, ge=0)
    #: Run migrations on start (``matcher serve`` does, once, before starting its workers).
    migrate_on_start: bool = True
    #: Add a ``Server-Timing`` header (time in the app; in the database for shortlists), for
    #: ``benchmarks.api_latency``: it splits a request's latency into inside and outside the app.
    server_timing: bool = False


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{Path(path).resolve()}"
