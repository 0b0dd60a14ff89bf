"""Reference values for a scenario: the LP relaxation and (small sizes) the integer optimum.

    PYTHONPATH=$PWD python -m benchmarks.lp_reference --candidates 2000 --milp
    flock /tmp/heavy.lock env PYTHONPATH=$PWD python -m benchmarks.lp_reference --candidates 20000

Generates the registered scenario of that size (`benchmarks.scenarios`, fixed seed), scores it
as `matcher run` does, solves it with matcher, and solves the same pairs as an LP (SciPy's HiGHS,
interior point) and, with ``--milp``, as an integer program (SciPy `milp`, HiGHS). It prints
matcher's objective and bound next to them, so one can tell how much of matcher's gap is
matcher's (objective below the integer optimum) and how much is the bound's (above the LP).
Slow by design: the LP took 148 s at 20,000 candidates and the integer program 62 s at 2,000
(2 cores); no integer optimum above a few thousand candidates.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

from benchmarks.scenarios import by_size
from matcher.load import load_instance
from matcher.policy import load_policy
from matcher.round import run_round
from matcher.scoring import SCALE
from matcher.solver.problem import AssignmentProblem
from matcher.synth import generate, write_generated


def constraints(p: AssignmentProblem) -> tuple[sp.csr_matrix, np.ndarray]:
    """Rows: one per candidate (<= 1), option (<= seats), organisation (need-weighted <= budget)."""
    e = np.arange(p.n_edges)
    a = sp.vstack([
        sp.csr_matrix((np.ones(p.n_edges), (p.cand, e)), shape=(p.n_candidates, p.n_edges)),
        sp.csr_matrix((np.ones(p.n_edges), (p.opt, e)), shape=(p.n_options, p.n_edges)),
        sp.csr_matrix((p.edge_need.astype(float), (p.edge_org, e)),
                      shape=(p.n_organisations, p.n_edges)),
    ]).tocsr()
    b = np.concatenate([np.ones(p.n_candidates), p.capacity, p.budget]).astype(float)
    return a, b


def reference(p: AssignmentProblem, with_milp: bool, time_limit: float) -> dict[str, Any]:
    a, b = constraints(p)
    lower = p.locked.astype(float)  # locked pairs are chosen
    out: dict[str, Any] = {}
    t = time.perf_counter()
    lp = linprog(-p.weight.astype(float), A_ub=a, b_ub=b, bounds=np.c_[lower, np.ones(p.n_edges)],
                 method="highs-ipm")
    out["lp_seconds"] = time.perf_counter() - t
    out["lp"] = -lp.fun / SCALE if lp.status == 0 else None
    if with_milp:
        t = time.perf_counter()
        ip = milp(-p.weight.astype(float), constraints=LinearConstraint(a, -np.inf, b),
                  bounds=Bounds(lower, 1), integrality=np.ones(p.n_edges),
                  options={"time_limit": time_limit, "mip_rel_gap": 1e-7})
        out["milp_seconds"] = time.perf_counter() - t
        out["milp"] = -ip.fun / SCALE if ip.x is not None else None
        out["milp_status"] = ip.message
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--candidates", type=int, default=2000)
    ap.add_argument("--milp", action="store_true", help="also the integer optimum (small sizes)")
    ap.add_argument("--time-limit", type=float, default=600.0, help="for the integer program, s")
    args = ap.parse_args(argv)
    sc = by_size([args.candidates])[0]
    with tempfile.TemporaryDirectory() as tmp:
        data = write_generated(generate(sc.candidates, sc.region, sc.seed), Path(tmp) / "data")
        inst, warnings = load_instance(data)
        rnd = run_round(inst, load_policy(sc.policy_path), warnings)
    res, p = rnd.result, rnd.problem
    ref = reference(p, args.milp, args.time_limit)
    ours, bound = res.objective / SCALE, res.bound / SCALE
    print(f"scenario {sc.name}: {p.n_candidates:,} candidates, {p.n_edges:,} pairs")
    print("| value | objective | matcher below it | seconds |")
    print("|---|---|---|---|")
    print(f"| matcher ({res.method}, {res.status}) | {ours:,.3f} | - | "
          f"{rnd.timings['solve']:.1f} |")
    print(f"| matcher's bound | {bound:,.3f} | {1 - ours / bound:.4%} | - |")
    if ref["lp"] is not None:
        print(f"| LP relaxation (HiGHS IPM) | {ref['lp']:,.3f} | {1 - ours / ref['lp']:.4%} | "
              f"{ref['lp_seconds']:.1f} |")
    if args.milp and ref.get("milp") is not None:
        print(f"| integer program (HiGHS, {ref['milp_status']}) | {ref['milp']:,.3f} | "
              f"{1 - ours / ref['milp']:.4%} | {ref['milp_seconds']:.1f} |")


if __name__ == "__main__":
    main()
