"""Vectorised repair steps for the Lagrangian method: drop over-budget edges, refill by flow.

- `drop_excess`: at every organisation over its guidance budget, drop the chosen (unlocked) edges
  with the least weight per unit of guidance until it fits; whole-array, no loop per edge.
- `refill`: a min-cost flow over the free people and free seats only, with an organisation node
  whose capacity (in people) is small enough that the guidance budget cannot be exceeded
  whatever needs the flow picks; repeated while it adds anything, then a greedy pass over the
  (by then small) remainder.
- `greedy_add`: the greedy pass, in rounds of whole-array steps (the best edge per candidate and
  per option each round), so it stays fast on large remainders.
"""

from __future__ import annotations

import logging

import numpy as np

from matcher.solver.flow import flow_on_arcs
from matcher.solver.problem import AssignmentProblem

log = logging.getLogger(__name__)


def drop_excess(problem: AssignmentProblem, chosen: np.ndarray, budget: np.ndarray | None = None,
                ) -> np.ndarray:
    """Drop the least weight-per-guidance unlocked edges at each over-budget organisation."""
    budget = problem.budget if budget is None else budget
    used = problem.guidance_used(chosen)
    over = used > budget
    if not over.any():
        return chosen
    chosen = chosen.copy()
    org = problem.edge_org
    idx = np.flatnonzero(chosen & ~problem.locked)
    idx = idx[over[org[idx]]]
    need = problem.edge_need[idx]
    idx, need = idx[need > 0], need[need > 0]
    g = org[idx]
    ratio = problem.weight[idx] / need
    order = np.lexsort((idx, ratio, g))  # per organisation, worst first; ties by edge index
    idx, need, g = idx[order], need[order], g[order]
    csum = np.cumsum(need)
    start = np.searchsorted(g, g, side="left")
    before = csum[start] - need[start]  # cumulative need before each organisation's block
    within = csum - before  # need dropped so far in the block, this edge included
    excess = used[g] - budget[g]
    # Drop an edge while the need dropped before it is still short of the excess.
    drop = within - need < excess
    chosen[idx[drop]] = False
    return chosen


def _flow_pick(n_c: int, n_o: int, n_g: int, cand: np.ndarray, opt: np.ndarray,
               weight: np.ndarray, seats: np.ndarray, option_org: np.ndarray,
               people: np.ndarray) -> np.ndarray:
    """Max-weight pick of edges: candidate <= 1, option <= seats, organisation <= people."""
    if len(cand) == 0:
        return np.zeros(0, dtype=bool)
    used_c = np.flatnonzero(np.bincount(cand, minlength=n_c))
    used_o = np.flatnonzero(np.bincount(opt, minlength=n_o))
    used_g = np.flatnonzero(np.bincount(option_org[used_o], minlength=n_g))
    src = n_c + n_o + n_g
    sink = src + 1
    tails = np.concatenate([np.full(len(used_c), src), cand, n_c + used_o,
                            n_c + n_o + used_g, [src]])
    heads = np.concatenate([used_c, n_c + opt, n_c + n_o + option_org[used_o],
                            np.full(len(used_g), sink), [sink]])
    caps = np.concatenate([np.ones(len(used_c) + len(cand), dtype=np.int64), seats[used_o],
                           people[used_g], [len(used_c)]])
    costs = np.concatenate([np.zeros(len(used_c), dtype=np.int64), -weight,
                            np.zeros(len(used_o) + len(used_g) + 1, dtype=np.int64)])
    flows = flow_on_arcs(tails.astype(np.int64), heads.astype(np.int64), caps.astype(np.int64),
                         costs.astype(np.int64), src, sink, len(used_c), len(used_c), len(cand),
                         "refill min-cost flow")
    return flows > 0


