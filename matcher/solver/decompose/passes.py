"""Steps 1 and 3 of `matcher.solver.decompose`: every part solved (by the mapper), and the
union of their answers made feasible."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from matcher.parallel import Mapper
from matcher.policy import Policy
from matcher.solver.decompose.coordinate import Prices, _outside, _tracked
from matcher.solver.decompose.parts import Part, iter_parts
from matcher.solver.decompose.tasks import PartTask, solve_part
from matcher.solver.problem import AssignmentProblem
from matcher.solver.result import Method, SolveDetails, SolveResult, Status
from matcher.solver.warm import WarmStart


@dataclass(frozen=True)
class PassAnswer:
    """The parts' answers of one pass, in the whole problem's indices."""

    chosen: np.ndarray  # the union of the parts' answers (bool per edge)
    lam: np.ndarray  # the parts' multipliers (int64 per organisation)
    v: np.ndarray  # the parts' option prices at them (int64 per option)
    binding: bool  # some part's guidance binds
    per_part: list[dict[str, Any]]  # each part's figures (round.json's run section)


def parts_policy(policy: Policy) -> Policy:
    """The parts' own settings ([solver.parts]), with one auction thread and one polish window
    at a time per part: the parts run side by side in worker processes, and more threads in
    each only compete for the same cores. (regions_200k, 2 workers, back to back, session 14:
    two polish windows at a time in each part 171.9 s and 315 s of CPU time, one 155.9 s and
    286 s; gap 0.3267% -> 0.3236%, as one window at a time sees the previous window's moves.)"""
    return policy.model_copy(update={"solver": policy.solver.for_parts().updated(
        lagrangian={"auction_threads": 1}, polish={"parallel": 1})})


def part_tasks(problem: AssignmentProblem, labels: np.ndarray, policy: Policy, metas: list[Part],
               home: np.ndarray | None, prices: Prices | None,
               warm_chosen: np.ndarray | None) -> Iterator[PartTask]:
    """The parts' tasks, one part's arrays at a time; each part's layout is appended to `metas`
    as its task is made (so the answers, in task order, find their part).

    With `prices`, each pair's weight is lowered by what its candidate is worth outside the
    part (pairs left with no positive weight are left out), and the task is warm-started from
    the coordinated multipliers and `warm_chosen`."""
    for part in iter_parts(problem, labels, home):
        warm = None
        sub = part.problem
        if prices is not None:
            outside = _outside(prices.top, part)
            weight = sub.weight - outside[sub.cand]
            keep = (weight > 0) | sub.locked
            part = Part(sub, part.edges[keep], part.label, part.cands, part.options,
                        part.orgs)
            sub = AssignmentProblem(sub.cand[keep], sub.opt[keep],
                                    np.maximum(weight[keep], 1), sub.locked[keep],
                                    sub.capacity, sub.option_org, sub.budget, sub.need)
            start = None if warm_chosen is None else warm_chosen[part.edges]
            warm = WarmStart(prices.lam[part.orgs], start)
        metas.append(part)
        yield PartTask(part.label, sub, policy, warm)


def solve_parts(problem: AssignmentProblem, labels: np.ndarray, policy: Policy, mapper: Mapper,
                n_parts: int, home: np.ndarray | None = None, prices: Prices | None = None,
                warm_chosen: np.ndarray | None = None) -> PassAnswer | SolveResult:
    """Solve every part: the union of their answers, or an infeasible result.

    With `home`, each part holds its home candidates (disjoint parts). With `prices`, each part
    holds every candidate with a pair into it, valued net of its worth elsewhere
    (`part_tasks`).
    """
    metas: list[Part] = []
    tasks = part_tasks(problem, labels, parts_policy(policy), metas, home, prices, warm_chosen)
    chosen = np.zeros(problem.n_edges, dtype=bool)
    lam = np.zeros(problem.n_organisations, dtype=np.int64)
    v = np.zeros(problem.n_options, dtype=np.int64)
    binding = False
    per_part = []
    for i, ans in enumerate(_tracked("solve", mapper(solve_part, tasks), n_parts)):
        part, res = metas[i], ans.result
        metas[i] = part.without_problem()
        if res.status is Status.INFEASIBLE:
            empty = np.zeros(problem.n_edges, dtype=bool)
            return SolveResult(Status.INFEASIBLE, Method.DECOMPOSED, empty, 0, 0, True,
                               SolveDetails(reasons=res.details.reasons,
                                            stats={"part": part.label}))
        chosen[part.edges[res.chosen]] = True
        lam[part.orgs] = ans.multipliers
        v[part.options] = ans.prices
        binding |= res.guidance_binding
        per_part.append({"part": part.label, "candidates": part.problem.n_candidates,
                         "pairs": len(part.edges), "method": res.method,
                         "objective": res.objective, "bound": res.bound,
                         "iterations": res.details.iterations,
                         "seconds": round(ans.seconds, 3), "peak_mb": round(ans.peak_mb, 1)})
    return PassAnswer(chosen, lam, v, binding, per_part)


def keep_one_per_candidate(problem: AssignmentProblem, chosen: np.ndarray
                           ) -> tuple[np.ndarray, int]:
    """Each candidate chosen in several parts keeps its highest-weight pair (ties: lowest edge).

    Dropping pairs never breaks a seat or budget limit, so a union of feasible parts stays
    feasible. Returns (chosen, pairs dropped).
    """
    idx = np.flatnonzero(chosen)
    idx = idx[np.lexsort((idx, -problem.weight[idx], problem.cand[idx]))]
    dup = np.zeros(len(idx), dtype=bool)
    dup[1:] = problem.cand[idx][1:] == problem.cand[idx][:-1]
    dup &= ~problem.locked[idx]
    out = chosen.copy()
    out[idx[dup]] = False
    return out, int(dup.sum())
