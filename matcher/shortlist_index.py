"""Shortlists at service speed: every option's eligible candidates ranked once per data version.

`rank_options` scores all eligible pairs once (the same edges a round uses) and keeps them
sorted by option, score (descending) and candidate id, so a shortlist is a slice of arrays.
`select` walks an option's slice, leaving out candidates committed elsewhere or forbidden here
and those already on `cap` other open shortlists (their counts come from a caller-supplied
function, e.g. a database query), and returns the top k. The result equals
:func:`matcher.shortlist.shortlist` when nothing is excluded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from matcher.explain import main_reasons
from matcher.model import Instance
from matcher.policy import Policy
from matcher.scoring.components import COMPONENTS
from matcher.scoring.table import EdgeTable, build_edges

#: Maps candidate rows to how many *other* open shortlists each one is on.
OpenCounts = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class OptionRanking:
    instance: Instance
    policy: Policy
    edges: EdgeTable  # eligible pairs sorted by (option, -score, candidate)
    starts: np.ndarray  # edges of option o are starts[o]:starts[o + 1]

    @property
    def candidate_ids(self) -> np.ndarray:
        return self.instance.candidates["candidate_id"].to_numpy()

    def option_row(self, option_id: str) -> int:
        """Row of the option, -1 when unknown."""
        return int(pd.Index(self.instance.options["option_id"]).get_indexer([option_id])[0])

    def candidate_rows(self, ids: pd.Series | np.ndarray) -> np.ndarray:
        """Rows of these candidate ids (unknown ids are dropped)."""
        rows = pd.Index(self.instance.candidates["candidate_id"]).get_indexer(np.asarray(ids))
        return rows[rows >= 0]


def rank_options(inst: Instance, policy: Policy) -> OptionRanking:
    """Rank every option's eligible candidates (decisions in `inst` are ignored here)."""
    edges = build_edges(inst, policy)
    edges = edges.take(np.flatnonzero(edges.eligible))
    order = np.lexsort((edges.cand, -edges.score, edges.opt))
    edges = edges.take(order)
    starts = np.searchsorted(edges.opt, np.arange(inst.n_options + 1)).astype(np.int64)
    return OptionRanking(inst, policy, edges, starts)


def select(ranking: OptionRanking, opt: int, k: int, excluded: np.ndarray,
           open_counts: OpenCounts, cap: int) -> tuple[np.ndarray, np.ndarray]:
    """(positions in ranking.edges, other-open-shortlist counts) of the top k for option `opt`.

    `excluded`: candidate rows left out (committed elsewhere, forbidden or rejected here).
    Candidates with `open_counts(...) >= cap` are skipped. Counts are asked for in chunks, so
    a typical shortlist costs one call.
    """
    lo, hi = int(ranking.starts[opt]), int(ranking.starts[opt + 1])
    pos = np.arange(lo, hi)
    pos = pos[~np.isin(ranking.edges.cand[pos], excluded)]
    chosen: list[np.ndarray] = []
    counts: list[np.ndarray] = []
    have, start, chunk = 0, 0, max(2 * k, 16)
    while have < k and start < len(pos):
        part = pos[start:start + chunk]
        c = np.asarray(open_counts(ranking.edges.cand[part]), dtype=np.int64)
        ok = c < cap
        take = part[ok][:k - have]
        chosen.append(take)
        counts.append(c[ok][:k - have])
        have += len(take)
        start += chunk
        chunk *= 4
    if not chosen:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(chosen), np.concatenate(counts)


def shortlist_frame(ranking: OptionRanking, positions: np.ndarray, counts: np.ndarray,
                    locked_here: np.ndarray | None = None) -> pd.DataFrame:
    """rank, candidate_id, score, components, main_reason, reasons, other_open_shortlists."""
    inst = ranking.instance
    top = ranking.edges.take(positions)
    main, reasons = main_reasons(inst, top, ranking.policy)
    out = pd.DataFrame({
        "rank": np.arange(1, len(top) + 1),
        "candidate_id": inst.candidates["candidate_id"].to_numpy()[top.cand],
        "score": top.score,
    })
    for name in COMPONENTS:
        out[name] = np.round(top.components[name], 3)
    out["main_reason"] = main
    out["reasons"] = reasons
    out["other_open_shortlists"] = counts
    here = np.zeros(len(top), bool) if locked_here is None else np.isin(top.cand, locked_here)
    out["locked_here"] = here
    return out
