"""Each candidate's best K eligible pairs, found without scoring every pair within travel distance.

Blocking by sector and by distance, exact. A pair's score is the weighted mean of its
components; all but travel are bounded per (candidate, sector) before any pair is scored
(:func:`nontravel_bounds`, plus the sector's own part: its rank on the person's wish list, or
``sector.unwished``, or ``sector.no_wishes``), and travel falls linearly from 1 at the door to 0
at the person's travel distance. So once a person has K scored pairs, the K-th best score says
how far away an option of each sector could still be among their best K (:func:`reach`), and
no option beyond that is looked at.

Each (candidate, sector) is searched in two steps (:func:`_search`): within :data:`RING` of the
travel distance (or the reach, if less), then from there to the reach at the best K found so
far (the travel distance while the person has fewer than K pairs). First the person's wished
sectors (every sector for people without wishes), then the other sectors, which for most
people then reach no option at all. People with a coordinator's decision get every eligible
pair.

Measured one-off on national_1_3m (about 7,000 options within a person's travel distance; the
K-th best pair lies at a median of a fifth of it): 16 chunks of candidates scored in 2.0 s with
RING = 0.2 and 4.2 s with one search over the travel distance (RING = 1); regions_200k 10.1 s
and 12.5 s (one process).
"""

from __future__ import annotations

import numpy as np

from matcher.model import Instance
from matcher.policy import Policy
from matcher.scoring import components
from matcher.scoring.eligibility import Blocks
from matcher.scoring.ranking import score_pairs, top_k_mask

#: The share of a person's travel distance that the first search reaches (0.2 and 0.3 were
#: fastest at 200,000 and 1.3 million candidates, one-off; 0.5 slower, 1.0 twice as slow).
RING = 0.2
#: Scores are rounded to 6 decimals: a pair is searched wherever its bound could tie or win.
_TIE = 1e-6


#: The per-sector skill bound is computed only when options have at most this many distinct
#: (sector, skill wants) combinations; otherwise the skill part of the bound is 1.
_MAX_SKILL_PROFILES = 5_000


