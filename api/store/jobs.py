"""The durable round-job queue: one ``round_jobs`` row per round, claimed under a lease.

One design per database:

- PostgreSQL: the claimer selects the oldest claimable row ``FOR UPDATE SKIP LOCKED`` and marks
  it running in the same transaction, so any number of workers (in any number of processes or
  hosts) claim different jobs without waiting on each other.
- SQLite: one claimer at a time under ``BEGIN IMMEDIATE`` (SQLite's single writer lock taken
  before the read), so two worker processes on one file can never both claim a job.

A claimable job is ``queued``, or ``running`` with its lease expired (its worker stopped renewing:
killed, out of memory, host gone). A job claimed `max_attempts` times whose lease expires again
is failed with its reason instead of being run again, so a round that kills its worker does not
loop. Times are the service's fixed-format UTC strings (``api.db.utcnow``); the hosts' clocks
must agree to within a fraction of the lease (NTP).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from api.db import Database, utcnow
from api.models import Round, RoundJob, ServiceWorker, WhatIfRun

CLAIMABLE = ("queued", "running")
FINAL = ("done", "failed", "cancelled")


def later(seconds: float) -> str:
    """The service's timestamp `seconds` from now."""
    return (datetime.now(UTC) + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


#: The kinds of job, and the column of ``round_jobs`` that names each one's target.
KINDS = ("round", "whatif")


@dataclass(frozen=True)
class Claim:
    """A claimed job: `target` is the round's id (kind round) or the what-if's (kind whatif)."""

    job_id: int
    target: int
    attempt: int
    worker: str
    kind: str = "round"

    @property
    def round_id(self) -> int:
        assert self.kind == "round", self.kind
        return self.target


@dataclass(frozen=True)
class Expired:
    """A job whose lease expired after its last allowed attempt: to be failed by the caller."""

    job_id: int
    target: int
    attempts: int
    kind: str = "round"

    @property
    def round_id(self) -> int:
        assert self.kind == "round", self.kind
        return self.target


@contextmanager
def claiming(db: Database) -> Iterator[Session]:
    """A write transaction for the queue: ``BEGIN IMMEDIATE`` on SQLite (the file's writer lock
    first, then the read), an ordinary transaction on PostgreSQL (rows locked by the select)."""
    with db.write_lock, db.sessions() as s, s.begin():
        if not db.is_postgres:
            s.connection().exec_driver_sql("BEGIN IMMEDIATE")
        yield s


def enqueue(s: Session, round_id: int, max_attempts: int, runner: str | None = None,
            lease_seconds: float = 30.0, kind: str = "round") -> Claim | None:
    """Queue a round's job (kind whatif: `round_id` is the what-if's id); with `runner`, the
    job is created claimed by it (a synchronous round run by the request that made it) and its
    claim is returned."""
    now = utcnow()
    target = {"round_id": round_id} if kind == "round" else {"whatif_id": round_id}
    job = RoundJob(kind=kind, status="queued", attempts=0, max_attempts=max_attempts,
                   cancel_requested=False, created_at=now, updated_at=now, **target)
    if runner is not None:
        job.status, job.attempts, job.worker = "running", 1, runner
        job.lease_until = later(lease_seconds)
    s.add(job)
    s.flush()
    return None if runner is None else Claim(job.id, round_id, 1, runner, kind)


def _claimable(now: str, job_id: int | None, lock: bool = True) -> Any:
    q = select(RoundJob.id, RoundJob.round_id, RoundJob.whatif_id, RoundJob.kind,
               RoundJob.status, RoundJob.attempts, RoundJob.max_attempts,
               RoundJob.cancel_requested)
    if job_id is not None:
        q = q.where(RoundJob.id == job_id, RoundJob.status == "queued")
    else:
        q = q.where(or_(RoundJob.status == "queued",
                        (RoundJob.status == "running") & (RoundJob.lease_until < now)))
    q = q.order_by(RoundJob.id).limit(1)
    return q.with_for_update(skip_locked=True) if lock else q


def has_claimable(db: Database) -> bool:
    """A cheap read (no lock) before trying a claim, so idle workers do not take the writer
    lock every poll."""
    with db.engine.connect() as conn:
        return conn.execute(_claimable(utcnow(), None, lock=False)).first() is not None


def claim(s: Session, worker: str, lease_seconds: float, job_id: int | None = None
          ) -> Claim | Expired | None:
    """Inside `claiming`: take the oldest claimable job (or the queued job `job_id`), or return
    the expired job that has no attempt left, or None."""
    now = utcnow()
    row = s.execute(_claimable(now, job_id)).first()
    if row is None:
        return None
    target = row.round_id if row.kind == "round" else row.whatif_id
    if row.status == "running" and (row.attempts >= row.max_attempts or row.cancel_requested):
        return Expired(row.id, target, row.attempts, row.kind)
    attempt = row.attempts + 1
    s.execute(update(RoundJob).where(RoundJob.id == row.id).values(
        status="running", attempts=attempt, worker=worker, lease_until=later(lease_seconds),
        updated_at=now, progress=None))
    target_state(s, row.kind, target, "running",
                 f"running (attempt {attempt} of {row.max_attempts})")
    return Claim(row.id, target, attempt, worker, row.kind)


def round_state(s: Session, round_id: int, status: str, stage: str) -> None:
    s.execute(update(Round).where(Round.id == round_id).values(status=status, stage=stage[:32]))


def target_state(s: Session, kind: str, target: int, status: str, stage: str) -> None:
    """The status and stage of a job's round or what-if."""
    table = Round if kind == "round" else WhatIfRun
    s.execute(update(table).where(table.id == target).values(status=status, stage=stage[:32]))


def owns(s: Session, claim: Claim) -> bool:
    """The claim still holds the job (not reclaimed after a lost lease, not finished)."""
    row = s.execute(select(RoundJob.status, RoundJob.worker, RoundJob.attempts)
                       .where(RoundJob.id == claim.job_id)).first()
    return (row is not None and row.status == "running" and row.worker == claim.worker
            and row.attempts == claim.attempt)


def renew(s: Session, claim: Claim, lease_seconds: float, progress: dict[str, Any] | None
          ) -> tuple[bool, bool]:
    """Extend the lease and store the progress; (still owned, cancel requested)."""
    if not owns(s, claim):
        return False, False
    s.execute(update(RoundJob).where(RoundJob.id == claim.job_id).values(
        lease_until=later(lease_seconds), progress=progress, updated_at=utcnow()))
    cancel = s.execute(select(RoundJob.cancel_requested)
                          .where(RoundJob.id == claim.job_id)).scalar_one()
    return True, bool(cancel)


def settle(s: Session, job_id: int, status: str, reason: str | None = None) -> None:
    """Mark a job finished (done, failed or cancelled) or back in the queue (queued)."""
    assert status in (*FINAL, "queued")
    values: dict[str, Any] = {"status": status, "reason": reason, "updated_at": utcnow(),
                              "lease_until": None}
    if status == "queued":
        values["worker"] = None
    s.execute(update(RoundJob).where(RoundJob.id == job_id).values(**values))


def requeue_unattempted(s: Session, claim: Claim) -> None:
    """A worker that stops on purpose gives the job back without spending the attempt."""
    if owns(s, claim):
        s.execute(update(RoundJob).where(RoundJob.id == claim.job_id).values(
            status="queued", attempts=claim.attempt - 1, worker=None, lease_until=None,
            updated_at=utcnow()))


def job_for_round(s: Session, round_id: int, kind: str = "round") -> RoundJob | None:
    """The job of a round (kind whatif: of the what-if `round_id`)."""
    col = RoundJob.round_id if kind == "round" else RoundJob.whatif_id
    row = s.execute(select(RoundJob).where(col == round_id)).first()
    return None if row is None else row[0]


def queue_depth(s: Session) -> dict[str, int]:
    rows = s.execute(select(RoundJob.status, func.count()).group_by(RoundJob.status)).all()
    return {status: int(n) for status, n in rows}


def seen(s: Session, worker: str, started_at: str) -> None:
    """Record that `worker` is alive now (insert or update)."""
    now = utcnow()
    if s.get(ServiceWorker, worker) is not None:
        s.execute(update(ServiceWorker).where(ServiceWorker.name == worker).values(seen_at=now))
    else:
        s.execute(ServiceWorker.__table__.insert().values(  # type: ignore[attr-defined]
            name=worker, started_at=started_at, seen_at=now))


def last_seen(s: Session) -> str | None:
    return s.execute(select(func.max(ServiceWorker.seen_at))).scalar()


def ask_cancel(s: Session, job_id: int) -> None:
    s.execute(update(RoundJob).where(RoundJob.id == job_id).values(
        cancel_requested=True, updated_at=utcnow()))


def requeue(s: Session, job_id: int, max_attempts: int) -> None:
    """A failed or cancelled job queued again with a fresh set of attempts."""
    s.execute(update(RoundJob).where(RoundJob.id == job_id).values(
        status="queued", attempts=0, max_attempts=max_attempts, worker=None, lease_until=None,
        cancel_requested=False, progress=None, reason=None, updated_at=utcnow()))
