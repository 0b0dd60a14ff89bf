"""How a round is solved: the one place that decides (issue #26).

`plan` reads the problem and the policy and returns a `Plan`: the problem solved whole or by
region, with or without the policy's fairness options, warm-started or not, with a carried-over
assignment as a second candidate answer or not. `execute` runs a plan: the route's solver from
`ROUTES` (like a registry of solvers by name), then the refinements (fairness, carry-over).
`matcher.round.solve_round` is the one caller for rounds (it encodes the round's edge table into
an `AssignmentProblem` and decodes the answer); `matcher.solver.decompose` calls `solve` for
each part.

`solve` solves one whole problem; its method, in order:

1. a min-cost flow without the guidance budgets (exact, fast); if its optimum keeps every
   budget, it is the optimum of the whole problem (`Method.MIN_COST_FLOW`). A large problem
   (at least ``lagrangian_auction_min_pairs`` free pairs) whose budgets can bind runs step 3
   first and solves this flow only when step 3 cannot prove that its optimum breaks a budget;
2. otherwise, on a problem of at most ``exact_max_pairs`` free pairs, the exact method
   (`matcher.solver.exact`, `Method.HIGHS_CORE`: the LP's prices, then HiGHS on a core of pairs
   priced in; proven optimal unless ``exact_max_nodes`` branch-and-bound nodes do not suffice,
   then a valid bound);
3. otherwise the Lagrangian method (`matcher.solver.lagrangian`, `Method.LAGRANGIAN`): a
   feasible assignment with a valid bound and gap;
4. if that gap is above ``relative_gap`` on a problem of at most ``prove_max_pairs`` pairs, or
   above ``target_gap`` on one of at most ``exact_max_pairs``, CP-SAT warm-started with it
   (`Method.CP_SAT`; the better answer and the lower bound are kept).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

import numpy as np

from matcher.parallel import Mapper
from matcher.policy import Policy, SolverPolicy
from matcher.solver.cpsat import solve_cpsat
from matcher.solver.decompose import solve_decomposed
from matcher.solver.exact import ExactLimits, solve_exact
from matcher.solver.fairness import apply_fairness
from matcher.solver.flow import solve_flow
from matcher.solver.lagrangian import lagrangian_solve
from matcher.solver.problem import AssignmentProblem
from matcher.solver.refill import refill
from matcher.solver.result import Method, SolveDetails, SolveResult, Status
from matcher.solver.warm import WarmStart

log = logging.getLogger(__name__)

__all__ = ["ROUTES", "Plan", "Route", "execute", "locks_infeasibility", "plan", "solve",
           "solves_by_region"]


class Route(StrEnum):
    """How the problem is cut: whole, or by region (`matcher.solver.decompose`)."""

    WHOLE = "whole"
    BY_REGION = "by_region"


@dataclass(frozen=True)
class Plan:
    """What `execute` runs, as `plan` decided it."""

    route: Route
    #: Each organisation's region (`Route.BY_REGION` only).
    regions: np.ndarray | None = None
    #: The policy's fairness options are applied to the answer (`matcher.solver.fairness`).
    fairness: bool = False
    #: A warm start from a related problem's solve (`Route.WHOLE` only).
    warm: WarmStart | None = None
    #: A feasible assignment carried over from a related round: kept when the solver's answer
    #: is worse and not proven optimal (never with fairness, which it might break).
    start: np.ndarray | None = None


def solves_by_region(problem: AssignmentProblem, policy: Policy,
                     regions: np.ndarray | None) -> bool:
    """Whether the problem is solved by region: at least ``solver.decompose.min_pairs`` pairs
    (0: never), its organisations in several regions, some guidance budget that can bind, and
    no fairness options (they need the exact model of the whole problem)."""
    sp = policy.solver
    return (regions is not None and sp.decompose.min_pairs > 0
            and problem.n_edges >= sp.decompose.min_pairs and not policy.fairness.active
            and len(np.unique(regions)) > 1 and bool(problem.guidance_can_bind().any()))


def plan(problem: AssignmentProblem, policy: Policy, regions: np.ndarray | None = None,
         warm: WarmStart | None = None, start: np.ndarray | None = None) -> Plan:
    """Decide how `problem` is solved. `regions`: each organisation's region when the round
    may be solved by region (None: whole); `warm` and `start`: from a related round (what-if).
    A warm-started problem is solved whole (the parts take no warm start)."""
    fairness = policy.fairness.active
    if warm is None and start is None and solves_by_region(problem, policy, regions):
        return Plan(Route.BY_REGION, regions=regions)
    return Plan(Route.WHOLE, fairness=fairness, warm=warm,
                start=None if fairness else start)


def _whole(problem: AssignmentProblem, policy: Policy, p: Plan,
           mapper: Mapper | None) -> SolveResult:
    return solve(problem, policy, p.warm)


def _by_region(problem: AssignmentProblem, policy: Policy, p: Plan,
               mapper: Mapper | None) -> SolveResult:
    assert p.regions is not None
    log.info("solving %d pairs by region (%d regions)", problem.n_edges,
             len(np.unique(p.regions)))
    return solve_decomposed(problem, policy, p.regions, mapper)


#: The solver of each route: ``fn(problem, policy, plan, mapper) -> SolveResult``.
ROUTES: dict[Route, Callable[[AssignmentProblem, Policy, Plan, Mapper | None], SolveResult]] = {
    Route.WHOLE: _whole,
    Route.BY_REGION: _by_region,
}


def execute(problem: AssignmentProblem, policy: Policy, p: Plan, mapper: Mapper | None = None,
            groups: dict[str, np.ndarray] | None = None) -> SolveResult:
    """Run the plan `p`: its route's solver (`mapper`: dispatches the regions' work,
    sequentially by default), then the fairness options over `groups` (the target groups'
    masks over candidates, `matcher.solver.fairness.target_groups`) or the carried-over start."""
    result = ROUTES[p.route](problem, policy, p, mapper)
    if result.status is Status.INFEASIBLE:
        return result
    if p.fairness:
        return apply_fairness(problem, policy, result, groups or {})
    if p.start is not None:
        return keep_start(problem, result, p.start)
    return result


def keep_start(problem: AssignmentProblem, result: SolveResult,
               start: np.ndarray) -> SolveResult:
    """`result`, or the feasible assignment `start` when it is worth more and `result` is not
    proven optimal (the bound is kept: valid whatever the start)."""
    value = problem.objective(start)
    if result.status is Status.OPTIMAL or value <= result.objective:
        return result
    bound = max(result.bound, value)
    details = replace(result.details, stats=dict(result.details.stats) | {
        "carried_over": True, "solver_objective": result.objective})
    return SolveResult(Status.OPTIMAL if value == bound else Status.FEASIBLE,
                       result.method.carried_over(), start, value, bound,
                       result.guidance_binding, details)


# --- one whole problem ---------------------------------------------------------------------


def locks_infeasibility(problem: AssignmentProblem) -> list[str]:
    """Why the locked edges alone break a seat or guidance limit (empty when they fit)."""
    _, seats_left, budget_left, _ = problem.residual()
    out = [f"option {o}: {problem.capacity[o] - seats_left[o]} locked, {problem.capacity[o]} "
           f"seats" for o in np.flatnonzero(seats_left < 0)]
    out += [f"organisation {g}: locked candidates need {problem.budget[g] - budget_left[g]} "
            f"guidance, capacity {problem.budget[g]}" for g in np.flatnonzero(budget_left < 0)]
    return out


@dataclass
class _Whole:
    """One whole-problem solve's inputs and the diagnostics its steps collect."""

    problem: AssignmentProblem
    sp: SolverPolicy
    started: float
    free: np.ndarray
    seats_left: np.ndarray
    binding: bool
    stats: dict[str, Any] = field(default_factory=dict)

    def seconds(self) -> float:
        return time.perf_counter() - self.started


