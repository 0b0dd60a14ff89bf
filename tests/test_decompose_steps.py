"""The steps of a round solved by region, each alone (`matcher.solver.decompose.steps`): every
step keeps the answer feasible and never worse, every bound it reports is valid, and the steps
in the documented order are exactly `solve_decomposed`."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.solver_instances import random_problem
from matcher.policy import Policy
from matcher.solver.decompose import organisation_regions, solve_decomposed
from matcher.solver.decompose.steps import (
    Round,
    State,
    border_pass,
    coordination,
    first_pass,
    prepare,
    quota_step,
    take_whole_answer,
    whole_iterations,
)
from matcher.solver.problem import AssignmentProblem
from tests.test_decompose import SubmittingMap, decomposed_policy
from tests.test_solver_lagrangian import brute_force, tiny_problems


def _started(problem: AssignmentProblem, policy: Policy, labels: np.ndarray,
             mapper: object = None) -> tuple[Round, State]:
    r = prepare(problem, policy, labels, mapper)  # type: ignore[arg-type]
    st = first_pass(r)
    assert isinstance(st, State)
    return r, st


def _feasible(problem: AssignmentProblem, st: State) -> None:
    assert problem.violations(st.chosen) == []
    assert st.chosen[problem.locked].all()
    assert st.value == problem.objective(st.chosen)


@pytest.fixture(scope="module")
def regions() -> tuple[AssignmentProblem, np.ndarray]:
    problem, region = random_problem(400, seed=5, per_cand=8, near=30, regions=3,
                                     locked_share=0.03)
    return problem, organisation_regions(problem, region)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tiny_problems(), st.lists(st.integers(0, 2), min_size=3, max_size=3),
       st.integers(0, 3))
def test_first_pass_and_coordination_alone(problem: AssignmentProblem, labels: list[int],
                                           sweeps: int) -> None:
    """The first pass gives a feasible answer and no bound yet; a coordination of any number of
    sweeps then gives a bound at least the optimum, and the multipliers reported with it."""
    optimum = brute_force(problem)
    org_label = np.array(labels[: problem.n_organisations], dtype=np.int64)
    r, st = _started(problem, decomposed_policy(), org_label)
    _feasible(problem, st)
    assert st.bound is None and st.prices is None
    assert st.value <= optimum
    coordination(r, st, sweeps)
    assert st.bound is not None and st.multipliers is not None
    assert st.value <= optimum <= st.bound
    assert len(st.coordination) == 1 and len(st.coordination[0]["bounds"]) == sweeps + 1
    assert st.bound == min(st.coordination[0]["bounds"])


def test_state_keeps_the_best_answer_and_the_lowest_bound() -> None:
    empty = np.zeros(0, dtype=np.int64)
    st = State(np.zeros(2, dtype=bool), 5, False, empty, empty, {})
    st.keep_if_better(np.ones(2, dtype=bool), 4)
    assert st.value == 5 and not st.chosen.any()
    st.keep_if_better(np.ones(2, dtype=bool), 6)
    assert st.value == 6 and st.chosen.all()
    st.lower_bound_to(10, np.array([1]))
    st.lower_bound_to(12, np.array([2]))
    assert st.bound == 10 and st.multipliers is not None and st.multipliers.tolist() == [1]


def test_border_pass_alone_never_loses_and_coordinates_again(
        regions: tuple[AssignmentProblem, np.ndarray]) -> None:
    problem, labels = regions
    r, st = _started(problem, decomposed_policy(decompose_rounds=2), labels)
    coordination(r, st, 2)
    before, bound = st.value, st.bound
    assert border_pass(r, st, last=True) is None
    _feasible(problem, st)
    assert st.value >= before and st.value >= st.passes[0]["value"]
    assert len(st.passes) == 1 and len(st.coordination) == 2
    assert st.bound is not None and bound is not None and st.bound <= bound
    assert st.early is None  # the default map cannot submit


def test_whole_iterations_alone_lower_a_valid_bound_and_their_answer_is_feasible(
        regions: tuple[AssignmentProblem, np.ndarray]) -> None:
    problem, labels = regions
    r, st = _started(problem, decomposed_policy(decompose_auction_iterations=4), labels)
    coordination(r, st, 1)
    bound = st.bound
    whole_iterations(r, st)
    assert st.bound is not None and bound is not None and st.bound <= bound
    assert st.bound >= st.value
    assert st.whole_answer is not None and problem.violations(st.whole_answer) == []
    value = st.value
    take_whole_answer(r, st)
    assert st.whole_answer is None and st.value >= value
    _feasible(problem, st)


@pytest.mark.parametrize("beside", [False, True])
def test_quota_step_alone_never_loses(regions: tuple[AssignmentProblem, np.ndarray],
                                      beside: bool) -> None:
    """The class-quota flow, in this process or submitted to the mapper after the first pass,
    keeps the answer feasible, never worse, and the same either way."""
    problem, labels = regions
    policy = decomposed_policy(decompose_rounds=1, decompose_auction_iterations=0,
                               decompose_quota_core=3)
    mapper = SubmittingMap() if beside else None
    r, st = _started(problem, policy, labels, mapper)
    assert r.quota_beside == beside
    if beside:
        from matcher.solver.decompose.steps import submit_quota

        st.early = submit_quota(r, st.chosen)
    coordination(r, st, 1)
    before = st.value
    quota_step(r, st)
    _feasible(problem, st)
    assert st.value >= before
    assert st.stats["quota_flow"]["beside_coordination"] == beside
    other = solve_decomposed(problem, policy, labels, mapper=None if beside else SubmittingMap())
    assert other.objective == st.value


def test_the_steps_in_order_are_solve_decomposed(
        regions: tuple[AssignmentProblem, np.ndarray]) -> None:
    problem, labels = regions
    policy = decomposed_policy(decompose_rounds=2, decompose_auction_iterations=2,
                               decompose_quota_core=3)
    whole = solve_decomposed(problem, policy, labels)
    r, st = _started(problem, policy, labels)
    coordination(r, st, r.settings.sweeps)
    whole_iterations(r, st)
    take_whole_answer(r, st)
    assert border_pass(r, st, last=True) is None
    quota_step(r, st)
    take_whole_answer(r, st)
    assert np.array_equal(whole.chosen, st.chosen)
    assert (whole.objective, whole.bound) == (st.value, st.bound)
    assert st.multipliers is not None and whole.details.multipliers == st.multipliers.tolist()
