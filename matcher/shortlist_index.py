"""Shortlists at service speed: every option's eligible candidates ranked once per data version.

`rank_options` scores all eligible pairs once (the same edges a round uses) and keeps them
sorted by option, score (descending) and candidate id, so a shortlist is a slice of arrays.
`select` walks an option's slice, leaving out candidates committed elsewhere or forbidden here
and those already on `cap` other open shortlists, and returns the top k. The counts of other
open shortlists are the caller's (e.g. read from a database): `select` takes the counts known so
far and, when it reaches candidates whose counts are not known, returns a :class:`Selection`
that names them (`unread`); the caller reads them and selects again. No callback, no exception:
the library never calls back into the caller's storage. The result equals
:func:`matcher.shortlist.shortlist` when nothing is excluded.

Score components are computed for the chosen pairs only (an edge table's components are
computed on access, so asking for them over a whole option's slice would score every pair of
the table: seconds per request at 20,000 candidates).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from matcher.explain import main_reasons
from matcher.model import Instance
from matcher.policy import Policy
from matcher.scoring.components import COMPONENTS
from matcher.scoring.table import EdgeTable, build_edges

#: Candidate row -> how many *other* open shortlists that candidate is on (the rows known so far).
OpenCounts = Mapping[int, int]


@dataclass(frozen=True)
class OptionRanking:
    instance: Instance
    policy: Policy
    edges: EdgeTable  # eligible pairs sorted by (option, -score, candidate)
    starts: np.ndarray  # edges of option o are starts[o]:starts[o + 1]
    candidate_ids: np.ndarray
    option_org: np.ndarray  # organisation id of each option
    option_rows: dict[str, int] = field(default_factory=dict)
    #: `policy.hash`, computed once (a shortlist records it with every audit record).
    policy_hash: str = ""
    #: (main reason, all reasons) of edges already explained, by position; filled on demand.
    reasons: dict[int, tuple[str, str]] = field(default_factory=dict)

    def option_row(self, option_id: str) -> int:
        """Row of the option, -1 when unknown."""
        return self.option_rows.get(option_id, -1)

    def candidate_rows(self, ids: pd.Series | np.ndarray) -> np.ndarray:
        """Rows of these candidate ids (unknown ids are dropped)."""
        rows = pd.Index(self.instance.candidates["candidate_id"]).get_indexer(np.asarray(ids))
        return rows[rows >= 0]


@dataclass(frozen=True)
class Filters:
    """What a service point may narrow a shortlist to (None: no condition).

    max_km: at most this far from the option (great-circle km, as the travel rule);
    min_hours: the person can work at least this many hours a week now;
    min_level: Dutch level at least this rank (:data:`matcher.levels.LEVEL_RANK`);
    sector: the person lists this sector among their wishes (case is ignored);
    available_by: ISO date: the person can start by then (an empty `available_from` means now).
    """

    max_km: float | None = None
    min_hours: float | None = None
    min_level: int | None = None
    sector: str | None = None
    available_by: str | None = None

    @property
    def empty(self) -> bool:
        return all(v is None for v in (self.max_km, self.min_hours, self.min_level, self.sector,
                                       self.available_by))


def filter_mask(ranking: OptionRanking, opt: int, filters: Filters) -> np.ndarray | None:
    """A mask over option `opt`'s slice of the ranking: the pairs `filters` keep (None: all)."""
    if filters.empty:
        return None
    lo, hi = int(ranking.starts[opt]), int(ranking.starts[opt + 1])
    inst = ranking.instance
    cand = ranking.edges.cand[lo:hi]
    keep = np.ones(hi - lo, dtype=bool)
    if filters.max_km is not None:
        keep &= ranking.edges.distance_km[lo:hi] <= filters.max_km
    if filters.min_hours is not None:
        keep &= inst.candidates["hours_available"].to_numpy(dtype=float)[cand] >= filters.min_hours
    if filters.min_level is not None:
        keep &= inst.candidates["level"].to_numpy()[cand] >= filters.min_level
    if filters.sector is not None:
        keep &= _wishes(inst, filters.sector)[cand]
    if filters.available_by is not None:
        keep &= _available_by(inst, filters.available_by)[cand]
    return keep


