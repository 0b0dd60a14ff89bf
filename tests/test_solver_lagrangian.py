"""Lagrangian method and decomposition: feasibility, valid bounds, determinism, exactness."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from benchmarks.solver_instances import random_problem
from matcher.policy import Policy, policy_from_flat
from matcher.solver import solve
from matcher.solver.decompose import component_labels, solve_decomposed, split
from matcher.solver.flow import solve_flow
from matcher.solver.lagrangian import lagrangian_solve
from matcher.solver.problem import AssignmentProblem
from matcher.solver.refill import drop_excess, greedy_add
from matcher.solver.result import Status


def lagrangian_policy(**solver: object) -> Policy:
    """Force the Lagrangian path on small problems (no exact CP-SAT)."""
    base: dict[str, object] = {"exact_max_pairs": 0, "prove_max_pairs": 0,
                               "lagrangian_iterations": 15, "lagrangian_repair_every": 2,
                               "polish_deterministic_time": 0.3}
    base.update(solver)
    return policy_from_flat({"solver": base})


@st.composite
def tiny_problems(draw: st.DrawFn, max_c: int = 6) -> AssignmentProblem:
    n_c = draw(st.integers(1, max_c))
    n_o = draw(st.integers(1, 4))
    n_g = draw(st.integers(1, 3))
    pairs = draw(st.sets(st.tuples(st.integers(0, n_c - 1), st.integers(0, n_o - 1)),
                         min_size=1, max_size=min(14, n_c * n_o)))
    pairs_l = sorted(pairs)
    cand = np.array([p[0] for p in pairs_l], dtype=np.int32)
    opt = np.array([p[1] for p in pairs_l], dtype=np.int32)
    weight = np.array(draw(st.lists(st.integers(1, 30), min_size=len(cand), max_size=len(cand))),
                      dtype=np.int64)
    capacity = np.array(draw(st.lists(st.integers(0, 3), min_size=n_o, max_size=n_o)), dtype=np.int64)
    option_org = np.array(draw(st.lists(st.integers(0, n_g - 1), min_size=n_o, max_size=n_o)),
                          dtype=np.int32)
    budget = np.array(draw(st.lists(st.integers(0, 6), min_size=n_g, max_size=n_g)), dtype=np.int64)
    need = np.array(draw(st.lists(st.integers(0, 3), min_size=n_c, max_size=n_c)), dtype=np.int64)
    # Locks that fit: a random subset kept greedily within seats and budgets.
    locked = np.zeros(len(cand), dtype=bool)
    wanted = draw(st.lists(st.booleans(), min_size=len(cand), max_size=len(cand)))
    seats, room, taken = capacity.copy(), budget.copy(), set()
    for e in range(len(cand)):
        c, o = int(cand[e]), int(opt[e])
        if wanted[e] and draw(st.integers(0, 3)) == 0 and c not in taken and seats[o] > 0 \
                and need[c] <= room[option_org[o]]:
            locked[e] = True
            taken.add(c)
            seats[o] -= 1
            room[option_org[o]] -= need[c]
    return AssignmentProblem(cand, opt, weight, locked, capacity, option_org, budget, need)


def brute_force(problem: AssignmentProblem) -> int:
    """The optimum by enumeration: every candidate takes nothing or one of its edges."""
    per_cand = [[-1, *np.flatnonzero(problem.cand == c).tolist()]
                for c in range(problem.n_candidates)]
    best = -1
    for combo in itertools.product(*per_cand):
        chosen = np.zeros(problem.n_edges, dtype=bool)
        chosen[[e for e in combo if e >= 0]] = True
        if not problem.violations(chosen):
            best = max(best, problem.objective(chosen))
    return best


def check_result(problem: AssignmentProblem, result, optimum: int) -> None:
    assert result.status in (Status.OPTIMAL, Status.FEASIBLE)
    assert problem.violations(result.chosen) == []
    assert result.chosen[problem.locked].all()
    assert result.objective == problem.objective(result.chosen)
    assert result.objective <= optimum <= result.bound
    expected_gap = (result.bound - result.objective) / result.bound if result.bound > 0 else 0.0
    assert result.gap == pytest.approx(expected_gap)
    if result.status is Status.OPTIMAL:
        assert result.objective == result.bound == optimum


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tiny_problems())
def test_lagrangian_feasible_and_bound_valid_on_tiny(problem: AssignmentProblem) -> None:
    optimum = brute_force(problem)
    result = solve(problem, lagrangian_policy())
    check_result(problem, result, optimum)
    # Small problems are polished exactly over every pair: the optimum is found.
    assert result.objective == optimum
    again = solve(problem, lagrangian_policy())
    assert np.array_equal(result.chosen, again.chosen)
    assert result.bound == again.bound
    # Small enough for the exact model: Lagrangian first, then CP-SAT proves the optimum.
    exact = solve(problem, lagrangian_policy(exact_max_pairs=10**6, target_gap=0.0))
    check_result(problem, exact, optimum)
    assert exact.objective == optimum
    # By auction (as a large round): the Lagrangian before the flow without budgets, which is
    # solved only when the Lagrangian cannot show that its optimum breaks a budget.
    by_auction = solve(problem, lagrangian_policy(lagrangian_auction_min_pairs=1))
    check_result(problem, by_auction, optimum)
    assert by_auction.objective == optimum
    free, seats, _, _ = problem.residual()
    flow = solve_flow(problem, free, seats) | problem.locked
    flow_keeps_budgets = not (problem.guidance_used(flow) > problem.budget).any()
    if str(by_auction.details.stats.get("relaxation", "")).startswith("not solved"):
        # The claim that let the flow go unsolved: an assignment keeping the seats is worth more
        # than the bound (so the flow's optimum is worth more than any answer within budgets).
        assert by_auction.details.relaxation_lower > by_auction.bound
        assert by_auction.details.relaxation_lower <= problem.objective(flow)
        assert not flow_keeps_budgets
    elif flow_keeps_budgets:
        assert by_auction.method == "min_cost_flow"
        assert by_auction.status is Status.OPTIMAL
    else:  # the flow was solved and breaks a budget: its value still caps the bound
        assert by_auction.details.stats["relaxation_bound"] == problem.objective(flow)
        assert by_auction.bound <= problem.objective(flow)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tiny_problems(), st.sampled_from(["polyak", "rprop"]), st.sampled_from([0, 1]),
       st.sampled_from([1, 2]), st.sampled_from([16, 12, 3, 1]), st.sampled_from([0, 1, 2]),
       st.sampled_from([0, 10, 2]))
def test_lagrangian_direct_both_step_rules(problem: AssignmentProblem, step: str,
                                           auction_min: int, threads: int, shift: int,
                                           quota_core: int, start_shift: int) -> None:
    """Called directly (even when the budgets do not bind), with either step rule and either
    subproblem (min-cost flows on a core, or the auction over all pairs, one bidder at a time
    or in Jacobi rounds, stopping the search's and the start search's auctions at the finest or
    a coarser eps), and the class-quota flow over all pairs or a core."""
    optimum = brute_force(problem)
    if problem.violations(problem.locked):
        return
    policy = lagrangian_policy(lagrangian_step=step, polish_max_pairs=0,
                               lagrangian_auction_min_pairs=auction_min,
                               lagrangian_auction_threads=threads,
                               lagrangian_auction_search_shift=shift,
                               lagrangian_start_search_shift=start_shift,
                               quota_flow_core=quota_core).solver
    result = lagrangian_solve(problem, policy)
    check_result(problem, result, optimum)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tiny_problems(), st.lists(st.integers(0, 2), min_size=3, max_size=3))
def test_decomposition_bound_is_sum_of_parts(problem: AssignmentProblem, labels: list[int]) -> None:
    """Any split into parts by organisation: feasible merge, and the summed bound is valid."""
    optimum = brute_force(problem)
    org_label = np.array(labels[: problem.n_organisations], dtype=np.int64)
    result = solve_decomposed(problem, lagrangian_policy(), org_label)
    check_result(problem, result, optimum)


def test_small_random_instances_against_cpsat() -> None:
    """Binding budgets, 300 candidates: feasible, bound above CP-SAT's proven optimum or bound."""
    from matcher.solver.cpsat import solve_cpsat

    for seed, auction_min in itertools.product(range(2), (0, 1)):
        problem, _ = random_problem(300, seed=seed, per_cand=8, near=15, locked_share=0.05)
        result = solve(problem, lagrangian_policy(lagrangian_iterations=40,
                                                  lagrangian_auction_min_pairs=auction_min))
        assert result.details.stats["subproblem"] == ("auction" if auction_min else "flow")
        assert problem.violations(result.chosen) == []
        assert result.chosen[problem.locked].all()
        assert result.guidance_binding
        chosen, cp_bound, _, _ = solve_cpsat(problem, result.chosen, 5.0)
        assert problem.objective(chosen) <= result.bound
        assert result.objective <= cp_bound
        assert result.gap < 0.02


