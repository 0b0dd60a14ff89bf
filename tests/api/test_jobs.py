"""Round jobs in the durable queue: claims, leases, attempts, cancel and retry, two claimers."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from api.audit import verify
from api.db import Database
from api.services.jobs import JobConfig, Lease, Worker
from api.store import jobs
from api.store.jobs import Claim
from tests.api.conftest import Api, make_api
from tests.api.faultkit import claim_concurrently

FAST = JobConfig(lease_seconds=1.0, heartbeat_seconds=0.2, poll_seconds=0.05, max_attempts=2)


@pytest.fixture
def queued(database_url: str) -> Iterator[Api]:
    """An app without its in-process worker: jobs stay queued until a test runs them."""
    yield from make_api(database_url, sync_round_max_candidates=10, in_process_worker=False)


def _round(api: Api, worker_running: bool = False) -> int:
    api.import_pilot()
    r = api.post("/v1/rounds", json={})
    assert r.status_code == 202, r.text
    body = r.json()
    # with a worker in the process it may have claimed the job before the answer was made
    states = ("queued", "running") if worker_running else ("queued",)
    assert body["status"] in states and body["job"]["status"] in states
    return int(body["id"])


def _wait(api: Api, round_id: int, status: str, timeout: float = 60) -> dict[str, Any]:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        body = api.get(f"/v1/rounds/{round_id}").json()
        if body["status"] == status:
            return body
        time.sleep(0.05)
    raise AssertionError(f"round {round_id} did not become {status}: {body}")


def test_small_rounds_run_in_the_request_as_a_finished_job(api: Api) -> None:
    api.import_pilot()
    r = api.post("/v1/rounds", json={})
    assert r.status_code == 201
    job = r.json()["job"]
    assert r.json()["status"] == "done"
    assert job["status"] == "done" and job["attempts"] == 1 and not job["cancel_requested"]


def test_the_in_process_worker_runs_queued_rounds(tmp_path: Any) -> None:
    for api in make_api(f"sqlite:///{tmp_path / 'm.db'}", sync_round_max_candidates=10,
                        job_poll_seconds=0.05):
        rid = _round(api, worker_running=True)
        done = _wait(api, rid, "done")
        assert done["counts"]["matched"] > 0 and done["job"]["attempts"] == 1
        # the same proposal as a round run in the request
        small = api.post("/v1/rounds", json={})
        assert small.status_code == 202
        again = _wait(api, small.json()["id"], "done")
        assert again["objective"] == done["objective"]
        assert verify(api.app.state.db).ok


def _stale_claim(db: Database, name: str = "killed") -> Claim:
    """A claim whose worker then died: nothing renews its lease."""
    with jobs.claiming(db) as s:
        got = jobs.claim(s, name, lease_seconds=0.2)
    assert isinstance(got, Claim)
    return got


def test_an_expired_lease_is_taken_up_again_then_failed_after_max_attempts(queued: Api) -> None:
    api, db = queued, queued.app.state.db
    rid = _round(api)
    first = _stale_claim(db)
    assert api.get(f"/v1/rounds/{rid}").json()["status"] == "running"
    time.sleep(0.3)
    # The lease ran out: a worker takes it up as the second attempt and finishes it.
    w = Worker(db, FAST)
    assert w.run_once()
    body = api.get(f"/v1/rounds/{rid}").json()
    assert body["status"] == "done" and body["job"]["attempts"] == 2
    # The dead worker's late result is refused: the job is no longer its.
    with jobs.claiming(db) as s:
        assert not jobs.owns(s, first)

    rid2 = _round(api)
    _stale_claim(db)
    time.sleep(0.3)
    _stale_claim(db, "killed again")
    time.sleep(0.3)
    assert w.run_once()  # nothing left to try: failed with its reason, not run a third time
    body = api.get(f"/v1/rounds/{rid2}").json()
    assert body["status"] == "failed" and body["job"]["attempts"] == 2
    assert "stopped" in body["job"]["reason"] and "stopped" in body["problems"][0]["message"]
    assert not w.run_once()
    assert verify(db).ok


def test_cancel_and_retry(queued: Api) -> None:
    api, db = queued, queued.app.state.db
    rid = _round(api)
    r = api.post(f"/v1/rounds/{rid}/cancel")
    assert r.status_code == 202 and r.json()["status"] == "cancelled"
    assert api.post(f"/v1/rounds/{rid}/cancel").status_code == 409
    assert not Worker(db, FAST).run_once()
    r = api.post(f"/v1/rounds/{rid}/retry")
    assert r.status_code == 202 and r.json()["status"] == "queued"
    assert r.json()["problems"] == [] and r.json()["job"]["attempts"] == 0
    assert api.post(f"/v1/rounds/{rid}/retry").status_code == 409
    # A running job stops at the solver's next phase once the cancel is seen.
    with jobs.claiming(db) as s:
        got = jobs.claim(s, "w", FAST.lease_seconds)
    assert isinstance(got, Claim)
    r = api.post(f"/v1/rounds/{rid}/cancel")
    assert r.status_code == 202 and r.json()["job"]["cancel_requested"]
    assert r.json()["status"] == "running"
    Worker(db, FAST).run(got)
    body = api.get(f"/v1/rounds/{rid}").json()
    assert body["status"] == "cancelled" and body["counts"] is None
    assert api.get(f"/v1/rounds/{rid}/assignments").json()["total"] == 0
    assert api.post(f"/v1/rounds/{rid}/retry").status_code == 202
    assert Worker(db, FAST).run_once()
    assert api.get(f"/v1/rounds/{rid}").json()["status"] == "done"
    assert api.post("/v1/rounds/999/cancel").status_code == 404
    actions = [r["action"] for r in api.all_items("/v1/audit/records", "auditor")]
    assert actions.count("round.cancelled") == 2 and actions.count("round.retry") == 2
    assert verify(db).ok


def test_two_workers_never_claim_the_same_job(queued: Api, database_url: str) -> None:
    """Separate Database objects (as separate processes would have): no shared lock in Python;
    only the database (SKIP LOCKED / BEGIN IMMEDIATE) keeps the claims apart."""
    api = queued
    api.import_pilot()
    ids = [api.post("/v1/rounds", json={}).json()["id"] for _ in range(12)]
    claimed = claim_concurrently(database_url, 4)
    assert sorted(r for _, r in claimed) == ids
    with api.app.state.db.session() as s:
        assert jobs.queue_depth(s) == {"running": 12}


def _job(api: Api, job_id: int, who: str = "coordinator") -> dict[str, Any]:
    r = api.get(f"/v1/jobs/{job_id}", who)
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_a_job_shows_stage_and_progress_for_a_page_to_poll(queued: Api) -> None:
    """GET /v1/jobs/{id}: status, stage, progress 0..1 and error; the round's answer names the
    job; progress never goes back within an attempt; done is 1."""
    api, db = queued, queued.app.state.db
    rid = _round(api)
    job_id = api.get(f"/v1/rounds/{rid}").json()["job"]["id"]
    body = _job(api, job_id, "planner")
    assert (body["status"], body["stage"], body["progress"], body["error"]) == (
        "queued", "queued", 0.0, None)
    assert body["round_id"] == rid and body["kind"] == "round"
    with jobs.claiming(db) as s:
        claim = jobs.claim(s, "w", 60)
    assert isinstance(claim, Claim)
    assert _job(api, job_id)["stage"] == "starting"
    lease = Lease(db, claim, FAST, threading.Event())
    seen = []
    for stage, done, total in [("score", 1, 2), ("score", 2, 2), ("solve", 1, 4),
                               ("score", 1, 2), ("solve", 4, 4), ("bound", 1, 1)]:
        lease.hook(stage, done, total)
        lease.renew()
        body = _job(api, job_id, "auditor")
        assert body["status"] == "running" and body["stage"] == stage
        seen.append(body["progress"])
    assert seen == sorted(seen) and 0 < seen[0] < seen[-1] < 1
    assert seen[3] == seen[2]  # a phase reported again does not move the bar back
    # the round's own answer carries the same figure
    assert api.get(f"/v1/rounds/{rid}").json()["job"]["progress"]["fraction"] == seen[-1]
    Worker(db, FAST).run(claim)
    body = _job(api, job_id)
    assert (body["status"], body["stage"], body["progress"], body["error"]) == (
        "done", "done", 1.0, None)
    assert api.get(f"/v1/jobs/{job_id + 1}").status_code == 404
    assert api.get(f"/v1/jobs/{job_id}", "esp_tck").status_code == 403
    assert api.get("/v1/jobs/0").status_code == 422


def test_a_cancelled_job_says_why(queued: Api) -> None:
    api = queued
    rid = _round(api)
    job_id = api.post(f"/v1/rounds/{rid}/cancel").json()["job"]["id"]
    body = _job(api, job_id)
    assert (body["status"], body["stage"], body["error"]) == (
        "cancelled", "cancelled", "cancelled on request")


def test_a_real_solve_reports_progress_through_its_phases(queued: Api) -> None:
    """Every report a real round's solve makes reaches the job, in order, ending at done."""
    api, db = queued, queued.app.state.db
    rid = _round(api)
    with jobs.claiming(db) as s:
        claim = jobs.claim(s, "w", 60)
    assert isinstance(claim, Claim)
    reported: list[tuple[str, float]] = []
    real = Lease.hook

    def hook(self: Lease, stage: str, done: int, total: int) -> None:
        real(self, stage, done, total)
        assert self.progress is not None
        reported.append((stage, float(self.progress["fraction"])))

    mp = pytest.MonkeyPatch()
    mp.setattr(Lease, "hook", hook)
    try:
        Worker(db, FAST).run(claim)
    finally:
        mp.undo()
    stages = {s for s, _ in reported}
    assert {"score", "solve"} <= stages, reported
    fractions = [f for _, f in reported]
    assert fractions == sorted(fractions) and fractions[-1] < 1
    assert api.get(f"/v1/rounds/{rid}").json()["job"]["status"] == "done"
