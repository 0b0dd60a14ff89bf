"""Exact solve with guidance budgets: a CP-SAT model over the free edges.

One worker and a fixed seed, limited in deterministic time (not wall-clock), so the same input
gives the same answer on any machine. Warm-started with a feasible assignment.
"""

from __future__ import annotations

import logging

import numpy as np
from ortools.sat.python import cp_model

from matcher.solver.problem import AssignmentProblem

log = logging.getLogger(__name__)


def _groups(keys: np.ndarray, n: int) -> list[np.ndarray]:
    order = np.argsort(keys, kind="stable")
    bounds = np.searchsorted(keys[order], np.arange(n + 1))
    return [order[bounds[k]:bounds[k + 1]] for k in range(n)]


def deterministic_solver(max_deterministic_time: float) -> cp_model.CpSolver:
    """CP-SAT that repeats exactly: one worker, a fixed seed, a work limit instead of the clock."""
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = 0
    solver.parameters.max_deterministic_time = max_deterministic_time
    return solver


def solve_cpsat(
    problem: AssignmentProblem,
    hint: np.ndarray,
    max_deterministic_time: float,
    relative_gap: float = 0.0,
) -> tuple[np.ndarray, int, bool, dict[str, float]]:
    """(chosen, upper bound, proven optimal, stats) for the whole problem, locks included."""
    free, seats_left, budget_left, _ = problem.residual()
    idx = np.flatnonzero(free)
    model = cp_model.CpModel()
    x = [model.new_bool_var(f"x{e}") for e in idx.tolist()]
    local = {"cand": problem.cand[idx], "opt": problem.opt[idx],
             "org": problem.edge_org[idx]}
    for group in _groups(local["cand"], problem.n_candidates):
        if len(group) > 1:
            model.add_at_most_one(x[i] for i in group.tolist())
    for o, group in enumerate(_groups(local["opt"], problem.n_options)):
        if len(group) > seats_left[o]:
            model.add(sum(x[i] for i in group.tolist()) <= int(seats_left[o]))
    need = problem.edge_need[idx]
    for g, group in enumerate(_groups(local["org"], problem.n_organisations)):
        if need[group].sum() > budget_left[g]:
            model.add(sum(int(need[i]) * x[i] for i in group.tolist()) <= int(budget_left[g]))
    weight = problem.weight[idx]
    model.maximize(sum(int(weight[i]) * x[i] for i in range(len(idx))))
    for i, e in enumerate(idx.tolist()):
        model.add_hint(x[i], bool(hint[e]))

    solver = deterministic_solver(max_deterministic_time)
    solver.parameters.relative_gap_limit = relative_gap
    status = solver.solve(model)
    locked_value = int(problem.weight[problem.locked].sum())
    stats = {"deterministic_time": solver.deterministic_time, "wall_time": solver.wall_time,
             "branches": solver.num_branches}
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        log.warning("CP-SAT ended with %s; keeping the warm start", solver.status_name(status))
        return hint.copy(), -1, False, stats
    chosen = problem.locked.copy()
    values = np.fromiter((solver.boolean_value(v) for v in x), dtype=bool, count=len(x))
    chosen[idx[values]] = True
    bound = int(np.floor(solver.best_objective_bound + 1e-6)) + locked_value
    return chosen, bound, status == cp_model.OPTIMAL, stats
