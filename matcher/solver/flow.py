"""Exact solve without guidance budgets: a min-cost flow (OR-Tools' SimpleMinCostFlow).

source -> candidate (capacity 1) -> option (capacity 1, cost -weight) -> sink (capacity seats),
plus a zero-cost source -> sink arc so that leaving people unmatched is allowed. Arcs are built
from NumPy arrays in one call. The result is the optimum of the problem without the guidance
budgets: a valid upper bound for the full problem, and its optimum whenever it keeps them.
"""

from __future__ import annotations

import logging

import numpy as np
from ortools.graph.python import min_cost_flow

from matcher.solver.problem import AssignmentProblem

log = logging.getLogger(__name__)


class FlowError(RuntimeError):
    pass


def flow_on_arcs(tails: np.ndarray, heads: np.ndarray, caps: np.ndarray, costs: np.ndarray,
                 source: int, sink: int, supply: int, first: int, count: int,
                 what: str = "min-cost flow") -> np.ndarray:
    """Solve a min-cost flow given as arc arrays (`supply` units from `source` to `sink`) and
    return the flows on arcs ``first .. first + count - 1``; `FlowError` unless optimal."""
    smcf = min_cost_flow.SimpleMinCostFlow()
    arcs = smcf.add_arcs_with_capacity_and_unit_cost(tails, heads, caps, costs)
    smcf.set_nodes_supplies(np.array([source, sink]), np.array([supply, -supply]))
    status = smcf.solve()
    if status != smcf.OPTIMAL:
        raise FlowError(f"{what} ended with status {status}")
    return np.asarray(smcf.flows(arcs[first:first + count]))


def solve_flow(
    problem: AssignmentProblem,
    edge_mask: np.ndarray,
    seats: np.ndarray,
    extra_cost: np.ndarray | None = None,
) -> np.ndarray:
    """Max-weight assignment over the edges in `edge_mask` with `seats` per option.

    `extra_cost` (integer, per edge) is subtracted from the weights: the Lagrangian method
    prices guidance with it. Edges whose adjusted weight is not positive are left out (choosing
    them cannot help). Returns the chosen-edge mask over all of the problem's edges.
    """
    weight = problem.weight if extra_cost is None else problem.weight - extra_cost
    idx = np.flatnonzero(edge_mask & (weight > 0))
    chosen = np.zeros(problem.n_edges, dtype=bool)
    if len(idx) == 0:
        return chosen
    n_c, n_o = problem.n_candidates, problem.n_options
    src, sink = n_c + n_o, n_c + n_o + 1
    cand, opt = problem.cand[idx].astype(np.int64), problem.opt[idx].astype(np.int64)
    used_c = np.flatnonzero(np.bincount(cand, minlength=n_c))
    used_o = np.flatnonzero(np.bincount(opt, minlength=n_o))
    tails = np.concatenate([np.full(len(used_c), src), cand, n_c + used_o, [src]])
    heads = np.concatenate([used_c, n_c + opt, np.full(len(used_o), sink), [sink]])
    caps = np.concatenate([np.ones(len(used_c) + len(idx), dtype=np.int64),
                           np.maximum(seats[used_o], 0).astype(np.int64), [len(used_c)]])
    costs = np.concatenate([np.zeros(len(used_c), dtype=np.int64), -weight[idx],
                            np.zeros(len(used_o) + 1, dtype=np.int64)])
    flows = flow_on_arcs(tails, heads, caps, costs, src, sink, len(used_c), len(used_c), len(idx))
    chosen[idx[flows > 0]] = True
    return chosen