def test_non_binding_budgets_give_the_flow_optimum() -> None:
    problem, _ = random_problem(500, seed=3, per_cand=10, near=20, budget_share=(np.inf, np.inf))
    free, seats, _, _ = problem.residual()
    flow = solve_flow(problem, free, seats) | problem.locked
    for policy in (lagrangian_policy(), lagrangian_policy(exact_max_pairs=10**9)):
        result = solve(problem, policy)
        assert result.status is Status.OPTIMAL
        assert result.objective == result.bound == problem.objective(flow)
    direct = lagrangian_solve(problem, lagrangian_policy().solver)
    assert direct.objective == problem.objective(flow)


def test_by_auction_the_flow_is_solved_when_its_optimum_might_keep_the_budgets() -> None:
    """Organisation 0 could be asked for 2 units of guidance (2 seats, 2 people who need 1)
    but has 1; the optimum without budgets (person 0 there, person 1 at organisation 1) keeps
    it. A large round's solve (by auction) starts with the Lagrangian and skips the flow only
    with proof that the flow's optimum breaks a budget: here there is none, so the flow is
    solved and is the answer, proven optimal."""
    problem = AssignmentProblem(
        cand=np.array([0, 1, 1], np.int32), opt=np.array([0, 0, 1], np.int32),
        weight=np.array([10, 1, 5], np.int64), locked=np.zeros(3, bool),
        capacity=np.array([2, 1], np.int64), option_org=np.array([0, 1], np.int32),
        budget=np.array([1, 10], np.int64), need=np.array([1, 1], np.int64))
    assert problem.guidance_can_bind()[0]
    result = solve(problem, lagrangian_policy(lagrangian_auction_min_pairs=1))
    assert (result.method, result.status) == ("min_cost_flow", Status.OPTIMAL)
    assert result.chosen.tolist() == [True, False, True]
    assert result.objective == result.bound == 15


