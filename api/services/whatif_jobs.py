"""What-if jobs: a planner's scenario (a set of edits) and an optional sweep (one field over a
range of values), against a baseline of the data and decisions in force when it was asked, run
as a job of kind ``whatif`` in the same durable queue as rounds (``api/store/jobs.py``: lease,
heartbeat, attempts, cancel, retry, progress).

`create` snapshots the data (as a round does), checks the edits against it (422 naming the
edit) and queues the job; a worker (`api.services.jobs.Worker`) runs it with `solve` and stores
the report (``matcher.whatif.report``: its JSON, sections and plots) with `store_result`.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from api.audit import append, content_hash
from api.db import Database, utcnow
from api.models import RoundJob, WhatIfRun
from api.rounding import pack, problem_rows, unpack
from api.state import round_tables
from api.store import jobs
from matcher.errors import InputError, Problem, Problems
from matcher.load import build_instance
from matcher.policy import Policy, stored_policy
from matcher.whatif import Scenario, Sweep, diff_outcome, run_baseline, run_scenario
from matcher.whatif.edits import apply_edits
from matcher.whatif.report import build_report, make_plots

#: At most this many edits in one scenario.
MAX_SETS = 50
#: Where the job's progress goes: (stage, done, total, fraction 0..1).
Report = Callable[[str, int, int, float], None]


@dataclass(frozen=True)
class WhatIfRequest:
    """A scenario's edits (`matcher whatif --set` specs) and an optional sweep."""

    name: str
    sets: tuple[str, ...] = ()
    sweep: Sweep | None = None

    def to_json(self) -> dict[str, Any]:
        sweep = None if self.sweep is None else {
            "name": self.sweep.name, "set": self.sweep.target, "values": self.sweep.values}
        return {"sets": list(self.sets), "sweep": sweep}

    @classmethod
    def from_json(cls, name: str, data: dict[str, Any]) -> WhatIfRequest:
        sw = data.get("sweep")
        sweep = None if sw is None else Sweep(sw["name"], sw["set"], list(sw["values"]))
        return cls(name, tuple(data.get("sets", ())), sweep)


@dataclass
class WhatIfDone:
    report: dict[str, Any]
    plots: dict[str, bytes]


def check(tables: dict[str, Any], policy: Policy, req: WhatIfRequest) -> None:
    """Refuse (InputError naming the edit) what the job would fail on: a bad edit, an unknown
    id, a sweep with too many points, or nothing to compute."""
    if not req.sets and req.sweep is None:
        raise InputError([Problem("whatif", None, "sets", "give edits, a sweep or both")])
    if len(req.sets) > MAX_SETS:
        raise InputError([Problem("whatif", None, "sets", f"at most {MAX_SETS} edits")])
    _edited(tables, policy, req.sets)
    if req.sweep is not None:
        points = req.sweep.points(tables)  # refuses more than MAX_POINTS
        for _name, spec, _label in (points[0], points[-1]):
            _edited(tables, policy, (*req.sets, spec))


def _edited(tables: dict[str, Any], policy: Policy, sets: tuple[str, ...]) -> None:
    """Apply the edits and read the edited tables as a round would (a value out of its
    column's range, not finite or not a number is refused naming the edit)."""
    edited = apply_edits(tables, policy, sets)
    if edited.cell_origin or edited.structural:
        try:
            build_instance(edited.raw, Problems(), source="whatif")
        except InputError as exc:
            raise edited.relabel(exc) from None


def create(db: Database, policy: Policy, req: WhatIfRequest, key_id: int | None,
           max_attempts: int = 2) -> int:
    """Snapshot the data in force, check the request against it and queue the what-if's job;
    its id (raises InputError naming the field or edit)."""
    with db.write() as s:
        tables = round_tables(s)
        if not all(len(tables[t]) for t in ("organisations", "options", "candidates")):
            raise InputError([Problem("data", None, None,
                                      "import organisations, options and candidates first")])
        check(tables, policy, req)
        blob = pack(tables)
        run = WhatIfRun(created_at=utcnow(), key_id=key_id, name=req.name[:200],
                        status="queued", stage="queued", ask=req.to_json(), inputs=blob,
                        input_hash=content_hash(blob), policy=policy.model_dump(mode="json"),
                        policy_hash=policy.hash)
        s.add(run)
        s.flush()
        jobs.enqueue(s, run.id, max_attempts, kind="whatif")
        append(s, key_id=key_id, action="whatif.create", target=f"whatif/{run.id}",
               input_hash=run.input_hash, output_hash=content_hash(run.ask),
               policy_hash=run.policy_hash)
        return run.id


