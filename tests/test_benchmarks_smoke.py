"""The benchmark machinery end to end at a tiny size: every column and alternative is there."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from benchmarks import run as bench_run
from benchmarks.alternatives import ALTERNATIVES, scipy_lsa_slots, scipy_sparse_matching
from benchmarks.report import markdown
from benchmarks.scenarios import all_scenarios, by_size
from benchmarks.worker import ALT_COLUMNS, COLUMNS, run_scenario
from matcher.solver.flow import solve_flow
from matcher.synth import generate


def test_worker_reports_every_column(tmp_path: Path) -> None:
    sc = by_size([40])[0]
    r = run_scenario(sc, tmp_path)
    assert set(COLUMNS) <= set(r)
    assert r["candidates"] == 40 and r["pairs"] > 0
    assert r["violations"] == 0
    assert r["objective"] <= r["bound"] + 1e-9
    json.dumps(r["solver"])  # where the answer came from, JSON-safe
    assert "relaxation_bound" in r["solver"]
    assert {a["name"] for a in r["alternatives"]} == set(ALTERNATIVES)
    for a in r["alternatives"]:
        assert set(ALT_COLUMNS) <= set(a)
        if a["objective"] is not None:
            assert a["feasible"] == (a["violations"] == 0)
            if a["feasible"]:  # nothing feasible beats our valid upper bound
                assert a["objective"] <= r["bound"] + 1e-9
    # Without budgets our solve is the bare flow's problem: the same optimum, and the bare
    # flow's value is the no-budget optimum (at least our guided objective).
    ng = r["no_guidance"]
    assert ng["same_objective"] and ng["status"] == "optimal"
    assert ng["objective"] >= r["objective"] - 1e-9
    assert ng["matcher_seconds"] > 0 and ng["bare_flow_seconds"] > 0
    text = markdown({"command": "run", "date": "today", "machine": {}, "results": [r]})
    assert "Without guidance budgets" in text and f"| {sc.name} | " in text


def test_exact_alternatives_agree_with_the_flow(tmp_path: Path) -> None:
    """Without budgets, LSA on slots, sparse matching and the min-cost flow are all optimal."""
    from matcher.load import instance_from_frames
    from matcher.policy import load_policy
    from matcher.round import make_problem
    from matcher.scoring import build_edges

    frames = generate(120, "utrecht", 5).frames()
    frames.pop("protected")
    inst = instance_from_frames(frames)
    policy = load_policy(Path(__file__).resolve().parents[1] / "matcher/policy/regional.toml")
    problem, _ = make_problem(inst, build_edges(inst, policy))
    free, seats, _, _ = problem.residual()
    best = problem.objective(solve_flow(problem, free, seats) | problem.locked)
    for fn in (scipy_lsa_slots, scipy_sparse_matching):
        chosen = fn(problem)
        assert problem.objective(chosen) == best
        used = np.bincount(problem.cand[chosen], minlength=problem.n_candidates)
        assert used.max() <= 1


def test_run_writes_json_and_plot(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    def fake_subprocess_free(sc, alternatives, workers=1):  # type: ignore[no-untyped-def]
        return run_scenario(sc, tmp_path / sc.name, alternatives=False)

    monkeypatch.setattr(bench_run, "run_one", fake_subprocess_free)
    monkeypatch.setattr(bench_run, "warm_up", lambda: {"seconds": 0.0, "compiled_kernels": {},
                                                       "called_kernels": []})
    results = bench_run.main(["--sizes", "30", "--out", str(tmp_path / "out")])
    assert len(results) == 1 and results[0]["alternatives"] == []
    assert (tmp_path / "out" / "results.json").stat().st_size > 0
    assert (tmp_path / "out" / "results.png").stat().st_size > 0
    doc = json.loads((tmp_path / "out" / "results.json").read_text())
    text = markdown(doc)
    assert "adhoc_30" in text and "| generate s |" in text


def test_registry_has_the_issue_sizes() -> None:
    sizes = {s.candidates for s in all_scenarios()}
    assert {2_000, 20_000, 200_000, 1_300_000} <= sizes
    assert all(s.policy_path is None or s.policy_path.exists() for s in all_scenarios())


def test_worker_rejects_a_bad_policy_before_generating(tmp_path: Path) -> None:
    """`benchmarks.worker --policy` (a variant on the same data): a bad file stops the run at
    once, exit 2, with the file and the key named, and nothing generated."""
    bad = tmp_path / "variant.toml"
    bad.write_text("[solver]\nno_such_key = 1\n", encoding="utf-8")
    keep = tmp_path / "kept"
    run = subprocess.run([sys.executable, "-m", "benchmarks.worker", "40", "--policy", str(bad),
                          "--keep", str(keep)], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parents[1], check=False)
    assert run.returncode == 2
    assert "variant.toml" in run.stderr and "no_such_key" in run.stderr
    assert run.stdout == "" and not keep.exists()


def test_warmup_runs_every_kernel_a_round_uses_and_leaves_them_cached() -> None:
    """`benchmarks.warmup` (run before a suite is timed) calls every top-level numba kernel of
    the rounds the suite times; a second process then compiles none (all on disk)."""
    def warm() -> dict[str, object]:
        run = subprocess.run([sys.executable, "-m", "benchmarks.warmup"], capture_output=True,
                             text=True, cwd=Path(__file__).resolve().parents[1], check=False)
        assert run.returncode == 0, run.stderr
        doc: dict[str, object] = json.loads(run.stdout.strip().splitlines()[-1])
        return doc

    first = warm()
    auction = "matcher.solver.auction."
    expected = {auction + k for k in ("_run_jacobi", "_run", "_dual", "_top_and_moved",
                                      "_by_option", "priced_weights")}
    expected |= {"matcher.scoring.grid._count", "matcher.scoring.grid._fill"}
    assert expected <= set(first["called_kernels"])  # type: ignore[call-overload]
    assert warm()["compiled_kernels"] == {}


def test_midsize_table_at_tiny_sizes(tmp_path: Path) -> None:
    """benchmarks.midsize end to end: matcher's round and every alternative on the same pairs."""
    from benchmarks import midsize

    results = midsize.main(["--sizes", "25,60", "--limit", "5", "--out", str(tmp_path)])
    assert [r["candidates"] for r in results] == [25, 60]
    for r in results:
        m = r["matcher"]
        assert m["status"] == "optimal" and m["gap"] == 0 and m["certificate"]
        for name in ("highs_mip", "cp_sat"):
            alt = r[name]
            if alt["objective"] is not None:  # nothing feasible beats matcher's proven optimum
                assert alt["objective"] <= m["bound"]
        assert r["bare_flow"]["objective"] >= m["objective"]  # without budgets: at least as much
    doc = json.loads((tmp_path / "midsize.json").read_text())
    assert doc["markdown"].count("\n") == 2 + len(results)