def solve(problem: AssignmentProblem, policy: Policy, warm: WarmStart | None = None) -> SolveResult:
    """Solve `problem` whole (the steps in the module docstring); `warm` (optional) is a warm
    start from a related problem's solve (`matcher.solver.warm`): it makes the Lagrangian
    search short and never changes the validity of the bound, and the answer is never worse
    than its assignment."""
    started = time.perf_counter()
    if reasons := locks_infeasibility(problem):
        empty = np.zeros(problem.n_edges, dtype=bool)
        return SolveResult(Status.INFEASIBLE, Method.NONE, empty, 0, 0, True,
                           SolveDetails(reasons=reasons))
    free, seats_left, _budget_left, _ = problem.residual()
    s = _Whole(problem, policy.solver, started, free, seats_left,
               bool(problem.guidance_can_bind().any()))
    if s.binding and 0 < s.sp.lagrangian.auction_min_pairs <= int(free.sum()):
        result, final = _lagrangian_first(s, warm)
    else:
        result, final = _flow_first(s, warm)
    if final:
        return result
    result.details.stats.update(s.stats)
    return _prove(s, policy, result)


def _unpriced_flow(s: _Whole) -> tuple[np.ndarray, SolveResult | None]:
    """Step 1: the flow's optimum, and the answer when it keeps every budget."""
    problem = s.problem
    relaxed = solve_flow(problem, s.free, s.seats_left) | problem.locked
    bound = problem.objective(relaxed)
    s.stats.update(relaxation="min_cost_flow", relaxation_bound=bound)
    if (problem.guidance_used(relaxed) > problem.budget).any():
        return relaxed, None
    s.stats["seconds"] = s.seconds()
    return relaxed, SolveResult(Status.OPTIMAL, Method.MIN_COST_FLOW, relaxed, bound, bound,
                                s.binding, SolveDetails(stats=s.stats))


