"""Solving by region: feasible answers, a bound valid for the whole problem, determinism, and the
round's outputs when it decomposes."""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.solver_instances import random_problem
from benchmarks.worker import solver_summary
from matcher.errors import InputError
from matcher.parallel import ProcessMapper
from matcher.policy import Policy, load_policy, policy_from_flat
from matcher.solver.cpsat import solve_cpsat
from matcher.solver.decompose import (
    PartTask,
    WholeRun,
    _usable,
    auction_core,
    dual_bound,
    first_homes,
    merge_labels,
    option_prices,
    organisation_regions,
    solve_decomposed,
    split,
    whole_lagrangian,
)
from matcher.solver.flow import solve_flow
from matcher.solver.lagrangian import polyak_step
from matcher.solver.problem import AssignmentProblem
from matcher.solver.result import Status
from tests.test_solver_lagrangian import brute_force, check_result, tiny_problems


def decomposed_policy(**solver: object) -> Policy:
    base: dict[str, object] = {"exact_max_pairs": 0, "prove_max_pairs": 0,
                               "lagrangian_iterations": 8, "lagrangian_repair_every": 2,
                               "polish_deterministic_time": 0.2, "decompose_rounds": 2,
                               "decompose_sweeps": 3, "decompose_part_pairs": 0}
    base.update(solver)
    return policy_from_flat({"solver": base})


def pickling_map(fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
    """A stand-in for a Ray or Dask map: function, tasks and answers cross a pickle."""
    fn = pickle.loads(pickle.dumps(fn))
    for item in items:
        yield pickle.loads(pickle.dumps(fn(pickle.loads(pickle.dumps(item)))))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tiny_problems(), st.lists(st.integers(0, 2), min_size=3, max_size=3))
def test_any_split_gives_a_feasible_answer_and_a_valid_bound(problem: AssignmentProblem,
                                                             labels: list[int]) -> None:
    optimum = brute_force(problem)
    org_label = np.array(labels[: problem.n_organisations], dtype=np.int64)
    result = solve_decomposed(problem, decomposed_policy(), org_label)
    check_result(problem, result, optimum)


def draw_prices(problem: AssignmentProblem, data: st.DataObject) -> tuple[np.ndarray, np.ndarray]:
    """Any multipliers (per organisation) and option prices in [0, highest weight]."""
    top = int(problem.weight.max())
    lam = np.array(data.draw(st.lists(st.integers(0, top), min_size=problem.n_organisations,
                                      max_size=problem.n_organisations)), dtype=np.int64)
    v = np.array(data.draw(st.lists(st.integers(0, top), min_size=problem.n_options,
                                    max_size=problem.n_options)), dtype=np.int64)
    return lam, v


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tiny_problems(), st.data())
def test_dual_bound_is_valid_for_any_multipliers_and_prices(problem: AssignmentProblem,
                                                            data: st.DataObject) -> None:
    """Any multipliers and prices >= 0 bound every feasible assignment."""
    optimum = brute_force(problem)
    if optimum < 0:  # the locks alone break a limit
        return
    lam, v = draw_prices(problem, data)
    assert dual_bound(problem, lam, v) >= optimum


def test_flow_prices_make_the_bound_equal_the_flow_optimum() -> None:
    """With loose budgets and the prices of an optimal flow, the bound is the flow's value."""
    for seed in range(3):
        problem, _ = random_problem(800, seed=seed, per_cand=8, near=20, locked_share=0.03,
                                    budget_share=(np.inf, np.inf))
        free, seats, _, _ = problem.residual()
        flow = solve_flow(problem, free, seats)
        lam = np.zeros(problem.n_organisations, dtype=np.int64)
        v = option_prices(problem, problem.weight, flow, free & (seats[problem.opt] > 0))
        assert dual_bound(problem, lam, v) == problem.objective(flow | problem.locked)
        assert dual_bound(problem, lam, np.zeros_like(v)) > problem.objective(flow | problem.locked)


