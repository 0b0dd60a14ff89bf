"""Random `AssignmentProblem`s shaped like the measured instances in FACTS.md (solver development).

N candidates and N/10 options on a unit square split into regions; option capacities 1-10 biased
large (about 0.7 seats per candidate); each candidate is eligible for `per_cand` options picked
at random among its `near` nearest; organisations own about 5 neighbouring options (always within
one region); guidance budgets are 30-80% of the organisation's seats times the mean need; needs are
mostly 1-2. Weights are micro-units of ``1 + score`` with the score falling with distance, as in
the real objective. Same arguments, same problem.
"""

from __future__ import annotations

import itertools

import numpy as np
from scipy.spatial import cKDTree

from matcher.solver.problem import AssignmentProblem


def random_problem(
    n: int,
    seed: int = 0,
    per_cand: int = 50,
    near: int = 150,
    regions: int = 1,
    budget_share: tuple[float, float] = (0.3, 0.8),
    locked_share: float = 0.0,
    chunk: int = 50_000,
) -> tuple[AssignmentProblem, np.ndarray]:
    """(problem, region of each option). ``budget_share=(inf, inf)`` makes budgets loose."""
    rng = np.random.default_rng(seed)
    n_opt = max(1, n // 10)
    per_cand = min(per_cand, n_opt)
    near = min(max(near, per_cand), n_opt)
    side = int(np.ceil(np.sqrt(regions)))
    opt_xy = rng.random((n_opt, 2))
    cand_xy = rng.random((n, 2))
    cell = np.minimum((opt_xy * side).astype(np.int64), side - 1)
    region = (cell[:, 0] * side + cell[:, 1]) % regions
    # Options ordered by region then position, so that organisations are neighbours in one region.
    order = np.lexsort((opt_xy[:, 1], opt_xy[:, 0], region))
    opt_xy, region = opt_xy[order], region[order]
    capacity = rng.choice(np.arange(1, 11), size=n_opt, p=np.arange(1, 11) / 55.0).astype(np.int64)
    org_start = np.flatnonzero(np.r_[True, np.diff(region) != 0])
    option_org = np.zeros(n_opt, dtype=np.int32)
    label = 0
    bounds = np.r_[org_start, n_opt]
    for a, b in itertools.pairwise(bounds):
        k = np.arange(b - a) // 5
        option_org[a:b] = label + k
        label += int(k[-1]) + 1
    n_org = label
    need = rng.choice([1, 2, 3], size=n, p=[0.55, 0.35, 0.10]).astype(np.int64)
    seats_org = np.bincount(option_org, weights=capacity, minlength=n_org)
    if np.isfinite(budget_share[1]):
        share = rng.uniform(budget_share[0], budget_share[1], size=n_org)
        budget = np.maximum(np.floor(share * seats_org * need.mean()), 0).astype(np.int64)
    else:  # loose budgets: never bind
        budget = np.full(n_org, 10**12, dtype=np.int64)

    tree = cKDTree(opt_xy)
    cands, opts, dists = [], [], []
    for a in range(0, n, chunk):
        b = min(n, a + chunk)
        d, j = tree.query(cand_xy[a:b], k=near)
        d, j = d.reshape(b - a, near), j.reshape(b - a, near)
        pick = np.argsort(rng.random((b - a, near)), axis=1)[:, :per_cand]
        jj = np.take_along_axis(j, pick, axis=1)
        dd = np.take_along_axis(d, pick, axis=1)
        cands.append(np.repeat(np.arange(a, b, dtype=np.int32), per_cand))
        opts.append(jj.ravel().astype(np.int32))
        dists.append(dd.ravel())
    cand = np.concatenate(cands)
    opt = np.concatenate(opts)
    dist = np.concatenate(dists)
    srt = np.lexsort((opt, cand))
    cand, opt, dist = cand[srt], opt[srt], dist[srt]
    scale = np.sqrt(near / (n_opt * np.pi))
    score = np.clip(0.6 * rng.random(len(cand)) + 0.4 * (1 - dist / (2 * scale)), 0, 1)
    weight = (1_000_000 + np.round(score * 1_000_000)).astype(np.int64)
    locked = np.zeros(len(cand), dtype=bool)
    if locked_share > 0:
        locked = _random_locks(rng, cand, opt, option_org, capacity, budget, need, locked_share)
    problem = AssignmentProblem(cand=cand, opt=opt, weight=weight, locked=locked,
                                capacity=capacity, option_org=option_org, budget=budget, need=need)
    return problem, region.astype(np.int32)


def _random_locks(rng: np.random.Generator, cand: np.ndarray, opt: np.ndarray,
                  option_org: np.ndarray, capacity: np.ndarray, budget: np.ndarray,
                  need: np.ndarray, share: float) -> np.ndarray:
    """Lock a few edges that fit seats and budgets together (one per candidate at most)."""
    locked = np.zeros(len(cand), dtype=bool)
    seats = capacity.copy()
    room = budget.copy()
    taken = np.zeros(len(need), dtype=bool)
    for e in rng.permutation(len(cand))[: int(share * len(need))].tolist():
        c, o = cand[e], opt[e]
        g = option_org[o]
        if taken[c] or seats[o] <= 0 or need[c] > room[g]:
            continue
        locked[e] = True
        taken[c] = True
        seats[o] -= 1
        room[g] -= need[c]
    return locked