def test_dask_estimate_reproduces_the_measured_run_and_never_beats_the_longest_part() -> None:
    """benchmarks.dask_cluster's model: on the measured workers it gives the measured wall time;
    with more workers it never rises and never falls below what does not run in parts plus
    each pass's longest part."""
    from benchmarks.dask_cluster import estimate, makespan

    assert makespan([5, 4, 3, 3, 3], 2) == 10  # longest first, each on the first free worker
    assert makespan([5, 4, 3, 3, 3], 8) == 5
    run = {"wall": 100.0, "score": 20.0,
           "passes": [{"seconds": 30.0, "parts": [12.0, 9.0, 8.0, 7.0, 6.0]},
                      {"seconds": 25.0, "parts": [10.0, 10.0, 9.0, 5.0]}]}
    assert abs(estimate(run, 2, 2)["round"] - 100.0) < 1e-9
    times = [estimate(run, 2, w)["round"] for w in (2, 4, 8, 32)]
    assert times == sorted(times, reverse=True)
    assert times[-1] >= (100.0 - 20.0 - 55.0) + 12.0 + 10.0


def test_chain_city_table_at_a_tiny_size(tmp_path: Path) -> None:
    from benchmarks import chain_city

    rows = chain_city.main(["--sizes", "150", "--out", str(tmp_path / "chain.json")])
    plain, chain = rows
    assert not plain["chain"] and chain["chain"] and chain["route_edges"] > 0
    assert chain["method"].startswith("chain_") and chain["bound"] >= chain["objective"]
    assert (tmp_path / "chain.json").exists()