def test_homes_give_disjoint_parts_and_locks_stay_home() -> None:
    problem, region = random_problem(1500, seed=2, per_cand=8, near=30, regions=4,
                                     locked_share=0.05)
    labels = organisation_regions(problem, region)
    home = first_homes(problem, labels)
    parts = split(problem, labels, home)
    owners = np.concatenate([p.cands for p in parts])
    assert len(owners) == len(np.unique(owners))  # disjoint
    edge_label = labels[problem.edge_org]
    assert (home[problem.cand[problem.locked]] == edge_label[problem.locked]).all()
    crossing = split(problem, labels)  # every pair into each part's options
    assert sum(len(p.edges) for p in crossing) == int(
        ((home[problem.cand] == edge_label) | ~np.isin(problem.cand, problem.cand[problem.locked])
         ).sum())
    assert sum(p.problem.n_candidates for p in crossing) > len(owners)  # border candidates


@pytest.fixture(scope="module")
def regions_problem() -> tuple[AssignmentProblem, np.ndarray]:
    problem, region = random_problem(700, seed=7, per_cand=8, near=40, regions=4,
                                     locked_share=0.03)
    return problem, organisation_regions(problem, region)


def test_bound_is_valid_against_the_exact_optimum(
        regions_problem: tuple[AssignmentProblem, np.ndarray]) -> None:
    problem, labels = regions_problem
    result = solve_decomposed(problem, decomposed_policy(), labels)
    assert problem.violations(result.chosen) == []
    assert result.chosen[problem.locked].all()
    assert result.details.stats["parts"] == 4
    exact, cp_bound, proven, _ = solve_cpsat(problem, result.chosen, 20.0, 0.0)
    assert problem.objective(exact) <= result.bound
    assert result.objective <= cp_bound
    if proven:
        assert result.objective <= problem.objective(exact) <= result.bound
    assert result.gap < 0.05


def test_deterministic_and_dispatchable(regions_problem: tuple[AssignmentProblem, np.ndarray],
                                        ) -> None:
    """Same input, same answer and bound; a map whose tasks cross a pickle gives the same."""
    problem, labels = regions_problem
    first = solve_decomposed(problem, decomposed_policy(), labels)
    again = solve_decomposed(problem, decomposed_policy(), labels, mapper=pickling_map)
    assert np.array_equal(first.chosen, again.chosen)
    assert (first.objective, first.bound) == (again.objective, again.bound)
    assert [c["bounds"] for c in first.details.stats["coordination"]] == \
        [c["bounds"] for c in again.details.stats["coordination"]]


