"""The edge table: one row per candidate-option pair the solver may choose, with its score.

``score`` is the policy-weighted mean of the components, rounded to 6 decimals.
``weight`` = ``match_bonus`` + ``score`` (rounded to 6 decimals) is the pair's exact coefficient
in the solver's objective; the solver works in integer micro-units, ``weight_int`` =
``weight`` x 1,000,000, so objective values are exact and the same on every machine.
"""

from __future__ import annotations

import logging
import os
import pickle
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from matcher.geo import km_to_chord
from matcher.model import Instance
from matcher.policy import Policy
from matcher.progress import report
from matcher.scoring import components
from matcher.scoring.components import COMPONENT_FUNCTIONS, COMPONENTS
from matcher.scoring.eligibility import CHUNK_PAIRS, Blocks, distances_km

log = logging.getLogger(__name__)

SCALE = 1_000_000
NO_DECISION, LOCK, FORBID = 0, 1, 2
DECISION_NAMES = np.array(["", "lock", "forbid"], dtype=object)


class PairComponents(Mapping[str, np.ndarray]):
    """The score components of some pairs, computed when asked for.

    Each component is a pure, element-wise function of (instance, candidate, option, distance,
    policy) (:mod:`matcher.scoring.components`), so computing it again later gives the very
    same floats as at scoring time; an edge table holds these instead of five float64 arrays
    (40 bytes a pair, 2.5 GB at 62 million pairs). Each access computes the component afresh.
    """

    def __init__(self, inst: Instance, policy: Policy, cand: np.ndarray, opt: np.ndarray,
                 dist: np.ndarray) -> None:
        self.inst, self.policy = inst, policy
        self.cand, self.opt, self.dist = cand, opt, dist

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in COMPONENT_FUNCTIONS:
            raise KeyError(name)
        return COMPONENT_FUNCTIONS[name](self.inst, self.cand, self.opt, self.dist, self.policy)

    def __iter__(self) -> Iterator[str]:
        return iter(COMPONENTS)

    def __len__(self) -> int:
        return len(COMPONENTS)

    def of(self, cand: np.ndarray, opt: np.ndarray, dist: np.ndarray) -> PairComponents:
        """The same components for other pairs."""
        return PairComponents(self.inst, self.policy, cand, opt, dist)


