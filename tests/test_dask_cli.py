"""`matcher run DIR --dask SCHEDULER_ADDRESS` on a local Dask cluster: the same files, answer,
bound and certificate as the same round in one process (marked dask: budget with the fault
tests, 4 minutes of CI)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from distributed import LocalCluster
from typer.testing import CliRunner

from matcher.cli import app
from matcher.synth.generate import generate, write_generated

pytestmark = pytest.mark.dask
runner = CliRunner()
POLICY = """[solver]
exact_max_pairs = 0
prove_max_pairs = 0
[solver.lagrangian]
iterations = 8
repair_every = 2
[solver.polish]
deterministic_time = 0.2
[solver.decompose]
min_pairs = 1
rounds = 2
sweeps = 2
part_pairs = 0
auction_iterations = 2
"""


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster:
        yield cluster.scheduler_address


def test_run_on_a_dask_cluster_gives_the_same_round(tmp_path: Path, scheduler: str) -> None:
    data = tmp_path / "data"
    write_generated(generate(800, region="all", seed=3, protected=False, decisions=False), data)
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY)
    here, there = tmp_path / "here", tmp_path / "there"
    r = runner.invoke(app, ["run", str(data), "--policy", str(policy), "--out", str(here)])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["run", str(data), "--policy", str(policy), "--out", str(there),
                            "--dask", scheduler])
    assert r.exit_code == 0, r.output
    a, b = (json.loads((d / "round.json").read_text()) for d in (here, there))
    assert a["solver"]["method"] == "decomposed"  # the parts really were parts
    assert a["solver"] == b["solver"]  # objective, bound, gap, status, in micro units too
    for name in ("assignments.csv", "unmatched.csv", "utilisation.csv", "edges.csv"):
        assert (here / name).read_bytes() == (there / name).read_bytes(), name
    for name in ("certificate.json", "certificate.npz"):  # where the round writes one
        if (here / name).exists():
            assert (here / name).read_bytes() == (there / name).read_bytes(), name


def test_an_unreachable_scheduler_is_refused_naming_the_option(tmp_path: Path) -> None:
    out = tmp_path / "out"
    r = runner.invoke(app, ["run", "--out", str(out), "--dask", "tcp://127.0.0.1:1"])
    assert r.exit_code == 2 and "--dask" in r.output and not out.exists()
    r = runner.invoke(app, ["run", "--out", str(out), "--dask", "tcp://127.0.0.1:1",
                            "--workers", "2"])
    assert r.exit_code == 2 and "choose one" in r.output


def test_a_job_worker_solves_on_the_cluster_by_setting(tmp_path: Path, scheduler: str) -> None:
    from api.services.jobs import JobConfig, Worker
    from tests.api.conftest import make_api
    for api in make_api(f"sqlite:///{tmp_path / 'm.db'}", in_process_worker=False,
                        sync_round_max_candidates=10):
        api.import_pilot()
        rid = api.post("/v1/rounds", json={}).json()["id"]
        cfg = JobConfig(lease_seconds=30, heartbeat_seconds=1, dask_address=scheduler)
        assert Worker(api.app.state.db, cfg).run_once()
        body = api.get(f"/v1/rounds/{rid}").json()
        small = api.post("/v1/rounds", json={}).json()["id"]
        assert Worker(api.app.state.db, JobConfig()).run_once()
        assert body["status"] == "done"
        assert body["objective"] == api.get(f"/v1/rounds/{small}").json()["objective"]