def _lagrangian_first(s: _Whole, warm: WarmStart | None) -> tuple[SolveResult, bool]:
    """Large and the budgets can bind: the Lagrangian (by auction) first, without the flow.
    Its bound below the value of an assignment that keeps the seats (a lower bound on the
    flow's optimum) shows that the flow's optimum breaks a budget: step 1 could not have ended
    the solve, and its flow (the costliest single step here) is not solved. Returns (answer,
    whether it is final)."""
    result = lagrangian_solve(s.problem, s.sp, None, warm)
    lower = result.details.relaxation_lower
    assert lower is not None  # the budgets can bind: the Lagrangian iterated
    if result.bound < lower:
        s.stats.update(relaxation="not solved: the Lagrangian bound is below an "
                       "assignment's value without the budgets")
        return result, False
    relaxed, optimal = _unpriced_flow(s)
    if optimal is not None:
        return optimal, True
    bound = s.problem.objective(relaxed)
    if bound < result.bound:  # the flow's value is a bound too: keep the lower
        status = Status.OPTIMAL if result.objective == bound else result.status
        result = replace(result, bound=bound, status=status)
    return result, False


def _flow_first(s: _Whole, warm: WarmStart | None) -> tuple[SolveResult, bool]:
    """Step 1, then step 2 (exact) on a problem small enough, else step 3 (Lagrangian) from
    the flow's answer. Returns (answer, whether it is final)."""
    relaxed, optimal = _unpriced_flow(s)
    if optimal is not None:
        return optimal, True
    if int(s.free.sum()) <= s.sp.exact_max_pairs:
        exact = solve_exact(s.problem, ExactLimits(mip_nodes=s.sp.exact_max_nodes))
        if exact is not None:  # None: the LP stopped at its work limit
            exact.details.stats.update(s.stats, seconds=s.seconds())
            return exact, True
    return lagrangian_solve(s.problem, s.sp, relaxed, warm), False


def _prove(s: _Whole, policy: Policy, result: SolveResult) -> SolveResult:
    """Step 4: small rounds (such as the pilot) go on until optimality is proven; mid-size
    ones only while the Lagrangian gap is above target_gap."""
    problem, sp, details = s.problem, s.sp, s.stats
    prove = problem.n_edges <= sp.prove_max_pairs and result.gap > sp.relative_gap
    improve = problem.n_edges <= sp.exact_max_pairs and result.gap > sp.target_gap
    if not (prove or improve):
        result.details.stats["seconds"] = s.seconds()
        return result
    # Small enough for the exact model: CP-SAT, warm-started with the Lagrangian answer.
    chosen, cp_bound, proven, stats = solve_cpsat(
        problem, result.chosen, policy.solver.max_deterministic_time, policy.solver.relative_gap)
    details.update(stats)
    if problem.objective(chosen) < result.objective:
        chosen = result.chosen
    chosen, _ = refill(problem, chosen, s.free)  # a time-limited CP-SAT may leave room
    value = problem.objective(chosen)
    bound = min(result.bound, cp_bound) if cp_bound >= 0 else result.bound
    bound = max(bound, value)  # CP-SAT's bound is floored from a float: never below a value
    status = Status.OPTIMAL if proven or value == bound else Status.FEASIBLE
    details.update(lagrangian_objective=result.objective, lagrangian_bound=result.bound,
                   seconds=s.seconds())
    # The Lagrangian's shadow prices are kept, for a later warm start.
    return SolveResult(status, Method.CP_SAT, chosen, value, bound, True,
                       SolveDetails(multipliers=result.details.multipliers, stats=details))
