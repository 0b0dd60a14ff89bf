"""Run one scenario in this process and print its results as JSON (called by benchmarks.run).

Stages: generate (write the data folder), load, score, solve (through matcher.solver.solve, so
whatever method it picks), write; then every alternative on the same pairs. Peak memory is this
process's maximum resident set size after each stage (it only grows).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.alternatives import ALTERNATIVES, NotApplicable, bare_min_cost_flow
from benchmarks.scenarios import Scenario, by_size, load
from benchmarks.warmup import compiled_kernels
from matcher.errors import InputError
from matcher.load import load_instance
from matcher.parallel import ProcessMapper
from matcher.policy import Policy, load_policy
from matcher.prewrite import EdgesPrewrite
from matcher.round import CSV_DIALECTS, run_round, write_round
from matcher.scoring import SCALE
from matcher.solver import AssignmentProblem, SolveDetails, solve
from matcher.synth import generate, write_generated

COLUMNS = ("scenario", "candidates", "options", "seats", "pairs", "method", "status",
           "objective", "bound", "gap", "t_generate", "t_load", "t_score", "t_solve",
           "t_write", "t_total_round", "peak_mb", "alternatives")
ALT_COLUMNS = ("name", "seconds", "objective", "feasible", "violations", "gap_to_bound", "note")


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def peak_worker_mb(details: dict[str, Any]) -> float:
    """The largest peak of the processes that solved the regions (each part's answer carries its
    solving process's own peak; `getrusage`'s children maximum would count a worker's moment as
    a fork of this large process before it started its own program)."""
    passes = [details.get("first_pass", {}), *details.get("border_passes", [])]
    return max((p.get("peak_mb", 0.0) for d in passes for p in d.get("per_part", [])),
               default=0.0)


def _parts(solved_pass: dict[str, Any]) -> list[dict[str, Any]]:
    """Each part of a pass with its answer and its own bound: how far the parts are from their
    own optimum, against what the round loses at their borders."""
    keys = ("part", "candidates", "pairs", "objective", "bound", "iterations", "seconds")
    return [{k: p.get(k) for k in keys} for p in solved_pass.get("per_part", [])]


def solver_summary(solved: SolveDetails) -> dict[str, Any]:
    """Where the answer and bound came from (JSON-safe): the Lagrangian's iterations, repair,
    quota flow and polish, or the decomposition's parts, first pass, coordination bounds and
    whole-problem auction iterations and quota flow; for a round solved by region, each
    pass's parts (candidates, pairs, answer, own bound, seconds)."""
    keep = ("iterations", "start_evaluations", "value_before_polish", "full_dual", "polish",
            "quota_flow", "parts", "relaxation", "relaxation_bound", "relaxation_lower",
            "subproblem", "whole_auction")
    details = solved.as_dict()
    out = {k: details[k] for k in keep if k in details}
    first = details.get("first_pass")
    if isinstance(first, dict):
        out["first_pass"] = {k: first.get(k) for k in ("union_value", "value", "seconds")}
        out["first_pass"]["per_part"] = _parts(first)
    if "coordination" in details:
        out["coordination"] = [c.get("bounds") for c in details["coordination"]]
        out["coordination_seconds"] = [c.get("seconds") for c in details["coordination"]]
    if "border_passes" in details:
        out["border_passes"] = [{k: v for k, v in d.items() if k != "per_part"}
                                | {"per_part": _parts(d)} for d in details["border_passes"]]
    return out


