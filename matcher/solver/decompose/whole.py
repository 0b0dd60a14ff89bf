"""Step 2b of `matcher.solver.decompose`: Lagrangian iterations over the whole problem, each
subproblem by the auction over every usable pair, for a bound that does not depend on the
parts' borders and a repaired answer."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from matcher.policy import DecomposeSettings
from matcher.solver.decompose.coordinate import sign_step
from matcher.solver.lagrangian import polyak_step
from matcher.solver.problem import AssignmentProblem
from matcher.solver.quota_flow import best_pairs


def auction_core(problem: AssignmentProblem, lam: np.ndarray, usable: np.ndarray,
                 chosen: np.ndarray, k: int) -> np.ndarray:
    """The pairs of the whole-problem iterations over a core (`decompose_auction_core`): each
    person's best `k` pairs by weight and by weight priced at `lam`, and the answer's; usable
    ones only (so no locked pair)."""
    return (best_pairs(problem, k) | best_pairs(problem, k, lam=lam) | chosen) & usable


@dataclass(frozen=True)
class WholeRun:
    """How the whole-problem iterations run (``[solver.decompose]`` ``auction_*``). `step`:
    "sign" (`sign_step`, as in the coordination) or "polyak" (`polyak_step` towards `target`, a
    feasible answer's value, with factor `theta`, halved after each iteration that does not
    lower the bound). `threads` > 1: the auction's Jacobi rounds on that many threads
    (`matcher.solver.auction.Auction`). `search_shift` < 16: the iterations' auctions stop at
    eps = highest weight / 2**search_shift (coarser, cheaper; each dual is still a valid bound),
    and the best multipliers are solved once more at the finest eps, the lower dual kept."""

    iterations: int
    step: str = "sign"
    theta: float = 0.2
    target: int = 0
    threads: int = 1
    search_shift: int = 16

    @classmethod
    def of(cls, s: DecomposeSettings, target: int) -> WholeRun:
        return cls(s.auction_iterations, s.auction_step, s.auction_theta, target,
                   s.auction_threads, s.auction_search_shift)


class _WholeDual:
    """The whole problem's Lagrangian subproblem over the usable pairs, by one auction kept
    warm between calls: its answer at given multipliers and the bound of the whole problem."""

    def __init__(self, problem: AssignmentProblem, v: np.ndarray, usable: np.ndarray,
                 threads: int) -> None:
        from matcher.solver.auction import Auction  # numba: imported when used

        _, seats_left, budget_left, _ = problem.residual()
        self.problem = problem
        self.budget_left = np.maximum(budget_left, 0)
        self.locked = int(problem.weight[problem.locked].sum())
        self.idx = np.flatnonzero(usable)
        self.auction = Auction(problem.cand[self.idx], problem.opt[self.idx],
                               problem.n_candidates, seats_left, prices=v, threads=threads)
        self.org = problem.option_org[problem.opt[self.idx]].astype(np.int32)
        self.need = problem.need[problem.cand[self.idx]].astype(np.int32)

    def solve_at(self, m: np.ndarray, fine_shift: int) -> tuple[np.ndarray, int]:
        """The subproblem's answer at multipliers `m` (over `idx`) and its bound."""
        from matcher.solver.auction import priced_weights

        w = np.empty(len(self.idx), dtype=np.int64)
        priced_weights(self.problem.weight, self.idx, m, self.org, self.need, w)
        x, dual = self.auction.solve(w, fine_shift=fine_shift)
        return x, self.locked + dual + int((m * self.budget_left).sum())

    def used(self, x: np.ndarray, n_orgs: int) -> np.ndarray:
        """Guidance used per organisation by the subproblem's answer `x`."""
        return np.bincount(self.org[x], weights=self.need[x], minlength=n_orgs).astype(np.int64)


def whole_lagrangian(problem: AssignmentProblem, lam: np.ndarray, v: np.ndarray,
                     usable: np.ndarray, run: WholeRun,
                     ) -> tuple[np.ndarray, int, list[int], np.ndarray | None]:
    """Lagrangian iterations over the whole problem (`run`), each subproblem by the auction
    over every usable pair (`matcher.solver.auction`), started from the coordinated
    multipliers `lam` and option prices `v`.

    Returns the best multipliers, the lowest bound (each iteration's is valid: the auction's
    dual over all pairs plus ``sum(lam * budget_left)``), the bound of each iteration, and the
    subproblem's answer at the best multipliers (bool per edge; None without iterations).
    """
    from matcher.solver.auction import FINE_SHIFT  # numba: imported when used

    dual = _WholeDual(problem, v, usable, run.threads)
    lam = np.maximum(lam, 0).astype(np.int64)
    rate = np.maximum(lam >> 5, np.int64(1 << 12))
    prev_sign = np.zeros(len(lam), dtype=np.int64)
    theta_num = max(round(run.theta * 1024), 1)
    trace: list[int] = []
    best_value, best_lam, best_x = -1, lam.copy(), None
    shift = min(run.search_shift, FINE_SHIFT)
    for _ in range(run.iterations):
        x, value = dual.solve_at(lam, shift)
        trace.append(value)
        if best_value < 0 or value < best_value:
            best_value, best_lam, best_x = value, lam.copy(), x
        elif run.step == "polyak":
            theta_num = max(theta_num // 2, 1)
        excess = dual.used(x, len(lam)) - dual.budget_left
        if run.step == "polyak":
            lam = polyak_step(lam, excess, value, run.target, theta_num)
        else:
            lam, rate, prev_sign = sign_step(lam, excess, rate, prev_sign)
    if best_x is not None and shift < FINE_SHIFT:
        best_x, value = dual.solve_at(best_lam, FINE_SHIFT)
        trace.append(value)
        best_value = min(best_value, value)
    chosen = None
    if best_x is not None:
        chosen = np.zeros(problem.n_edges, dtype=bool)
        chosen[dual.idx[best_x]] = True
    return best_lam, best_value, trace, chosen
