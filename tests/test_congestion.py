"""Congestion of shortlists: exposure, Gini, never shortlisted, expected hires; with and
without the cap on open shortlists."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from matcher.cli.round_commands import pilot_dir
from matcher.congestion import OFFER_RATE, congestion, gini, issue_in_order
from matcher.load import load_instance
from matcher.policy import default_policy
from matcher.shortlist_index import rank_options

PILOT = pilot_dir()


@pytest.fixture(scope="module")
def ranking():  # type: ignore[no-untyped-def]
    inst, _ = load_instance(Path(PILOT))
    return rank_options(inst, default_policy())


def test_gini_of_known_counts() -> None:
    assert gini(np.array([3, 3, 3])) == 0.0
    assert gini(np.zeros(4)) == 0.0
    assert gini(np.array([0, 0, 0, 4])) == pytest.approx(0.75)  # (n - 1) / n for one taking all
    x = np.array([1, 2, 3, 7, 0])  # the mean absolute difference over twice the mean
    mad = np.mean([abs(a - b) for a, b in itertools.product(x, x)])
    assert gini(x) == pytest.approx(mad / (2 * x.mean()))


def test_without_a_cap_each_shortlist_is_the_options_top_k(ranking) -> None:  # type: ignore[no-untyped-def]
    options = list(range(ranking.instance.n_options))
    lists = issue_in_order(ranking, options * 2, 3, cap=None)
    for opt, pos in zip(options * 2, lists, strict=True):
        lo = int(ranking.starts[opt])
        assert pos.tolist() == list(range(lo, min(lo + 3, int(ranking.starts[opt + 1]))))


def test_the_cap_holds_and_spreads_exposure(ranking) -> None:  # type: ignore[no-untyped-def]
    options = list(range(ranking.instance.n_options)) * 3
    for cap in (1, 2):
        lists = issue_in_order(ranking, options, 4, cap=cap)
        seen: dict[int, set[int]] = {}
        for opt, pos in zip(options, lists, strict=True):
            for c in ranking.edges.cand[pos].tolist():
                assert len(seen.get(c, set()) - {opt}) < cap  # when it was issued
                seen.setdefault(c, set()).add(opt)
    free = congestion(ranking, options, issue_in_order(ranking, options, 4, cap=None))
    capped = congestion(ranking, options, issue_in_order(ranking, options, 4, cap=1))
    assert capped.never_share <= free.never_share and capped.gini <= free.gini
    assert capped.put_forward >= free.put_forward


def test_expected_hires_by_hand(ranking) -> None:  # type: ignore[no-untyped-def]
    opt = 0
    lo = int(ranking.starts[opt])
    pos = np.array([lo, lo + 1])
    s = ranking.edges.score_at(pos)
    one = congestion(ranking, [opt], [pos])
    assert one.expected_hires == pytest.approx(OFFER_RATE * s.sum())  # two people, one entry each
    same = congestion(ranking, [opt, opt], [pos[:1], pos[:1]])  # one person on two lists
    assert same.expected_hires == pytest.approx(1 - (1 - OFFER_RATE * s[0]) ** 2)
    assert same.put_forward == 1 and same.max_times == 2 and same.entries == 2
    assert same.mean_score == pytest.approx(s[0])