def no_guidance(problem: AssignmentProblem, policy: Policy) -> dict[str, Any]:
    """Our solve and a bare OR-Tools min-cost flow on the same pairs with the guidance budgets
    lifted (the issue's target: ours within 1.5 times the bare flow's time). Both run twice,
    alternately, and the faster time of each counts, so a one-off stall does not decide it
    (once each above 10 million pairs, where one flow takes minutes)."""
    lifted = replace(problem, budget=np.full_like(problem.budget, np.iinfo(np.int64).max // 4))
    ours: list[float] = []
    bare: list[float] = []
    for _ in range(2 if problem.n_edges < 10_000_000 else 1):
        t = time.perf_counter()
        res = solve(lifted, policy)
        ours.append(time.perf_counter() - t)
        t = time.perf_counter()
        flow = bare_min_cost_flow(lifted)
        bare.append(time.perf_counter() - t)
    same = problem.objective(res.chosen) == problem.objective(flow)
    return {"matcher_seconds": min(ours), "bare_flow_seconds": min(bare),
            "ratio": min(ours) / max(min(bare), 1e-9), "method": res.method,
            "status": str(res.status), "same_objective": bool(same),
            "objective": res.objective / SCALE}


def run_scenario(sc: Scenario, work: Path, alternatives: bool = True,
                 workers: int = 1) -> dict[str, Any]:
    out: dict[str, Any] = {"scenario": sc.name, "candidates": sc.candidates, "peaks_mb": {},
                           "workers": workers}
    t = time.perf_counter()
    data = write_generated(generate(sc.candidates, sc.region, sc.seed), work / "data")
    out["t_generate"] = time.perf_counter() - t
    out["peaks_mb"]["generate"] = peak_mb()
    t = time.perf_counter()
    policy = load_policy(sc.policy_path)
    inst, warnings = load_instance(data)
    out["t_load"] = time.perf_counter() - t
    out["peaks_mb"]["load"] = peak_mb()
    with EdgesPrewrite(work / "round", CSV_DIALECTS["standard"]) as edges:
        with ProcessMapper(workers) as mapper:
            # As `matcher run`: by region, edges.csv is written during the solve.
            pool = mapper if workers > 1 else None
            rnd = run_round(inst, policy, warnings, score_mapper=pool, solve_mapper=pool,
                            by_region=edges.start)
        # The largest peak of a worker process by the end of a region it solved (first pass
        # and border passes; the coordination's later price steps are not covered).
        out["peak_worker_mb"] = peak_worker_mb(rnd.result.details.stats) if workers > 1 else 0.0
        out["t_score"], out["t_solve"] = rnd.timings["score"], rnd.timings["solve"]
        out["peaks_mb"]["solve"] = peak_mb()
        t = time.perf_counter()
        write_round(rnd, work / "round", edges=edges)
        out["t_write"] = time.perf_counter() - t
        out["t_edges_during_solve"] = edges.seconds
    out["peaks_mb"]["write"] = peak_mb()
    out["t_total_round"] = out["t_load"] + out["t_score"] + out["t_solve"] + out["t_write"]
    res, problem = rnd.result, rnd.problem
    out.update({
        "options": inst.n_options, "seats": int(inst.options["capacity"].sum()),
        "pairs": problem.n_edges, "method": res.method, "status": str(res.status),
        "objective": res.objective / SCALE, "bound": res.bound / SCALE, "gap": res.gap,
        "violations": len(problem.violations(res.chosen)),
        "solver": solver_summary(res.details),
    })
    alts = []
    if alternatives:
        for name, fn in ALTERNATIVES.items():
            row: dict[str, Any] = dict.fromkeys(ALT_COLUMNS)
            row["name"] = name
            t = time.perf_counter()
            try:
                got = fn(problem)
            except NotApplicable as exc:
                row["note"] = f"not run: {exc}"
                alts.append(row)
                continue
            except MemoryError:
                row["note"] = "not run: out of memory"
                alts.append(row)
                continue
            row["seconds"] = time.perf_counter() - t
            chosen, own_bound = got if isinstance(got, tuple) else (got, None)
            value = problem.objective(chosen)
            bad = problem.violations(chosen)
            row.update({"objective": value / SCALE, "feasible": not bad, "violations": len(bad),
                        "gap_to_bound": (res.bound - value) / res.bound if res.bound else 0.0})
            if own_bound is not None:
                row["note"] = f"own bound {own_bound / SCALE:.3f}"
            alts.append(row)
            out["peaks_mb"][f"alt_{name}"] = peak_mb()
    out["alternatives"] = alts
    if alternatives:
        out["no_guidance"] = no_guidance(problem, policy)
        out["peaks_mb"]["no_guidance"] = peak_mb()
    out["peak_mb"] = peak_mb()
    # numba kernels compiled in this process (not loaded from the cache): their compile time
    # is in the stages above; after `benchmarks.warmup` this is empty.
    out["compiled_kernels"] = compiled_kernels()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("scenario", help="a module name in benchmarks.scenarios, or a size")
    ap.add_argument("--no-alternatives", action="store_true")
    ap.add_argument("--keep", type=Path, default=None, help="keep data and round here")
    ap.add_argument("--workers", type=int, default=1,
                    help="processes for the regions of a round solved by region")
    ap.add_argument("--policy", type=Path, default=None,
                    help="a policy file instead of the scenario's (a variant on the same data)")
    args = ap.parse_args()
    sc = by_size([int(args.scenario)])[0] if args.scenario.isdigit() else load(args.scenario)
    if args.policy is not None:
        try:  # before generating the data: a bad policy file fails at once
            load_policy(args.policy)
        except InputError as exc:
            print(f"--policy: {exc}", file=sys.stderr)
            raise SystemExit(2) from None
        sc = replace(sc, policy=str(args.policy.resolve()))
    work = Path(tempfile.mkdtemp(prefix=f"bench-{sc.name}-")) if args.keep is None else args.keep
    try:
        result = run_scenario(sc, work, alternatives=not args.no_alternatives,
                              workers=args.workers)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
