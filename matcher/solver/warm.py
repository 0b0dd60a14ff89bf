"""Warm starts: solve a problem starting from a previous solve of a related problem.

A what-if scenario changes a few capacities, budgets or rows of a baseline round. The baseline's
Lagrangian multipliers (the shadow prices of guidance) are then close to the scenario's, and the
baseline's assignment, carried over by id and made feasible, is a good first answer. A
`WarmStart` holds both, already mapped onto the new problem:

- ``multipliers``: int64 per organisation of the new problem (micro-units per guidance unit).
  `map_multipliers` maps a previous solve's ``details.multipliers`` by organisation id; an
  organisation that is new (or had none) gets the median of the known positive multipliers,
  or 0 (``fill="zero"``).
- ``chosen``: a feasible assignment of the new problem (bool per edge), or None. The solver
  starts from it, so its answer is never worse than this assignment.

Correctness never depends on the warm start: the Lagrangian bound is valid for any multipliers
``>= 0`` (negative ones are clipped to 0), and an infeasible or wrongly sized ``chosen`` is
ignored (with a log line). With a warm start the solver runs the shorter search of the policy's
``warm_*`` settings (`warm_policy`): a few iterations with small steps around the given
multipliers, and a shorter polish. Same problem + same warm start -> same answer.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from matcher.policy import SolverPolicy
from matcher.solver.problem import AssignmentProblem
from matcher.solver.result import Method, SolveResult

log = logging.getLogger(__name__)

#: Smallest first step around a warm start, micro-units per guidance unit (the cold start's
#: smallest is 2**14).
MIN_STEP = np.int64(1 << 12)


@dataclass(frozen=True)
class WarmStart:
    """A previous solve's multipliers and assignment, mapped onto a new problem."""

    multipliers: np.ndarray | None = None  # int64[n_organisations] of the new problem
    chosen: np.ndarray | None = None  # bool[n_edges] of the new problem, feasible

    def checked(self, problem: AssignmentProblem) -> WarmStart:
        """This warm start with the parts that do not fit `problem` dropped, multipliers >= 0."""
        lam = self.multipliers
        if lam is not None:
            lam = np.asarray(lam)
            if lam.shape != (problem.n_organisations,):
                log.warning("warm start: %s multipliers for %d organisations; ignored",
                            lam.shape, problem.n_organisations)
                lam = None
            else:
                # Clipped to [0, highest weight]: at the highest weight every pair with a need is
                # priced out already, and a higher price only loosens the bound.
                top = float(problem.weight.max()) if problem.n_edges else 0.0
                lam = np.clip(np.nan_to_num(lam.astype(np.float64), nan=0.0, posinf=top,
                                            neginf=0.0), 0.0, top).astype(np.int64)
        chosen = self.chosen
        if chosen is not None:
            chosen = np.asarray(chosen)
            if chosen.shape != (problem.n_edges,) or chosen.dtype != np.bool_:
                log.warning("warm start: assignment of shape %s for %d pairs; ignored",
                            chosen.shape, problem.n_edges)
                chosen = None
            elif broken := problem.violations(chosen):
                log.warning("warm start: the assignment breaks %d constraints; ignored",
                            len(broken))
                chosen = None
        return WarmStart(lam, chosen)


def map_multipliers(prev_multipliers: Sequence[int] | np.ndarray, prev_org_ids: Sequence[Any],
                    new_org_ids: Sequence[Any],
                    fill: Literal["median", "zero"] = "median") -> np.ndarray:
    """The previous multipliers by organisation id, in the new problem's organisation order.

    `prev_org_ids[g]` is the id of the previous problem's organisation `g` (the order of its
    ``details.multipliers``); organisations only in `new_org_ids` get `fill`: the median of
    the previous positive multipliers (rounded down; 0 if none), or 0.
    """
    prev = np.asarray(prev_multipliers, dtype=np.int64)
    if len(prev) != len(prev_org_ids):
        raise ValueError(f"{len(prev)} multipliers for {len(prev_org_ids)} organisations")
    prev = np.maximum(prev, 0)
    positive = prev[prev > 0]
    default = int(np.median(positive)) if fill == "median" and len(positive) else 0
    pos = {k: i for i, k in enumerate(prev_org_ids)}
    idx = np.array([pos.get(k, -1) for k in new_org_ids], dtype=np.int64)
    out = np.full(len(idx), default, dtype=np.int64)
    out[idx >= 0] = prev[idx[idx >= 0]]
    return out


def warm_policy(policy: SolverPolicy) -> SolverPolicy:
    """The solver policy for a warm-started solve: the short search of [solver.warm]."""
    return policy.updated(
        lagrangian={"iterations": policy.warm.iterations,
                    "repair_every": max(1, min(policy.lagrangian.repair_every,
                                               policy.warm.iterations))},
        polish={"deterministic_time": policy.warm.polish_deterministic_time,
                # The polish of the organisations with guidance left over only where a warm
                # solve polishes at all.
                "slack_deterministic_time": (policy.polish.slack_deterministic_time
                                             if policy.warm.polish_deterministic_time > 0
                                             else 0.0)},
    )


def warm_rate(lam: np.ndarray, policy: SolverPolicy) -> np.ndarray:
    """First per-organisation step sizes around warm multipliers: a small share of each.

    ``lam >> warm_step_shift`` (1/256 of the multiplier by default, about 0.4%), at least
    `MIN_STEP` micro-units so an organisation priced at 0 can still move (the rprop rule then
    grows a step by 5/4 per iteration while the budget stays over).
    """
    return np.maximum(lam >> policy.warm.step_shift, MIN_STEP)


def warm_start_from(prev: SolveResult, prev_org_ids: Sequence[Any], new_org_ids: Sequence[Any],
                    chosen: np.ndarray | None = None,
                    fill: Literal["median", "zero"] = "median") -> WarmStart:
    """A warm start for a new problem from a previous solve (`prev`) of a related one.

    Multipliers: `prev.details.multipliers` mapped by organisation id (`map_multipliers`);
    all 0 when the previous solve needed none (its budgets did not bind: 0 is then the best
    price), none when it has no multipliers otherwise (an infeasible or exact-only solve).
    `chosen`: a feasible assignment of the new problem (such as the previous one carried over
    by id, `matcher.whatif.engine.carry_over`).
    """
    lam = prev.details.multipliers
    if lam is None and prev.method is Method.MIN_COST_FLOW:
        lam = [0] * len(prev_org_ids)
    mapped = None
    if lam is not None and len(lam) == len(prev_org_ids):
        mapped = map_multipliers(lam, prev_org_ids, new_org_ids, fill)
    return WarmStart(mapped, chosen)
