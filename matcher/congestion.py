"""Congestion of a set of shortlists: are the same few people put forward everywhere?

Recommendations that ignore congestion send every employer the same few people (France's public
employment service measured it). For a set of shortlists this module reports how often each
person is put forward, the share of the people eligible for the options asked about who were
never put forward, the concentration of exposure (the Gini coefficient over those eligible
people: 0 when everyone is put forward equally often, near 1 when a few take every place), the
mean score of the entries and the expected number of hires under a simple model:

    each entry (person c on the shortlist of option o) leads to an offer with probability
    ``offer_rate * score(c, o)``, independently; a person takes at most one offer. Expected hires
    = sum over people of P(at least one offer) = sum_c (1 - prod_o (1 - offer_rate * s_co)).

Someone put forward for ten vacancies counts as at most one hire, so concentration costs hires.

:func:`issue_in_order` issues shortlists one after another the way the API does (the cap on open
shortlists of other options counts those issued before; none closes), without a database, so the
same requests can be compared with and without the cap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from matcher.shortlist_index import OptionRanking, select

#: The model's chance that one entry leads to an offer, per unit of score.
OFFER_RATE = 0.3


def gini(x: np.ndarray) -> float:
    """Gini coefficient of non-negative counts (0: all equal; 0 for no one or all zero)."""
    v = np.sort(np.asarray(x, dtype=float))
    n, total = len(v), float(v.sum())
    if n == 0 or total == 0:
        return 0.0
    return float((2 * np.arange(1, n + 1) - n - 1) @ v / (n * total))


def issue_in_order(ranking: OptionRanking, options: Sequence[int], k: int,
                   cap: int | None) -> list[np.ndarray]:
    """Positions (in ``ranking.edges``) of each shortlist of `options`, issued in that order;
    `cap`: the policy's max_open_shortlists (None: no cap). Nothing is excluded or closed."""
    open_on: dict[int, set[int]] = {}
    limit = np.iinfo(np.int64).max if cap is None else cap
    out = []
    for opt in options:
        counts = _Counts(open_on, opt)
        sel = select(ranking, opt, k, np.zeros(0, np.int64), counts, int(limit))
        assert sel.complete  # every count is known: no candidate is unread
        for row in ranking.edges.cand[sel.positions].tolist():
            open_on.setdefault(row, set()).add(opt)
        out.append(sel.positions)
    return out


class _Counts(dict[int, int]):
    """Other open shortlists per candidate row (0 for a row never put forward)."""

    def __init__(self, open_on: dict[int, set[int]], opt: int) -> None:
        super().__init__()
        self.open_on, self.opt = open_on, opt

    def get(self, row: int, default: int | None = None) -> int:  # type: ignore[override]
        return len(self.open_on.get(row, set()) - {self.opt})


@dataclass(frozen=True)
class Congestion:
    shortlists: int
    entries: int
    eligible: int  # people eligible for at least one of the options asked about
    put_forward: int  # people on at least one shortlist
    never_share: float  # of the eligible, the share never put forward
    gini: float  # of exposure (times put forward) over the eligible
    max_times: int
    mean_score: float  # of the entries
    expected_hires: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def congestion(ranking: OptionRanking, options: Sequence[int], shortlists: Sequence[np.ndarray],
               offer_rate: float = OFFER_RATE) -> Congestion:
    """The congestion of these shortlists (positions in ``ranking.edges``) of `options`."""
    e = ranking.edges
    eligible = np.unique(np.concatenate(
        [e.cand[ranking.starts[o]:ranking.starts[o + 1]] for o in options]
        or [np.zeros(0, np.int32)]))
    pos = np.concatenate(list(shortlists) or [np.zeros(0, np.int64)]).astype(np.int64)
    cand = e.cand[pos]
    score = e.score_at(pos) if len(pos) else np.zeros(0)
    times = np.zeros(ranking.instance.n_candidates, dtype=np.int64)
    np.add.at(times, cand, 1)
    # P(no offer) per person: the product over their entries of (1 - offer_rate * score)
    log_none = np.zeros(ranking.instance.n_candidates)
    np.add.at(log_none, cand, np.log1p(-np.clip(offer_rate * score, 0.0, 1.0 - 1e-12)))
    put = int((times > 0).sum())
    return Congestion(
        shortlists=len(shortlists), entries=len(pos), eligible=len(eligible), put_forward=put,
        never_share=float((times[eligible] == 0).mean()) if len(eligible) else 0.0,
        gini=gini(times[eligible]), max_times=int(times.max()) if len(times) else 0,
        mean_score=float(score.mean()) if len(score) else 0.0,
        expected_hires=float((1.0 - np.exp(log_none[times > 0])).sum()))
