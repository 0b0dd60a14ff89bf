"""Optional fairness in the optimisation (policy ``[fairness]``, off by default), exact path only.

- ``min_rate``: for each policy target group (the candidates.csv column ``target_group``, e.g.
  statushouder, banenafspraak: ordinary data the coalition serves on purpose, *not* protected
  attributes), at least ``ceil(rate x group size)`` of its people are placed;
- ``max_min``: lift the worst-off. Keep as many placements as the optimum (under ``min_rate`` if
  set), make the lowest score among placed people as high as possible, then maximise the usual
  objective with that floor.

Solved with CP-SAT (one worker, fixed seed, deterministic time) over the same arrays as the plain
solver. :func:`apply_fairness` returns a new result whose ``details.fairness`` states the
price: the objective lost against the unconstrained optimum.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from typing import Any

import numpy as np
import pandas as pd
from ortools.sat.python import cp_model

from matcher.errors import InputError, Problem
from matcher.policy import Policy
from matcher.solver.cpsat import _groups, deterministic_solver
from matcher.solver.flow import solve_flow
from matcher.solver.problem import AssignmentProblem
from matcher.solver.result import SolveResult, Status

log = logging.getLogger(__name__)

SCALE = 1_000_000
TARGET_COLUMN = "target_group"


def target_groups(candidates: pd.DataFrame, policy: Policy) -> dict[str, np.ndarray]:
    """Membership (bool per candidate) of each group named in ``fairness.min_rate``."""
    wanted = policy.fairness.min_rate
    if not wanted:
        return {}
    if TARGET_COLUMN not in candidates.columns:
        raise InputError([Problem("candidates.csv", 1, TARGET_COLUMN,
                                  "policy fairness.min_rate needs this column (policy target "
                                  "groups, e.g. statushouder; several separated by ';')")])
    tags = candidates[TARGET_COLUMN].astype(str).str.lower().str.split(";")
    long = tags.explode().str.strip()
    out = {}
    for group in wanted:
        members = long[long == group.lower()].index.unique()
        mask = np.zeros(len(candidates), dtype=bool)
        mask[members.to_numpy()] = True
        if not mask.any():
            raise InputError([Problem("policy", None, f"fairness.min_rate.{group}",
                                      f"no candidate has target_group {group!r}")])
        out[group] = mask
    return out


class _Model:
    """The assignment model of :mod:`matcher.solver.cpsat`, open for extra constraints."""

    def __init__(self, problem: AssignmentProblem) -> None:
        free, seats_left, budget_left, _ = problem.residual()
        self.problem, self.idx = problem, np.flatnonzero(free)
        m = self.model = cp_model.CpModel()
        self.x = [m.new_bool_var(f"x{e}") for e in self.idx.tolist()]
        cand, opt = problem.cand[self.idx], problem.opt[self.idx]
        for group in _groups(cand, problem.n_candidates):
            if len(group) > 1:
                m.add_at_most_one(self.x[i] for i in group.tolist())
        for o, group in enumerate(_groups(opt, problem.n_options)):
            if len(group) > seats_left[o]:
                m.add(sum(self.x[i] for i in group.tolist()) <= int(seats_left[o]))
        need = problem.edge_need[self.idx]
        for g, group in enumerate(_groups(problem.edge_org[self.idx], problem.n_organisations)):
            if need[group].sum() > budget_left[g]:
                m.add(sum(int(need[i]) * self.x[i] for i in group.tolist()) <= int(budget_left[g]))

    def placements(self) -> Any:
        return sum(self.x) + int(self.problem.locked.sum())

    def min_placed(self, members: np.ndarray, at_least: int) -> None:
        sel = np.flatnonzero(members[self.problem.cand[self.idx]])
        locked = int(members[self.problem.cand[self.problem.locked]].sum())
        self.model.add(sum(self.x[i] for i in sel.tolist()) + locked >= at_least)

    def solve(self, objective: Any, hint: np.ndarray | None,
              policy: Policy) -> tuple[np.ndarray | None, bool, cp_model.CpSolver]:
        if objective is not None:
            self.model.maximize(objective)
        if hint is not None:
            for i, e in enumerate(self.idx.tolist()):
                self.model.add_hint(self.x[i], bool(hint[e]))
        solver = deterministic_solver(policy.solver.max_deterministic_time)
        status = solver.solve(self.model)
        self.status = solver.status_name(status)
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            return None, False, solver
        chosen = self.problem.locked.copy()
        values = np.fromiter((solver.boolean_value(v) for v in self.x), bool, len(self.x))
        chosen[self.idx[values]] = True
        return chosen, status == cp_model.OPTIMAL, solver


def _weight_sum(model: _Model) -> Any:
    w = model.problem.weight[model.idx]
    return sum(int(w[i]) * model.x[i] for i in range(len(model.idx)))


def _build(problem: AssignmentProblem, groups: dict[str, np.ndarray], policy: Policy) -> _Model:
    model = _Model(problem)
    for g, members in groups.items():
        model.min_placed(members, math.ceil(policy.fairness.min_rate[g] * members.sum() - 1e-9))
    return model


def _summary(problem: AssignmentProblem, chosen: np.ndarray, bonus: int,
             groups: dict[str, np.ndarray]) -> dict[str, Any]:
    placed = np.zeros(problem.n_candidates, dtype=bool)
    placed[problem.cand[chosen]] = True
    scores = problem.weight[chosen] - bonus
    return {"objective": problem.objective(chosen) / SCALE, "placed": int(placed.sum()),
            "lowest_score": round(float(scores.min()) / SCALE, 6) if len(scores) else None,
            "group_rates": {g: round(float(placed[m].mean()), 6) for g, m in groups.items()}}


def apply_fairness(problem: AssignmentProblem, policy: Policy, base: SolveResult,
                   groups: dict[str, np.ndarray]) -> SolveResult:
    """The round's assignment under the policy's fairness options, with their price."""
    fair = policy.fairness
    key = "fairness.min_rate" if fair.min_rate else "fairness.max_min"
    if problem.n_edges > policy.solver.exact_max_pairs:
        raise InputError([Problem("policy", None, key,
                                  f"fairness options need the exact solver; this round has "
                                  f"{problem.n_edges} pairs, more than solver.exact_max_pairs = "
                                  f"{policy.solver.exact_max_pairs}")])
    bonus = round(policy.objective.match_bonus * SCALE)
    chosen, proven = base.chosen, base.status is Status.OPTIMAL
    if fair.min_rate:
        model = _build(problem, groups, policy)
        got, proven, _ = model.solve(_weight_sum(model), base.chosen, policy)
        if got is None:
            reach = _reach(problem, groups)
            raise InputError([Problem(
                "policy", None, f"fairness.min_rate.{g}",
                f"cannot be met with the seats, guidance and other minimum rates: {reach[g]} of "
                f"{int(m.sum())} people in {g} have an eligible option, "
                f"{math.ceil(fair.min_rate[g] * m.sum() - 1e-9)} must be placed")
                for g, m in groups.items()])
        chosen = got
    floor = None
    if fair.max_min:
        n_placed = int(np.unique(problem.cand[chosen]).size)
        floor, floor_proven = _max_floor(problem, groups, policy, n_placed, chosen, bonus)
        score = problem.weight[np.flatnonzero(problem.residual()[0])] - bonus
        model = _build(problem, groups, policy)
        model.model.add(model.placements() >= n_placed)
        below = np.flatnonzero(score < floor)
        for i in below.tolist():
            model.model.add(model.x[i] == 0)
        got, ok2, _ = model.solve(_weight_sum(model), chosen, policy)
        assert got is not None  # the floor was reached by a feasible assignment
        chosen, proven = got, ok2 and floor_proven and proven
    value = problem.objective(chosen)
    price = {
        "min_rate": dict(fair.min_rate), "max_min": fair.max_min,
        "unconstrained": _summary(problem, base.chosen, bonus, groups),
        "constrained": _summary(problem, chosen, bonus, groups),
        "price_micro": base.objective - value,
        "price_relative": round((base.objective - value) / base.objective, 9) if base.objective else 0.0,
        "unconstrained_proven_optimal": base.status is Status.OPTIMAL,
        "lowest_score_floor": None if floor is None else floor / SCALE,
    }
    details = dataclasses.replace(base.details, fairness=price, stats=dict(base.details.stats))
    status = Status.OPTIMAL if proven else Status.FEASIBLE
    return SolveResult(status, base.method.with_fairness(), chosen, value, value if proven
                       else base.bound, base.guidance_binding, details)


def _placements_at_most(problem: AssignmentProblem, allowed: np.ndarray) -> int:
    """Most people that can be placed on the allowed edges, ignoring guidance (a min-cost flow)."""
    free, seats_left, _, _ = problem.residual()
    unit = problem.weight - 1  # every edge worth 1: the flow maximises the number placed
    chosen = solve_flow(problem, free & allowed, seats_left, extra_cost=unit)
    return int(chosen.sum() + problem.locked.sum())


def _max_floor(problem: AssignmentProblem, groups: dict[str, np.ndarray], policy: Policy,
               n_placed: int, chosen: np.ndarray, bonus: int) -> tuple[int, bool]:
    """The highest lowest-score among placed people that keeps `n_placed` placements.

    Binary search over the distinct scores: a min-cost flow (no guidance) rules out floors
    that cannot place enough people; CP-SAT decides the rest exactly, with every constraint.
    """
    score = problem.weight - bonus
    levels = np.unique(score[~problem.locked])
    if problem.locked.any():
        levels = levels[levels <= score[problem.locked].min()]
    floor = int(score[chosen].min()) if chosen.any() else 0
    lo = int(np.searchsorted(levels, floor))  # feasible: the current answer
    hi = len(levels) - 1
    flow_lo = lo  # the flow bound is monotone: find the highest level it allows
    while flow_lo < hi:
        mid = (flow_lo + hi + 1) // 2
        if _placements_at_most(problem, score >= levels[mid]) >= n_placed:
            flow_lo = mid
        else:
            hi = mid - 1
    hint, proven = chosen, True
    while lo < hi:
        mid = (lo + hi + 1) // 2
        model = _build(problem, groups, policy)
        model.model.add(model.placements() >= n_placed)
        for i in np.flatnonzero(score[model.idx] < levels[mid]).tolist():
            model.model.add(model.x[i] == 0)
        got, _, _ = model.solve(None, hint, policy)
        if got is None:
            # out of deterministic time counts as "no": the floor stays valid, not proven best
            proven &= model.status == "INFEASIBLE"
            hi = mid - 1
        else:
            lo, hint = mid, got
    return (int(levels[lo]) if len(levels) else floor), proven


def _reach(problem: AssignmentProblem, groups: dict[str, np.ndarray]) -> dict[str, int]:
    """Per group: people with at least one usable edge (an upper bound on who can be placed)."""
    has = np.zeros(problem.n_candidates, dtype=bool)
    has[problem.cand] = True
    return {g: int((has & m).sum()) for g, m in groups.items()}
