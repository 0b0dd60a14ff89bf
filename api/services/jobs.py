"""Running round jobs: claim from the durable queue, renew the lease, report progress, stop on
cancel, settle the job with the round's result in one transaction.

A `Worker` runs in `matcher worker` (any number of them on PostgreSQL) or as one thread inside
`matcher serve` (the embedded default). A synchronous round (up to the synchronous limit) is a job
claimed by the request that made it and run in that request with the same lease, so a server
killed in the middle of one leaves a job that a worker takes up again.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, cast

from fastapi import HTTPException

from api import metrics, rounding
from api.db import Database, utcnow
from api.models import RoundJob
from api.store import jobs
from api.store.jobs import Claim, Expired
from matcher.errors import InputError, Problem
from matcher.progress import progress_hook

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobConfig:
    lease_seconds: float = 30.0
    heartbeat_seconds: float = 5.0
    poll_seconds: float = 1.0
    max_attempts: int = 2
    #: Solve the rounds' parts on this Dask scheduler (MATCHER_DASK_SCHEDULER); None: here.
    dask_address: str | None = None


#: Where each phase of a round's solve sits in its job's progress (0..1): scoring, solving
#: the parts, pricing the bound; storing the result ends it (1.0 when done). A rough guide
#: that never goes back within an attempt, not a time estimate.
STAGES: dict[str, tuple[float, float]] = {
    "score": (0.0, 0.35), "solve": (0.35, 0.9), "bound": (0.9, 0.98), "write": (0.98, 0.99)}


def fraction(stage: str, done: int, total: int) -> float:
    """The job's progress for `done` of `total` units of `stage` (an unknown stage: its start
    is taken as the last known one's end)."""
    start, end = STAGES.get(stage, (0.98, 0.98))
    part = done / total if total > 0 else 0.0
    return round(start + (end - start) * min(max(part, 0.0), 1.0), 4)


class JobStopped(Exception):
    """Raised from the progress hook between a solve's phases: cancelled, lease lost, or the
    worker is stopping."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


def worker_name(role: str) -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{role}:{uuid.uuid4().hex[:6]}"


class Lease:
    """Renews one claim's lease every heartbeat from a thread, stores the latest progress, and
    tells the solve (through the progress hook) when to stop."""

    def __init__(self, db: Database, claim: Claim, cfg: JobConfig,
                 stopping: threading.Event, worker_started: str | None = None) -> None:
        self.db, self.claim, self.cfg, self.stopping = db, claim, cfg, stopping
        self.worker_started = worker_started  # a job worker (not a request): seen for /ready
        self.progress: dict[str, Any] | None = None
        self.why: str | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease-{claim.job_id}",
                                        daemon=True)

    def __enter__(self) -> Lease:
        self.renew()  # a cancel asked between the claim and the start is seen at once
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join(timeout=self.cfg.heartbeat_seconds + 30)

    def hook(self, stage: str, done: int, total: int) -> None:
        """A round's progress hook (``matcher.progress``): stages as in `STAGES`."""
        self.report(stage, done, total, fraction(stage, done, total))

    def report(self, stage: str, done: int, total: int, frac: float) -> None:
        """Store the latest progress (its fraction never goes back) and stop if asked to."""
        before = 0.0 if self.progress is None else float(self.progress["fraction"])
        self.progress = {"stage": stage, "done": done, "total": total,
                         "fraction": max(before, round(frac, 4))}
        self.check()

    def check(self, *_: object) -> None:
        """Raise JobStopped when the job was cancelled, its lease lost, or the worker stops
        (also a progress hook that keeps the progress as it is)."""
        if self.why is None and self.stopping.is_set():
            self.why = "stopping"
        if self.why is not None:
            raise JobStopped(self.why)

    def _run(self) -> None:
        while not self._done.wait(self.cfg.heartbeat_seconds):
            try:
                self.renew()
            except Exception:  # the database is away: keep trying until the lease is gone
                log.warning("lease renewal of job %d failed", self.claim.job_id, exc_info=True)

    def renew(self) -> None:
        p = self.progress
        with jobs.claiming(self.db) as s:
            owned, cancel = jobs.renew(s, self.claim, self.cfg.lease_seconds, p)
            if owned and p is not None:
                stage = f"{p['stage']} {p['done']}/{p['total']}"
                jobs.target_state(s, self.claim.kind, self.claim.target, "running", stage)
            if self.worker_started is not None:
                jobs.seen(s, self.claim.worker, self.worker_started)
        if not owned:
            self.why = "lost"
        elif cancel and self.why is None:
            self.why = "cancelled"