def solve(db: Database, run_id: int, report: Report) -> WhatIfDone:
    """Run a stored what-if: the baseline, the scenario, each sweep point (each warm-started
    from the baseline), then the report; `report` is told the progress before each step (it
    raises to stop the job between steps)."""
    with db.session() as s:
        run = s.get(WhatIfRun, run_id)
        assert run is not None
        req = WhatIfRequest.from_json(run.name, run.ask)
        blob, policy = run.inputs, stored_policy(run.policy)
    tables = unpack(blob)
    points = [] if req.sweep is None else req.sweep.points(tables)
    steps = 1 + (1 if req.sets else 0) + len(points)
    report("baseline", 0, steps, 0.0)
    base = run_baseline(tables, policy, source=f"whatif/{run_id}")
    on = Scenario(req.name, req.sets)
    scenarios = []
    if req.sets:
        report("scenario", 1, steps, 1 / steps)
        outcome = run_scenario(base, on)
        scenarios.append((outcome, diff_outcome(base, outcome)))
    swept = []
    for k, (name, spec, label) in enumerate(points):
        done = steps - len(points) + k
        report("sweep", k, len(points), done / steps)
        o = run_scenario(base, on.plus(name, (spec,)))
        o.sweep, o.x = req.sweep.name if req.sweep else None, label
        swept.append((o, diff_outcome(base, o)))
    sweeps = {} if req.sweep is None else {req.sweep.name: swept}
    report("write", steps, steps, 0.99)
    rep = json.loads(json.dumps(build_report(base, scenarios, sweeps), default=_plain))
    return WhatIfDone(rep, make_plots(base, scenarios, sweeps, None))


def _plain(v: Any) -> Any:
    item = getattr(v, "item", None)
    if callable(item):
        return item()
    return None


def pack_plots(plots: dict[str, bytes]) -> bytes:
    data = {k: base64.b64encode(v).decode("ascii") for k, v in sorted(plots.items())}
    return gzip.compress(json.dumps(data).encode(), 6, mtime=0)


def unpack_plots(blob: bytes | None) -> dict[str, bytes]:
    if not blob:
        return {}
    return {k: base64.b64decode(v) for k, v in json.loads(gzip.decompress(blob)).items()}


def store_result(s: Session, run_id: int, done: WhatIfDone) -> None:
    """A finished what-if's report and plots, and its audit record (caller's transaction)."""
    run = s.get(WhatIfRun, run_id)
    assert run is not None
    run.report, run.plots = done.report, pack_plots(done.plots)
    run.status, run.stage, run.finished_at, run.error = "done", "done", utcnow(), None
    append(s, key_id=run.key_id, action="whatif.done", target=f"whatif/{run_id}",
           input_hash=run.input_hash, output_hash=content_hash(done.report),
           policy_hash=run.policy_hash)


def store_failure(s: Session, run_id: int, problems: list[Problem], status: str = "failed"
                  ) -> None:
    """A what-if failed (or cancelled) with its problems, and its audit record."""
    errors = problem_rows(problems)
    run = s.get(WhatIfRun, run_id)
    assert run is not None
    run.status, run.stage, run.finished_at, run.error = status, status, utcnow(), errors
    append(s, key_id=run.key_id, action=f"whatif.{status}", target=f"whatif/{run_id}",
           input_hash=run.input_hash, output_hash=content_hash(errors),
           policy_hash=run.policy_hash)


def reopen(s: Session, run_id: int, key_id: int | None) -> None:
    """A failed or cancelled what-if queued again (retry), an audit record."""
    run = s.get(WhatIfRun, run_id)
    assert run is not None
    run.status, run.stage, run.finished_at, run.error = "queued", "queued", None, None
    append(s, key_id=key_id, action="whatif.retry", target=f"whatif/{run_id}",
           input_hash=run.input_hash, output_hash="", policy_hash=run.policy_hash)


def public(run: WhatIfRun, job: RoundJob | None) -> dict[str, Any]:
    """A what-if as `GET /v1/whatif/{id}` answers it (the report once done)."""
    from api.services.jobs import public as job_public
    return {"id": run.id, "name": run.name, "status": run.status, "stage": run.stage,
            "created_at": run.created_at, "finished_at": run.finished_at,
            "input_hash": run.input_hash, "policy_hash": run.policy_hash,
            "sets": run.ask.get("sets", []), "sweep": run.ask.get("sweep"),
            "job": None if job is None else job_public(job), "problems": run.error or [],
            "plots": sorted(unpack_plots(run.plots)), "report": run.report}
