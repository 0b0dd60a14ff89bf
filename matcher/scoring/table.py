"""The edge table: one row per candidate-option pair the solver may choose, with its score.

``score`` is the policy-weighted mean of the components, rounded to 6 decimals.
``weight`` = ``match_bonus`` + ``score`` (rounded to 6 decimals) is the pair's exact coefficient
in the solver's objective; the solver works in integer micro-units, ``weight_int`` =
``weight`` x 1,000,000, so objective values are exact and the same on every machine.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from matcher.model import Instance
from matcher.policy import Policy
from matcher.progress import report
from matcher.scoring import components
from matcher.scoring.components import COMPONENT_FUNCTIONS, COMPONENTS
from matcher.scoring.eligibility import (
    Blocks,
    Chunks,
    distances_km,
    iter_eligible_pairs,
)

log = logging.getLogger(__name__)

SCALE = 1_000_000
NO_DECISION, LOCK, FORBID = 0, 1, 2
DECISION_NAMES = np.array(["", "lock", "forbid"], dtype=object)


@dataclass(frozen=True)
class EdgeTable:
    """Whole arrays over pairs, sorted by (candidate, option)."""

    cand: np.ndarray  # int32 row in inst.candidates
    opt: np.ndarray  # int32 row in inst.options
    distance_km: np.ndarray
    components: dict[str, np.ndarray]
    score: np.ndarray
    weight: np.ndarray
    weight_int: np.ndarray  # int64, weight in micro-units: the solver's coefficient
    eligible: np.ndarray  # False only for a coordinator's lock on an ineligible pair
    decision: np.ndarray  # int8: 0 none, 1 lock, 2 forbid
    extra: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.cand)

    def take(self, index: np.ndarray | slice) -> EdgeTable:
        return EdgeTable(
            cand=self.cand[index], opt=self.opt[index], distance_km=self.distance_km[index],
            components={k: v[index] for k, v in self.components.items()},
            score=self.score[index], weight=self.weight[index],
            weight_int=self.weight_int[index], eligible=self.eligible[index],
            decision=self.decision[index], extra={k: v[index] for k, v in self.extra.items()},
        )

    def to_frame(self, inst: Instance, categorical_ids: bool = False) -> pd.DataFrame:
        """edges.csv: ids, score, one column per component, weight, and the coordinator decision.

        With `categorical_ids` the id columns are pandas Categoricals over the instance's ids
        (same values and CSV text, without a string per row) where the ids are unique.
        """
        return next(self.to_frames(inst, categorical_ids, max(len(self), 1)))

    def to_frames(self, inst: Instance, categorical_ids: bool = False,
                  rows: int = 2_000_000) -> Iterator[pd.DataFrame]:
        """`to_frame` in pieces of `rows` rows (their concatenation is `to_frame`); with
        `categorical_ids` the pieces share one categories object per id column."""
        cand_ids = inst.candidates["candidate_id"]
        opt_ids = inst.options["option_id"]
        categorical = categorical_ids and cand_ids.is_unique and opt_ids.is_unique
        cand_cats, opt_cats = (pd.Index(cand_ids), pd.Index(opt_ids)) if categorical else (None, None)
        for start in range(0, max(len(self), 1), rows):
            e = self.take(slice(start, start + rows))
            if cand_cats is not None and opt_cats is not None:
                cand_col: object = pd.Categorical.from_codes(e.cand, categories=cand_cats)
                opt_col: object = pd.Categorical.from_codes(e.opt, categories=opt_cats)
            else:
                cand_col = cand_ids.to_numpy()[e.cand]
                opt_col = opt_ids.to_numpy()[e.opt]
            df = pd.DataFrame({"candidate_id": cand_col, "option_id": opt_col, "score": e.score})
            for name in COMPONENTS:
                df[name] = np.round(e.components[name], 6)
            df["distance_km"] = np.round(e.distance_km, 3)
            df["weight"] = e.weight
            df["eligible"] = e.eligible
            df["decision"] = DECISION_NAMES[e.decision]
            yield df


def score_pairs(
    inst: Instance, cand: np.ndarray, opt: np.ndarray, dist: np.ndarray, policy: Policy
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Components and score of arbitrary pairs (eligible or not)."""
    weights = policy.weights.as_dict()
    total = sum(weights.values())
    comps = {name: COMPONENT_FUNCTIONS[name](inst, cand, opt, dist, policy) for name in COMPONENTS}
    score = np.zeros(len(cand))
    for name in COMPONENTS:
        score += weights[name] * comps[name]
    return comps, np.round(np.clip(score / total, 0.0, 1.0), 6)


