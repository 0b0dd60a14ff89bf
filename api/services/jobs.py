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
from typing import Any

from api import metrics, rounding
from api.db import Database, utcnow
from api.models import RoundJob
from api.store import jobs
from api.store.jobs import Claim, Expired
from matcher.errors import Problem
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
        before = 0.0 if self.progress is None else float(self.progress["fraction"])
        self.progress = {"stage": stage, "done": done, "total": total,
                         "fraction": max(before, fraction(stage, done, total))}
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
                jobs.round_state(s, self.claim.round_id, "running", stage)
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
        log.info("job %d (round %d) attempt %d on %s", claim.job_id, claim.round_id,
                 claim.attempt, self.name)
        blob, policy_data, _ = rounding.snapshot(self.db, claim.round_id)
        announce = None if self.role == "request" else self.started_at
        t0 = time.monotonic()
        with Lease(self.db, claim, self.cfg, self.stopping, announce) as lease:
            try:
                with progress_hook(lease.hook):
                    result = rounding.solve(blob, policy_data, claim.round_id,
                                            self.cfg.dask_address)
            except JobStopped as stop:
                self._stopped(claim, stop.why)
                _count(stop.why, t0)
                return
            except Exception as exc:
                self._settle(claim, None, rounding.failure(exc, claim.round_id))
                _count("failed", t0)
                return
            self._settle(claim, result, [])
            _count("done", t0)

    def _settle(self, claim: Claim, result: Any, problems: list[Problem]) -> None:
        with jobs.claiming(self.db) as s:
            if not jobs.owns(s, claim):
                log.warning("job %d was taken over after its lease expired; result dropped",
                            claim.job_id)
                return
            if result is not None:
                rounding.store_result(s, claim.round_id, result)
                jobs.settle(s, claim.job_id, "done")
            else:
                rounding.store_failure(s, claim.round_id, problems)
                jobs.settle(s, claim.job_id, "failed", problems[0].message if problems else None)

    def _stopped(self, claim: Claim, why: str) -> None:
        if why == "lost":
            log.warning("job %d: lease lost, another worker has it", claim.job_id)
            return
        with jobs.claiming(self.db) as s:
            if why == "stopping":
                jobs.requeue_unattempted(s, claim)
                jobs.round_state(s, claim.round_id, "queued", "queued")
            elif jobs.owns(s, claim):
                cancel(s, claim.job_id, claim.round_id)

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


def _count(status: str, t0: float) -> None:
    status = {"stopping": "given back", "lost": "lease lost"}.get(status, status)
    metrics.ROUNDS.labels(status).inc()
    metrics.ROUND_SECONDS.labels(status).observe(time.monotonic() - t0)


def give_up(s: Any, job: Expired) -> None:
    """A job whose worker stopped on its last attempt (or while it was being cancelled)."""
    row = jobs.job_for_round(s, job.round_id)
    if row is not None and row.cancel_requested:
        cancel(s, job.job_id, job.round_id)
        return
    reason = (f"the worker running it stopped (killed, out of memory or its host lost) "
              f"{job.attempts} time(s); not tried again (retry to run it once more)")
    rounding.store_failure(s, job.round_id, [Problem("round", None, None, reason)])
    jobs.settle(s, job.job_id, "failed", reason)


def cancel(s: Any, job_id: int, round_id: int) -> None:
    rounding.store_failure(s, round_id, [Problem("round", None, None, "cancelled on request")],
                           status="cancelled")
    jobs.settle(s, job_id, "cancelled", "cancelled on request")


def request_cancel(db: Database, round_id: int) -> str | None:
    """Cancel a queued job at once, ask a running one to stop; the job's status before, or None
    when the round has no job."""
    with jobs.claiming(db) as s:
        job = jobs.job_for_round(s, round_id)
        if job is None:
            return None
        before = job.status
        if before == "queued":
            cancel(s, job.id, round_id)
        elif before == "running":
            jobs.ask_cancel(s, job.id)
        return before


def retry(db: Database, round_id: int, max_attempts: int, key_id: int | None) -> str | None:
    """Queue a failed or cancelled round again (its snapshot is unchanged); the job's status
    before, or None without a job."""
    with jobs.claiming(db) as s:
        job = jobs.job_for_round(s, round_id)
        if job is None:
            return None
        before = job.status
        if before in ("failed", "cancelled"):
            jobs.requeue(s, job.id, max_attempts)
            rounding.reopen(s, round_id, key_id)
        return before


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

    `stage` is a code: queued, starting (claimed, no report yet), score, solve, bound, write,
    then done, failed or cancelled; `progress` 0..1 (1 when done; a failed or cancelled job
    keeps how far it got); `error` why it failed or was cancelled."""
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
        "id": job.id, "kind": job.kind, "round_id": job.round_id, "status": job.status,
        "stage": stage, "progress": frac,
        "error": job.reason if job.status in ("failed", "cancelled") else None,
        "attempts": job.attempts, "max_attempts": job.max_attempts,
        "cancel_requested": job.cancel_requested, "created_at": job.created_at,
        "updated_at": job.updated_at}