def test_parts_use_one_auction_thread_and_the_whole_iterations_may_use_more(
        regions_problem: tuple[AssignmentProblem, np.ndarray],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The parts run side by side in workers, so their auctions get one thread whatever
    lagrangian_auction_threads says; decompose_auction_threads sets the whole iterations' (Jacobi
    rounds), whose bounds stay valid and whose answer is repeatable."""
    import matcher.solver.auction as auction

    problem, labels = regions_problem
    threads: list[int] = []

    class Recording(auction.Auction):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            threads.append(self.threads)

    monkeypatch.setattr(auction, "Auction", Recording)
    jacobi = decomposed_policy(lagrangian_auction_min_pairs=1, decompose_auction_iterations=4,
                               lagrangian_auction_threads=2, decompose_auction_threads=2)
    c = solve_decomposed(problem, jacobi, labels)
    n_parts = len(c.details.stats["first_pass"]["per_part"])
    assert threads[:n_parts] == [1] * n_parts and 2 in threads[n_parts:]
    d = solve_decomposed(problem, jacobi, labels)
    assert np.array_equal(c.chosen, d.chosen) and (c.objective, c.bound) == (d.objective, d.bound)
    assert problem.violations(c.chosen) == []
    exact, _, _, _ = solve_cpsat(problem, c.chosen, 20.0, 0.0)
    assert problem.objective(exact) <= min(c.details.stats["whole_auction"]["bounds"])


@pytest.mark.parametrize(("parts", "expected"), [({}, (64, 8)), ({"lagrangian_rate_div": 4}, (4, 8)),
                                                 ({"lagrangian_iterations": 3}, (64, 3))])
def test_parts_take_their_own_settings(regions_problem: tuple[AssignmentProblem, np.ndarray],
                                       parts: dict[str, int], expected: tuple[int, int]) -> None:
    """[solver.parts] replaces those settings in the parts' policy only (and each part gets one
    auction thread and one polish window at a time: the parts run side by side); the answer
    stays feasible and under the bound, which stays valid."""
    problem, labels = regions_problem
    seen: list[tuple[int, int, int, int]] = []

    def recording_map(fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
        for item in items:
            if isinstance(item, PartTask):
                sp = item.policy.solver
                seen.append((sp.lagrangian.rate_div, sp.lagrangian.iterations,
                             sp.lagrangian.auction_threads, sp.polish.parallel))
            yield fn(item)

    policy = decomposed_policy(lagrangian_rate_div=64, lagrangian_auction_threads=2,
                               polish_parallel=2, parts=parts)
    result = solve_decomposed(problem, policy, labels, mapper=recording_map)
    n_parts = len(result.details.stats["first_pass"]["per_part"])
    assert seen[:n_parts] == [(*expected, 1, 1)] * n_parts
    assert policy.solver.polish.parallel == 2
    assert all(p["iterations"] <= expected[1] for p in result.details.stats["first_pass"]["per_part"])
    assert policy.solver.lagrangian.rate_div == 64  # the round's own settings are untouched
    assert problem.violations(result.chosen) == []
    assert result.objective == problem.objective(result.chosen) <= result.bound
    exact, _, _, _ = solve_cpsat(problem, result.chosen, 20.0, 0.0)
    assert problem.objective(exact) <= result.bound


@pytest.mark.parametrize(("parts", "words"), [
    ({"lagrangian_rate_div": 0}, "lagrangian.rate_div: Input should be greater than or equal to 1"),
    ({"lagrangian_step": "newton"}, "lagrangian.step: Input should be 'polyak' or 'rprop'"),
    ({"lagrangian_rate": 4}, "lagrangian_rate"),
    ({"decompose_part_pairs": 10}, "decompose: not a setting a part's solve uses"),
    ({"parts": {}}, "parts"),
])
def test_bad_part_settings_are_errors_naming_the_key(parts: dict[str, object], words: str,
                                                      ) -> None:
    with pytest.raises(InputError) as err:
        policy_from_flat({"solver": {"parts": parts}}, "p.toml")
    text = str(err.value)
    assert "p.toml" in text and "solver.parts" in text and words in text


def test_worker_processes_give_the_same_answer(
        regions_problem: tuple[AssignmentProblem, np.ndarray]) -> None:
    """Parts solved in 2 spawned worker processes: the same answer, bound and coordination as
    in this process (results come back in task order; every task is a pure function)."""
    problem, labels = regions_problem
    policy = decomposed_policy(decompose_rounds=2)
    first = solve_decomposed(problem, policy, labels)
    with ProcessMapper(2) as mapper:
        again = solve_decomposed(problem, policy, labels, mapper=mapper)
        assert mapper._pool is not None  # the work really went to the pool
    assert mapper._pool is None  # closed on exit
    # Each part's answer carries its solving process's own peak memory (Linux /proc).
    if Path("/proc/self/status").exists():
        assert all(p["peak_mb"] > 0 for p in again.details.stats["first_pass"]["per_part"])
    assert np.array_equal(first.chosen, again.chosen)
    assert (first.objective, first.bound) == (again.objective, again.bound)
    assert [c["bounds"] for c in first.details.stats["coordination"]] == \
        [c["bounds"] for c in again.details.stats["coordination"]]


class SubmittingMap:
    """A map-like stand-in that also offers `submit` (as `ProcessMapper` does): tasks and
    answers cross a pickle; a submitted task runs when its answer is asked for."""

    def __init__(self) -> None:
        self.submitted: list[str] = []

    def __call__(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
        return pickling_map(fn, items)

    def submit(self, fn: Callable[[Any], Any], item: Any) -> Any:
        from concurrent.futures import Future

        self.submitted.append(fn.__name__)
        fut: Future[Any] = Future()
        fut.set_result(next(pickling_map(fn, [item])))
        return fut


@pytest.mark.parametrize(("locked_share", "rounds"), [(0.0, 1), (0.05, 1), (0.05, 2), (0.0, 3)])
def test_quota_flow_beside_the_coordination_gives_the_same_answer(locked_share: float,
                                                                  rounds: int) -> None:
    """Without whole-problem iterations the final class-quota flow is handed to the mapper's
    `submit` as soon as its input is final (right after the first pass, or after the last
    border pass): the same answer and bound as when it runs after the last coordination in
    this process, and never worse than the first pass."""
    problem, region = random_problem(900, seed=11, per_cand=8, near=40, regions=4,
                                     locked_share=locked_share)
    labels = organisation_regions(problem, region)
    policy = decomposed_policy(decompose_rounds=rounds, decompose_auction_iterations=0,
                               decompose_quota_core=3)
    here = solve_decomposed(problem, policy, labels)
    mapper = SubmittingMap()
    there = solve_decomposed(problem, policy, labels, mapper=mapper)
    assert mapper.submitted == ["quota_part"]
    assert not here.details.stats["quota_flow"]["beside_coordination"]
    assert there.details.stats["quota_flow"]["beside_coordination"]
    assert np.array_equal(here.chosen, there.chosen)
    assert (here.objective, here.bound) == (there.objective, there.bound)
    assert here.details.stats["quota_flow"]["value"] == there.details.stats["quota_flow"]["value"]
    assert problem.violations(there.chosen) == []
    assert there.chosen[problem.locked].all()
    assert there.objective >= there.details.stats["first_pass"]["value"]
    assert len(there.details.stats["border_passes"]) == rounds - 1
    assert there.objective >= max([p["value"] for p in there.details.stats["border_passes"]],
                                  default=0)
    # With whole-problem iterations the flow needs their answer: nothing is submitted early.
    mapper = SubmittingMap()
    solve_decomposed(problem, decomposed_policy(decompose_rounds=1,
                                                decompose_auction_iterations=2), labels,
                     mapper=mapper)
    assert mapper.submitted == []


def test_coordination_and_border_pass_improve(regions_problem: tuple[AssignmentProblem, np.ndarray],
                                              ) -> None:
    problem, labels = regions_problem
    plain = solve_decomposed(problem, decomposed_policy(decompose_rounds=1, decompose_sweeps=0),
                             labels)
    full = solve_decomposed(problem, decomposed_policy(decompose_rounds=2, decompose_sweeps=4),
                            labels)
    assert full.bound <= plain.bound
    assert full.objective >= plain.objective
    whole = full.details.stats.get("whole_auction", {}).get("bounds", [])
    assert full.bound == min([b for c in full.details.stats["coordination"] for b in c["bounds"]]
                             + whole)


@pytest.mark.parametrize("step", ["sign", "polyak"])
def test_whole_problem_auction_lowers_a_valid_bound(
        regions_problem: tuple[AssignmentProblem, np.ndarray], step: str) -> None:
    """Lagrangian iterations over the whole problem after the parts: each iteration's value is
    a valid bound (checked against CP-SAT), and the answer is never worse for them."""
    problem, labels = regions_problem
    policy = decomposed_policy(decompose_rounds=1, decompose_sweeps=1,
                               decompose_auction_step=step)
    without = solve_decomposed(problem, policy.model_copy(update={"solver": policy.solver.updated(
        decompose={"auction_iterations": 0})}), labels)
    with_ = solve_decomposed(problem, policy.model_copy(update={"solver": policy.solver.updated(
        decompose={"auction_iterations": 15})}), labels)
    assert "whole_auction" not in without.details.stats
    trace = with_.details.stats["whole_auction"]["bounds"]
    assert len(trace) == 15
    assert with_.bound == min([*trace, *with_.details.stats["coordination"][0]["bounds"]])
    assert with_.bound < without.bound
    assert with_.objective >= without.objective
    assert problem.violations(with_.chosen) == []
    exact, _, _, _ = solve_cpsat(problem, with_.chosen, 20.0, 0.0)
    assert problem.objective(exact) <= min(trace)


@pytest.mark.parametrize("rounds", [1, 2])
def test_whole_iterations_after_the_passes_bound_the_round_beside_the_quota_flow(
        rounds: int) -> None:
    """`decompose_auction_last`: the whole-problem iterations run after the last coordination
    (its prices are their start) and give the bound, while the class-quota flow starts from the
    parts' answer, handed to `submit` where the mapper has it (the same answer either way); the
    iterations' repaired answer is kept only if it beats the flow's. `decompose_pass_sweeps` = 0:
    the coordination after a border pass prices nothing more (one bound, no sweep)."""
    problem, region = random_problem(900, seed=11, per_cand=8, near=40, regions=4,
                                     locked_share=0.05)
    labels = organisation_regions(problem, region)
    policy = decomposed_policy(decompose_rounds=rounds, decompose_sweeps=1,
                               decompose_pass_sweeps=0, decompose_auction_iterations=4,
                               decompose_auction_step="polyak", decompose_auction_last=True,
                               decompose_quota_core=3)
    here = solve_decomposed(problem, policy, labels)
    mapper = SubmittingMap()
    there = solve_decomposed(problem, policy, labels, mapper=mapper)
    assert mapper.submitted == ["quota_part"]
    assert there.details.stats["quota_flow"]["beside_coordination"]
    assert np.array_equal(here.chosen, there.chosen)
    assert (here.objective, here.bound) == (there.objective, there.bound)
    whole = here.details.stats["whole_auction"]
    assert whole["after_passes"]
    coordination = here.details.stats["coordination"]
    assert [len(c["bounds"]) for c in coordination] == [2] + [1] * (rounds - 1)
    assert here.bound == min([*whole["bounds"], *(b for c in coordination for b in c["bounds"])])
    answers = [here.details.stats["quota_flow"]["value"], whole["repair_value"],
               *(p["value"] for p in here.details.stats["border_passes"])]
    assert here.objective == max([here.details.stats["first_pass"]["value"], *answers])
    assert problem.violations(here.chosen) == []
    assert here.chosen[problem.locked].all()
    exact, _, _, _ = solve_cpsat(problem, here.chosen, 20.0, 0.0)
    assert here.objective <= problem.objective(exact) <= here.bound
    # The same iterations before the passes (the default) start the passes' search instead.
    before = solve_decomposed(problem, policy.model_copy(update={"solver": policy.solver.updated(
        decompose={"auction_last": False})}), labels)
    assert not before.details.stats["whole_auction"]["after_passes"]
    assert problem.violations(before.chosen) == []


@pytest.mark.parametrize("last", [False, True])
def test_whole_iterations_over_a_core_end_with_a_bound_over_every_pair(last: bool) -> None:
    """`decompose_auction_core`: the iterations run over each person's best pairs (by weight
    and by priced weight) and the answer; their values are not reported as bounds,
    and the one auction over every pair at their best multipliers is: valid against CP-SAT's
    optimum, and the round's bound is the lowest reported."""
    problem, region = random_problem(900, seed=11, per_cand=8, near=40, regions=4,
                                     locked_share=0.05)
    labels = organisation_regions(problem, region)
    policy = decomposed_policy(decompose_rounds=2, decompose_sweeps=1, decompose_pass_sweeps=0,
                               decompose_auction_iterations=6, decompose_auction_step="polyak",
                               decompose_auction_last=last, decompose_auction_core=2,
                               decompose_auction_search_shift=12, decompose_quota_core=3)
    res = solve_decomposed(problem, policy, labels)
    whole = res.details.stats["whole_auction"]
    assert 0 < whole["core_pairs"] < problem.n_edges
    assert len(whole["core_values"]) == 7  # 6 iterations and the best solved at the finest eps
    assert len(whole["bounds"]) == 1
    assert res.bound == min([*whole["bounds"],
                             *(b for c in res.details.stats["coordination"] for b in c["bounds"])])
    assert problem.violations(res.chosen) == [] and res.chosen[problem.locked].all()
    exact, _, _, _ = solve_cpsat(problem, res.chosen, 20.0, 0.0)
    assert res.objective <= problem.objective(exact) <= whole["bounds"][0]
    mask = auction_core(problem, np.asarray(res.details.multipliers) * 0, _usable(problem),
                        problem.locked, 2)
    assert not mask[problem.locked].any()
    assert (np.bincount(problem.cand[mask], minlength=problem.n_candidates) <= 2).all()