def top_k_mask(cand: np.ndarray, opt: np.ndarray, score: np.ndarray, decision: np.ndarray,
               k: int) -> np.ndarray:
    """Keep each candidate's best `k` not-forbidden pairs by score (ties by option, i.e. id).

    Pairs with a coordinator's decision (lock or forbid) are always kept, so they are reported.
    Any pair order is accepted.
    """
    keep = decision != 0
    rankable = np.flatnonzero(decision != FORBID)
    if len(rankable) == 0:
        return keep
    c, o = cand[rankable].astype(np.int64), opt[rankable].astype(np.int64)
    base = int(c.min())
    c -= base
    span_o = int(o.max()) + 1
    span_s = SCALE + 1
    if (int(c.max()) + 1) * span_s * span_o < 2**62:
        s_int = SCALE - np.rint(score[rankable] * SCALE).astype(np.int64)
        order = np.argsort((c * span_s + s_int) * span_o + o)  # keys are unique
    else:
        order = np.lexsort((o, -score[rankable], c))
    c_sorted = c[order]
    # position within its candidate's run of the sorted pairs
    starts = np.flatnonzero(np.r_[True, c_sorted[1:] != c_sorted[:-1]])
    first = np.repeat(starts, np.diff(np.r_[starts, len(c_sorted)]))
    keep[rankable[order[np.arange(len(order)) - first < k]]] = True
    return keep


def _decision_keys(inst: Instance) -> tuple[np.ndarray, np.ndarray]:
    dec = inst.decisions
    dkey = dec["cand"].to_numpy(np.int64) * inst.n_options + dec["opt"].to_numpy(np.int64)
    dkind = np.where(dec["decision"].to_numpy() == "lock", LOCK, FORBID).astype(np.int8)
    order = np.argsort(dkey, kind="stable")
    return dkey[order], dkind[order]


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


