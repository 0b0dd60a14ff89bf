"""The one solve path: typed results (Method, SolveDetails)."""

from __future__ import annotations

import json

from matcher.solver.result import CARRY_OVER_SUFFIX, FAIRNESS_SUFFIX, Method, SolveDetails


def test_every_base_method_has_its_refinements() -> None:
    bases = {m for m in Method if "+" not in m.value}
    for m in (Method.MIN_COST_FLOW, Method.LAGRANGIAN, Method.CP_SAT, Method.DECOMPOSED):
        assert m.with_fairness().value == m.value + FAIRNESS_SUFFIX
        assert m.carried_over().value == m.value + CARRY_OVER_SUFFIX
        assert m.with_fairness().base is m and m.carried_over().base is m
    assert all(m.base in bases for m in Method)


def test_method_values_are_the_strings_round_json_shows() -> None:
    assert json.dumps({"method": Method.LAGRANGIAN_CARRY_OVER}) == \
        '{"method": "lagrangian+carry_over"}'
    assert Method("cp_sat+fairness_cp_sat") is Method.CP_SAT_FAIRNESS


def test_details_as_dict_leaves_out_what_is_unset() -> None:
    d = SolveDetails(multipliers=[0, 3], iterations=4, stats={"seconds": 1.5})
    assert d.as_dict() == {"seconds": 1.5, "iterations": 4, "multipliers": [0, 3]}
    assert SolveDetails(reasons=["x"]).as_dict() == {"reasons": ["x"]}


# --- one decision (matcher.solver.strategy) and one solve path (matcher.round.solve_round) -----

import ast  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from matcher.policy import Policy, default_policy, policy_from_flat  # noqa: E402
from matcher.solver import strategy  # noqa: E402
from matcher.solver.problem import AssignmentProblem  # noqa: E402
from matcher.solver.result import SolveResult, Status  # noqa: E402
from matcher.solver.warm import WarmStart  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def two_region_problem() -> AssignmentProblem:
    """Two organisations (one per region), one option each; four people, guidance binding."""
    return AssignmentProblem(
        cand=np.array([0, 0, 1, 1, 2, 3], dtype=np.int32),
        opt=np.array([0, 1, 0, 1, 0, 1], dtype=np.int32),
        weight=np.array([5, 4, 6, 1, 3, 7], dtype=np.int64),
        locked=np.zeros(6, dtype=bool),
        capacity=np.array([2, 2], dtype=np.int64),
        option_org=np.array([0, 1], dtype=np.int32),
        budget=np.array([1, 1], dtype=np.int64),
        need=np.array([1, 1, 1, 1], dtype=np.int64),
    )


def _policy(min_pairs: int, **extra: object) -> Policy:
    return policy_from_flat({"solver": {"decompose_min_pairs": min_pairs}} | extra)


@pytest.mark.parametrize(("min_pairs", "regions", "route"), [
    (1, np.array([0, 1]), strategy.Route.BY_REGION),
    (0, np.array([0, 1]), strategy.Route.WHOLE),  # 0: never by region
    (7, np.array([0, 1]), strategy.Route.WHOLE),  # fewer pairs than the threshold
    (1, np.array([0, 0]), strategy.Route.WHOLE),  # one region
    (1, None, strategy.Route.WHOLE),  # the round may not be solved by region (what-if)
])
def test_plan_solves_by_region_only_when_every_condition_holds(
        min_pairs: int, regions: np.ndarray | None, route: strategy.Route) -> None:
    problem = two_region_problem()
    assert problem.guidance_can_bind().any()
    assert strategy.plan(problem, _policy(min_pairs), regions).route is route


