"""Database tables (SQLAlchemy 2 typed models). Migrations live in ``api/migrations``.

Times are stored as fixed-format UTC ISO strings (``2026-01-31T12:00:00.000000Z``): they compare
correctly as text on every backend and hash identically in the audit chain.
"""

from __future__ import annotations

from typing import Any, ClassVar

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

TS = String(32)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class ApiKey(Base):
    __tablename__ = "api_keys"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    role: Mapped[str] = mapped_column(String(32))
    organisations: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_at: Mapped[str] = mapped_column(TS)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    revoked_at: Mapped[str | None] = mapped_column(TS, nullable=True)


class Record(Base):
    """The current data: one row per organisation, option or candidate, its fields as text."""

    __tablename__ = "records"
    __table_args__ = (Index("ix_records_kind_entity", "kind", "entity_id", unique=True),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    entity_id: Mapped[str] = mapped_column(String(200))
    organisation_id: Mapped[str | None] = mapped_column(String(200), nullable=True, index=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class Protected(Base):
    """Protected attributes (with consent): read only by the auditor role, never scored."""

    __tablename__ = "protected_attributes"
    candidate_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class Import(Base):
    __tablename__ = "imports"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[str] = mapped_column(TS)
    key_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    mode: Mapped[str] = mapped_column(String(16))
    counts: Mapped[dict[str, Any]] = mapped_column(JSON)
    content_hash: Mapped[str] = mapped_column(String(64))


class DecisionEvent(Base):
    """History of coordinators' decisions; the latest event per pair is in force."""

    __tablename__ = "decisions"
    __table_args__ = (Index("ix_decisions_pair", "candidate_id", "option_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[str] = mapped_column(TS)
    key_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    candidate_id: Mapped[str] = mapped_column(String(200))
    option_id: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    round_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    source: Mapped[str] = mapped_column(String(16), default="api")
    # the participation chain: a decision on the route from option_id to this place ('' none)
    next_option_id: Mapped[str] = mapped_column(String(200), default="", server_default="")


class Round(Base):
    __tablename__ = "rounds"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[str] = mapped_column(TS)
    finished_at: Mapped[str | None] = mapped_column(TS, nullable=True)
    key_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    stage: Mapped[str] = mapped_column(String(32))
    inputs: Mapped[bytes] = mapped_column(LargeBinary)
    input_hash: Mapped[str] = mapped_column(String(64))
    policy: Mapped[dict[str, Any]] = mapped_column(JSON)
    policy_hash: Mapped[str] = mapped_column(String(64))
    solver_status: Mapped[str | None] = mapped_column(String(32), nullable=True)
    method: Mapped[str | None] = mapped_column(String(64), nullable=True)
    objective: Mapped[float | None] = mapped_column(Float, nullable=True)
    bound: Mapped[float | None] = mapped_column(Float, nullable=True)
    gap: Mapped[float | None] = mapped_column(Float, nullable=True)
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    utilisation: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)
    error: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)
    #: When retention purged the round's snapshot of personal inputs (``matcher purge``).
    purged_at: Mapped[str | None] = mapped_column(TS, nullable=True)


class WhatIfRun(Base):
    """A planner's what-if (a scenario and an optional sweep against a baseline of the data in
    force when it was asked), run as a job of kind ``whatif`` in the durable queue. Its snapshot
    of inputs is purged and erased like a round's (``api/services/protection.py``)."""

    __tablename__ = "whatif_runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[str] = mapped_column(TS)
    finished_at: Mapped[str | None] = mapped_column(TS, nullable=True)
    key_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    name: Mapped[str] = mapped_column(String(200))
    #: queued, running, done, failed, cancelled
    status: Mapped[str] = mapped_column(String(16))
    stage: Mapped[str] = mapped_column(String(32))
    #: {"sets": [...], "sweep": {"name", "set", "values"} | null}
    ask: Mapped[dict[str, Any]] = mapped_column(JSON)
    inputs: Mapped[bytes] = mapped_column(LargeBinary)
    input_hash: Mapped[str] = mapped_column(String(64))
    policy: Mapped[dict[str, Any]] = mapped_column(JSON)
    policy_hash: Mapped[str] = mapped_column(String(64))
    #: report.json's content (``matcher.whatif.report.build_report``) once done
    report: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    #: the report's plots: gzip'd JSON {name: base64 PNG}
    plots: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    error: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)
    purged_at: Mapped[str | None] = mapped_column(TS, nullable=True)


class RoundJob(Base):
    """A job in the durable queue (see ``api/store/jobs.py``): a round (``kind`` round,
    ``round_id``) or a what-if (``kind`` whatif, ``whatif_id``), claimed by one worker at a time
    under a lease that the worker renews by heartbeat."""

    __tablename__ = "round_jobs"
    __table_args__ = (Index("ix_round_jobs_status", "status", "lease_until"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    round_id: Mapped[int | None] = mapped_column(ForeignKey("rounds.id"), unique=True,
                                                 nullable=True)
    whatif_id: Mapped[int | None] = mapped_column(ForeignKey("whatif_runs.id"), unique=True,
                                                  nullable=True)
    kind: Mapped[str] = mapped_column(String(16), default="round")
    #: queued, running, done, failed, cancelled
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=2)
    worker: Mapped[str | None] = mapped_column(String(200), nullable=True)
    lease_until: Mapped[str | None] = mapped_column(TS, nullable=True)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    progress: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[str] = mapped_column(TS)
    updated_at: Mapped[str] = mapped_column(TS)


class ServiceWorker(Base):
    """A job worker (``matcher worker`` or the one inside ``matcher serve``) and when it was
    last seen; ``/ready`` wants one seen recently."""

    __tablename__ = "service_workers"
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    started_at: Mapped[str] = mapped_column(TS)
    seen_at: Mapped[str] = mapped_column(TS)


class RoundAssignment(Base):
    __tablename__ = "round_assignments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"), index=True)
    candidate_id: Mapped[str] = mapped_column(String(200))
    option_id: Mapped[str] = mapped_column(String(200))
    organisation_id: Mapped[str] = mapped_column(String(200))
    score: Mapped[float] = mapped_column(Float)
    locked: Mapped[bool] = mapped_column(Boolean)
    main_reason: Mapped[str] = mapped_column(Text)
    reasons: Mapped[str] = mapped_column(Text)
    # the guaranteed follow-on place of a proposed route ('' none)
    next_option_id: Mapped[str] = mapped_column(String(200), default="", server_default="")