def test_the_national_policy_runs_a_border_pass_and_bounds_the_round() -> None:
    """matcher/policy/national.toml as shipped, on a small problem in 4 regions: a short first
    pass, one border pass (warm, polished), the whole-problem iterations last for the bound and
    the class-quota flow beside them; feasible, the bound valid against CP-SAT's optimum, the
    pass never worse than the first pass, and the same answer with a submitting mapper."""
    policy = load_policy(Path(__file__).resolve().parents[1] / "matcher/policy/national.toml")
    sp = policy.solver
    assert sp.decompose.rounds == 2 and sp.decompose.auction_last
    assert sp.for_parts().warm.polish_deterministic_time > 0
    problem, region = random_problem(600, seed=5, per_cand=8, near=40, regions=4,
                                     locked_share=0.05)
    labels = organisation_regions(problem, region)
    res = solve_decomposed(problem, policy, labels)
    mapper = SubmittingMap()
    again = solve_decomposed(problem, policy, labels, mapper=mapper)
    assert mapper.submitted == ["quota_part"]
    assert np.array_equal(res.chosen, again.chosen) and res.bound == again.bound
    assert problem.violations(res.chosen) == [] and res.chosen[problem.locked].all()
    (border,) = res.details.stats["border_passes"]
    assert res.objective >= max(border["value"], res.details.stats["first_pass"]["value"])
    assert res.details.stats["whole_auction"]["after_passes"]
    exact, _, _, _ = solve_cpsat(problem, res.chosen, 20.0, 0.0)
    assert res.objective <= problem.objective(exact) <= res.bound
    # The benchmark's summary keeps each pass's parts, each with its own answer and bound (how
    # far the parts are from their own optimum, against what is lost at their borders).
    summary = solver_summary(res.details)
    json.dumps(summary)
    (border_summary,) = summary["border_passes"]
    assert border_summary["value"] == border["value"]
    for pp in (summary["first_pass"]["per_part"], border_summary["per_part"]):
        assert len({p["part"] for p in pp}) == len(pp) == res.details.stats["parts"]
        assert all(0 <= p["objective"] <= p["bound"] for p in pp)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tiny_problems(), st.data())
