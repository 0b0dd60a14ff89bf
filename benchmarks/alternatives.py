"""What a user would otherwise pick, run on the same pairs as our solver.

Each function takes the round's AssignmentProblem and returns a chosen-edge mask (or None with a
reason when it does not apply at this size). Locked edges are kept and their seats and guidance
taken off first, as our solver does; none of the alternatives but CP-SAT knows the guidance
budgets, so their answers are checked with ``AssignmentProblem.violations``.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linear_sum_assignment
from scipy.sparse.csgraph import min_weight_full_bipartite_matching

from matcher.solver.flow import solve_flow
from matcher.solver.problem import AssignmentProblem
from matcher.solver.repair import greedy

#: Dense linear_sum_assignment only when the slot matrix has at most this many cells (8 bytes
#: each): 20,000 candidates x 14,000 seats would need 2.2 GB and cubic time.
LSA_MAX_CELLS = 30_000_000
#: Sparse full bipartite matching only up to this many slot-expanded edges (FACTS.md: 7 s at
#: 20,000 candidates, 358 s at 200,000).
SPARSE_MAX_ENTRIES = 15_000_000
#: Naive CP-SAT only up to this many pairs, with this wall-clock limit per run.
CPSAT_MAX_PAIRS = 150_000
CPSAT_SECONDS = 30.0


class NotApplicable(Exception):
    """The alternative does not fit at this size (the message says why)."""


def _residual(problem: AssignmentProblem) -> tuple[np.ndarray, np.ndarray]:
    free, seats_left, _, _ = problem.residual()
    return np.flatnonzero(free), np.maximum(seats_left, 0)


def greedy_by_score(problem: AssignmentProblem) -> np.ndarray:
    """Best remaining pair first while seats, budgets and people allow (matcher's greedy)."""
    return greedy(problem)


def bare_min_cost_flow(problem: AssignmentProblem) -> np.ndarray:
    """OR-Tools min-cost flow without the guidance budgets."""
    free, seats_left, _, _ = problem.residual()
    return solve_flow(problem, free, seats_left) | problem.locked


def _slots(problem: AssignmentProblem, seats: np.ndarray, idx: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Capacity expansion: every pair becomes one entry per seat of its option."""
    first_slot = np.concatenate([[0], np.cumsum(seats)])
    n_slots = int(first_slot[-1])
    per = seats[problem.opt[idx]]
    entry = np.repeat(idx, per)
    offset = np.arange(len(entry)) - np.repeat(np.cumsum(per) - per, per)
    slot = first_slot[problem.opt[entry]] + offset
    return entry, slot, per, n_slots


def scipy_lsa_slots(problem: AssignmentProblem) -> np.ndarray:
    """SciPy linear_sum_assignment on a dense candidates x seat-slots matrix (no budgets)."""
    idx, seats = _residual(problem)
    n_slots = int(seats.sum())
    cells = problem.n_candidates * n_slots
    if cells > LSA_MAX_CELLS:
        raise NotApplicable(f"dense slot matrix {problem.n_candidates} x {n_slots} "
                            f"= {cells * 8 / 2**30:.1f} GB, cubic time")
    entry, slot, _, _ = _slots(problem, seats, idx)
    cost = np.zeros((problem.n_candidates, n_slots))
    cost[problem.cand[entry], slot] = -problem.weight[entry].astype(np.float64)
    rows, cols = linear_sum_assignment(cost)
    good = cost[rows, cols] < 0
    return _edges_of(problem, rows[good], cols[good], entry, slot) | problem.locked


def _edges_of(problem: AssignmentProblem, rows: np.ndarray, cols: np.ndarray,
              entry: np.ndarray, slot: np.ndarray) -> np.ndarray:
    n_slots = int(slot.max()) + 1 if len(slot) else 1
    key = problem.cand[entry].astype(np.int64) * n_slots + slot
    order = np.argsort(key)
    want = rows.astype(np.int64) * n_slots + cols
    pos = order[np.searchsorted(key[order], want)]
    chosen = np.zeros(problem.n_edges, dtype=bool)
    chosen[entry[pos]] = True
    return chosen


def scipy_sparse_matching(problem: AssignmentProblem) -> np.ndarray:
    """SciPy min_weight_full_bipartite_matching on slot-expanded pairs plus a dummy per person."""
    idx, seats = _residual(problem)
    entry, slot, _, n_slots = _slots(problem, seats, idx)
    if len(entry) > SPARSE_MAX_ENTRIES:
        raise NotApplicable(f"{len(entry):,} slot-expanded pairs (limit {SPARSE_MAX_ENTRIES:,})")
    n = problem.n_candidates
    big = float(problem.weight.max()) + 1.0
    rows = np.concatenate([problem.cand[entry], np.arange(n)])
    cols = np.concatenate([slot, n_slots + np.arange(n)])
    vals = np.concatenate([big - problem.weight[entry], np.full(n, big)])
    locked_c = problem.cand[problem.locked]
    keep = ~np.isin(rows, locked_c) | (cols >= n_slots)
    m = sp.csr_matrix((vals[keep], (rows[keep], cols[keep])), shape=(n, n_slots + n))
    r, c = min_weight_full_bipartite_matching(m)
    real = c < n_slots
    return _edges_of(problem, r[real], c[real], entry, slot) | problem.locked


def naive_cpsat(problem: AssignmentProblem) -> tuple[np.ndarray, int]:
    """The whole model in CP-SAT, one Python object per pair, 2 workers, a wall-clock limit.

    Returns (chosen, CP-SAT's own upper bound in micro-units).
    """
    from ortools.sat.python import cp_model

    if problem.n_edges > CPSAT_MAX_PAIRS:
        raise NotApplicable(f"{problem.n_edges:,} pairs (limit {CPSAT_MAX_PAIRS:,})")
    model = cp_model.CpModel()
    x = [model.new_bool_var("") for _ in range(problem.n_edges)]
    for e in np.flatnonzero(problem.locked).tolist():
        model.add(x[e] == 1)
    order = np.argsort(problem.cand, kind="stable")
    for grp in np.split(order, np.flatnonzero(np.diff(problem.cand[order])) + 1):
        model.add_at_most_one(x[i] for i in grp.tolist())
    order = np.argsort(problem.opt, kind="stable")
    for grp in np.split(order, np.flatnonzero(np.diff(problem.opt[order])) + 1):
        if len(grp):
            model.add(sum(x[i] for i in grp.tolist()) <= int(problem.capacity[problem.opt[grp[0]]]))
    org, need = problem.edge_org, problem.edge_need
    order = np.argsort(org, kind="stable")
    for grp in np.split(order, np.flatnonzero(np.diff(org[order])) + 1):
        if len(grp):
            model.add(sum(int(need[i]) * x[i] for i in grp.tolist())
                      <= int(problem.budget[org[grp[0]]]))
    model.maximize(sum(int(w) * v for w, v in zip(problem.weight.tolist(), x, strict=True)))
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 2
    solver.parameters.max_time_in_seconds = CPSAT_SECONDS
    solver.parameters.random_seed = 0
    status = solver.solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        raise NotApplicable(f"no solution in {CPSAT_SECONDS:.0f} s ({solver.status_name(status)})")
    chosen = np.fromiter((solver.boolean_value(v) for v in x), dtype=bool, count=len(x))
    return chosen, int(np.floor(solver.best_objective_bound + 1e-6))


ALTERNATIVES = {
    "greedy": greedy_by_score,
    "min_cost_flow_no_guidance": bare_min_cost_flow,
    "scipy_lsa_slots": scipy_lsa_slots,
    "scipy_sparse_matching": scipy_sparse_matching,
    "cpsat_naive": naive_cpsat,
}