def test_by_auction_a_binding_round_skips_the_flow_with_proof() -> None:
    """Binding budgets, 300 people, by auction: the flow without budgets is not solved, and
    the reason holds (its optimum is worth more than the bound, so it breaks a budget)."""
    problem, _ = random_problem(300, seed=1, per_cand=8, near=15, locked_share=0.05)
    result = solve(problem, lagrangian_policy(lagrangian_auction_min_pairs=1,
                                              lagrangian_iterations=20))
    assert result.details.stats["relaxation"].startswith("not solved")
    assert "relaxation_bound" not in result.details.stats
    free, seats, _, _ = problem.residual()
    flow = solve_flow(problem, free, seats) | problem.locked
    assert result.bound < result.details.relaxation_lower <= problem.objective(flow)
    assert (problem.guidance_used(flow) > problem.budget).any()
    assert problem.violations(result.chosen) == []


@pytest.mark.parametrize(("auction_min", "threads"), [(0, 1), (1, 1), (1, 2)])
def test_deterministic_and_row_order_free_of_wall_clock(auction_min: int, threads: int) -> None:
    problem, _ = random_problem(400, seed=5, per_cand=10, near=25, locked_share=0.03)
    policy = lagrangian_policy(lagrangian_auction_min_pairs=auction_min,
                               lagrangian_auction_threads=threads)
    first = solve(problem, policy)
    second = solve(problem, policy)
    assert first.method == "lagrangian"
    assert np.array_equal(first.chosen, second.chosen)
    assert (first.objective, first.bound) == (second.objective, second.bound)
    assert first.details.iterations == second.details.iterations