def test_whole_lagrangian_bounds_are_valid_from_any_start(problem: AssignmentProblem,
                                                          data: st.DataObject) -> None:
    optimum = brute_force(problem)
    if optimum < 0:
        return
    lam, v = draw_prices(problem, data)
    step = data.draw(st.sampled_from(["sign", "polyak"]))
    theta = data.draw(st.sampled_from([0.01, 0.2, 2.0]))
    target = data.draw(st.integers(-10**9, 10**9))  # any target: the bounds stay valid
    threads = data.draw(st.sampled_from([1, 2]))  # one bidder at a time, or Jacobi rounds
    shift = data.draw(st.sampled_from([16, 3, 1]))  # the iterations' eps: finest or coarser
    run = WholeRun(4, step, theta, target, threads, shift)
    best_lam, bound, trace, x = whole_lagrangian(problem, lam, v, _usable(problem), run)
    # With a coarser eps the best multipliers are solved once more at the finest.
    assert len(trace) == 4 + (shift < 16) and bound == min(trace)
    assert all(b >= optimum for b in trace)
    assert x is not None and (best_lam >= 0).all()
    # x is the subproblem's answer over the free pairs: each person at most once, no option
    # over its seats left (budgets may break: they are priced, not kept).
    assert np.bincount(problem.cand[x], minlength=problem.n_candidates).max(initial=0) <= 1
    assert (problem.seats_used(x) <= np.maximum(problem.residual()[1], 0)).all()


