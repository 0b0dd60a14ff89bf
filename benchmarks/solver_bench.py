"""Solver benchmark: our solve (Lagrangian) against greedy, today's flow repair and CP-SAT.

    PYTHONPATH=$PWD python -m benchmarks.solver_bench --sizes 2000 20000
    flock /tmp/heavy.lock env PYTHONPATH=$PWD python -m benchmarks.solver_bench --sizes 200000
    ... --sizes 1300000 --regions 35      (decomposed by region, border candidates crossing)

Prints one table row per (N, method): seconds, objective, bound, gap to our bound, feasible; and
for the same pairs with loose budgets our solve time against a bare OR-Tools min-cost flow.
Instances come from `benchmarks.solver_instances.random_problem` (same seed, same problem).
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks.solver_instances import random_problem
from matcher.policy import Policy, default_policy, policy_from_flat
from matcher.solver import solve
from matcher.solver.cpsat import solve_cpsat
from matcher.solver.decompose import organisation_regions, solve_decomposed
from matcher.solver.flow import solve_flow
from matcher.solver.problem import AssignmentProblem
from matcher.solver.repair import drop_over_budget, greedy, greedy_fill

log = logging.getLogger("solver_bench")


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def _peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def _today_flow_repair(problem: AssignmentProblem) -> np.ndarray:
    free, seats, _, _ = problem.residual()
    relaxed = solve_flow(problem, free, seats) | problem.locked
    return greedy_fill(problem, drop_over_budget(problem, relaxed), free)


def run(n: int, seed: int, regions: int, cpsat_max: int, greedy_max: int, today_max: int,
        cpsat_time: float, policy: Policy, guided: bool = True) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    (problem, option_region), t_gen = _timed(lambda: random_problem(n, seed=seed, regions=regions))
    log.info("N=%d: %d pairs, %d organisations, generated in %.1f s", n, problem.n_edges,
             problem.n_organisations, t_gen)
    if guided:
        rows += _guided(n, problem, option_region, regions, cpsat_max, greedy_max, today_max,
                        cpsat_time, policy)
    rows += _loose(n, problem, policy)
    rows.append({"N": n, "method": f"  peak memory {_peak_gib():.2f} GiB; "
                 f"{problem.n_edges:,} pairs"})
    return rows


def _guided(n: int, problem: AssignmentProblem, option_region: np.ndarray, regions: int,
            cpsat_max: int, greedy_max: int, today_max: int, cpsat_time: float,
            policy: Policy) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    if regions > 1:
        labels = organisation_regions(problem, option_region)
        res, t = _timed(lambda: solve_decomposed(problem, policy, labels))
        name = f"ours (by {regions} regions)"
    else:
        res, t = _timed(lambda: solve(problem, policy))
        name = f"ours ({res.method})"
    bound = res.bound
    rows.append(_row(n, problem, name, t, res.chosen, bound, res.details.as_dict()))

    def add(name: str, fn: Callable[[], np.ndarray]) -> None:
        chosen, secs = _timed(fn)
        rows.append(_row(n, problem, name, secs, chosen, bound, {}))

    if n <= greedy_max:
        add("greedy by weight", lambda: greedy(problem))
    if n <= today_max:
        add("flow + drop + greedy (before)", lambda: _today_flow_repair(problem))
    if n <= cpsat_max:
        def cp() -> np.ndarray:
            chosen, cp_bound, _, _ = solve_cpsat(problem, greedy(problem), cpsat_time)
            rows.append({"N": n, "method": f"  (CP-SAT's own bound {cp_bound})"})
            return chosen
        add(f"CP-SAT, greedy start, {cpsat_time:g} det. s", cp)
    return rows


def _loose(n: int, problem: AssignmentProblem, policy: Policy) -> list[dict[str, Any]]:
    # Without guidance: our solve against a bare min-cost flow on the same pairs.
    loose = AssignmentProblem(problem.cand, problem.opt, problem.weight, problem.locked,
                              problem.capacity, problem.option_org,
                              np.full(problem.n_organisations, 10**12, dtype=np.int64), problem.need)
    free, seats, _, _ = loose.residual()
    flow, t_flow = _timed(lambda: solve_flow(loose, free, seats))
    ours, t_ours = _timed(lambda: solve(loose, policy))
    return [_row(n, loose, "no guidance: bare min-cost flow", t_flow, flow, loose.objective(flow), {}),
            _row(n, loose, f"no guidance: ours ({ours.method})", t_ours, ours.chosen, ours.bound, {})]


def _row(n: int, problem: AssignmentProblem, method: str, secs: float, chosen: np.ndarray,
         bound: int, details: dict[str, Any]) -> dict[str, Any]:
    value = problem.objective(chosen)
    row = {"N": n, "method": method, "seconds": secs, "objective": value, "bound": bound,
           "gap": (bound - value) / bound if bound > 0 else 0.0,
           "feasible": not problem.violations(chosen)}
    for key in ("iterations", "value_before_polish", "polish", "parts",
                "border_duplicates_dropped"):
        if key in details:
            row[key] = details[key]
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[2000, 20000])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--regions", type=int, default=1)
    ap.add_argument("--cpsat-max", type=int, default=2000, help="CP-SAT only up to this N")
    ap.add_argument("--cpsat-time", type=float, default=20.0)
    ap.add_argument("--greedy-max", type=int, default=200000, help="greedy only up to this N")
    ap.add_argument("--today-max", type=int, default=20000,
                    help="today's flow repair (a loop per organisation) only up to this N")
    ap.add_argument("--no-guided", action="store_true", help="only the no-guidance comparison")
    ap.add_argument("--policy", type=str, default=None, help="JSON of [solver] overrides")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    policy = (policy_from_flat({"solver": json.loads(args.policy)}) if args.policy
              else default_policy())
    header = f"{'N':>9} {'method':<40} {'time s':>8} {'objective':>16} {'bound':>16} " \
             f"{'gap':>8} feasible"
    print(header, flush=True)
    for n in args.sizes:
        for r in run(n, args.seed, args.regions, args.cpsat_max, args.greedy_max, args.today_max,
                     args.cpsat_time, policy, not args.no_guided):
            if "seconds" not in r:
                print(f"{r['N']:>9} {r['method']}")
                continue
            extra = {k: v for k, v in r.items() if k not in
                     ("N", "method", "seconds", "objective", "bound", "gap", "feasible")}
            print(f"{r['N']:>9} {r['method']:<40} {r['seconds']:>8.2f} {r['objective']:>16,} "
                  f"{r['bound']:>16,} {r['gap']:>8.4%} {r['feasible']}" + (f"  {extra}" if extra else ""),
                  flush=True)


if __name__ == "__main__":
    main()
