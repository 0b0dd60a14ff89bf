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
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from matcher.geo import km_to_chord
from matcher.model import Instance
from matcher.parallel import Mapper
from matcher.policy import Policy
from matcher.progress import report
from matcher.scoring.components import COMPONENT_FUNCTIONS, COMPONENTS
from matcher.scoring.eligibility import CHUNK_PAIRS, Blocks, distances_km
from matcher.scoring.pruned import pruned_chunk
from matcher.scoring.ranking import (  # noqa: F401 (re-exported)
    FORBID,
    LOCK,
    NO_DECISION,
    SCALE,
    score_pairs,
    top_k_mask,
)

log = logging.getLogger(__name__)

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


def _decision_keys(inst: Instance) -> tuple[np.ndarray, np.ndarray]:
    dec = inst.decisions
    dkey = dec["cand"].to_numpy(np.int64) * inst.n_options + dec["opt"].to_numpy(np.int64)
    dkind = np.where(dec["decision"].to_numpy() == "lock", LOCK, FORBID).astype(np.int8)
    order = np.argsort(dkey, kind="stable")
    return dkey[order], dkind[order]



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
        scored: np.ndarray | None = None
        if k <= 0:
            cand, opt = self.blocks.near(np.arange(start, stop))
            cand, opt, dist = self.blocks.eligible(cand, opt)
            order = np.argsort(cand * inst.n_options + opt)  # keys are unique
            cand, opt, dist = cand[order], opt[order], dist[order]
            n_near = -1
        else:  # in no particular order
            cand, opt, dist, n_near, scored = pruned_chunk(inst, policy, self.blocks, start,
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
            done = len(scored)
            _, score = score_pairs(inst, cand[done:], opt[done:], dist[done:], policy)
            score = np.concatenate([scored, score])
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
    """(stop, kept pairs) of each chunk, in candidate order. With the policy's
    ``eligibility.score_threads`` > 1 the chunks are scored in that many threads; else, with
    `mapper`, in its processes, which load the instance and policy once from a temporary
    pickle (a few hundred MB at 1.3 million candidates: too much to send with every chunk)."""
    threads = scorer.policy.eligibility.score_threads
    # With threads, chunks of 1 / threads the size, so that the last ones are not left to one
    # thread (city_20k: 5 chunks -> 10).
    bounds = chunk_bounds(scorer.inst, scorer.blocks, chunk_target(scorer.k) // threads)
    if threads > 1 and len(bounds) > 1:
        # Threads take precedence over `mapper`: no pickle and no process start. NumPy's sorts
        # and array arithmetic, SciPy's KD-trees and the grid's compiled scans release the GIL;
        # the scorer's lazily built lookup tables are the same whichever thread builds them.
        # Results come back in chunk order.
        with ThreadPoolExecutor(threads) as pool:
            tasks = (ChunkTask(scorer, a, b) for a, b in bounds)
            for (_, stop), part in zip(bounds, pool.map(score_chunk, tasks), strict=True):
                yield stop, part
        return
    if mapper is None:
        tasks = (ChunkTask(scorer, a, b) for a, b in bounds)
        for (_, stop), part in zip(bounds, map(score_chunk, tasks), strict=True):
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
    pairs are kept (see :func:`top_k_mask`), found with blocking by sector and distance
    (:mod:`matcher.scoring.pruned`) so that dense regions are not scored pair by pair. `mapper`
    (a ``map``-like callable such as `matcher.parallel.ProcessMapper`) scores the chunks,
    e.g. in worker processes, unless the policy's ``eligibility.score_threads`` > 1 (threads in
    this process then); the table is the same with any mapper or number of threads.
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