def test_plan_solves_warm_starts_and_fairness_whole() -> None:
    problem, regions = two_region_problem(), np.array([0, 1])
    warm = WarmStart(np.zeros(2, dtype=np.int64))
    p = strategy.plan(problem, _policy(1), regions, warm=warm)
    assert p.route is strategy.Route.WHOLE and p.warm is warm
    fair = _policy(1, fairness={"max_min": True})
    start = np.zeros(problem.n_edges, dtype=bool)
    p = strategy.plan(problem, fair, regions, start=start)
    assert p.route is strategy.Route.WHOLE and p.fairness and p.start is None


def test_every_route_has_a_solver_and_gives_the_optimum_here() -> None:
    problem, regions = two_region_problem(), np.array([0, 1])
    assert set(strategy.ROUTES) == set(strategy.Route)
    # Brute force: each person at most one option, each organisation one guidance unit.
    best = 0
    for pick in np.ndindex(*(3,) * 4):  # per person: none, option 0, option 1
        chosen = np.zeros(problem.n_edges, dtype=bool)
        for c, k in enumerate(pick):
            hit = np.flatnonzero((problem.cand == c) & (problem.opt == k - 1)) if k else []
            chosen[hit] = True
        if not problem.violations(chosen):
            best = max(best, problem.objective(chosen))
    for route in strategy.Route:
        p = strategy.Plan(route, regions=regions if route is strategy.Route.BY_REGION else None)
        got = strategy.execute(problem, _policy(1), p)
        assert problem.violations(got.chosen) == []
        assert got.objective == best == 13 and got.bound >= best


def test_a_better_carried_over_start_is_kept_and_the_bound_stays() -> None:
    problem = two_region_problem()
    start = np.zeros(problem.n_edges, dtype=bool)
    start[[2, 5]] = True  # the optimum, 13
    poor = SolveResult(Status.FEASIBLE, Method.LAGRANGIAN,
                       np.zeros(problem.n_edges, dtype=bool), 0, 20, True)
    kept = strategy.keep_start(problem, poor, start)
    assert kept.objective == 13 and kept.bound == 20 and kept.method == "lagrangian+carry_over"
    assert strategy.keep_start(problem, kept, np.zeros(problem.n_edges, dtype=bool)) is kept


def test_solve_round_is_run_rounds_solve_and_decodes_over_all_edges() -> None:
    from matcher.load import load_instance
    from matcher.round import run_round, solve_round
    from matcher.scoring import build_edges

    inst, warnings = load_instance(ROOT / "matcher" / "data" / "pilot")
    policy = default_policy()
    rnd = run_round(inst, policy, warnings)
    again = solve_round(inst, policy, build_edges(inst, policy))
    assert np.array_equal(rnd.chosen, again.chosen)
    assert len(rnd.chosen) == len(rnd.edges) and rnd.chosen.sum() == rnd.result.chosen.sum()
    assert np.array_equal(rnd.edges.cand[rnd.chosen], rnd.problem.cand[rnd.result.chosen])


def _solver_imports(path: Path) -> set[str]:
    """The names `path` imports from `matcher.solver` and its modules."""
    tree = ast.parse(path.read_text("utf-8"))
    return {alias.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
            and (n.module or "").startswith("matcher.solver") for alias in n.names}


def test_rounds_reach_the_solver_only_through_solve_round() -> None:
    """Outside the solver, the library solves a round's problem through `solve_round` only
    (the decode of an answer is written once, in `matcher.round.decode`)."""
    solvers = {"solve", "solve_decomposed", "apply_fairness", "lagrangian_solve", "execute",
               "strategy"}
    for path in (ROOT / "matcher").rglob("*.py"):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith(("matcher/solver/", "matcher/chain/")) or rel == "matcher/round.py":
            continue
        assert not (_solver_imports(path) & solvers), rel
    assert "importlib" not in (ROOT / "matcher" / "whatif" / "engine.py").read_text("utf-8")
    text = "\n".join(p.read_text("utf-8") for p in (ROOT / "matcher").rglob("*.py"))
    assert text.count("np.flatnonzero(usable)[result.chosen]") == 0
    assert text.count("out[np.flatnonzero(usable)[chosen]] = True") == 1