class Worker:
    """Claims and runs round jobs until `stopping` is set."""

    def __init__(self, db: Database, cfg: JobConfig, role: str = "worker",
                 stopping: threading.Event | None = None,
                 housekeeping: Callable[[], object] | None = None,
                 housekeeping_seconds: float = 86400.0) -> None:
        self.db, self.cfg, self.role = db, cfg, role
        self.name = worker_name(role)
        self.started_at = utcnow()
        self.stopping = stopping or threading.Event()
        self._seen = 0.0
        self.housekeeping, self.housekeeping_seconds = housekeeping, housekeeping_seconds
        self._housekept = -housekeeping_seconds

    def run_once(self) -> bool:
        """Claim one job and run it; False when there was nothing to do."""
        if not jobs.has_claimable(self.db):
            return False
        with jobs.claiming(self.db) as s:
            got = jobs.claim(s, self.name, self.cfg.lease_seconds)
            if isinstance(got, Expired):
                give_up(s, got)
        if isinstance(got, Claim):
            self.run(got)
        return got is not None

    def run(self, claim: Claim) -> None:
        """Run a claimed job to its end (done, failed, cancelled) or give it back (stopping)."""
        log.info("job %d (%s %d) attempt %d on %s", claim.job_id, claim.kind, claim.target,
                 claim.attempt, self.name)
        compute = self._compute(claim)
        announce = None if self.role == "request" else self.started_at
        t0 = time.monotonic()
        with Lease(self.db, claim, self.cfg, self.stopping, announce) as lease:
            try:
                result = compute(lease)
            except JobStopped as stop:
                self._stopped(claim, stop.why)
                _count(claim, stop.why, t0)
                return
            except Exception as exc:
                self._settle(claim, None, failure(exc, claim))
                _count(claim, "failed", t0)
                return
            self._settle(claim, result, [])
            _count(claim, "done", t0)

    def _compute(self, claim: Claim) -> Callable[[Lease], Any]:
        """What the job computes, given its lease (which reports progress and stops it)."""
        if claim.kind == "whatif":
            from api.services import whatif_jobs

            def whatif(lease: Lease) -> Any:
                with progress_hook(lease.check):  # stops between the solver's phases too
                    return whatif_jobs.solve(self.db, claim.target, lease.report)
            return whatif
        blob, policy_data, _ = rounding.snapshot(self.db, claim.round_id)

        def solve(lease: Lease) -> Any:
            with progress_hook(lease.hook):
                return rounding.solve(blob, policy_data, claim.round_id, self.cfg.dask_address)
        return solve

    def _settle(self, claim: Claim, result: Any, problems: list[Problem]) -> None:
        with jobs.claiming(self.db) as s:
            if not jobs.owns(s, claim):
                log.warning("job %d was taken over after its lease expired; result dropped",
                            claim.job_id)
                return
            if result is not None:
                _kind(claim.kind).store_result(s, claim.target, result)
                jobs.settle(s, claim.job_id, "done")
            else:
                _kind(claim.kind).store_failure(s, claim.target, problems)
                jobs.settle(s, claim.job_id, "failed", problems[0].message if problems else None)

    def _stopped(self, claim: Claim, why: str) -> None:
        if why == "lost":
            log.warning("job %d: lease lost, another worker has it", claim.job_id)
            return
        with jobs.claiming(self.db) as s:
            if why == "stopping":
                jobs.requeue_unattempted(s, claim)
                jobs.target_state(s, claim.kind, claim.target, "queued", "queued")
            elif jobs.owns(s, claim):
                cancel(s, claim.job_id, claim.target, claim.kind)

    def beat(self) -> None:
        """Record this worker as seen (for /ready), at most once a heartbeat."""
        now = time.monotonic()
        if now - self._seen >= self.cfg.heartbeat_seconds:
            with jobs.claiming(self.db) as s:
                jobs.seen(s, self.name, self.started_at)
            self._seen = now

    def serve(self) -> None:
        """Poll for jobs until `stopping` is set (errors are logged and retried)."""
        log.info("job worker %s started", self.name)
        while not self.stopping.is_set():
            try:
                self.beat()
                self._housekeep()
                if self.run_once():
                    continue
            except Exception:
                log.exception("job worker %s: claim failed; retrying", self.name)
            self.stopping.wait(self.cfg.poll_seconds)

    def _housekeep(self) -> None:
        """The scheduled purge (retention), once every `housekeeping_seconds`."""
        now = time.monotonic()
        if self.housekeeping is not None and now - self._housekept >= self.housekeeping_seconds:
            self._housekept = now
            self.housekeeping()

    def start(self) -> threading.Thread:
        t = threading.Thread(target=self.serve, name="job-worker", daemon=True)
        t.start()
        return t


def _count(claim: Claim, status: str, t0: float) -> None:
    """Rounds by status and duration (the metrics count rounds, not what-ifs)."""
    if claim.kind != "round":
        return
    status = {"stopping": "given back", "lost": "lease lost"}.get(status, status)
    metrics.ROUNDS.labels(status).inc()
    metrics.ROUND_SECONDS.labels(status).observe(time.monotonic() - t0)


class _Kind(Protocol):
    """How a job's round or what-if is stored (``api.rounding``, ``api.services.whatif_jobs``)."""

    def store_result(self, s: Any, target: int, result: Any) -> None: ...

    def store_failure(self, s: Any, target: int, problems: list[Problem],
                      status: str = "failed") -> None: ...

    def reopen(self, s: Any, target: int, key_id: int | None) -> None: ...