def test_components_are_independent_and_regions_keep_a_valid_bound() -> None:
    problem, region = random_problem(600, seed=7, per_cand=8, near=12, regions=4)
    parts = split(problem, component_labels(problem))
    # Components share no candidate.
    owners = np.concatenate([np.unique(problem.cand[p.edges]) for p in parts])
    assert len(owners) == len(np.unique(owners))
    whole = solve(problem, lagrangian_policy(lagrangian_iterations=30))
    from matcher.solver.decompose import organisation_regions

    by_region = solve_decomposed(problem, lagrangian_policy(lagrangian_iterations=30,
                                                            decompose_part_pairs=0),
                                 organisation_regions(problem, region))
    assert problem.violations(by_region.chosen) == []
    assert by_region.details.stats["parts"] == 4
    # Both bounds are valid, so each is at least the other's feasible value.
    assert by_region.bound >= whole.objective
    assert whole.bound >= by_region.objective


def test_drop_excess_and_greedy_add_keep_feasibility() -> None:
    problem, _ = random_problem(300, seed=11, per_cand=8, near=15, locked_share=0.05)
    free, seats, _, _ = problem.residual()
    relaxed = solve_flow(problem, free, seats) | problem.locked
    assert problem.violations(relaxed)  # the budgets bind
    dropped = drop_excess(problem, relaxed)
    assert problem.violations(dropped) == []
    assert dropped[problem.locked].all()
    assert not (dropped & ~relaxed).any()
    filled = greedy_add(problem, dropped, free)
    assert problem.violations(filled) == []
    assert problem.objective(filled) >= problem.objective(dropped)


def _greedy_rounds_reference(problem: AssignmentProblem, chosen: np.ndarray,
                             mask: np.ndarray) -> np.ndarray:
    """greedy_add's definition, round by round over the whole problem: each round adds the open
    edges (they fit alone) that are the best (weight, then edge index) of their candidate and
    of their organisation."""
    chosen = chosen.copy()
    while True:
        seats = problem.capacity - problem.seats_used(chosen)
        room = problem.budget - problem.guidance_used(chosen)
        taken = np.zeros(problem.n_candidates, dtype=bool)
        taken[problem.cand[chosen]] = True
        open_ = [e for e in range(problem.n_edges)
                 if mask[e] and not chosen[e] and not taken[problem.cand[e]]
                 and seats[problem.opt[e]] > 0
                 and problem.edge_need[e] <= room[problem.edge_org[e]]
                 and problem.weight[e] > 0]
        if not open_:
            return chosen
        key = {e: (-int(problem.weight[e]), e) for e in open_}
        best_c: dict[int, int] = {}
        best_g: dict[int, int] = {}
        for e in sorted(open_, key=key.__getitem__):
            best_c.setdefault(int(problem.cand[e]), e)
            best_g.setdefault(int(problem.edge_org[e]), e)
        for e in open_:
            if best_c[int(problem.cand[e])] == e and best_g[int(problem.edge_org[e])] == e:
                chosen[e] = True


@given(tiny_problems(max_c=8), st.integers(0, 2**31 - 1))
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_greedy_add_is_its_round_by_round_definition(problem: AssignmentProblem,
                                                     seed: int) -> None:
    """The incremental greedy (open edges found once, then filtered) adds exactly what the
    round-by-round definition adds, keeps every limit and leaves no edge that still fits."""
    rng = np.random.default_rng(seed)
    mask = rng.random(problem.n_edges) < 0.8
    got = greedy_add(problem, problem.locked.copy(), mask)
    np.testing.assert_array_equal(got, _greedy_rounds_reference(problem, problem.locked, mask))
    assert problem.violations(got) == []


