"""Work on one part: pure functions of small picklable task objects (what a process-pool, Ray
or Dask worker runs): `solve_part` (a part's solve), `price_part` (a part's price step in the
coordination) and `quota_part` (the whole-problem class-quota flow of step 4)."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np

from matcher.policy import Policy
from matcher.progress import progress_hook
from matcher.solver.decompose.bound import option_prices
from matcher.solver.flow import solve_flow
from matcher.solver.problem import AssignmentProblem
from matcher.solver.quota_flow import quota_flow
from matcher.solver.result import SolveResult
from matcher.solver.warm import WarmStart


@dataclass(frozen=True)
class PartTask:
    """Everything a worker needs to solve one part."""

    label: int
    problem: AssignmentProblem
    policy: Policy
    warm: WarmStart | None = None


@dataclass(frozen=True)
class PartAnswer:
    label: int
    result: SolveResult  # over the part's own edges
    multipliers: np.ndarray  # int64 per local organisation
    prices: np.ndarray  # int64 per local option: the part's flow prices at `multipliers`
    seconds: float
    peak_mb: float = 0.0  # the solving process's own peak resident memory so far (0: unknown)


@dataclass(frozen=True)
class PriceTask:
    """One part's price step: its options' prices given what candidates are worth elsewhere."""

    label: int
    problem: AssignmentProblem  # every pair into the part's options
    multipliers: np.ndarray  # per local organisation
    outside: np.ndarray  # per local candidate: best priced value outside the part (>= 0)


@dataclass(frozen=True)
class PriceAnswer:
    label: int
    prices: np.ndarray  # int64 per local option
    guidance_used: np.ndarray  # int64 per local organisation, by the part's priced flow


def solve_part(task: PartTask) -> PartAnswer:
    """Solve one part, and price its options at the multipliers found."""
    from matcher.solver.strategy import solve  # late import: strategy imports this module

    t = time.perf_counter()
    with progress_hook(None):  # the parts' own steps: the round counts parts (`_tracked`)
        res = solve(task.problem, task.policy, task.warm)
    lam = np.asarray(res.details.multipliers or [], dtype=np.int64)
    if lam.shape != (task.problem.n_organisations,):
        lam = np.zeros(task.problem.n_organisations, dtype=np.int64)
    res.details.stats.pop("trace", None)
    prices = part_prices(task.problem, lam)
    return PartAnswer(task.label, res, lam, prices, time.perf_counter() - t, process_peak_mb())


def process_peak_mb() -> float:
    """This process's peak resident memory in MB since it started its program (Linux
    ``VmHWM``; 0 where unknown). Unlike ``getrusage``'s maximum, it does not count what a
    spawned worker held for a moment as a fork of its (possibly large) parent."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except (OSError, ValueError):
        pass
    return 0.0


def price_part(task: PriceTask) -> PriceAnswer:
    """One coordination step for a part: the exact best prices of its options with the rest
    fixed, and the guidance its priced flow uses (the multipliers' subgradient)."""
    problem = task.problem
    free, seats_left, _, _ = problem.residual()
    cost = task.multipliers[problem.edge_org] * problem.edge_need + task.outside[problem.cand]
    chosen = solve_flow(problem, free, seats_left, extra_cost=cost)
    prices = option_prices(problem, problem.weight - cost, chosen,
                           free & (seats_left[problem.opt] > 0))
    return PriceAnswer(task.label, prices, problem.guidance_used(chosen))


def part_prices(problem: AssignmentProblem, lam: np.ndarray) -> np.ndarray:
    """Option prices of a part's flow at multipliers `lam`."""
    outside = np.zeros(problem.n_candidates, dtype=np.int64)
    return price_part(PriceTask(-1, problem, lam, outside)).prices


@dataclass(frozen=True)
class QuotaTask:
    """Step 4's class-quota flow as a task: the problem restricted to the pairs the flow may use
    (every person, option and organisation kept; no locked pair), the answer's pairs among them,
    and the seats and guidance left after the locked pairs."""

    problem: AssignmentProblem
    chosen: np.ndarray
    seats: np.ndarray
    budget: np.ndarray


def quota_task(problem: AssignmentProblem, chosen: np.ndarray,
               mask: np.ndarray) -> tuple[QuotaTask, np.ndarray]:
    """The task of a class-quota flow over the free pairs `mask` and the answer `chosen`, and
    the pairs' indices in `problem`."""
    _, seats_left, budget_left, _ = problem.residual()
    idx = np.flatnonzero(mask | (chosen & ~problem.locked))
    sub = replace(problem, cand=problem.cand[idx], opt=problem.opt[idx],
                  weight=problem.weight[idx], locked=np.zeros(len(idx), dtype=bool))
    return QuotaTask(sub, chosen[idx], seats_left, np.maximum(budget_left, 0)), idx


def quota_part(task: QuotaTask) -> np.ndarray:
    """The best assignment of the task's pairs within its answer's class quotas (a mask)."""
    sub = task.problem
    return quota_flow(sub, task.chosen, np.ones(sub.n_edges, dtype=bool), task.seats,
                      task.budget)