def _open_edges(problem: AssignmentProblem, chosen: np.ndarray, edge_mask: np.ndarray,
                budget: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Edges that could still be added alone: (edge indices, seats left, guidance room)."""
    seats = problem.capacity - problem.seats_used(chosen)
    room = budget - problem.guidance_used(chosen)
    taken = np.zeros(problem.n_candidates, dtype=bool)
    taken[problem.cand[chosen]] = True
    mask = edge_mask & ~chosen & ~taken[problem.cand] & (seats[problem.opt] > 0)
    idx = np.flatnonzero(mask)
    idx = idx[problem.edge_need[idx] <= room[problem.edge_org[idx]]]
    return idx, seats, room


def refill(problem: AssignmentProblem, chosen: np.ndarray, edge_mask: np.ndarray,
           budget: np.ndarray | None = None, weight: np.ndarray | None = None,
           rounds: int = 3) -> tuple[np.ndarray, dict[str, int]]:
    """Add edges from `edge_mask` to a feasible `chosen` while it stays feasible.

    `weight` (per edge; default the problem's) is what the refill flows maximise: the Lagrangian
    method passes priced weights so that scarce guidance goes where it is worth most. The last
    greedy pass uses the true weights.
    """
    budget = problem.budget if budget is None else budget
    weight = problem.weight if weight is None else weight
    chosen = chosen.copy()
    stats = {"refill_flow_added": 0, "refill_greedy_added": 0, "refill_rounds": 0}
    for _ in range(rounds):
        idx, seats, room = _open_edges(problem, chosen, edge_mask, budget)
        idx = idx[weight[idx] > 0]
        if len(idx) == 0:
            break
        stats["refill_rounds"] += 1
        g = problem.edge_org[idx]
        need = problem.edge_need[idx]
        max_need = np.zeros(problem.n_organisations, dtype=np.int64)
        np.maximum.at(max_need, g, need)
        people = room // np.maximum(max_need, 1)
        keep = people[g] > 0
        if not keep.any():
            break
        idx = idx[keep]
        pick = _flow_pick(problem.n_candidates, problem.n_options, problem.n_organisations,
                          problem.cand[idx].astype(np.int64), problem.opt[idx].astype(np.int64),
                          weight[idx], np.maximum(seats, 0), problem.option_org.astype(np.int64),
                          np.maximum(people, 0))
        if not pick.any():
            break
        chosen[idx[pick]] = True
        stats["refill_flow_added"] += int(pick.sum())
    before = int(chosen.sum())
    chosen = greedy_add(problem, chosen, edge_mask, budget)
    stats["refill_greedy_added"] = int(chosen.sum()) - before
    return chosen, stats


def greedy_add(problem: AssignmentProblem, chosen: np.ndarray, edge_mask: np.ndarray,
               budget: np.ndarray | None = None, weight: np.ndarray | None = None) -> np.ndarray:
    """Greedy additions by weight (ties by edge index), in whole-array rounds.

    Each round takes, among the edges that still fit on their own, those that are the best of
    their candidate, of their option and of their organisation; adding one edge per option and
    per organisation at a time keeps every addition feasible.
    """
    budget = problem.budget if budget is None else budget
    weight = problem.weight if weight is None else weight
    chosen = chosen.copy()
    # The open edges only shrink as edges are added (seats, guidance room and free people only
    # go down), so they are found once over the whole problem and then filtered.
    idx, seats, room = _open_edges(problem, chosen, edge_mask, budget)
    idx = idx[weight[idx] > 0]
    idx = idx[np.lexsort((idx, -weight[idx]))]  # best first, canonical ties
    cand, opt = problem.cand[idx], problem.opt[idx]
    org, need = problem.edge_org[idx], problem.edge_need[idx]
    taken = np.zeros(problem.n_candidates, dtype=bool)
    while len(idx):
        # Best of its candidate and of its organisation (hence one per option too); the very
        # best open edge is first of both, so every round adds at least one.
        first = np.flatnonzero(_first(cand) & _first(org))
        chosen[idx[first]] = True
        taken[cand[first]] = True
        seats -= np.bincount(opt[first], minlength=len(seats))
        room -= np.bincount(org[first], weights=need[first],
                            minlength=len(room)).astype(room.dtype)
        keep = ~taken[cand] & (seats[opt] > 0) & (need <= room[org])
        idx, cand, opt, org, need = idx[keep], cand[keep], opt[keep], org[keep], need[keep]
    return chosen


def _first(keys: np.ndarray) -> np.ndarray:
    """True at the first occurrence of each key (in the given order)."""
    order = np.argsort(keys, kind="stable")
    k = keys[order]
    out = np.zeros(len(keys), dtype=bool)
    out[order[np.r_[True, k[1:] != k[:-1]]]] = True
    return out