class RoundUnmatched(Base):
    __tablename__ = "round_unmatched"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"), index=True)
    candidate_id: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(Text)
    eligible_options: Mapped[int] = mapped_column(Integer)


class Shortlist(Base):
    __tablename__ = "shortlists"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    option_id: Mapped[str] = mapped_column(String(200), index=True)
    organisation_id: Mapped[str] = mapped_column(String(200))
    key_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    issued_at: Mapped[str] = mapped_column(TS)
    closed_at: Mapped[str | None] = mapped_column(TS, nullable=True)
    k: Mapped[int] = mapped_column(Integer)
    #: The answer as issued (JSON text, ShortlistPublic without status and feedback); read back
    #: by GET and by a retry with the same Idempotency-Key. NULL for shortlists before 0003.
    body: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: SHA-256 of the request (option, k, filters, offset).
    request_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)


class ShortlistEntry(Base):
    __tablename__ = "shortlist_entries"
    __table_args__ = (Index("ix_shortlist_entries_cand", "candidate_id", "issued_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shortlist_id: Mapped[int] = mapped_column(ForeignKey("shortlists.id"), index=True)
    option_id: Mapped[str] = mapped_column(String(200))
    candidate_id: Mapped[str] = mapped_column(String(200))
    rank: Mapped[int] = mapped_column(Integer)
    issued_at: Mapped[str] = mapped_column(TS)
    closed: Mapped[bool] = mapped_column(Boolean, default=False)


class AuditRecord(Base):
    """Append-only, hash-chained: ``hash`` = SHA-256 over the record's fields and ``prev_hash``."""

    __tablename__ = "audit_records"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[str] = mapped_column(TS)
    key_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(200))
    input_hash: Mapped[str] = mapped_column(String(64))
    output_hash: Mapped[str] = mapped_column(String(64))
    policy_hash: Mapped[str] = mapped_column(String(64))
    versions: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: None (version 1): the hash covers the fields above; 2: also ``request_id``.
    record_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    request_id: Mapped[str | None] = mapped_column(String(64), nullable=True)


class User(Base):
    """A person who logs in to the web pages (``matcher user create``). The password is kept
    only as an argon2 hash. Each user acts through its own API-key row (``key_id``, whose
    secret is never kept, so it cannot be used over the JSON API): audit records, decisions and
    rounds name the same kind of principal for pages and API."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True, index=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32))
    organisations: Mapped[list[Any]] = mapped_column(JSON, default=list)
    key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id"), unique=True)
    created_at: Mapped[str] = mapped_column(TS)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)


class WebSession(Base):
    """A logged-in browser: the cookie holds a random token, the table its SHA-256 hash, the
    CSRF token of its forms and when it expires."""

    __tablename__ = "web_sessions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[str] = mapped_column(TS)
    expires_at: Mapped[str] = mapped_column(TS)
class IdempotencyKey(Base):
    """An Idempotency-Key header's first use, per API key; a reuse within 24 hours with the same
    request answers the same shortlist (older rows are replaced on reuse)."""

    __tablename__ = "idempotency_keys"
    key_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    idem_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    shortlist_id: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[str] = mapped_column(TS)


class ShortlistFeedback(Base):
    """What a service point reports about one candidate of one of its shortlists."""

    __tablename__ = "shortlist_feedback"
    __table_args__ = (Index("ix_shortlist_feedback_cand", "candidate_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shortlist_id: Mapped[int] = mapped_column(ForeignKey("shortlists.id"), index=True)
    option_id: Mapped[str] = mapped_column(String(200))
    candidate_id: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    reason_code: Mapped[str | None] = mapped_column(String(32), nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[str] = mapped_column(TS)
    key_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: hired only: when a coordinator confirmed it as a lock (the decision's id), else NULL
    confirmed_decision_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: hired only: how a coordinator resolved the report (confirmed | rejected; NULL: pending),
    #: when, by which key and why (migration 0006)
    resolution: Mapped[str | None] = mapped_column(String(16), nullable=True)
    resolved_at: Mapped[str | None] = mapped_column(TS, nullable=True)
    resolved_key_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    resolution_reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class Outcome(Base):
    """What happened after a placement: started, dropped_out, in_work_3m, in_work_6m."""

    __tablename__ = "outcomes"
    __table_args__ = (Index("ix_outcomes_pair", "candidate_id", "option_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    candidate_id: Mapped[str] = mapped_column(String(200))
    option_id: Mapped[str] = mapped_column(String(200))
    event: Mapped[str] = mapped_column(String(16))
    date: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[str] = mapped_column(TS)
    key_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    source: Mapped[str] = mapped_column(String(16), default="api")


class Vacancy(Base):
    """An option a service point posted for one of its organisations (stored as an option
    record; closing it sets its capacity to 0)."""

    __tablename__ = "vacancies"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    option_id: Mapped[str] = mapped_column(String(200), unique=True)
    organisation_id: Mapped[str] = mapped_column(String(200), index=True)
    key_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    posted_at: Mapped[str] = mapped_column(TS)
    closed_at: Mapped[str | None] = mapped_column(TS, nullable=True)
