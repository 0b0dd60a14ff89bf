"""Solver: assign candidates to options under seats, guidance budgets and coordinators' decisions.

`solve` picks the method:
1. a min-cost flow without the guidance budgets (exact, fast); if its optimum keeps every
   budget, it is the optimum of the whole problem (a large problem whose budgets can bind runs
   step 2 first and solves this flow only when step 2 cannot prove that its optimum breaks a
   budget);
2. otherwise, on a problem of at most ``exact_max_pairs`` free pairs, the exact method
   (`matcher.solver.exact`: the LP's prices, then HiGHS on a core of pairs priced in; proven
   optimal unless ``exact_max_nodes`` branch-and-bound nodes do not suffice, then a valid bound);
3. otherwise the Lagrangian method (`matcher.solver.lagrangian`): a feasible assignment with a
   valid bound and gap; if the gap is above ``target_gap`` and the problem has at most
   ``exact_max_pairs`` pairs, CP-SAT warm-started with it (the better bound is kept).
`matcher.solver.decompose` solves by parts (regions, components) and merges.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace

import numpy as np

from matcher.policy import Policy
from matcher.solver.cpsat import solve_cpsat
from matcher.solver.exact import ExactLimits, solve_exact
from matcher.solver.flow import solve_flow
from matcher.solver.lagrangian import lagrangian_solve
from matcher.solver.problem import AssignmentProblem
from matcher.solver.refill import refill
from matcher.solver.result import Method, SolveDetails, SolveResult, Status
from matcher.solver.warm import WarmStart

log = logging.getLogger(__name__)

__all__ = ["AssignmentProblem", "Method", "SolveDetails", "SolveResult", "Status", "WarmStart",
           "locks_infeasibility", "solve"]


def locks_infeasibility(problem: AssignmentProblem) -> list[str]:
    """Why the locked edges alone break a seat or guidance limit (empty when they fit)."""
    _, seats_left, budget_left, _ = problem.residual()
    out = [f"option {o}: {problem.capacity[o] - seats_left[o]} locked, {problem.capacity[o]} "
           f"seats" for o in np.flatnonzero(seats_left < 0)]
    out += [f"organisation {g}: locked candidates need {problem.budget[g] - budget_left[g]} "
            f"guidance, capacity {problem.budget[g]}" for g in np.flatnonzero(budget_left < 0)]
    return out


def solve(problem: AssignmentProblem, policy: Policy, warm: WarmStart | None = None) -> SolveResult:
    """Solve `problem`; `warm` (optional) is a warm start from a related problem's solve
    (`matcher.solver.warm`): it makes the Lagrangian search short and never changes the
    validity of the bound, and the answer is never worse than its assignment."""
    started = time.perf_counter()
    if locks_infeasibility(problem):
        empty = np.zeros(problem.n_edges, dtype=bool)
        return SolveResult(Status.INFEASIBLE, Method.NONE, empty, 0, 0, True,
                           SolveDetails(reasons=locks_infeasibility(problem)))
    free, seats_left, _budget_left, _ = problem.residual()
    binding = bool(problem.guidance_can_bind().any())
    sp = policy.solver
    details: dict[str, object] = {}

    def unpriced_flow() -> tuple[np.ndarray, SolveResult | None]:
        """Step 1: the flow's optimum, and the answer when it keeps every budget."""
        relaxed = solve_flow(problem, free, seats_left) | problem.locked
        bound = problem.objective(relaxed)
        details.update(relaxation="min_cost_flow", relaxation_bound=bound)
        if (problem.guidance_used(relaxed) > problem.budget).any():
            return relaxed, None
        details["seconds"] = time.perf_counter() - started
        return relaxed, SolveResult(Status.OPTIMAL, Method.MIN_COST_FLOW, relaxed, bound, bound,
                                    binding, SolveDetails(stats=details))

    if binding and 0 < sp.lagrangian_auction_min_pairs <= int(free.sum()):
        # Large and the budgets can bind: the Lagrangian (by auction) first, without the flow.
        # Its bound below the value of an assignment that keeps the seats (a lower bound on the
        # flow's optimum) shows that the flow's optimum breaks a budget: step 1 could not have
        # ended the solve, and its flow (the costliest single step here) is not solved.
        result = lagrangian_solve(problem, sp, None, warm)
        lower = result.details.relaxation_lower
        assert lower is not None  # the budgets can bind: the Lagrangian iterated
        if result.bound < lower:
            details.update(relaxation="not solved: the Lagrangian bound is below an "
                           "assignment's value without the budgets")
        else:
            relaxed, optimal = unpriced_flow()
            if optimal is not None:
                return optimal
            bound = problem.objective(relaxed)
            if bound < result.bound:  # the flow's value is a bound too: keep the lower
                status = Status.OPTIMAL if result.objective == bound else result.status
                result = replace(result, bound=bound, status=status)
    else:
        relaxed, optimal = unpriced_flow()
        if optimal is not None:
            return optimal
        if int(free.sum()) <= sp.exact_max_pairs:
            exact = solve_exact(problem, ExactLimits(mip_nodes=sp.exact_max_nodes))
            if exact is not None:  # None: the LP stopped at its work limit
                exact.details.stats.update(details, seconds=time.perf_counter() - started)
                return exact
        result = lagrangian_solve(problem, sp, relaxed, warm)
    result.details.stats.update(details)
    # Small rounds (such as the pilot) go on until optimality is proven; mid-size ones only
    # while the Lagrangian gap is above target_gap.
    prove = problem.n_edges <= sp.prove_max_pairs and result.gap > sp.relative_gap
    improve = problem.n_edges <= sp.exact_max_pairs and result.gap > sp.target_gap
    if prove or improve:
        # Small enough for the exact model: CP-SAT, warm-started with the Lagrangian answer.
        chosen, cp_bound, proven, stats = solve_cpsat(
            problem, result.chosen, policy.solver.max_deterministic_time, policy.solver.relative_gap)
        details.update(stats)
        if problem.objective(chosen) < result.objective:
            chosen = result.chosen
        chosen, _ = refill(problem, chosen, free)  # a time-limited CP-SAT may leave room
        value = problem.objective(chosen)
        bound = min(result.bound, cp_bound) if cp_bound >= 0 else result.bound
        bound = max(bound, value)  # CP-SAT's bound is floored from a float: never below a value
        status = Status.OPTIMAL if proven or value == bound else Status.FEASIBLE
        details.update(lagrangian_objective=result.objective, lagrangian_bound=result.bound,
                       seconds=time.perf_counter() - started)
        # The Lagrangian's shadow prices are kept, for a later warm start.
        return SolveResult(status, Method.CP_SAT, chosen, value, bound, True,
                           SolveDetails(multipliers=result.details.multipliers, stats=details))
    result.details.stats["seconds"] = time.perf_counter() - started
    return result
