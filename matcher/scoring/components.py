"""Score components: each maps arrays of (candidate, option) pairs to values in [0, 1].

No component reads anything but the instance's scoring inputs (skills, wishes, hours, travel,
language); protected attributes are not part of an instance at all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import numpy as np

from matcher.model import Instance
from matcher.policy import Policy

COMPONENTS = ("skills", "sector", "hours", "travel", "language")

#: Pairs per block when the sparse skill rows are gathered (bounds memory at any scale).
_BLOCK = 1_000_000


_T = TypeVar("_T")

#: Dense lookup tables are used when they hold at most this many cells (else sparse indexing).
_DENSE_CELLS = 200_000_000


def _cached(inst: Instance, key: str, build: Callable[[], _T]) -> _T:
    """Per-instance cache of derived lookup tables (an Instance is immutable)."""
    cache = inst.__dict__.setdefault("_derived", {})
    if key not in cache:
        cache[key] = build()
    return cache[key]


def _skill_tables(inst: Instance) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(dense candidate skill levels, option skill index slots, option level slots) or None."""
    n_c, n_s = inst.cand_skills.shape
    if n_c * max(n_s, 1) > _DENSE_CELLS:
        return None
    has = inst.cand_skills.toarray().astype(np.int8)
    o = inst.opt_skills.tocsr()
    width = int(np.diff(o.indptr).max()) if o.shape[0] else 0
    idx = np.zeros((o.shape[0], width), dtype=np.int64)
    lvl = np.zeros((o.shape[0], width), dtype=np.int16)
    row = np.repeat(np.arange(o.shape[0]), np.diff(o.indptr))
    slot = np.arange(len(o.indices)) - o.indptr[row]
    idx[row, slot] = o.indices
    lvl[row, slot] = o.data
    return has, idx, lvl


def skills(inst: Instance, cand: np.ndarray, opt: np.ndarray, dist: np.ndarray,
           policy: Policy) -> np.ndarray:
    """Share of the option's desired skill levels the person has: sum min(has, wants) / sum wants.

    An option that names no desired skills fits everyone (1.0).
    """
    out = np.ones(len(cand))
    want_total = _cached(inst, "want_total", lambda: np.asarray(
        inst.opt_skills.sum(axis=1)).ravel().astype(np.float64))
    tables = _cached(inst, "skill_tables", lambda: _skill_tables(inst))
    if tables is not None:  # flat, slot-major views: 1-d gathers per slot
        has, idx, lvl = tables
        has_flat, n_skills = has.ravel(), has.shape[1]
        idx_t, lvl_t = np.ascontiguousarray(idx.T), np.ascontiguousarray(lvl.T)
    for s in range(0, len(cand), _BLOCK):
        c, o = cand[s:s + _BLOCK], opt[s:s + _BLOCK]
        if tables is not None:
            covered = np.zeros(len(c), dtype=np.int64)
            row = c.astype(np.int64) * n_skills
            for j in range(idx_t.shape[0]):
                covered += np.minimum(has_flat[row + idx_t[j][o]], lvl_t[j][o])
        else:
            has_s = inst.cand_skills[c].astype(np.int16)
            want = inst.opt_skills[o].astype(np.int16)
            covered = np.asarray(has_s.minimum(want).sum(axis=1)).ravel()
        total = want_total[o]
        out[s:s + _BLOCK] = np.where(total > 0, covered / np.maximum(total, 1), 1.0)
    return out


def sector_rank(inst: Instance, cand: np.ndarray, opt: np.ndarray) -> np.ndarray:
    """Rank of the option's sector on the person's wish list (1 = first), 0 if not wished."""
    if len(cand) == 0:
        return np.zeros(0, dtype=np.int64)
    n_c, n_s = inst.cand_sector_rank.shape
    if n_c * max(n_s, 1) <= _DENSE_CELLS:
        dense: np.ndarray = _cached(inst, "sector_rank", lambda: inst.cand_sector_rank.toarray())
        return dense[cand, inst.opt_sector[opt]].astype(np.int64)
    rank = inst.cand_sector_rank[cand, inst.opt_sector[opt]]
    return np.asarray(rank).ravel().astype(np.int64)


def sector(inst: Instance, cand: np.ndarray, opt: np.ndarray, dist: np.ndarray,
           policy: Policy) -> np.ndarray:
    p = policy.sector
    scores = np.asarray((p.unwished, *p.rank_scores), dtype=float)
    rank = np.minimum(sector_rank(inst, cand, opt), len(p.rank_scores))
    out = scores[rank]
    n_wishes = np.diff(inst.cand_sector_rank.indptr)[cand]
    return np.where(n_wishes == 0, p.no_wishes, out)


def hours(inst: Instance, cand: np.ndarray, opt: np.ndarray, dist: np.ndarray,
          policy: Policy) -> np.ndarray:
    """1 when the person's hours lie in the option's range; below the range h/min, above max/h."""
    h = inst.candidates["hours_available"].to_numpy()[cand]
    lo = inst.options["hours_min"].to_numpy()[opt]
    hi = inst.options["hours_max"].to_numpy()[opt]
    with np.errstate(divide="ignore", invalid="ignore"):
        below = np.where(lo > 0, h / lo, 1.0)
        above = np.where(h > 0, hi / h, 1.0)
    return np.clip(np.where(h < lo, below, np.where(h > hi, above, 1.0)), 0.0, 1.0)


def travel(inst: Instance, cand: np.ndarray, opt: np.ndarray, dist: np.ndarray,
           policy: Policy) -> np.ndarray:
    """1 at the door, falling linearly to 0 at the person's maximum travel distance."""
    limit = inst.candidates["max_travel_km"].to_numpy()[cand]
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(limit > 0, dist / limit, np.where(dist > 0, 1.0, 0.0))
    return np.clip(1.0 - frac, 0.0, 1.0)


def language_margin(inst: Instance, cand: np.ndarray, opt: np.ndarray) -> np.ndarray:
    """Levels of Dutch above the option's minimum (negative: below it)."""
    return (inst.candidates["level"].to_numpy()[cand].astype(np.int64)
            - inst.options["level"].to_numpy()[opt])


def language(inst: Instance, cand: np.ndarray, opt: np.ndarray, dist: np.ndarray,
             policy: Policy) -> np.ndarray:
    p = policy.language
    margin = language_margin(inst, cand, opt)
    return np.where(margin < 0, 0.0, np.minimum(1.0, p.at_minimum + p.per_level * margin))


COMPONENT_FUNCTIONS: dict[str, Callable[..., np.ndarray]] = {
    "skills": skills,
    "sector": sector,
    "hours": hours,
    "travel": travel,
    "language": language,
}