def _unwished_bounds(inst: Instance, policy: Policy, cands: np.ndarray) -> np.ndarray:
    """(len(cands) x sectors) upper bound of the score of any eligible pair of each candidate
    with an option of each sector, taking the sector as not wished.

    Skills: the best fit over the sector's distinct skill wants; language: the margin over the
    sector's lowest minimum (-inf where no option of the sector accepts the person's level);
    hours and travel: 1.
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
        for a in range(0, len(cands), step):
            h = has[cands[a:a + step]]  # (c, skills)
            covered = np.zeros((len(h), len(sector)), dtype=np.int64)
            for j in range(idx.shape[1]):
                covered += np.minimum(h[:, idx[:, j]], lvl[None, :, j])
            fit = np.where(want > 0, covered / np.maximum(want, 1), 1.0)
            best = np.zeros((len(h), n_s))
            starts = np.searchsorted(sector, np.arange(n_s))
            present = np.unique(sector)
            best[:, present] = np.maximum.reduceat(fit, starts[present], axis=1)
            skill[a:a + step] = best
    ub = (w["skills"] * skill + w["sector"] * policy.sector.unwished + w["hours"] + w["travel"]
          + w["language"] * lang) / total
    return np.where(margin < 0, -np.inf, np.minimum(ub, 1.0))


Scored = tuple[dict[str, np.ndarray], np.ndarray]  # (components, score) of some pairs


def _pruned_chunk(inst: Instance, policy: Policy, blocks: Blocks, start: int, stop: int,
                  k: int, decided: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, Scored]:
    """Eligible pairs of candidates start..stop-1 that can be among their best k.

    Blocking by sector: first only the options in each person's wished sectors are scored
    (their best k kept). For a person with k of those, an unwished sector is searched only if
    an upper bound of the score its options can reach (:func:`_unwished_bounds`) is not below
    the person's k-th best so far. Everyone else (no wishes, fewer than k, a coordinator's
    decision) gets every eligible pair. Exact: the best k of the result are the best k overall.
    The components and scores of the first pairs (found in wished sectors) are returned too, so
    that they are not computed again.
    """
    rank = inst.cand_sector_rank[start:stop].tocoo()
    wishers = np.zeros(stop - start, dtype=bool)
    wishers[rank.row] = True
    wishers &= ~decided[start:stop]
    parts_c, parts_o = [], []
    for sector in np.unique(rank.col).tolist():
        members = rank.row[(rank.col == sector) & wishers[rank.row]] + start
        c, o = blocks.near(np.sort(members), sector)
        parts_c.append(c)
        parts_o.append(o)
    n_near = 0
    partial = np.zeros(stop - start, dtype=bool)
    a_c = a_o = np.zeros(0, dtype=np.int64)
    a_d = np.zeros(0)
    a_comps: dict[str, np.ndarray] = {name: np.zeros(0) for name in COMPONENTS}
    a_score = np.zeros(0)
    extra_c: list[np.ndarray] = []
    extra_o: list[np.ndarray] = []
    if parts_c:
        cand, opt = np.concatenate(parts_c), np.concatenate(parts_o)
        n_near += len(cand)
        a_c, a_o, a_d = blocks.eligible(cand, opt)
        a_comps, score = score_pairs(inst, a_c, a_o, a_d, policy)
        keep = top_k_mask(a_c, a_o, score, np.zeros(len(a_c), dtype=np.int8), k)
        a_c, a_o, a_d, score = a_c[keep], a_o[keep], a_d[keep], score[keep]
        a_comps = {name: v[keep] for name, v in a_comps.items()}
        count = np.bincount(a_c - start, minlength=stop - start)
        lowest = np.full(stop - start, 2.0)
        np.minimum.at(lowest, a_c - start, score)  # k-th best score where count == k
        partial = wishers & (count >= k)
        keep = partial[a_c - start]
        a_c, a_o, a_d, a_score = a_c[keep], a_o[keep], a_d[keep], score[keep]
        a_comps = {name: v[keep] for name, v in a_comps.items()}
        rows = np.flatnonzero(partial)
        if len(rows):
            ub = _unwished_bounds(inst, policy, rows + start)
            wished = np.zeros((stop - start, len(inst.sector_names)), dtype=bool)
            wished[rank.row, rank.col] = True
            # Scores are rounded to 6 decimals: search wherever the bound could tie or win.
            search = (ub + 1e-6 >= lowest[rows][:, None]) & ~wished[rows]
            for sector in np.flatnonzero(search.any(axis=0)).tolist():
                c, o = blocks.near(rows[search[:, sector]] + start, sector)
                extra_c.append(c)
                extra_o.append(o)
    rest = np.flatnonzero(~partial) + start
    b_c, b_o = blocks.near(rest)
    if extra_c:
        b_c, b_o = np.concatenate([b_c, *extra_c]), np.concatenate([b_o, *extra_o])
    n_near += len(b_c)
    b_c, b_o, b_d = blocks.eligible(b_c, b_o)
    return (np.concatenate([a_c, b_c]), np.concatenate([a_o, b_o]), np.concatenate([a_d, b_d]),
            n_near, (a_comps, a_score))


def _chunk_pairs(inst: Instance, policy: Policy, k: int
                 ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, Scored | None]]:
    """Eligible pairs chunk by chunk: all of them sorted (k = 0) or a superset of each best k.

    The fourth item, where not None, holds the components and scores of the chunk's first pairs.
    """
    if k <= 0:
        for cand, opt, dist in iter_eligible_pairs(inst):
            yield cand, opt, dist, None
        return
    blocks = Blocks(inst)
    decided = np.zeros(inst.n_candidates, dtype=bool)
    decided[inst.decisions["cand"].to_numpy()] = True
    chunks = Chunks(inst.n_candidates)
    for start, stop in chunks:
        cand, opt, dist, n_near, scored = _pruned_chunk(inst, policy, blocks, start, stop, k,
                                                        decided)
        log.debug("candidates %d-%d: %d near pairs, %d eligible", start, stop, n_near, len(cand))
        yield cand.astype(np.int32), opt.astype(np.int32), dist, scored  # in no particular order
        report("score", stop, inst.n_candidates)
        chunks.observe(n_near, stop - start)


def build_edges(inst: Instance, policy: Policy) -> EdgeTable:
    """Score every eligible pair, plus any locked pair a coordinator chose outside the rules.

    Works chunk by chunk of candidates (bounded memory). With the policy's
    ``eligibility.max_options_per_candidate`` = K > 0 only each candidate's best K eligible
    pairs are kept (see :func:`top_k_mask`), found with blocking by sector
    (:func:`_pruned_chunk`) so that dense regions are not scored pair by pair.
    """
    k = policy.eligibility.max_options_per_candidate
    dkey, dkind = _decision_keys(inst)
    found_any = np.zeros(len(dkey), dtype=bool)
    parts: list[dict[str, np.ndarray]] = []
    for cand, opt, dist, scored in _chunk_pairs(inst, policy, k):
        decision = np.zeros(len(cand), dtype=np.int8)
        if len(dkey) and len(cand):
            key = cand.astype(np.int64) * inst.n_options + opt
            pos = np.minimum(np.searchsorted(dkey, key), len(dkey) - 1)
            hit = dkey[pos] == key
            decision[hit] = dkind[pos[hit]]
            found_any[pos[hit]] = True
        # Each pair is scored once (components are per pair: scoring a subset gives the same).
        if scored is None:
            comps, score = score_pairs(inst, cand, opt, dist, policy)
        else:
            done = len(scored[1])
            comps, score = score_pairs(inst, cand[done:], opt[done:], dist[done:], policy)
            comps = {name: np.concatenate([scored[0][name], comps[name]]) for name in COMPONENTS}
            score = np.concatenate([scored[1], score])
        if k > 0:
            keep = np.flatnonzero(top_k_mask(cand, opt, score, decision, k))
            key = cand[keep].astype(np.int64) * inst.n_options + opt[keep]
            idx = keep[np.argsort(key)]  # by (candidate, option); keys are unique
            cand, opt, dist, decision, score = (cand[idx], opt[idx], dist[idx], decision[idx],
                                                score[idx])
            comps = {name: v[idx] for name, v in comps.items()}
        parts.append({"cand": cand, "opt": opt, "dist": dist, "score": score,
                      "decision": decision} | {f"c_{n}": v for n, v in comps.items()})
    if parts:
        # Field by field, each chunk's array released once copied: the peak is the table
        # plus one field, not twice the table.
        whole = {}
        for key in list(parts[0]):
            whole[key] = np.concatenate([part[key] for part in parts])
            for part in parts:
                del part[key]
        cand, opt, dist, score, decision = (whole.pop(k) for k in
                                            ("cand", "opt", "dist", "score", "decision"))
        comps = {name: whole.pop(f"c_{name}") for name in COMPONENTS}
    else:
        cand, opt = np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.int32)
        dist, score, decision = np.zeros(0), np.zeros(0), np.zeros(0, dtype=np.int8)
        comps = {name: np.zeros(0) for name in COMPONENTS}
    del parts
    eligible = np.ones(len(cand), dtype=bool)
    # Locks on pairs outside the rules are kept: the coordinator decides.
    outside = ~found_any & (dkind == LOCK)
    if outside.any():
        dec = inst.decisions
        oc = dec["cand"].to_numpy()[outside].astype(np.int32)
        oo = dec["opt"].to_numpy()[outside].astype(np.int32)
        od = distances_km(inst, oc, oo)
        o_comps, o_score = score_pairs(inst, oc, oo, od, policy)
        at = np.searchsorted(cand.astype(np.int64) * inst.n_options + opt,
                             oc.astype(np.int64) * inst.n_options + oo)
        cand, opt, dist = np.insert(cand, at, oc), np.insert(opt, at, oo), np.insert(dist, at, od)
        score = np.insert(score, at, o_score)
        comps = {name: np.insert(comps[name], at, o_comps[name]) for name in COMPONENTS}
        eligible = np.insert(eligible, at, False)
        decision = np.insert(decision, at, LOCK)
    weight = np.round(score + policy.objective.match_bonus, 6)
    return EdgeTable(
        cand=cand, opt=opt, distance_km=dist, components=comps, score=score, weight=weight,
        weight_int=np.rint(weight * SCALE).astype(np.int64), eligible=eligible, decision=decision,
    )
