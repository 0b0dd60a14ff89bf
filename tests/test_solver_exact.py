"""The exact method (LP prices, a core of pairs, HiGHS): optimal against brute force, a valid
bound from any prices, the same answer on every run."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_solver_lagrangian import brute_force, check_result, tiny_problems

from benchmarks.solver_instances import random_problem
from matcher.policy import default_policy
from matcher.solver import solve
from matcher.solver.exact import ExactLimits, rebuild_duals, solve_exact
from matcher.solver.problem import AssignmentProblem
from matcher.solver.result import Status


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tiny_problems())
def test_exact_is_the_brute_force_optimum(problem: AssignmentProblem) -> None:
    optimum = brute_force(problem)
    result = solve_exact(problem)
    assert result is not None
    check_result(problem, result, optimum)
    assert result.status is Status.OPTIMAL and result.objective == optimum
    again = solve_exact(problem)
    assert again is not None and np.array_equal(result.chosen, again.chosen)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tiny_problems(), st.integers(0, 2**31 - 1))
def test_any_prices_give_a_valid_bound_and_reduced_costs(problem: AssignmentProblem,
                                                         seed: int) -> None:
    rng = np.random.default_rng(seed)
    free, _, _, _ = problem.residual()
    idx = np.flatnonzero(free)
    prices = rebuild_duals(problem, idx, rng.uniform(0, 10, problem.n_organisations),
                           rng.uniform(0, 20, problem.n_options))
    assert (prices.reduced >= -1e-9).all()
    assert brute_force(problem) <= prices.bound + 1e-6


def test_a_mid_size_round_is_proven_optimal_through_solve() -> None:
    problem, _ = random_problem(400, seed=3, per_cand=20, near=60)
    assert problem.guidance_can_bind().any()
    result = solve(problem, default_policy())
    assert result.method == "highs_core"
    assert result.status is Status.OPTIMAL and result.gap == 0
    assert problem.violations(result.chosen) == []
    again = solve(problem, default_policy())
    assert np.array_equal(result.chosen, again.chosen)


def test_a_node_limit_still_gives_a_valid_bound() -> None:
    problem, _ = random_problem(150, seed=5, per_cand=15, near=40)
    full = solve_exact(problem)
    limited = solve_exact(problem, ExactLimits(mip_nodes=1))
    assert full is not None and limited is not None
    assert full.status is Status.OPTIMAL
    assert limited.objective <= full.objective <= limited.bound
    assert problem.violations(limited.chosen) == []