def _wishes(inst: Instance, sector: str) -> np.ndarray:
    """Per candidate: lists `sector` among their wishes."""
    names = [n.lower() for n in inst.sector_names]
    wished = np.zeros(inst.n_candidates, dtype=bool)
    if sector.strip().lower() in names:
        col = inst.cand_sector_rank[:, names.index(sector.strip().lower())]
        wished[col.nonzero()[0]] = True
    return wished


def _available_by(inst: Instance, date: str) -> np.ndarray:
    """Per candidate: `available_from` empty or on or before `date` (ISO dates compare as text)."""
    if "available_from" not in inst.candidates:
        return np.ones(inst.n_candidates, dtype=bool)
    start = inst.candidates["available_from"].fillna("").astype(str).to_numpy()
    return (start == "") | (start <= date)


def rank_options(inst: Instance, policy: Policy, explain_per_option: int = 0) -> OptionRanking:
    """Rank every option's eligible candidates (decisions in `inst` are ignored here); explain
    the first `explain_per_option` of each at once (the rest are explained when asked for)."""
    edges = build_edges(inst, policy)
    edges = edges.take(np.flatnonzero(edges.eligible))
    order = np.lexsort((edges.cand, -edges.score, edges.opt))
    edges = edges.take(order)
    starts = np.searchsorted(edges.opt, np.arange(inst.n_options + 1)).astype(np.int64)
    ids = inst.options["option_id"].tolist()
    ranking = OptionRanking(inst, policy, edges, starts,
                            candidate_ids=inst.candidates["candidate_id"].to_numpy(),
                            option_org=inst.options["organisation_id"].to_numpy(),
                            option_rows={o: i for i, o in enumerate(ids)},
                            policy_hash=policy.hash)
    if explain_per_option:
        explain_top(ranking, explain_per_option)
    return ranking


def explain_top(ranking: OptionRanking, per_option: int = 20) -> None:
    """Explain every option's first `per_option` candidates now, in one vectorised batch."""
    offs = np.arange(per_option)
    lo, hi = ranking.starts[:-1], ranking.starts[1:]
    pos = (lo[:, None] + offs[None, :])[offs[None, :] < (hi - lo)[:, None]]
    explain(ranking, pos.astype(np.int64))


def _positions(ranking: OptionRanking, opt: int, excluded: np.ndarray,
               keep: np.ndarray | None = None) -> np.ndarray:
    """The option's edges in ranking order, without the excluded candidates (and, with `keep`,
    a mask over the option's slice, only those it keeps)."""
    lo, hi = int(ranking.starts[opt]), int(ranking.starts[opt + 1])
    pos = np.arange(lo, hi)
    ok = ~np.isin(ranking.edges.cand[pos], excluded)
    if keep is not None:
        ok &= keep
    return pos[ok]


def _first_chunk(k: int) -> int:
    return max(2 * k, 16)


def first_asked(ranking: OptionRanking, opt: int, k: int, excluded: np.ndarray,
                keep: np.ndarray | None = None) -> np.ndarray:
    """The candidate rows whose counts `select` asks for first (so a caller can fetch them
    ahead, e.g. in the same database round trip as its lock)."""
    return ranking.edges.cand[_positions(ranking, opt, excluded, keep)[:_first_chunk(k)]]


@dataclass(frozen=True)
class Selection:
    """What `select` found: the chosen positions (in ranking.edges) and their other-open-
    shortlist counts; `unread`: candidate rows whose counts must be known before the selection
    can go on (empty when it is complete)."""

    positions: np.ndarray
    counts: np.ndarray
    unread: np.ndarray

    @property
    def complete(self) -> bool:
        return len(self.unread) == 0


