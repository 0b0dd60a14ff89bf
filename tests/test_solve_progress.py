"""Progress is reported through the whole solve, not only scoring (issue 27, item 4): the
exact method per core round, the Lagrangian per iteration, a round by region per part."""

from __future__ import annotations

from benchmarks.solver_instances import random_problem
from matcher.policy import default_policy, policy_from_dict
from matcher.progress import progress_hook
from matcher.solver.strategy import solve


def solve_reports(override: dict) -> list[tuple[int, int]]:
    problem, _ = random_problem(300, seed=2, per_cand=12, near=40)
    assert problem.guidance_can_bind().any()
    seen: list[tuple[str, int, int]] = []
    policy = policy_from_dict(override) if override else default_policy()
    with progress_hook(lambda stage, done, total: seen.append((stage, done, total))):
        solve(problem, policy)
    return [(d, t) for s, d, t in seen if s == "solve"]


def check_progress(reports: list[tuple[int, int]]) -> None:
    assert len(reports) >= 3
    done = [d for d, _ in reports]
    assert done == sorted(done)  # never goes back
    assert reports[-1][0] == reports[-1][1]  # ends complete


def test_the_exact_method_reports_each_step() -> None:
    check_progress(solve_reports({}))


def test_the_lagrangian_reports_each_iteration() -> None:
    reports = solve_reports({"solver": {"exact_max_pairs": 0, "prove_max_pairs": 0}})
    check_progress(reports)
    assert reports[-1][1] == default_policy().solver.lagrangian.iterations
