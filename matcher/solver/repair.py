"""Make an assignment keep the guidance budgets, then fill what is left greedily.

Used to turn a relaxed solution (the flow without budgets, or a Lagrangian subproblem's) into a
feasible one, and as the greedy-by-weight baseline when started from nothing.
"""

from __future__ import annotations

import numpy as np

from matcher.solver.problem import AssignmentProblem


def drop_over_budget(problem: AssignmentProblem, chosen: np.ndarray) -> np.ndarray:
    """Drop the lowest weight-per-guidance edges of each over-budget organisation until it fits.

    Locked edges are never dropped.
    """
    chosen = chosen.copy()
    used = problem.guidance_used(chosen)
    over = np.flatnonzero(used > problem.budget)
    if len(over) == 0:
        return chosen
    org = problem.edge_org
    need = problem.edge_need
    for g in over:
        idx = np.flatnonzero(chosen & (org == g) & ~problem.locked & (need > 0))
        # Worst first: least weight per unit of guidance; ties by edge index (canonical).
        ratio = problem.weight[idx] / need[idx]
        idx = idx[np.lexsort((idx, ratio))]
        excess = used[g] - problem.budget[g]
        cut = np.searchsorted(np.cumsum(need[idx]), excess) + 1
        chosen[idx[:cut]] = False
    return chosen


def greedy_fill(problem: AssignmentProblem, chosen: np.ndarray,
                edge_mask: np.ndarray | None = None) -> np.ndarray:
    """Add edges in order of weight (ties by index) while seats, budgets and people allow."""
    chosen = chosen.copy()
    seats = problem.capacity - problem.seats_used(chosen)
    budget = problem.budget - problem.guidance_used(chosen)
    taken = np.zeros(problem.n_candidates, dtype=bool)
    taken[problem.cand[chosen]] = True
    mask = ~chosen & ~taken[problem.cand] & (seats[problem.opt] > 0)
    mask &= problem.need[problem.cand] <= budget[problem.option_org[problem.opt]]
    if edge_mask is not None:
        mask &= edge_mask
    idx = np.flatnonzero(mask)
    idx = idx[np.lexsort((idx, -problem.weight[idx]))]
    cand, opt, org = problem.cand, problem.opt, problem.option_org
    need = problem.need
    for e in idx.tolist():
        c, o = cand[e], opt[e]
        g = org[o]
        if taken[c] or seats[o] <= 0 or need[c] > budget[g]:
            continue
        chosen[e] = True
        taken[c] = True
        seats[o] -= 1
        budget[g] -= need[c]
    return chosen


def greedy(problem: AssignmentProblem) -> np.ndarray:
    """The greedy-by-weight baseline: locked edges, then the best remaining edge while it fits."""
    return greedy_fill(problem, problem.locked.copy())
