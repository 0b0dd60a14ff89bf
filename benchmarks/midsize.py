"""Mid-size rounds under the default policy (issue 27): `python -m benchmarks.midsize
[--sizes 25,100,...] [--limit 60]` (also `python -m benchmarks.run --midsize`).

For each size N: `matcher generate --candidates N --seed N`, then `matcher run DIR` as a user
runs it (its own process: wall time includes starting Python), and on the same pairs (the
round's own problem, locks kept and forbids left out) what a user would pick instead:

- HiGHS's MIP (SciPy ``milp``, default settings: relative gap 1e-4), capped at ``--limit``
  seconds;
- CP-SAT with default settings (all cores), capped at ``--limit`` seconds;
- a bare OR-Tools min-cost flow without the guidance budgets (a lower bound on any time).

Each alternative's gap is its own (its bound against its answer); ``vs matcher`` is its answer
against matcher's (negative: worse). Results: a table on stdout and benchmarks/out/midsize.json.
Run it under ``flock /tmp/matcher-bench.lock`` (it takes minutes).
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from rich.console import Console
from scipy.optimize import Bounds, LinearConstraint, milp

from benchmarks.alternatives import bare_min_cost_flow
from matcher.load import load_instance
from matcher.policy import default_policy
from matcher.round import make_problem
from matcher.scoring import build_edges
from matcher.solver.problem import AssignmentProblem
from matcher.synth import generate, write_generated

SIZES = (25, 100, 200, 500, 1000, 2000, 5000)
OUT = Path(__file__).parent / "out"
console = Console()


def matcher_run(data: Path, out: Path) -> dict[str, Any]:
    """`matcher run DATA --out OUT` in its own process: wall time and round.json's figures."""
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "matcher", "run", str(data), "--out", str(out)],
                          capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        return {"wall": wall, "status": f"exit {proc.returncode}", "error": proc.stderr[-400:]}
    meta = json.loads((out / "round.json").read_text("utf-8"))
    s = meta["solver"]
    return {"wall": wall, "solve": meta["run"]["timings_s"].get("solve"),
            "status": s["status"], "method": s["method"], "gap": s["gap"],
            "objective": s["objective_micro"], "bound": s["bound_micro"],
            "certificate": s.get("certificate", {}).get("kind")}


def _rows(problem: AssignmentProblem) -> tuple[sp.csc_matrix, np.ndarray]:
    """One row per candidate, option and organisation, as the model states them."""
    n = problem.n_edges
    rows = np.concatenate([problem.cand, problem.n_candidates + problem.opt,
                           problem.n_candidates + problem.n_options + problem.edge_org])
    vals = np.concatenate([np.ones(2 * n), problem.edge_need.astype(np.float64)])
    shape = (problem.n_candidates + problem.n_options + problem.n_organisations, n)
    upper = np.concatenate([np.ones(problem.n_candidates), problem.capacity,
                            problem.budget]).astype(np.float64)
    return sp.csc_matrix((vals, (rows, np.tile(np.arange(n), 3))), shape=shape), upper


def highs_mip(problem: AssignmentProblem, limit: float) -> dict[str, Any]:
    """SciPy's milp (HiGHS) with its default settings and a time limit."""
    matrix, upper = _rows(problem)
    t = time.perf_counter()
    res = milp(-problem.weight.astype(np.float64), integrality=np.ones(problem.n_edges),
               bounds=Bounds(problem.locked.astype(np.float64), np.ones(problem.n_edges)),
               constraints=LinearConstraint(matrix, -np.inf, upper),
               options={"time_limit": limit})
    seconds = time.perf_counter() - t
    if res.x is None:
        return {"seconds": seconds, "status": "no answer", "objective": None, "gap": None}
    chosen = np.asarray(res.x) > 0.5
    value = problem.objective(chosen)
    bound = -float(res.mip_dual_bound) if res.mip_dual_bound is not None else math.nan
    status = "optimal*" if res.status == 0 else "time limit"  # *: within HiGHS's 1e-4 gap
    if problem.violations(chosen):
        status = "infeasible answer"
    return {"seconds": seconds, "status": status, "objective": value,
            "gap": max(0.0, (bound - value) / bound) if bound > 0 else 0.0}