def _kind(kind: str) -> _Kind:
    if kind == "whatif":
        from api.services import whatif_jobs
        return cast(_Kind, whatif_jobs)
    return cast(_Kind, rounding)


def failure(exc: Exception, claim: Claim) -> list[Problem]:
    """The problems a failed job is recorded with."""
    if claim.kind == "round":
        return rounding.failure(exc, claim.round_id)
    if isinstance(exc, InputError):
        return list(exc.problems)
    log.error("%s %d failed", claim.kind, claim.target, exc_info=exc)
    return [Problem(claim.kind, None, None, f"internal error: {exc}")]


def give_up(s: Any, job: Expired) -> None:
    """A job whose worker stopped on its last attempt (or while it was being cancelled)."""
    row = jobs.job_for_round(s, job.target, job.kind)
    if row is not None and row.cancel_requested:
        cancel(s, job.job_id, job.target, job.kind)
        return
    reason = (f"the worker running it stopped (killed, out of memory or its host lost) "
              f"{job.attempts} time(s); not tried again (retry to run it once more)")
    _kind(job.kind).store_failure(s, job.target, [Problem(job.kind, None, None, reason)])
    jobs.settle(s, job.job_id, "failed", reason)


def cancel(s: Any, job_id: int, target: int, kind: str = "round") -> None:
    _kind(kind).store_failure(s, target, [Problem(kind, None, None, "cancelled on request")],
                              status="cancelled")
    jobs.settle(s, job_id, "cancelled", "cancelled on request")


def request_cancel(db: Database, round_id: int, kind: str = "round") -> str | None:
    """Cancel a queued job at once, ask a running one to stop; the job's status before, or None
    when the round (kind whatif: the what-if `round_id`) has no job."""
    with jobs.claiming(db) as s:
        job = jobs.job_for_round(s, round_id, kind)
        if job is None:
            return None
        before = job.status
        if before == "queued":
            cancel(s, job.id, round_id, kind)
        elif before == "running":
            jobs.ask_cancel(s, job.id)
        return before


def retry(db: Database, round_id: int, max_attempts: int, key_id: int | None,
          kind: str = "round") -> str | None:
    """Queue a failed or cancelled round (or what-if) again (its snapshot is unchanged); the
    job's status before, or None without a job."""
    with jobs.claiming(db) as s:
        job = jobs.job_for_round(s, round_id, kind)
        if job is None:
            return None
        before = job.status
        if before in ("failed", "cancelled"):
            jobs.requeue(s, job.id, max_attempts)
            _kind(kind).reopen(s, round_id, key_id)
        return before


def cancel_or_409(db: Database, target: int, kind: str, noun: str) -> None:
    """`request_cancel` for an API route: 409 when there is nothing to cancel."""
    status = request_cancel(db, target, kind)
    if status not in ("queued", "running"):
        raise HTTPException(409, f"{noun} {target} is {status}; only a queued or running "
                                 f"{noun} can be cancelled")


def retry_or_409(db: Database, target: int, max_attempts: int, key_id: int | None, kind: str,
                 noun: str) -> None:
    """`retry` for an API route: 409 when it has not failed or been cancelled."""
    status = retry(db, target, max_attempts, key_id, kind)
    if status not in ("failed", "cancelled"):
        raise HTTPException(409, f"{noun} {target} is {status}; only a failed or cancelled "
                                 f"{noun} can be retried")


def stored_fraction(progress: dict[str, Any] | None) -> float:
    """The fraction in a stored progress record (records from before fractions: from the
    stage)."""
    if not progress:
        return 0.0
    if "fraction" in progress:
        return float(progress["fraction"])
    return fraction(str(progress.get("stage", "")), int(progress.get("done", 0)),
                    int(progress.get("total", 0)))


def public(job: RoundJob) -> dict[str, Any]:
    """A job as `GET /v1/jobs/{id}` answers it: what a page polls to show live progress.

    `stage` is a code: queued, starting (claimed, no report yet), score, solve, bound, write
    (a round) or baseline, scenario, sweep, write (a what-if), then done, failed or
    cancelled; `progress` 0..1 (1 when done; a failed or cancelled job keeps how far it got);
    `error` why it failed or was cancelled."""
    p = job.progress
    if job.status == "done":
        stage, frac = "done", 1.0
    elif job.status == "queued":
        stage, frac = "queued", 0.0
    elif job.status == "running":
        stage, frac = (str(p["stage"]) if p else "starting"), stored_fraction(p)
    else:
        stage, frac = job.status, stored_fraction(p)
    return {
        "id": job.id, "kind": job.kind, "round_id": job.round_id, "whatif_id": job.whatif_id,
        "status": job.status,
        "stage": stage, "progress": frac,
        "error": job.reason if job.status in ("failed", "cancelled") else None,
        "attempts": job.attempts, "max_attempts": job.max_attempts,
        "cancel_requested": job.cancel_requested, "created_at": job.created_at,
        "updated_at": job.updated_at}
