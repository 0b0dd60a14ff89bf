"""Step 2 of `matcher.solver.decompose`, the coordination: price sweeps over the parts, the
multipliers moved by the sign of each budget's excess. Every sweep gives a bound valid for the
whole problem (`matcher.solver.decompose.bound`)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from matcher.parallel import Mapper
from matcher.progress import report
from matcher.solver.decompose.bound import BestTwo, best_two, dual_bound
from matcher.solver.decompose.parts import Part, iter_parts, layout
from matcher.solver.decompose.tasks import PriceTask, price_part
from matcher.solver.problem import AssignmentProblem


def _tracked(stage: str, items: Iterable[Any], total: int) -> Iterator[Any]:
    for i, item in enumerate(items, 1):
        report(stage, i, total)
        yield item


@dataclass(frozen=True)
class Prices:
    """Multipliers per organisation, prices per option, and each candidate's best two."""

    lam: np.ndarray
    v: np.ndarray
    top: BestTwo


def _outside(top: BestTwo, part: Part) -> np.ndarray:
    """Per local candidate of `part`: the best it is worth in any other part (>= 0)."""
    here = top.part[part.cands] == part.label
    return np.maximum(np.where(here, top.second[part.cands], top.best[part.cands]), 0)


def sign_step(lam: np.ndarray, excess: np.ndarray, rate: np.ndarray, prev_sign: np.ndarray,
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One multiplier step by the sign of each budget's excess ("rprop"): the step grows by 5/4
    while the sign stays and halves when it flips; integers only. Returns (multipliers, steps,
    last nonzero signs)."""
    sign = np.where((lam > 0) | (excess > 0), np.sign(excess), 0)
    same = sign * prev_sign
    rate = np.maximum(np.where(same > 0, (rate * 5) // 4, np.where(same < 0, rate // 2, rate)), 1)
    return np.maximum(lam + sign * rate, 0), rate, np.where(sign != 0, sign, prev_sign)


def price_tasks(problem: AssignmentProblem, labels: np.ndarray, parts: list[Part],
                lam: np.ndarray, top: BestTwo) -> Iterator[PriceTask]:
    """One sweep's price steps, one part's arrays at a time (the mapper pulls them lazily)."""
    for part in iter_parts(problem, labels, parts=parts):
        yield PriceTask(part.label, part.problem, lam[part.orgs], _outside(top, part))


def coordinate(problem: AssignmentProblem, labels: np.ndarray, lam: np.ndarray, v: np.ndarray,
               usable: np.ndarray, sweeps: int, mapper: Mapper,
               ) -> tuple[Prices, int, list[int]]:
    """Price sweeps from the parts' multipliers and prices: returns the last prices, the lowest
    bound seen (each is valid) and the bound after each sweep.

    A sweep prices every part's options exactly, the other parts' prices fixed (every part from
    the same prices: Jacobi), and moves each organisation's multiplier by the sign of its budget
    excess in the parts' priced flows, with a step that grows by 5/4 while the sign stays and
    halves when it flips (as the Lagrangian method's "rprop" rule; integers only).
    """
    _, _, budget_left, _ = problem.residual()
    budget_left = np.maximum(budget_left, 0)
    lam = lam.copy()
    top = best_two(problem, lam, v, labels, usable)
    bound = dual_bound(problem, lam, v, top)
    trace = [bound]
    best = Prices(lam.copy(), v, top)
    rate = np.maximum(lam >> 5, np.int64(1 << 12))
    prev_sign = np.zeros(len(lam), dtype=np.int64)
    parts = layout(problem, labels) if sweeps > 0 else []
    for _ in range(sweeps):
        v = v.copy()
        used = np.zeros(len(lam), dtype=np.int64)
        tasks = price_tasks(problem, labels, parts, lam, top)
        for part, ans in zip(parts, _tracked("bound", mapper(price_part, tasks), len(parts)),
                             strict=True):
            v[part.options] = ans.prices
            used[part.orgs] = ans.guidance_used
        top = best_two(problem, lam, v, labels, usable)
        value = dual_bound(problem, lam, v, top)
        trace.append(value)
        if value < bound:
            bound, best = value, Prices(lam.copy(), v, top)
        lam, rate, prev_sign = sign_step(lam, used - budget_left, rate, prev_sign)
    return best, bound, trace
