"""Prices and the bound of a round solved by region (the bound of `matcher.solver.decompose`'s
docstring, valid for the whole problem whatever the parts): option prices from a flow, each
candidate's best two parts at given prices, and the bound itself. Whole-array NumPy passes, in
chunks of candidates, in the calling process."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from matcher.solver.decompose.parts import _cand_starts, _chunks
from matcher.solver.problem import AssignmentProblem

_NEG = np.int64(-(2**62))


def option_prices(problem: AssignmentProblem, weight: np.ndarray, chosen: np.ndarray,
                  usable: np.ndarray, max_rounds: int | None = None) -> np.ndarray:
    """Optimal option prices (LP duals) of a max-weight assignment `chosen` under seats.

    `chosen` must be optimal over the `usable` edges with positive `weight` (as `solve_flow`
    returns it). The prices are the least ``v >= 0`` with ``u[c] + v[o] >= weight`` on every such
    edge, where ``u[c]`` is what candidate c gets (its chosen edge's weight minus that option's
    price, 0 if unchosen): a longest-path fixpoint over displacement chains, found by whole-array
    relaxation rounds. Any ``v >= 0`` gives a valid bound (`dual_bound`); these make it equal to
    the flow's value. Integers only.
    """
    n_o = problem.n_options
    idx = np.flatnonzero(usable & (weight > 0))
    v = np.zeros(n_o, dtype=np.int64)
    if len(idx) == 0:
        return v
    opt = problem.opt[idx].astype(np.int64)
    order = np.argsort(opt, kind="stable")
    idx, opt = idx[order], opt[order]
    cand = problem.cand[idx].astype(np.int64)
    w = weight[idx]
    pick = chosen[idx]
    matched = np.zeros(problem.n_candidates, dtype=bool)
    matched[cand[pick]] = True
    m_weight = np.zeros(problem.n_candidates, dtype=np.int64)
    m_weight[cand[pick]] = w[pick]
    m_opt = np.zeros(problem.n_candidates, dtype=np.int64)
    m_opt[cand[pick]] = opt[pick]
    present = opt[_cand_starts(opt)]
    starts = _cand_starts(opt)
    limit = n_o + 1 if max_rounds is None else max_rounds
    for _ in range(limit):
        u = np.where(matched, m_weight - v[m_opt], 0)
        new = np.zeros(n_o, dtype=np.int64)
        new[present] = np.maximum(np.maximum.reduceat(w - u[cand], starts), 0)
        if np.array_equal(new, v):
            break
        v = new
    return v


def priced_weight(problem: AssignmentProblem, lam: np.ndarray) -> np.ndarray:
    return problem.weight - lam[problem.edge_org] * problem.edge_need


def _usable(problem: AssignmentProblem) -> np.ndarray:
    """Free edges into options with a seat left after the locks."""
    free, seats_left, _, _ = problem.residual()
    return free & (seats_left[problem.opt] > 0)


@dataclass
class BestTwo:
    """Per candidate: best priced value over usable pairs net of prices, its part, and the best
    in any other part (``_NEG`` where none)."""

    best: np.ndarray
    part: np.ndarray
    second: np.ndarray


def best_two(problem: AssignmentProblem, lam: np.ndarray, v: np.ndarray, org_label: np.ndarray,
             usable: np.ndarray) -> BestTwo:
    n_c = problem.n_candidates
    out = BestTwo(np.full(n_c, _NEG), np.full(n_c, -1, dtype=np.int64), np.full(n_c, _NEG))
    for a, b in _chunks(problem):
        sl = slice(a, b)
        cand = problem.cand[sl]
        starts = _cand_starts(cand)
        if len(starts) == 0:
            continue
        lens = np.diff(np.r_[starts, b - a])
        who = cand[starts]
        red = problem.weight[sl] - lam[problem.option_org[problem.opt[sl]]] * problem.need[cand]
        red -= v[problem.opt[sl]]
        red[~usable[sl]] = _NEG
        part = org_label[problem.option_org[problem.opt[sl]]]
        best = np.maximum.reduceat(red, starts)
        at_best = red == np.repeat(best, lens)
        top_part = np.minimum.reduceat(np.where(at_best, part, np.iinfo(np.int64).max), starts)
        other = np.where(part != np.repeat(top_part, lens), red, _NEG)
        out.best[who] = best
        out.part[who] = np.where(best > _NEG, top_part, -1)
        out.second[who] = np.maximum.reduceat(other, starts)
    return out


def dual_bound(problem: AssignmentProblem, lam: np.ndarray, v: np.ndarray,
               top: BestTwo | None = None, usable: np.ndarray | None = None) -> int:
    """The valid upper bound of the module docstring for multipliers `lam` and prices `v`.

    `top` (from `best_two` with the same `lam` and `v`) saves recomputing each candidate's best.
    """
    lam = np.maximum(lam, 0)
    v = np.maximum(v, 0)
    _, seats_left, budget_left, _ = problem.residual()
    if top is None:
        usable = _usable(problem) if usable is None else usable
        zero = np.zeros(problem.n_organisations, dtype=np.int64)
        top = best_two(problem, lam, v, zero, usable)
    locked = int(problem.weight[problem.locked].sum())
    people = int(np.maximum(top.best, 0).sum())
    seats = int((np.maximum(seats_left, 0) * v).sum())
    guidance = int((lam * np.maximum(budget_left, 0)).sum())
    return locked + people + seats + guidance