@dataclass(frozen=True)
class EdgeTable:
    """Whole arrays over pairs, sorted by (candidate, option).

    The score and weight are held as exact integers (micro-units); ``score`` and ``weight``
    give them back as the same floats they were computed as (both are rounded to 6 decimals,
    and k / 1,000,000 is the float that rounding gives). ``components`` is a dict of arrays or,
    for a table from :func:`build_edges`, a :class:`PairComponents` (computed on access).
    """

    cand: np.ndarray  # int32 row in inst.candidates
    opt: np.ndarray  # int32 row in inst.options
    distance_km: np.ndarray
    components: Mapping[str, np.ndarray]
    score_micro: np.ndarray  # int32, score in micro-units
    weight_int: np.ndarray  # int64, weight in micro-units: the solver's coefficient
    eligible: np.ndarray  # False only for a coordinator's lock on an ineligible pair
    decision: np.ndarray  # int8: 0 none, 1 lock, 2 forbid
    extra: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def scored(cls, cand: np.ndarray, opt: np.ndarray, distance_km: np.ndarray,
               components: Mapping[str, np.ndarray], score: np.ndarray, match_bonus: float,
               eligible: np.ndarray, decision: np.ndarray) -> EdgeTable:
        """A table from float scores (rounded to 6 decimals, as :func:`score_pairs` gives them);
        the weight is ``match_bonus`` + score rounded to 6 decimals."""
        return cls(cand=cand, opt=opt, distance_km=distance_km, components=components,
                   score_micro=score_micro(score), weight_int=weight_micro(score, match_bonus),
                   eligible=eligible, decision=decision)

    @property
    def score(self) -> np.ndarray:
        return self.score_micro / SCALE

    @property
    def weight(self) -> np.ndarray:
        return self.weight_int / SCALE

    def score_at(self, index: Any) -> Any:
        """``score[index]`` without the whole float array."""
        return self.score_micro[index] / SCALE

    def __len__(self) -> int:
        return len(self.cand)

    def take(self, index: np.ndarray | slice) -> EdgeTable:
        cand, opt, dist = self.cand[index], self.opt[index], self.distance_km[index]
        comps: Mapping[str, np.ndarray] = (
            self.components.of(cand, opt, dist) if isinstance(self.components, PairComponents)
            else {k: v[index] for k, v in self.components.items()})
        return EdgeTable(
            cand=cand, opt=opt, distance_km=dist, components=comps,
            score_micro=self.score_micro[index], weight_int=self.weight_int[index],
            eligible=self.eligible[index], decision=self.decision[index],
            extra={k: v[index] for k, v in self.extra.items()},
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


def score_micro(score: np.ndarray) -> np.ndarray:
    """Scores (rounded to 6 decimals, in [0, 1]) as int32 micro-units."""
    return np.rint(score * SCALE).astype(np.int32)


def weight_micro(score: np.ndarray, match_bonus: float) -> np.ndarray:
    """The solver's int64 coefficient of pairs with these scores: ``match_bonus`` + score,
    rounded to 6 decimals, in micro-units."""
    return np.rint(np.round(score + match_bonus, 6) * SCALE).astype(np.int64)


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


#: A ``map``-like callable (the built-in ``map``, `matcher.solver.decompose.ProcessMapper`, a
#: Ray or Dask map): results in the order of the items.
Mapper = Callable[[Callable[[Any], Any], Iterable[Any]], Iterable[Any]]

#: Pairs within travel distance per chunk of candidates that :func:`build_edges` aims at (twice
#: that with a top K: blocking by sector then looks at about 40% of them, regions_200k).
CHUNK_TARGET = CHUNK_PAIRS


def chunk_target(k: int) -> int:
    """:data:`CHUNK_TARGET`, doubled where the policy keeps a top K (K > 0)."""
    return CHUNK_TARGET * (2 if k > 0 else 1)
#: Candidates sampled to estimate where the pairs lie (it sets the chunks' boundaries).
_DENSITY_SAMPLE = 10_000
#: Candidates per chunk at least and at most.
_MIN_CHUNK, _MAX_CHUNK = 100, 60_000


def chunk_bounds(inst: Instance, blocks: Blocks, target: int = CHUNK_PAIRS
                 ) -> list[tuple[int, int]]:
    """Chunks (start, stop) of candidates of about `target` pairs within travel distance each.

    Fixed before any chunk is scored, so chunks can be scored in any order or at once: every
    ``ceil(n / 10,000)``-th candidate's count of options within its travel radius (a KD-tree
    count, exact and cheap) stands for the candidates up to the next sampled one. Deterministic
    for the same data; the pairs found do not depend on the chunks anyway.
    """
    n = inst.n_candidates
    if n == 0:
        return []
    step = -(-n // _DENSITY_SAMPLE)
    sample = np.arange(0, n, step)
    tree, rows = blocks.tree(None)
    if len(rows):
        radius = km_to_chord(blocks.travel[sample]) * (1 + 1e-9) + 1e-12
        counts = np.asarray(tree.query_ball_point(blocks.xyz[sample], radius,
                                                  return_length=True), dtype=np.int64)
    else:
        counts = np.zeros(len(sample), dtype=np.int64)
    cum = np.cumsum(np.repeat(np.maximum(counts, 1), step)[:n])
    bounds = []
    start = 0
    while start < n:
        base = int(cum[start - 1]) if start else 0
        stop = int(np.searchsorted(cum, base + target, side="left")) + 1
        stop = min(max(stop, start + _MIN_CHUNK), start + _MAX_CHUNK, n)
        bounds.append((start, stop))
        start = stop
    return bounds


class _Scorer:
    """Everything a chunk of candidates needs, built once per process (its KD-trees and lookup
    tables are built on first use and kept for the next chunks)."""

    def __init__(self, inst: Instance, policy: Policy) -> None:
        self.inst, self.policy = inst, policy
        self.k = policy.eligibility.max_options_per_candidate
        self.dkey, self.dkind = _decision_keys(inst)
        self.decided = np.zeros(inst.n_candidates, dtype=bool)
        self.decided[inst.decisions["cand"].to_numpy()] = True
        self._blocks: Blocks | None = None

    @property
    def blocks(self) -> Blocks:
        if self._blocks is None:
            self._blocks = Blocks(self.inst)
        return self._blocks

    def __getstate__(self) -> dict[str, Any]:
        # Neither KD-trees nor the instance's derived lookup tables: each process builds its own.
        return self.__dict__ | {"_blocks": None, "inst": replace(self.inst)}

    def chunk(self, start: int, stop: int) -> dict[str, np.ndarray]:
        """The kept pairs of candidates start..stop-1, sorted by (candidate, option), with
        their distances, scores, weights and decisions, and which decisions they hit."""
        inst, policy, k = self.inst, self.policy, self.k
        scored: Scored | None = None
        if k <= 0:
            cand, opt = self.blocks.near(np.arange(start, stop))
            cand, opt, dist = self.blocks.eligible(cand, opt)
            order = np.argsort(cand * inst.n_options + opt)  # keys are unique
            cand, opt, dist = cand[order], opt[order], dist[order]
            n_near = -1
        else:  # in no particular order
            cand, opt, dist, n_near, scored = _pruned_chunk(inst, policy, self.blocks, start,
                                                            stop, k, self.decided)
        log.debug("candidates %d-%d: %d near pairs, %d eligible", start, stop, n_near, len(cand))
        cand, opt = cand.astype(np.int32), opt.astype(np.int32)
        decision = np.zeros(len(cand), dtype=np.int8)
        found = np.zeros(0, dtype=np.int64)
        dkey = self.dkey
        if len(dkey) and len(cand):
            key = cand.astype(np.int64) * inst.n_options + opt
            pos = np.minimum(np.searchsorted(dkey, key), len(dkey) - 1)
            hit = dkey[pos] == key
            decision[hit] = self.dkind[pos[hit]]
            found = pos[hit]
        # Each pair is scored once (components are per pair: scoring a subset gives the same).
        if scored is None:
            _, score = score_pairs(inst, cand, opt, dist, policy)
        else:
            done = len(scored[1])
            _, score = score_pairs(inst, cand[done:], opt[done:], dist[done:], policy)
            score = np.concatenate([scored[1], score])
        if k > 0:
            keep = np.flatnonzero(top_k_mask(cand, opt, score, decision, k))
            key = cand[keep].astype(np.int64) * inst.n_options + opt[keep]
            idx = keep[np.argsort(key)]  # by (candidate, option); keys are unique
            cand, opt, dist, decision, score = (cand[idx], opt[idx], dist[idx], decision[idx],
                                                score[idx])
        return {"cand": cand, "opt": opt, "dist": dist, "score_micro": score_micro(score),
                "weight_int": weight_micro(score, policy.objective.match_bonus),
                "decision": decision, "found": found}


#: In a worker process: the scorer last loaded, by the path of its pickle (one at a time).
_LOADED: dict[str, _Scorer] = {}


@dataclass(frozen=True)
class ChunkTask:
    """One chunk of candidates to score: the scorer itself (in this process) or the path of
    its pickle (another process loads it once and keeps it for the next chunks)."""

    source: _Scorer | str
    start: int
    stop: int


def score_chunk(task: ChunkTask) -> dict[str, np.ndarray]:
    """A chunk's kept pairs (:meth:`_Scorer.chunk`); picklable, for a process pool."""
    if isinstance(task.source, _Scorer):
        return task.source.chunk(task.start, task.stop)
    scorer = _LOADED.get(task.source)
    if scorer is None:
        _LOADED.clear()
        with open(task.source, "rb") as fh:
            scorer = pickle.load(fh)
        _LOADED[task.source] = scorer
    return scorer.chunk(task.start, task.stop)


def _scored_chunks(scorer: _Scorer, mapper: Mapper | None
                   ) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
    """(stop, kept pairs) of each chunk, in candidate order; with `mapper`, the chunks are
    scored in its processes, which load the instance and policy once from a temporary pickle
    (a few hundred MB at 1.3 million candidates: too much to send with every chunk)."""
    bounds = chunk_bounds(scorer.inst, scorer.blocks, chunk_target(scorer.k))
    if mapper is None:
        for (_, stop), part in zip(bounds, map(score_chunk, (ChunkTask(scorer, a, b)
                                                             for a, b in bounds)), strict=True):
            yield stop, part
        return
    folder = tempfile.mkdtemp(prefix="matcher-score-")
    path = os.path.join(folder, "scorer.pickle")
    try:
        with open(path, "wb") as fh:
            pickle.dump(scorer, fh, protocol=pickle.HIGHEST_PROTOCOL)
        tasks = (ChunkTask(path, a, b) for a, b in bounds)
        for (_, stop), part in zip(bounds, mapper(score_chunk, tasks), strict=True):
            yield stop, part
    finally:
        _LOADED.pop(path, None)
        os.remove(path)
        os.rmdir(folder)


def build_edges(inst: Instance, policy: Policy, mapper: Mapper | None = None) -> EdgeTable:
    """Score every eligible pair, plus any locked pair a coordinator chose outside the rules.

    Works chunk by chunk of candidates (bounded memory; the chunks' boundaries are fixed
    beforehand by :func:`chunk_bounds`). With the policy's
    ``eligibility.max_options_per_candidate`` = K > 0 only each candidate's best K eligible
    pairs are kept (see :func:`top_k_mask`), found with blocking by sector
    (:func:`_pruned_chunk`) so that dense regions are not scored pair by pair. `mapper` (a
    ``map``-like callable such as `matcher.solver.decompose.ProcessMapper`) scores the chunks,
    e.g. in worker processes; the table is the same with any mapper, chunk for chunk in order.
    The components are not stored: the table's :class:`PairComponents` computes them on access.
    """
    scorer = _Scorer(inst, policy)
    dkey, dkind = scorer.dkey, scorer.dkind
    found_any = np.zeros(len(dkey), dtype=bool)
    parts: list[dict[str, np.ndarray]] = []
    for stop, part in _scored_chunks(scorer, mapper):
        found_any[part.pop("found")] = True
        parts.append(part)
        report("score", stop, inst.n_candidates)
    fields = {"cand": np.int32, "opt": np.int32, "dist": np.float64, "score_micro": np.int32,
              "weight_int": np.int64, "decision": np.int8}
    # Field by field, each chunk's array released once copied: the peak is the table plus one
    # field, not twice the table.
    whole = {}
    for key, dtype in fields.items():
        whole[key] = (np.concatenate([part[key] for part in parts]) if parts
                      else np.zeros(0, dtype=dtype))
        for part in parts:
            del part[key]
    del parts
    cand, opt, dist = whole.pop("cand"), whole.pop("opt"), whole.pop("dist")
    s_micro, w_int, decision = whole.pop("score_micro"), whole.pop("weight_int"), whole.pop(
        "decision")
    eligible = np.ones(len(cand), dtype=bool)
    # Locks on pairs outside the rules are kept: the coordinator decides.
    outside = ~found_any & (dkind == LOCK)
    if outside.any():
        dec = inst.decisions
        oc = dec["cand"].to_numpy()[outside].astype(np.int32)
        oo = dec["opt"].to_numpy()[outside].astype(np.int32)
        od = distances_km(inst, oc, oo)
        _, o_score = score_pairs(inst, oc, oo, od, policy)
        at = np.searchsorted(cand.astype(np.int64) * inst.n_options + opt,
                             oc.astype(np.int64) * inst.n_options + oo)
        cand, opt, dist = np.insert(cand, at, oc), np.insert(opt, at, oo), np.insert(dist, at, od)
        s_micro = np.insert(s_micro, at, score_micro(o_score))
        w_int = np.insert(w_int, at, weight_micro(o_score, policy.objective.match_bonus))
        eligible = np.insert(eligible, at, False)
        decision = np.insert(decision, at, LOCK)
    return EdgeTable(
        cand=cand, opt=opt, distance_km=dist,
        components=PairComponents(inst, policy, cand, opt, dist), score_micro=s_micro,
        weight_int=w_int, eligible=eligible, decision=decision,
    )
