"""What-if jobs (kind whatif) in the durable queue beside rounds: the same report as `matcher
whatif` on the same data, bad edits refused before anything is queued, cancel, retry, a killed
worker's job taken up again or failed, progress through every sweep point, and retention and
erasure reaching the what-if's snapshot and report."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from api.audit import verify
from api.db import Database
from api.models import WhatIfRun
from api.rounding import unpack
from api.services.jobs import JobConfig, Lease, Worker
from api.services.protection import erase, purge
from api.store import jobs
from api.store.jobs import Claim
from matcher.policy import load_policy
from matcher.whatif import Scenario, Sweep, load_baseline, run_scenario, run_sweep
from tests.api.conftest import PILOT, Api, make_api
from tests.api.faultkit import claim_concurrently

FAST = JobConfig(lease_seconds=1.0, heartbeat_seconds=0.2, poll_seconds=0.05, max_attempts=2)
SETS = ["options.TCK-KEUKEN.capacity=0", "organisations.TCK.guidance_capacity=9"]
SWEEP = {"set": "organisations.TCK.guidance_capacity", "values": "+0..+2", "name": "TCK coaches"}


@pytest.fixture
def queued(database_url: str) -> Iterator[Api]:
    """An app without its in-process worker: jobs stay queued until a test runs them."""
    yield from make_api(database_url, in_process_worker=False)


def _start(api: Api, who: str = "planner", **body: Any) -> dict[str, Any]:
    r = api.post("/v1/whatif", who, json={"name": "keuken dicht", "sets": SETS} | body)
    assert r.status_code == 202, r.text
    got = r.json()
    assert got["status"] == "queued" and got["job"]["kind"] == "whatif"
    assert got["job"]["whatif_id"] == got["id"] and got["job"]["round_id"] is None
    return dict(got)


def test_a_whatif_job_reports_what_the_cli_whatif_reports(queued: Api) -> None:
    api, db = queued, queued.app.state.db
    api.import_pilot()
    started = _start(api, sweep=SWEEP)
    assert api.get(f"/v1/jobs/{started['job']['id']}", "auditor").json()["stage"] == "queued"
    assert Worker(db, FAST).run_once()
    body = api.get(f"/v1/whatif/{started['id']}", "auditor").json()
    assert body["status"] == "done" and body["job"]["progress"] == 1.0, body
    policy = load_policy(None)
    base = load_baseline(PILOT, policy)
    on = Scenario("keuken dicht", tuple(SETS))
    report = body["report"]
    assert report["baseline"] == base.outcome.summary
    assert report["scenarios"][0]["summary"] == run_scenario(base, on).summary
    points = run_sweep(base, Sweep("TCK coaches", SWEEP["set"], ["+0", "+1", "+2"]), on)
    assert [p["summary"] for p in report["sweeps"][0]["points"]] == [p.summary for p in points]
    assert set(body["plots"]) == {"utilisation", "scores", "sweep-TCK-coaches"}
    png = api.get(f"/v1/whatif/{started['id']}/plots/sweep-TCK-coaches.png")
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    assert api.get(f"/v1/whatif/{started['id']}/plots/nope.png").status_code == 404
    actions = [r["action"] for r in api.all_items("/v1/audit/records", "auditor")]
    assert actions.count("whatif.create") == 1 and actions.count("whatif.done") == 1
    assert verify(db).ok


@pytest.mark.parametrize(("body", "says"), [
    ({"sets": ["options.NO-SUCH.capacity=3"]}, "NO-SUCH"),
    ({"sets": ["options.TCK-KEUKEN.colour=3"]}, "colour"),
    ({"sets": ["options.TCK-KEUKEN.capacity"]}, "TABLE.ID.FIELD=VALUE"),
    ({"sets": [], "sweep": {"set": "organisations.NOPE.guidance_capacity", "values": "+1"}},
     "NOPE"),
    ({"sets": [], "sweep": {"set": "organisations.*.guidance_capacity", "values": "0..2000"}},
     "1000"),
    ({"sets": []}, "give edits"),
    ({"sets": ["options.TCK-KEUKEN.capacity=1e999"]}, "options.TCK-KEUKEN.capacity=1e999"),
    ({"sets": ["options.TCK-KEUKEN.capacity=99999999999999999999"]}, "capacity"),
    ({"sets": ["organisations.TCK.guidance_capacity=nan"]}, "guidance_capacity"),
    ({"sets": ["policy.weights.skills=inf"]}, "finite"),
    ({"sets": [], "sweep": {"set": "policy.weights.skills", "values": ["1", "1e308"]}},
     "at most"),
])
def test_bad_edits_are_refused_before_anything_is_queued(sqlite_api: Api, body: dict[str, Any],
                                                          says: str) -> None:
    api = sqlite_api
    api.import_pilot()
    r = api.post("/v1/whatif", "planner", json=body)
    assert r.status_code == 422 and says in r.text, r.text
    with api.app.state.db.session() as s:
        assert jobs.queue_depth(s) == {} and s.query(WhatIfRun).count() == 0


def test_who_may_start_and_read_a_whatif(sqlite_api: Api) -> None:
    api = sqlite_api
    assert api.post("/v1/whatif", json={"sets": SETS}).status_code == 422  # no data yet
    api.import_pilot()
    assert api.post("/v1/whatif", json={"sets": SETS, "colour": 1}).status_code == 422
    assert api.post("/v1/whatif", "auditor", json={"sets": SETS}).status_code == 403
    assert api.post("/v1/whatif", "esp_tck", json={"sets": SETS}).status_code == 403
    assert api.post("/v1/whatif", "nobody", json={"sets": SETS}).status_code == 401
    rid = _start(api, "coordinator")["id"]
    assert api.get(f"/v1/whatif/{rid}", "esp_tck").status_code == 403
    assert api.get(f"/v1/whatif/{rid}", "auditor").status_code == 200
    assert api.get(f"/v1/whatif/{rid + 1}").status_code == 404


def _stale(db: Database, name: str = "killed") -> Claim:
    """A claim whose worker then died (kill -9): nothing renews its lease."""
    with jobs.claiming(db) as s:
        got = jobs.claim(s, name, lease_seconds=0.2)
    assert isinstance(got, Claim) and got.kind == "whatif"
    return got


def test_cancel_retry_and_a_killed_worker(queued: Api) -> None:
    api, db = queued, queued.app.state.db
    api.import_pilot()
    wid = _start(api)["id"]
    r = api.post(f"/v1/whatif/{wid}/cancel", "planner")
    assert r.status_code == 202 and r.json()["status"] == "cancelled"
    assert r.json()["job"]["error"] == "cancelled on request"
    assert api.post(f"/v1/whatif/{wid}/cancel").status_code == 409
    assert not Worker(db, FAST).run_once()
    r = api.post(f"/v1/whatif/{wid}/retry", "planner")
    assert r.status_code == 202 and r.json()["status"] == "queued"
    assert api.post(f"/v1/whatif/{wid}/retry").status_code == 409
    # a worker killed while running it: the lease runs out, another worker finishes it
    _stale(db)
    assert api.get(f"/v1/whatif/{wid}").json()["status"] == "running"
    time.sleep(0.3)
    assert Worker(db, FAST).run_once()
    body = api.get(f"/v1/whatif/{wid}").json()
    assert body["status"] == "done" and body["job"]["attempts"] == 2
    # killed on every attempt: failed with its reason, never run a third time
    wid2 = _start(api)["id"]
    _stale(db)
    time.sleep(0.3)
    _stale(db, "killed again")
    time.sleep(0.3)
    assert Worker(db, FAST).run_once()
    body = api.get(f"/v1/whatif/{wid2}").json()
    assert body["status"] == "failed" and "stopped" in body["problems"][0]["message"]
    assert not Worker(db, FAST).run_once()
    assert verify(db).ok


def test_a_running_whatif_stops_when_cancelled(queued: Api) -> None:
    api, db = queued, queued.app.state.db
    api.import_pilot()
    wid = _start(api, sweep=SWEEP)["id"]
    with jobs.claiming(db) as s:
        claim = jobs.claim(s, "w", 60)
    assert isinstance(claim, Claim)
    r = api.post(f"/v1/whatif/{wid}/cancel")
    assert r.status_code == 202 and r.json()["job"]["cancel_requested"]
    Worker(db, FAST).run(claim)
    body = api.get(f"/v1/whatif/{wid}").json()
    assert body["status"] == "cancelled" and body["report"] is None and body["plots"] == []


def test_progress_goes_through_every_sweep_point(queued: Api) -> None:
    api, db = queued, queued.app.state.db
    api.import_pilot()
    started = _start(api, sweep=SWEEP)
    reported: list[tuple[str, int, float]] = []
    real = Lease.report

    def report(self: Lease, stage: str, done: int, total: int, frac: float) -> None:
        real(self, stage, done, total, frac)
        assert self.progress is not None
        reported.append((stage, done, float(self.progress["fraction"])))

    mp = pytest.MonkeyPatch()
    mp.setattr(Lease, "report", report)
    try:
        assert Worker(db, FAST).run_once()
    finally:
        mp.undo()
    assert [(s, d) for s, d, _ in reported] == [
        ("baseline", 0), ("scenario", 1), ("sweep", 0), ("sweep", 1), ("sweep", 2),
        ("write", 5)]
    fractions = [f for _, _, f in reported]
    assert fractions == sorted(fractions) and fractions[-1] < 1
    assert api.get(f"/v1/jobs/{started['job']['id']}").json()["progress"] == 1.0


def test_rounds_and_whatifs_share_the_queue_without_double_claims(queued: Api,
                                                                   database_url: str) -> None:
    api = queued
    api.import_pilot()
    want = []
    for _ in range(4):
        want.append(("whatif", _start(api)["id"]))
        want.append(("round", api.post("/v1/rounds", json={"kind": "scenario"}).json()["id"]))
    with api.app.state.db.session() as s:  # rounds of the pilot's size run in the request
        done = jobs.queue_depth(s).get("done", 0)
    want = [w for w in want if w[0] == "whatif"] if done else want
    claimed = claim_concurrently(database_url, 3)
    assert sorted(claimed) == sorted(want)


def test_erasure_and_retention_reach_a_whatif(sqlite_api: Api) -> None:
    api, db = sqlite_api, sqlite_api.app.state.db
    api.import_pilot()
    wid = _start(api)["id"]
    deadline = time.monotonic() + 60  # the app's own worker runs it
    while api.get(f"/v1/whatif/{wid}").json()["status"] != "done":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    moves = api.get(f"/v1/whatif/{wid}").json()["report"]["scenarios"][0]["diff"]["moves"]
    who = moves[0]["candidate_id"]
    counts = erase(db, who)
    assert counts["whatifs"] == 1
    with db.session() as s:
        run = s.get(WhatIfRun, wid)
        assert run is not None
        assert who not in str(run.report)
        assert who not in set(unpack(run.inputs)["candidates"]["candidate_id"])
    assert verify(db).ok
    done = purge(db, 0, None)
    assert done.whatifs == [wid]
    body = api.get(f"/v1/whatif/{wid}").json()
    assert body["report"] is None and body["plots"] == [] and body["status"] == "done"
    assert verify(db).ok