def select(ranking: OptionRanking, opt: int, k: int, excluded: np.ndarray,
           open_counts: OpenCounts, cap: int, keep: np.ndarray | None = None) -> Selection:
    """The top k for option `opt` as far as the known counts allow.

    `excluded`: candidate rows left out (committed elsewhere, forbidden or rejected here).
    `keep`: an optional mask over the option's slice (the caller's filters, see `filter_mask`).
    Candidates with ``open_counts[row] >= cap`` are skipped. The slice is walked in chunks
    (the first one is `first_asked`); a chunk holding rows missing from `open_counts` ends the
    walk with those rows in `Selection.unread`."""
    pos = _positions(ranking, opt, excluded, keep)
    chosen: list[np.ndarray] = []
    counts: list[np.ndarray] = []
    have, start, chunk = 0, 0, _first_chunk(k)
    unread = np.zeros(0, dtype=np.int64)
    while have < k and start < len(pos):
        part = pos[start:start + chunk]
        rows = ranking.edges.cand[part].tolist()
        c = np.array([open_counts.get(r, -1) for r in rows], dtype=np.int64)
        if (c < 0).any():
            unread = np.asarray(rows, dtype=np.int64)[c < 0]
            break
        ok = c < cap
        take = part[ok][:k - have]
        chosen.append(take)
        counts.append(c[ok][:k - have])
        have += len(take)
        start += chunk
        chunk *= 4
    if not chosen:
        return Selection(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), unread)
    return Selection(np.concatenate(chosen), np.concatenate(counts), unread)


def explain(ranking: OptionRanking, positions: np.ndarray) -> list[tuple[str, str]]:
    """(main reason, reasons) per position; each edge is explained once and remembered."""
    cache = ranking.reasons
    todo = np.array([p for p in positions.tolist() if p not in cache], dtype=np.int64)
    if len(todo):
        main, everything = main_reasons(ranking.instance, ranking.edges.take(todo), ranking.policy)
        cache.update(zip(todo.tolist(), zip(main.tolist(), everything.tolist(), strict=True),
                         strict=True))
    return [cache[p] for p in positions.tolist()]


def shortlist_entries(ranking: OptionRanking, positions: np.ndarray, counts: np.ndarray,
                      locked_here: np.ndarray | None = None, first_rank: int = 1
                      ) -> list[dict[str, Any]]:
    """One dict per entry: rank (from `first_rank` on), candidate_id, score, components,
    main_reason, reasons, other_open_shortlists, locked_here."""
    e = ranking.edges
    cand = e.cand[positions]
    chosen = e.take(positions).components  # these pairs only, never the whole table
    comps = {name: np.round(chosen[name], 3).tolist() for name in COMPONENTS}
    here = (np.zeros(len(positions), bool) if locked_here is None
            else np.isin(cand, locked_here)).tolist()
    ids = ranking.candidate_ids[cand].tolist()
    scores = e.score_at(positions).tolist()
    return [{"rank": i + first_rank, "candidate_id": ids[i], "score": scores[i],
             "components": {name: comps[name][i] for name in COMPONENTS},
             "main_reason": why[0], "reasons": why[1],
             "other_open_shortlists": int(counts[i]), "locked_here": here[i]}
            for i, why in enumerate(explain(ranking, positions))]


def shortlist_frame(ranking: OptionRanking, positions: np.ndarray, counts: np.ndarray,
                    locked_here: np.ndarray | None = None) -> pd.DataFrame:
    """The entries as a table: rank, candidate_id, score, one column per component, ..."""
    rows = shortlist_entries(ranking, positions, counts, locked_here)
    flat = [{k: v for k, v in r.items() if k != "components"} | r["components"] for r in rows]
    cols = ["rank", "candidate_id", "score", *COMPONENTS, "main_reason", "reasons",
            "other_open_shortlists", "locked_here"]
    return pd.DataFrame(flat, columns=cols)
