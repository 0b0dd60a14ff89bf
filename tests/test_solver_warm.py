"""Warm starts (matcher.solver.warm): valid bounds and feasible answers whatever the warm start,
never worse than the assignment given, deterministic, and mapping multipliers by id."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.solver_instances import random_problem
from matcher.solver import solve
from matcher.solver.lagrangian import lagrangian_solve
from matcher.solver.problem import AssignmentProblem
from matcher.solver.warm import WarmStart, map_multipliers, warm_start_from
from tests.test_solver_lagrangian import (
    brute_force,
    check_result,
    lagrangian_policy,
    tiny_problems,
)

GARBAGE = st.one_of(
    st.integers(0, 40),  # about the size of the weights
    st.integers(-50, 10**6),  # negative ones are clipped to 0
    st.sampled_from([0, 10**17, -(10**17)]),  # far out of scale
)


def _same(a, b) -> None:  # type: ignore[no-untyped-def]
    assert np.array_equal(a.chosen, b.chosen)
    assert (a.objective, a.bound, a.status) == (b.objective, b.bound, b.status)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tiny_problems(), st.data())
def test_any_warm_start_keeps_the_bound_valid(problem: AssignmentProblem, data: st.DataObject,
                                              ) -> None:
    """Garbage multipliers, a feasible or an infeasible assignment: bound and answer stay right."""
    optimum = brute_force(problem)
    lam = np.array(data.draw(st.lists(GARBAGE, min_size=problem.n_organisations,
                                      max_size=problem.n_organisations)), dtype=np.int64)
    # A previous answer (feasible), or random pairs (usually infeasible: must be ignored).
    if data.draw(st.booleans()):
        chosen = solve(problem, lagrangian_policy()).chosen
    else:
        chosen = np.array(data.draw(st.lists(st.booleans(), min_size=problem.n_edges,
                                             max_size=problem.n_edges)), dtype=bool)
    warm = WarmStart(lam, chosen)
    policy = lagrangian_policy(warm_iterations=data.draw(st.sampled_from([0, 1, 3])))
    result = solve(problem, policy, warm)
    check_result(problem, result, optimum)
    if not problem.violations(chosen):
        assert result.objective >= problem.objective(chosen)
    _same(result, solve(problem, policy, warm))  # same input and warm start, same answer
    if not problem.violations(problem.locked):
        direct = lagrangian_solve(problem, policy.solver, None, warm)
        check_result(problem, direct, optimum)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tiny_problems(), st.sampled_from(["polyak", "rprop"]))
def test_warm_start_from_the_same_problem(problem: AssignmentProblem, step: str) -> None:
    optimum = brute_force(problem)
    policy = lagrangian_policy(lagrangian_step=step)
    cold = solve(problem, policy)
    warm = warm_start_from(cold, list(range(problem.n_organisations)),
                           list(range(problem.n_organisations)), cold.chosen)
    again = solve(problem, policy, warm)
    check_result(problem, again, optimum)
    assert again.objective >= cold.objective


def test_wrongly_sized_warm_start_is_ignored() -> None:
    problem, _ = random_problem(200, seed=2, per_cand=6, near=10)
    policy = lagrangian_policy()
    warm = WarmStart(np.ones(problem.n_organisations + 3, dtype=np.int64),
                     np.ones(problem.n_edges - 1, dtype=bool))
    result = solve(problem, policy, warm)
    assert problem.violations(result.chosen) == []
    assert result.objective <= result.bound


@pytest.mark.parametrize("seed", [0, 1])
def test_scenario_warm_start_short_and_valid(seed: int) -> None:
    """More guidance at one organisation, warm-started from the baseline's solve: fewer
    iterations, answer never below the baseline, bound above CP-SAT's best answer."""
    from matcher.solver.cpsat import solve_cpsat

    base, _ = random_problem(300, seed=seed, per_cand=8, near=15, locked_share=0.05)
    policy = lagrangian_policy(lagrangian_iterations=40)
    cold = solve(base, policy)
    assert cold.method == "lagrangian"
    org = int(np.argmax(np.bincount(base.option_org, minlength=base.n_organisations)))
    budget = base.budget.copy()
    budget[org] += 3
    problem = AssignmentProblem(base.cand, base.opt, base.weight, base.locked, base.capacity,
                                base.option_org, budget, base.need)
    ids = [f"G{g}" for g in range(base.n_organisations)]
    warm = warm_start_from(cold, ids, ids, cold.chosen)  # still feasible: budgets only grew
    result = solve(problem, policy, warm)
    assert problem.violations(result.chosen) == []
    assert result.objective >= cold.objective
    assert result.details.stats["warm_start"] == {"multipliers": True, "assignment": True}
    assert result.details.iterations <= policy.solver.warm.iterations
    chosen, cp_bound, _, _ = solve_cpsat(problem, result.chosen, 5.0)
    assert problem.objective(chosen) <= result.bound
    assert result.objective <= cp_bound
    assert result.gap < 0.03
    _same(result, solve(problem, policy, warm))


def test_map_multipliers_by_id() -> None:
    prev = [5, 0, 9, 7]
    got = map_multipliers(prev, ["a", "b", "c", "d"], ["d", "x", "a", "b"])
    assert got.tolist() == [7, 7, 5, 0]  # x is new: the median of 5, 9, 7
    got = map_multipliers(prev, ["a", "b", "c", "d"], ["d", "x"], fill="zero")
    assert got.tolist() == [7, 0]
    assert map_multipliers([-3, 0], ["a", "b"], ["a", "b", "c"]).tolist() == [0, 0, 0]
    with pytest.raises(ValueError):
        map_multipliers([1, 2], ["a"], ["a"])