def test_merged_parts_keep_regions_whole_and_stay_small(
        regions_problem: tuple[AssignmentProblem, np.ndarray]) -> None:
    problem, labels = regions_problem
    pairs = np.bincount(labels[problem.edge_org])
    limit = int(np.sort(pairs)[-2] + np.sort(pairs)[-1])  # room for some joins, not all
    merged = merge_labels(problem, labels, limit)
    # A region is never split, and the labels are 0..k-1.
    for r in np.unique(labels):
        assert len(np.unique(merged[labels == r])) == 1
    assert np.array_equal(np.unique(merged), np.arange(merged.max() + 1))
    assert 1 < len(np.unique(merged)) < len(np.unique(labels))
    assert (np.bincount(merged[problem.edge_org]) <= limit).all()
    # Only parts that share candidates are joined.
    for m in np.unique(merged):
        regions = np.unique(labels[merged == m])
        if len(regions) > 1:
            cands = [set(problem.cand[labels[problem.edge_org] == r].tolist()) for r in regions]
            assert all(any(a & b for b in cands if b is not a) for a in cands)
    assert np.array_equal(merge_labels(problem, labels, limit), merged)  # deterministic
    assert np.array_equal(merge_labels(problem, labels, 0), labels)
    # Joined into one part when the limit allows everything.
    assert (merge_labels(problem, labels, problem.n_edges) == 0).all()