def cpsat(problem: AssignmentProblem, limit: float) -> dict[str, Any]:
    """CP-SAT with default settings (all cores) and a time limit."""
    from ortools.sat.python import cp_model

    t = time.perf_counter()
    model = cp_model.CpModel()
    x = [model.new_bool_var("") for _ in range(problem.n_edges)]
    for e in np.flatnonzero(problem.locked).tolist():
        model.add(x[e] == 1)
    groups = [(problem.cand, np.ones(problem.n_edges, dtype=np.int64),
               np.ones(problem.n_candidates, dtype=np.int64)),
              (problem.opt, np.ones(problem.n_edges, dtype=np.int64), problem.capacity),
              (problem.edge_org, problem.edge_need, problem.budget)]
    for key, coef, cap in groups:
        order = np.argsort(key, kind="stable")
        for grp in np.split(order, np.flatnonzero(np.diff(key[order])) + 1):
            if len(grp):
                model.add(cp_model.LinearExpr.weighted_sum(
                    [x[i] for i in grp.tolist()], coef[grp].tolist()) <= int(cap[key[grp[0]]]))
    model.maximize(cp_model.LinearExpr.weighted_sum(x, problem.weight.tolist()))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = limit
    status = solver.solve(model)
    seconds = time.perf_counter() - t
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return {"seconds": seconds, "status": solver.status_name(status).lower(),
                "objective": None, "gap": None}
    chosen = np.fromiter((solver.boolean_value(v) for v in x), dtype=bool, count=len(x))
    value = problem.objective(chosen)
    bound = float(solver.best_objective_bound)
    return {"seconds": seconds, "status": "optimal" if status == cp_model.OPTIMAL
            else "time limit", "objective": value,
            "gap": max(0.0, (bound - value) / bound) if bound > 0 else 0.0}


def bare_flow(problem: AssignmentProblem) -> dict[str, Any]:
    t = time.perf_counter()
    chosen = bare_min_cost_flow(problem)
    return {"seconds": time.perf_counter() - t, "status": "no budgets",
            "objective": problem.objective(chosen), "gap": None}


def one_size(n: int, work: Path, limit: float) -> dict[str, Any]:
    data, out = work / f"data{n}", work / f"round{n}"
    write_generated(generate(n, seed=n), data)
    r: dict[str, Any] = {"candidates": n, "matcher": matcher_run(data, out)}
    inst, _ = load_instance(data)
    problem, _usable = make_problem(inst, build_edges(inst, default_policy()))
    r["pairs"] = problem.n_edges
    r["highs_mip"] = highs_mip(problem, limit)
    r["cp_sat"] = cpsat(problem, limit)
    r["bare_flow"] = bare_flow(problem)
    return r


def _s(x: Any) -> str:
    return "-" if x is None else f"{x:.2f}"


def _gap(x: Any) -> str:
    return "-" if x is None else f"{100 * x:.4f}%"


def _vs(alt: dict[str, Any], ours: dict[str, Any]) -> str:
    if alt.get("objective") is None or ours.get("objective") is None:
        return "-"
    return f"{100 * (alt['objective'] - ours['objective']) / ours['objective']:+.4f}%"


def markdown(results: list[dict[str, Any]]) -> str:
    """The table as Markdown (benchmarks/RESULTS.md)."""
    head = ("| candidates | pairs | matcher wall s | solve s | method | status | gap | HiGHS s | "
            "HiGHS status | HiGHS gap | HiGHS vs matcher | CP-SAT s | CP-SAT status | CP-SAT gap "
            "| CP-SAT vs matcher | bare flow s |")
    lines = [head, "|" + "---|" * head.count(" | ") + "---|"]
    for r in results:
        m, h, c = r["matcher"], r["highs_mip"], r["cp_sat"]
        cells = [f"{r['candidates']:,}", f"{r['pairs']:,}", _s(m["wall"]), _s(m.get("solve")),
                 str(m.get("method", "-")), m["status"], _gap(m.get("gap")), _s(h["seconds"]),
                 h["status"], _gap(h["gap"]), _vs(h, m), _s(c["seconds"]), c["status"],
                 _gap(c["gap"]), _vs(c, m), _s(r["bare_flow"]["seconds"])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", default=",".join(map(str, SIZES)),
                    help="comma-separated candidate counts")
    ap.add_argument("--limit", type=float, default=60.0,
                    help="seconds each alternative solver may take per size")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory(prefix="midsize-") as tmp:
        for n in (int(s) for s in args.sizes.split(",")):
            r = one_size(n, Path(tmp), args.limit)
            console.print(f"{n:,} candidates: matcher {r['matcher']['status']} in "
                          f"{r['matcher']['wall']:.1f} s", highlight=False)
            results.append(r)
    console.print(f"Mid-size rounds, default policy (alternatives capped at {args.limit:g} s)",
                  highlight=False)
    console.print(markdown(results), highlight=False, soft_wrap=True)
    args.out.mkdir(parents=True, exist_ok=True)
    doc = {"command": "python -m benchmarks.midsize " + " ".join(argv if argv is not None
                                                                  else sys.argv[1:]),
           "results": results, "markdown": markdown(results)}
    (args.out / "midsize.json").write_text(json.dumps(doc, indent=2) + "\n", "utf-8")
    return results


if __name__ == "__main__":
    main()
