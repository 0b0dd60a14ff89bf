"""A related round's answer as a start for this one (what-if scenarios against their baseline):
the previous assignment carried over by id and made feasible, the solver's warm start, and
whether nothing the solver sees changed. Used by `matcher.round.solve_round`."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from matcher.model import Instance
from matcher.policy import Policy
from matcher.solver.problem import AssignmentProblem
from matcher.solver.repair import drop_over_budget, greedy_fill
from matcher.solver.warm import WarmStart, warm_start_from

if TYPE_CHECKING:
    from matcher.round import Round


def carry_over(prev: Round, inst: Instance, problem: AssignmentProblem) -> np.ndarray | None:
    """The previous round's assignment, carried by id into `problem` and made feasible.

    Locks first; previous pairs that still exist are kept where seats and guidance allow
    (lowest weight dropped first), then free seats are filled greedily. None if it cannot be
    made feasible. After a capacity or budget increase the previous assignment stays feasible,
    so this start is never worse than the previous round.
    """
    pe = prev.edges
    ch = np.flatnonzero(prev.chosen)
    c = pd.Index(inst.candidates["candidate_id"]).get_indexer(
        prev.instance.candidates["candidate_id"].to_numpy()[pe.cand[ch]])
    o = pd.Index(inst.options["option_id"]).get_indexer(
        prev.instance.options["option_id"].to_numpy()[pe.opt[ch]])
    ok = (c >= 0) & (o >= 0)
    key = problem.cand.astype(np.int64) * problem.n_options + problem.opt
    want = c[ok].astype(np.int64) * problem.n_options + o[ok]
    pos = np.searchsorted(key, want)
    pos = pos[(pos < len(key)) & (key[np.minimum(pos, max(len(key) - 1, 0))] == want)]
    start = problem.locked.copy()
    locked_cand = np.zeros(problem.n_candidates, dtype=bool)
    locked_cand[problem.cand[problem.locked]] = True
    pos = pos[~locked_cand[problem.cand[pos]]]
    start[pos] = True
    over = np.flatnonzero(problem.seats_used(start) > problem.capacity)
    for opt in over.tolist():  # few options at most; lowest weight dropped first, ties by index
        idx = np.flatnonzero(start & (problem.opt == opt) & ~problem.locked)
        idx = idx[np.lexsort((idx, problem.weight[idx]))]
        excess = int(problem.seats_used(start)[opt] - problem.capacity[opt])
        start[idx[:excess]] = False
    start = greedy_fill(problem, drop_over_budget(problem, start))
    return None if problem.violations(start) else start


def warm_start(prev: Round, inst: Instance, problem: AssignmentProblem,
               start: np.ndarray | None) -> WarmStart:
    """The solver's warm start from the round `prev` (the baseline): its Lagrangian multipliers
    mapped onto `inst`'s organisations by id (new organisations get the median), and `start`
    (its assignment carried over, `carry_over`)."""
    return warm_start_from(prev.result, prev.instance.organisations["organisation_id"].tolist(),
                           inst.organisations["organisation_id"].tolist(), start)


def same_problem(prev: Round, inst: Instance, policy: Policy, problem: AssignmentProblem,
                 ) -> bool:
    """Whether `problem` (of `inst` under `policy`) is exactly the round `prev`'s: same policy,
    same candidates, options and organisations by id in the same order, same solver arrays."""
    a, b = prev.problem, problem
    if policy != prev.policy or a.n_edges != b.n_edges:
        return False
    for table, col in (("candidates", "candidate_id"), ("options", "option_id"),
                       ("organisations", "organisation_id")):
        x, y = getattr(prev.instance, table)[col], getattr(inst, table)[col]
        if len(x) != len(y) or not np.array_equal(x.to_numpy(), y.to_numpy()):
            return False
    return all(np.array_equal(getattr(a, f.name), getattr(b, f.name))
               for f in dataclasses.fields(AssignmentProblem))