def _skill_profiles(inst: Instance) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Distinct (sector, wanted skills) of the options: (sector, skill slots, level slots).

    Computed once per instance (a sort of every option's row: at 1.3 million candidates,
    recomputing it for every chunk of candidates took a third of the scoring time)."""
    return components._cached(inst, "skill_profiles", lambda: _build_skill_profiles(inst))


def _build_skill_profiles(inst: Instance) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    tables = components._cached(inst, "skill_tables", lambda: components._skill_tables(inst))
    if tables is None:
        return None
    _, idx, lvl = tables
    rows = np.column_stack([inst.opt_sector.astype(np.int64), idx, lvl.astype(np.int64)])
    uniq = np.unique(rows, axis=0)  # sorted by sector first
    if len(uniq) > _MAX_SKILL_PROFILES:
        return None
    w = idx.shape[1]
    return uniq[:, 0], uniq[:, 1:1 + w], uniq[:, 1 + w:].astype(np.int16)


def nontravel_bounds(inst: Instance, policy: Policy, cands: np.ndarray) -> np.ndarray:
    """(len(cands) x sectors): an upper bound of the skills, hours and language parts of the
    score (weighted, over the weights' total) of any eligible pair of each candidate with an
    option of each sector; -inf where no option of the sector accepts the person's Dutch level.

    Skills: the best fit over the sector's distinct skill wants; language: the margin over the
    sector's lowest minimum; hours: 1. The sector and travel parts are added by the caller.
    """
    w = policy.weights.as_dict()
    total = sum(w.values())
    n_s = len(inst.sector_names)
    o_level = inst.options["level"].to_numpy()
    min_level = np.full(n_s, 127, dtype=np.int64)
    np.minimum.at(min_level, inst.opt_sector, o_level.astype(np.int64))
    margin = inst.candidates["level"].to_numpy()[cands][:, None].astype(np.int64) - min_level
    p = policy.language
    lang = np.minimum(1.0, p.at_minimum + p.per_level * np.maximum(margin, 0))
    skill = np.ones((len(cands), n_s))
    prof = _skill_profiles(inst)
    tables = components._cached(inst, "skill_tables", lambda: components._skill_tables(inst))
    if prof is not None and tables is not None:
        sector, idx, lvl = prof
        has = tables[0]
        want = lvl.sum(axis=1)
        step = max(1, 20_000_000 // max(len(sector) * max(idx.shape[1], 1), 1))
        starts = np.searchsorted(sector, np.arange(n_s))
        present = np.unique(sector)
        for a in range(0, len(cands), step):
            h = has[cands[a:a + step]]  # (c, skills)
            covered = np.zeros((len(h), len(sector)), dtype=np.int64)
            for j in range(idx.shape[1]):
                covered += np.minimum(h[:, idx[:, j]], lvl[None, :, j])
            fit = np.where(want > 0, covered / np.maximum(want, 1), 1.0)
            best = np.zeros((len(h), n_s))
            best[:, present] = np.maximum.reduceat(fit, starts[present], axis=1)
            skill[a:a + step] = best
    ub = (w["skills"] * skill + w["hours"] + w["language"] * lang) / total
    return np.where(margin < 0, -np.inf, ub)


def reach(travel: np.ndarray, bound: np.ndarray, lowest: np.ndarray,
          w_travel: float) -> np.ndarray:
    """The distance (km) up to which a pair whose other parts score at most `bound` can still
    score `lowest` (within the rounding), its travel part being ``w_travel * (1 - d / travel)``;
    at most `travel`, and -1 where no distance can. Element-wise, broadcasting."""
    with np.errstate(invalid="ignore", over="ignore"):
        if w_travel <= 0:
            return np.where(bound + _TIE >= lowest, travel, -1.0)
        frac = np.minimum(1.0 - (lowest - _TIE - bound) / w_travel, 1.0)
        return np.where(bound + w_travel + _TIE >= lowest, travel * frac, -1.0)


class _Best:
    """Each candidate's best k of the pairs scored so far (rows counted from `start`)."""

    def __init__(self, start: int, n: int, k: int) -> None:
        self.start, self.n, self.k = start, n, k
        self.c = self.o = np.zeros(0, dtype=np.int64)
        self.d = self.score = np.zeros(0)
        self.count = np.zeros(n, dtype=np.int64)
        self.lowest = np.full(n, 2.0)  # the k-th best score where count == k

    def add(self, c: np.ndarray, o: np.ndarray, d: np.ndarray, score: np.ndarray) -> None:
        c, o = np.concatenate([self.c, c]), np.concatenate([self.o, o])
        d, score = np.concatenate([self.d, d]), np.concatenate([self.score, score])
        keep = top_k_mask(c, o, score, np.zeros(len(c), dtype=np.int8), self.k)
        self.c, self.o, self.d, self.score = c[keep], o[keep], d[keep], score[keep]
        self.count = np.bincount(self.c - self.start, minlength=self.n)
        self.lowest = np.full(self.n, 2.0)
        np.minimum.at(self.lowest, self.c - self.start, self.score)


def _search(inst: Instance, policy: Policy, blocks: Blocks, best: _Best, rows: np.ndarray,
            sectors: np.ndarray, bound: np.ndarray, w_travel: float) -> int:
    """Score the pairs of candidates (`rows` from best.start) with each one's `sectors` that can
    still be among their best k, given `bound` (the other parts' bound per row and sector),
    into `best`: first within RING of the travel distance (or the reach, if less), then
    between that and the reach at the best k found. Returns the pairs blocking gave."""
    start, n, k = best.start, best.n, best.k
    cand = rows + start
    travel = blocks.travel[cand]
    n_near = 0
    inner = np.zeros(len(rows))
    for stage in (1, 2):
        has_k = best.count[rows] >= k
        far = np.where(has_k, reach(travel, bound, best.lowest[rows], w_travel), travel)
        if stage == 1:
            far = np.minimum(far, RING * travel)
            on = far >= 0
        else:
            on = far > inner
        c, o = blocks.near_sectors(cand[on], sectors[on], far[on])
        n_near += len(c)
        c, o, d = blocks.eligible(c, o)
        lo = np.full((n, len(inst.sector_names)), np.inf)
        hi = np.full((n, len(inst.sector_names)), -1.0)
        lo[rows[on], sectors[on]] = inner[on]
        hi[rows[on], sectors[on]] = far[on]
        at = (c - start, inst.opt_sector[o])
        keep = (d <= hi[at]) & ((d > lo[at]) if stage == 2 else True)
        c, o, d = c[keep], o[keep], d[keep]
        best.add(c, o, d, score_pairs(inst, c, o, d, policy)[1])
        inner = np.maximum(far, 0.0)
    return n_near


def pruned_chunk(inst: Instance, policy: Policy, blocks: Blocks, start: int, stop: int, k: int,
                 decided: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, np.ndarray]:
    """Eligible pairs of candidates start..stop-1 that can be among their best k (module
    docstring): (cand, opt, dist, pairs blocking returned, scores of the first pairs).

    The first pairs (everyone's but those of people with a coordinator's decision) come scored,
    so that they are not scored again. Exact: the best k of the result are the best k overall.
    """
    n = stop - start
    w = policy.weights.as_dict()
    total = sum(w.values())
    w_travel = w["travel"] / total
    p = policy.sector
    n_s = len(inst.sector_names)
    rank = inst.cand_sector_rank[start:stop].tocoo()
    wished = np.zeros((n, n_s), dtype=bool)
    wished[rank.row, rank.col] = True
    has_wishes = np.diff(inst.cand_sector_rank.indptr)[start:stop] > 0
    free = ~decided[start:stop]
    rows = np.flatnonzero(free)
    # The sector part of the score, per row and sector (decided rows are not searched here).
    sector_part = np.where(has_wishes[:, None], p.unwished, p.no_wishes) * np.ones((1, n_s))
    scores = np.asarray(p.rank_scores, dtype=np.float64)
    sector_part[rank.row, rank.col] = scores[np.minimum(rank.data, len(scores)) - 1]
    bound = np.full((n, n_s), -np.inf)
    bound[rows] = (nontravel_bounds(inst, policy, rows + start)
                   + w["sector"] * sector_part[rows] / total)
    best = _Best(start, n, k)
    n_near = 0
    # 1. Wished sectors (every sector for people without wishes); 2. the other sectors.
    first = wished | ~has_wishes[:, None]
    for mask in (first, ~first):
        r, sec = np.nonzero(mask & free[:, None])
        n_near += _search(inst, policy, blocks, best, r, sec, bound[r, sec], w_travel)
    # 3. People with a coordinator's decision: every eligible pair.
    b_c, b_o = blocks.near(np.flatnonzero(~free) + start)
    n_near += len(b_c)
    b_c, b_o, b_d = blocks.eligible(b_c, b_o)
    return (np.concatenate([best.c, b_c]), np.concatenate([best.o, b_o]),
            np.concatenate([best.d, b_d]), n_near, best.score)