@given(tiny_problems())
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_uniform_start_finds_the_minimum_of_the_common_price_dual(problem: AssignmentProblem,
                                                                  ) -> None:
    """The common-price search lands on the minimum of the (convex) dual over one price, up to
    its last bracket of two integers; and it only ever reports a price it evaluated."""
    from matcher.solver.lagrangian import uniform_start

    free, seats, budget_left, _ = problem.residual()
    active = problem.guidance_can_bind()
    if not active.any():
        assert uniform_start(problem, free, seats, budget_left, active, 50, 40)[0] == 0
        return
    lam, stats = uniform_start(problem, free, seats, budget_left, active, 50, 60)
    edge_active = active[problem.edge_org]

    def dual(price: int) -> int:
        cost = np.where(edge_active, price * problem.edge_need, 0)
        x = solve_flow(problem, free, seats, extra_cost=cost)
        return int((problem.weight[x] - cost[x]).sum()) + price * int(budget_left[active].sum())

    top = int(problem.weight.max())
    best_on_grid = min(dual(p) for p in range(0, top + 1, max(top // 200, 1)))
    slope = int(problem.edge_need.max()) * len(problem.need) + int(budget_left[active].sum())
    assert stats["start_multiplier"] == lam and 0 <= lam <= top
    assert dual(lam) <= best_on_grid + 2 * slope


def addable_edges(problem: AssignmentProblem, chosen: np.ndarray) -> np.ndarray:
    """Edges of unplaced people into an option with a seat left and enough guidance left."""
    seats = problem.capacity - problem.seats_used(chosen)
    room = problem.budget - problem.guidance_used(chosen)
    placed = np.zeros(problem.n_candidates, dtype=bool)
    placed[problem.cand[chosen]] = True
    return np.flatnonzero(~placed[problem.cand] & (seats[problem.opt] > 0)
                          & (problem.edge_need <= room[problem.edge_org]))


@pytest.mark.parametrize("seed", [3, 4, 5])
@pytest.mark.parametrize("polish", [0.0, 0.3])
def test_answers_are_maximal(seed: int, polish: float) -> None:
    """Nobody who still fits somewhere is left out, with or without the windowed polish (whose
    windows re-decide only their core pairs and can free seats and guidance elsewhere)."""
    problem, _ = random_problem(600, seed=seed)
    policy = lagrangian_policy(polish_deterministic_time=polish, lagrangian_iterations=6,
                               polish_max_pairs=400, polish_core=1)
    result = solve(problem, policy)
    assert result.method == "lagrangian" and not problem.violations(result.chosen)
    assert len(addable_edges(problem, result.chosen)) == 0


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tiny_problems(), st.data())
def test_a_polish_window_model_is_what_the_cp_model_api_writes(problem: AssignmentProblem,
                                                               data: st.DataObject) -> None:
    """The window's objective and hint are written into the proto directly (fast); the model
    must be exactly the one `maximize(weighted_sum)` and `add_hint` write (zero weights left
    out), so CP-SAT searches the same model."""
    from dataclasses import replace

    from ortools.sat.python import cp_model

    from matcher.solver.polish import window_model

    zero = np.array(data.draw(st.lists(st.booleans(), min_size=problem.n_edges,
                                       max_size=problem.n_edges)), dtype=bool)
    problem = replace(problem, weight=np.where(zero, 0, problem.weight))
    chosen = np.array(data.draw(st.lists(st.booleans(), min_size=problem.n_edges,
                                         max_size=problem.n_edges)), dtype=bool)
    var = np.flatnonzero(np.array(data.draw(st.lists(st.booleans(), min_size=problem.n_edges,
                                                     max_size=problem.n_edges)), dtype=bool))
    assume(len(var) > 0)  # a window has pairs
    fast = window_model(problem, chosen, var)
    # The reference: the same constraints, then the objective and hint by the API.
    reference = window_model(problem, chosen, var)
    reference.proto.clear_objective()
    reference.clear_hints()
    x = [reference.get_bool_var_from_proto_index(i) for i in range(len(var))]
    reference.maximize(cp_model.LinearExpr.weighted_sum(x, problem.weight[var].tolist()))
    for v, h in zip(x, chosen[var].tolist(), strict=True):
        reference.add_hint(v, h)
    assert str(fast.proto) == str(reference.proto)
    assert len(fast.proto.variables) == len(var)


def test_parallel_polish_windows_are_independent_and_repeatable() -> None:
    """Windows solved two at a time in threads: feasible, never worse, same answer every time."""
    from matcher.solver.polish import polish

    problem, _ = random_problem(1500, seed=7)
    start = greedy_add(problem, problem.locked.copy(), np.ones(problem.n_edges, dtype=bool))
    core = np.ones(problem.n_edges, dtype=bool)
    runs = [polish(problem, start, core, 3000, 0.6, parallel=2, passes=2) for _ in range(3)]
    first, stats = runs[0]
    assert stats["polish_windows"] >= 2  # several windows, so batches really run in threads
    assert not problem.violations(first)
    assert problem.objective(first) >= problem.objective(start)
    assert stats["polish_gain"] == problem.objective(first) - problem.objective(start)
    for again, _ in runs[1:]:
        assert np.array_equal(first, again)


@pytest.mark.parametrize("parallel", [1, 2])
def test_polish_time_a_window_leaves_goes_to_the_later_ones(
        parallel: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each batch's windows get equal shares of the deterministic time still left for the
    windows to come: time a window leaves unused goes to the later ones, and the total given
    out never exceeds the budget."""
    import matcher.solver.polish as pm

    problem, _ = random_problem(1500, seed=7)
    start = greedy_add(problem, problem.locked.copy(), np.ones(problem.n_edges, dtype=bool))
    core = np.ones(problem.n_edges, dtype=bool)
    given: list[float] = []

    def fake(problem: AssignmentProblem, chosen: np.ndarray, var: np.ndarray,
             det_time: float) -> tuple[None, float]:
        given.append(det_time)
        return None, det_time / 4  # proves its window optimal in a quarter of its share

    monkeypatch.setattr(pm, "_solve_window", fake)
    budget = 2.0
    _, stats = pm.polish(problem, start, core, 1500, budget, parallel=parallel)
    n = stats["polish_windows"]
    assert n >= 4 and len(given) == n
    left, expected = budget, []
    for b in range(0, n, parallel):
        batch = min(parallel, n - b)
        share = left / (n - b)
        expected += [share] * batch
        left -= batch * share / 4
    assert given == pytest.approx(expected)
    assert given[-1] > given[0]  # the later windows got more than an equal share
    assert stats["polish_det_used"] == pytest.approx(sum(given) / 4)
    assert sum(given) / 4 <= budget


def test_polish_uses_at_most_its_deterministic_time() -> None:
    from matcher.solver.polish import polish

    problem, _ = random_problem(1500, seed=8)
    start = greedy_add(problem, problem.locked.copy(), np.ones(problem.n_edges, dtype=bool))
    core = np.ones(problem.n_edges, dtype=bool)
    chosen, stats = polish(problem, start, core, 1000, 0.5, parallel=2)
    assert 0 < stats["polish_det_used"] <= 0.5
    assert not problem.violations(chosen)
    assert problem.objective(chosen) >= problem.objective(start)


@given(tiny_problems())
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_guidance_can_bind_matches_its_definition(problem: AssignmentProblem) -> None:
    """Per organisation, by the definition: the largest needs among the distinct free people
    with a pair into it, as many as it has free seats, exceed its residual budget."""
    free, seats_left, budget_left, _ = problem.residual()
    got = problem.guidance_can_bind()
    for g in range(problem.n_organisations):
        into = free & (problem.edge_org == g)
        needs = sorted((int(problem.need[c]) for c in set(problem.cand[into].tolist())),
                       reverse=True)
        seats = int(np.maximum(seats_left[problem.option_org == g], 0).sum())
        assert bool(got[g]) == (sum(needs[:seats]) > budget_left[g])


def test_uniform_start_sees_the_pairs_into_organisations_that_cannot_bind() -> None:
    """Pinned from a hypothesis run: the start search's core left out every pair into an
    organisation that cannot bind, so here it saw only the pair into the binding one and
    settled on 7 where the dual (15 + price) is lowest at 0."""
    from matcher.solver.lagrangian import uniform_start

    problem = AssignmentProblem(
        cand=np.array([0, 0], dtype=np.int32), opt=np.array([0, 1], dtype=np.int32),
        weight=np.array([14, 15]), locked=np.array([False, False]), capacity=np.array([1, 1]),
        option_org=np.array([0, 1], dtype=np.int32), budget=np.array([1, 2]),
        need=np.array([2]))
    free, seats, budget_left, _ = problem.residual()
    active = problem.guidance_can_bind()
    assert active.tolist() == [True, False]
    lam, _ = uniform_start(problem, free, seats, budget_left, active, 50, 60)
    assert lam <= 1  # the golden-section search's last bracket holds 0 and 1: dual 15 or 16


@pytest.mark.parametrize(("setting", "passed"), [(0, None), (10, 10)])
def test_start_search_runs_its_auctions_at_its_own_eps(monkeypatch: pytest.MonkeyPatch,
                                                       setting: int, passed: int | None) -> None:
    """lagrangian_start_search_shift reaches the start search (0: the search's own eps), and
    every start evaluation, and only those, stops at that eps; the answer stays feasible under a
    valid bound."""
    import matcher.solver.lagrangian as lagrangian_module

    problem, _ = random_problem(400, seed=6)
    free, seats, budget_left, _ = problem.residual()
    active = problem.guidance_can_bind()
    assert active.any()
    real = lagrangian_module.auction_subproblem(problem, free, seats, 1, 12)
    calls: list[tuple[bool, int | None]] = []

    def recording(priced: np.ndarray, fine: bool = False,
                  shift: int | None = None) -> tuple[np.ndarray, int]:
        calls.append((fine, shift))
        return real(priced, fine, shift)

    _, stats = lagrangian_module.uniform_start(problem, free, seats, budget_left, active, 25, 6,
                                               None, recording, 10)
    assert len(calls) == stats["start_evaluations"] == 6 and set(calls) == {(False, 10)}

    seen: list[int | None] = []
    original = lagrangian_module.uniform_start

    def spy(*args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        seen.append(args[9] if len(args) > 9 else kwargs.get("shift"))  # type: ignore[arg-type]
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(lagrangian_module, "uniform_start", spy)
    policy = lagrangian_policy(lagrangian_auction_min_pairs=1, lagrangian_iterations=4,
                               lagrangian_start_search_shift=setting)
    result = lagrangian_solve(problem, policy.solver)
    assert seen == [passed]
    assert problem.violations(result.chosen) == [] and result.objective <= result.bound


@pytest.mark.parametrize("rounds", [0, 1])
def test_a_class_quota_flow_follows_a_polish_that_changed_the_answer(
        rounds: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """The polish changes the answer's guidance classes window by window; with class-quota
    flows on (quota_flow_rounds > 0) one more flow within the polished answer's classes comes
    after it, and the answer is at least that flow's optimum. With them off, none runs."""
    import matcher.solver.lagrangian as lm
    from matcher.solver.quota_flow import quota_flow
    from matcher.solver.refill import refill

    problem, _ = random_problem(1500, seed=7)
    policy = lagrangian_policy(lagrangian_iterations=6, polish_max_pairs=1000, polish_core=1,
                               polish_deterministic_time=0.6,
                               quota_flow_rounds=rounds).solver
    polished: list[np.ndarray] = []
    calls: list[str] = []
    real_polish, real_round = lm.polish, lm._quota_round

    def spy_polish(*args: object, **kwargs: object) -> tuple[np.ndarray, dict[str, float]]:
        chosen, stats = real_polish(*args, **kwargs)  # type: ignore[arg-type]
        polished.append(chosen)
        calls.append("polish")
        return chosen, stats

    def spy_round(*args: object) -> tuple[np.ndarray, int]:
        calls.append("quota")
        return real_round(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(lm, "polish", spy_polish)
    monkeypatch.setattr(lm, "_quota_round", spy_round)
    result = lagrangian_solve(problem, policy)
    assert not problem.violations(result.chosen)
    assert len(polished) == 1 and result.details.stats["polish"]["polish_gain"] > 0
    after = calls[calls.index("polish") + 1:]
    if rounds == 0:
        assert "quota" not in calls and "quota_flow_after_polish" not in result.details.stats["quota_flow"]
        return
    assert after == ["quota"]
    free, seats_left, budget_left, _ = problem.residual()
    best = quota_flow(problem, polished[0] & ~problem.locked, free, seats_left,
                      np.maximum(budget_left, 0))
    best, _ = refill(problem, best | problem.locked, free)
    assert result.objective >= max(problem.objective(best), problem.objective(polished[0]))
    assert result.details.stats["quota_flow"]["quota_flow_after_polish"] == max(
        problem.objective(best) - problem.objective(polished[0]), 0)


@pytest.mark.parametrize("slack_pairs", [0, 300])
def test_the_slack_polish_covers_the_organisations_with_guidance_left_first(
        slack_pairs: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """With polish_slack_max_pairs > 0 a polish of only the organisations whose budget the
    answer leaves partly unused comes first (`slack_polish` over the polish's pairs, in its own
    window size and time; it re-decides only pairs into those organisations), then the polish of
    every organisation from its answer; with 0 only the latter runs. The answer stays feasible
    and within the bound."""
    import matcher.solver.lagrangian as lm

    problem, _ = random_problem(1500, seed=7)
    policy = lagrangian_policy(lagrangian_iterations=6, polish_max_pairs=1000, polish_core=1,
                               polish_deterministic_time=0.6, quota_flow_rounds=1,
                               polish_slack_max_pairs=slack_pairs,
                               polish_slack_deterministic_time=0.3).solver
    calls: list[tuple[str, np.ndarray, np.ndarray, int, float, np.ndarray]] = []
    real_polish, real_slack = lm.polish, lm.slack_polish

    def spy(name: str, fn: Any) -> Any:
        def run(problem: AssignmentProblem, chosen: np.ndarray, core: np.ndarray,
                max_pairs: int, det_time: float, *args: int,
                ) -> tuple[np.ndarray, dict[str, int | float]]:
            out, stats = fn(problem, chosen, core, max_pairs, det_time, *args)
            calls.append((name, chosen.copy(), core.copy(), max_pairs, det_time, out))
            return out, stats
        return run

    monkeypatch.setattr(lm, "polish", spy("polish", real_polish))
    monkeypatch.setattr(lm, "slack_polish", spy("slack", real_slack))
    result = lagrangian_solve(problem, policy)
    assert not problem.violations(result.chosen) and result.objective <= result.bound
    if slack_pairs == 0:
        assert [c[0] for c in calls] == ["polish"] and "polish_slack" not in result.details.stats
        return
    assert [c[0] for c in calls] == ["slack", "polish"]
    (_, chosen, core, pairs, det, out), (_, chosen2, full, pairs2, det2, _) = calls
    assert np.array_equal(core, full)  # the same pairs; slack_polish keeps those it may use
    assert (pairs, det, pairs2, det2) == (300, 0.3, 1000, 0.6)
    assert np.array_equal(chosen2, out)  # the polish of every organisation starts from it
    left = problem.guidance_used(chosen) < problem.budget
    assert left.any() and (~left).any()
    changed = chosen != out
    assert changed.any() and left[problem.edge_org[changed]].all()
    stats = result.details.stats["polish_slack"]
    assert stats["organisations"] == int(left.sum())
    assert stats["polish_gain"] == problem.objective(out) - problem.objective(chosen) > 0
    assert not problem.violations(out)


def test_a_warm_solve_polishes_no_slack_where_it_does_not_polish() -> None:
    from matcher.solver.warm import warm_policy

    base = lagrangian_policy(polish_slack_max_pairs=2000, polish_slack_deterministic_time=0.5,
                             warm_polish_deterministic_time=0.0).solver
    assert warm_policy(base).polish.slack_deterministic_time == 0.0
    on = base.updated(warm={"polish_deterministic_time": 0.4})
    assert warm_policy(on).polish.slack_deterministic_time == 0.5