def test_merged_parts_give_a_valid_bound(
        regions_problem: tuple[AssignmentProblem, np.ndarray]) -> None:
    problem, labels = regions_problem
    result = solve_decomposed(problem, decomposed_policy(decompose_part_pairs=problem.n_edges // 2),
                              labels)
    assert result.details.stats["parts"] < 4
    assert problem.violations(result.chosen) == []
    exact, cp_bound, _, _ = solve_cpsat(problem, result.chosen, 20.0, 0.0)
    assert problem.objective(exact) <= result.bound
    assert result.objective <= cp_bound


def test_no_binding_budgets_in_any_part() -> None:
    problem, region = random_problem(600, seed=4, per_cand=8, near=30, regions=3,
                                     budget_share=(np.inf, np.inf))
    result = solve_decomposed(problem, decomposed_policy(decompose_sweeps=3),
                              organisation_regions(problem, region))
    free, seats, _, _ = problem.residual()
    optimum = problem.objective(solve_flow(problem, free, seats) | problem.locked)
    assert problem.violations(result.chosen) == []
    assert result.objective <= optimum <= result.bound
    assert result.status in (Status.OPTIMAL, Status.FEASIBLE)


def test_round_decomposes_by_region_with_unchanged_outputs(tmp_path) -> None:
    """A round over several regions above the threshold is solved by region; the outputs keep
    their format and the answer is feasible with a valid bound."""
    from matcher.load import load_instance
    from matcher.round import run_round, write_round
    from matcher.synth import generate, write_generated

    data = write_generated(generate(1200, "all", 3), tmp_path / "data")
    inst, warnings = load_instance(data)
    solver = {"exact_max_pairs": 0, "prove_max_pairs": 0, "lagrangian_iterations": 8,
              "polish_deterministic_time": 0.2, "decompose_rounds": 2, "decompose_sweeps": 2}
    whole = run_round(inst, policy_from_flat({"solver": solver | {"decompose_min_pairs": 0}}),
                      warnings)
    assert whole.result.method != "decomposed"
    rnd = run_round(inst, policy_from_flat({"solver": solver | {"decompose_min_pairs": 1}}),
                    warnings)
    assert rnd.result.method == "decomposed"
    assert rnd.result.details.stats["parts"] > 1
    assert rnd.problem.violations(rnd.result.chosen) == []
    assert rnd.result.objective <= rnd.result.bound
    meta = write_round(rnd, tmp_path / "round")
    meta_whole = write_round(whole, tmp_path / "round_whole")
    assert meta["solver"]["method"] == "decomposed"
    assert set(meta["outputs"]) == set(meta_whole["outputs"])
    for name in meta["outputs"]:
        head = (tmp_path / "round" / name).read_text().splitlines()[0]
        assert head == (tmp_path / "round_whole" / name).read_text().splitlines()[0]
    assert meta["counts"]["matched"] == int(rnd.chosen.sum())


def test_polyak_step_moves_towards_the_excess() -> None:
    lam = np.array([0, 0, 5_000, 5_000], dtype=np.int64)
    excess = np.array([-3, 4, -2, 0], dtype=np.int64)
    # direction (0, 4, -2, 0): |d|^2 = 20; length 0.5 * (1,000 - 0) / 20 = 25 per unit of excess
    got = polyak_step(lam, excess, value=1_000, target=0, theta_num=512)
    assert got.tolist() == [0, 100, 4_950, 5_000]
    assert polyak_step(lam, np.array([-1, 0, 0, 0]), 1_000, 0, 512).tolist() == lam.tolist()
    big = polyak_step(lam, np.array([0, 0, -10**6, 0]), 10**12, 0, 1024)
    assert big.tolist() == [0, 0, 0, 5_000]  # never below 0


@pytest.mark.parametrize("seed", [8, 11])
def test_the_slack_polish_of_a_round_by_region_only_adds_value(seed: int) -> None:
    """decompose_slack_max_pairs > 0: after the last class-quota flow, a polish of the
    organisations whose budget the answer leaves partly unused. Everything before it is the
    same as without it, so the answer is at least as good, the bound the same, and the answer
    feasible with its locks; it only re-decides pairs into those organisations."""
    # (Budgets in these instances are tight: with these seeds and locks some organisations
    # keep guidance left over; without locks most seeds leave none.)
    problem, region = random_problem(900, seed=seed, per_cand=8, near=40, regions=4,
                                     locked_share=0.05)
    labels = organisation_regions(problem, region)
    base = dict(decompose_rounds=1, decompose_auction_iterations=2, decompose_quota_core=3)
    plain = solve_decomposed(problem, decomposed_policy(**base), labels)
    slack = solve_decomposed(problem, decomposed_policy(
        **base, decompose_slack_max_pairs=300, decompose_slack_deterministic_time=1.0), labels)
    assert "polish_slack" not in plain.details.stats
    stats = slack.details.stats["polish_slack"]
    assert slack.bound == plain.bound
    assert slack.objective == plain.objective + stats["polish_gain"]
    assert stats["polish_gain"] > 0 and stats["polish_windows"] > 1
    assert problem.violations(slack.chosen) == [] and slack.chosen[problem.locked].all()
    left = problem.guidance_used(plain.chosen) < problem.budget
    assert stats["organisations"] == int(left.sum())
    changed = plain.chosen != slack.chosen
    assert left[problem.edge_org[changed]].all()


def test_slack_polish_matches_the_polish_of_the_whole_problem() -> None:
    """The polish on the problem restricted to the core, the answer and the locks gives what
    the polish over the whole problem gives (the restriction keeps every seat and budget)."""
    from matcher.solver.polish import polish, slack_polish
    from matcher.solver.refill import refill

    problem, _ = random_problem(600, seed=3, per_cand=8, near=30, locked_share=0.05)
    free, _, _, _ = problem.residual()
    chosen, _ = refill(problem, problem.locked.copy(), free)
    core = free & (np.arange(problem.n_edges) % 3 == 0)
    got, stats = slack_polish(problem, chosen, core, 200, 1.0)
    left = problem.guidance_used(chosen) < problem.budget
    want, want_stats = polish(problem, chosen, core & left[problem.edge_org], 200, 1.0)
    assert np.array_equal(got, want)
    assert stats["polish_gain"] == want_stats["polish_gain"]
    assert problem.violations(got) == [] and got[problem.locked].all()
