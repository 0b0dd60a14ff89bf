"""Class-quota flow: feasible, never worse than its start, exact within its quotas."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.solver_instances import random_problem
from matcher.solver.flow import solve_flow
from matcher.solver.problem import AssignmentProblem
from matcher.solver.quota_flow import best_pairs, class_quotas, quota_flow
from matcher.solver.refill import drop_excess, greedy_add
from tests.test_solver_lagrangian import tiny_problems


def feasible_start(problem: AssignmentProblem, worst_first: bool = False) -> np.ndarray:
    """A feasible assignment to start from: the flow without budgets, cut back, then greedy;
    or (`worst_first`) a poor one: greedy by lowest weight first."""
    free, seats_left, _, _ = problem.residual()
    if worst_first:
        inverted = int(problem.weight.max(initial=0)) + 1 - problem.weight
        return greedy_add(problem, problem.locked.copy(), free, weight=inverted)
    chosen = drop_excess(problem, solve_flow(problem, free, seats_left) | problem.locked)
    return greedy_add(problem, chosen, free)


def run_quota_flow(problem: AssignmentProblem, start: np.ndarray) -> np.ndarray:
    free, seats_left, budget_left, _ = problem.residual()
    return quota_flow(problem, start & ~problem.locked, free, seats_left,
                      np.maximum(budget_left, 0)) | problem.locked


def within_quotas_optimum(problem: AssignmentProblem, start: np.ndarray) -> int:
    """Best value by enumeration over the assignments that keep `start`'s class quotas."""
    free, seats_left, budget_left, _ = problem.residual()
    classes, quota, people = class_quotas(problem, start & ~problem.locked, seats_left,
                                          np.maximum(budget_left, 0))
    per_cand = [[-1, *np.flatnonzero((problem.cand == c) & free).tolist()]
                for c in range(problem.n_candidates)]
    best = -1
    for combo in itertools.product(*per_cand):
        chosen = np.zeros(problem.n_edges, dtype=bool)
        chosen[[e for e in combo if e >= 0]] = True
        cls = np.searchsorted(classes, problem.edge_need[chosen])
        q = np.zeros_like(quota)
        np.add.at(q, (problem.opt[chosen], cls), 1)
        p = np.zeros_like(people)
        np.add.at(p, (problem.edge_org[chosen], cls), 1)
        if (q <= quota).all() and (p <= people).all():
            best = max(best, problem.objective(chosen | problem.locked))
    return best


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tiny_problems(), st.booleans())
def test_feasible_never_worse_and_exact_within_quotas(problem: AssignmentProblem,
                                                      worst_first: bool) -> None:
    start = feasible_start(problem, worst_first)
    assert problem.violations(start) == []
    got = run_quota_flow(problem, start)
    assert problem.violations(got) == []
    assert problem.objective(got) >= problem.objective(start)
    assert problem.objective(got) == within_quotas_optimum(problem, start)


def test_moves_people_in_chains_a_refill_cannot() -> None:
    # Two options of one organisation, one seat each; candidate 0 sits on option 0 though it
    # likes option 1 almost as much; candidate 1 can only use option 0. Nobody can be added
    # without moving 0 first: the quota flow moves 0 to option 1 and seats 1 on option 0.
    problem = AssignmentProblem(
        cand=np.array([0, 0, 1], dtype=np.int32), opt=np.array([0, 1, 0], dtype=np.int32),
        weight=np.array([10, 9, 8], dtype=np.int64), locked=np.zeros(3, dtype=bool),
        capacity=np.array([1, 1], dtype=np.int64), option_org=np.array([0, 0], dtype=np.int32),
        budget=np.array([2], dtype=np.int64), need=np.array([1, 1], dtype=np.int64))
    start = np.array([True, False, False])
    assert (greedy_add(problem, start, np.ones(3, dtype=bool)) == start).all()
    got = run_quota_flow(problem, start)
    assert got.tolist() == [False, True, True]


def test_large_random_problem_feasible_and_no_worse() -> None:
    problem, _ = random_problem(400, seed=3, per_cand=8, locked_share=0.05)
    start = feasible_start(problem, worst_first=True)
    got = run_quota_flow(problem, start)
    assert problem.violations(got) == []
    assert problem.objective(got) > problem.objective(start)  # a poor start gets better
    assert (run_quota_flow(problem, start) == got).all()  # same input, same answer


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 6), st.integers(1, 50))
def test_best_pairs_matches_a_sort_per_candidate(seed: int, k: int, chunk: int) -> None:
    problem, _ = random_problem(30, seed=seed, per_cand=3)
    got = best_pairs(problem, k, chunk_edges=chunk)
    want = np.zeros(problem.n_edges, dtype=bool)
    for c in range(problem.n_candidates):
        edges = np.flatnonzero(problem.cand == c)
        order = sorted(edges.tolist(), key=lambda e: (-problem.weight[e], e))
        want[order[:k]] = True
    assert (got == want).all()
