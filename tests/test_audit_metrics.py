"""The audit's numbers against fairlearn, and its rules for small groups and flags."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_ratio,
    equal_opportunity_ratio,
    selection_rate,
    true_positive_rate,
)

from matcher.audit.metrics import INSUFFICIENT, MIN_GROUP, group_rates, min_max_ratio
from matcher.audit.proxies import correlation_ratio, cramers_v
from matcher.audit.report import audit_arrays


def cohort(seed: int, sizes: dict[str, int], rates: dict[str, float]) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    labels = np.concatenate([np.full(n, g, dtype=object) for g, n in sizes.items()])
    placed = np.concatenate([rng.random(n) < rates[g] for g, n in sizes.items()])
    has_option = placed | (rng.random(len(labels)) < 0.7)
    order = rng.permutation(len(labels))
    return labels[order], placed[order], has_option[order]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rates_and_ratios_match_fairlearn(seed: int) -> None:
    labels, placed, has_option = cohort(seed, {"a": 400, "b": 250, "c": 120},
                                        {"a": 0.6, "b": 0.45, "c": 0.3})
    ours = group_rates(labels, placed)
    mf = MetricFrame(metrics=selection_rate, y_true=has_option, y_pred=placed,
                     sensitive_features=labels)
    np.testing.assert_allclose(ours.rate, mf.by_group.loc[list(ours.groups)].to_numpy(), atol=1e-12)
    di = min_max_ratio(ours)
    assert di.value == pytest.approx(demographic_parity_ratio(has_option, placed,
                                                              sensitive_features=labels), abs=1e-12)
    opp = min_max_ratio(group_rates(labels, placed, mask=has_option))
    assert opp.value == pytest.approx(equal_opportunity_ratio(has_option, placed,
                                                              sensitive_features=labels), abs=1e-12)
    tpr = MetricFrame(metrics=true_positive_rate, y_true=has_option, y_pred=placed,
                      sensitive_features=labels).by_group
    opp_rates = group_rates(labels, placed, mask=has_option)
    np.testing.assert_allclose(opp_rates.rate, tpr.loc[list(opp_rates.groups)].to_numpy(), atol=1e-12)


def test_intervals_hold_the_rates_and_repeat() -> None:
    """Wilson intervals hold each rate, are wider for the smaller group, and repeat exactly."""
    labels, placed, _ = cohort(7, {"a": 500, "b": 300}, {"a": 0.55, "b": 0.4})
    ours, again = group_rates(labels, placed), group_rates(labels, placed)
    assert np.all(ours.ci_low <= ours.rate) and np.all(ours.rate <= ours.ci_high)
    assert (ours.ci_high - ours.ci_low)[1] > (ours.ci_high - ours.ci_low)[0]
    np.testing.assert_array_equal(ours.ci_low, again.ci_low)
    np.testing.assert_array_equal(ours.ci_high, again.ci_high)
    r = min_max_ratio(ours)
    assert r.ci_low is not None and r.ci_high is not None
    assert r.ci_low <= r.value <= r.ci_high


def test_small_groups_get_no_verdict() -> None:
    labels, placed, has_option = cohort(4, {"a": 200, "b": MIN_GROUP - 1}, {"a": 0.9, "b": 0.0})
    rates = group_rates(labels, placed)
    ratio = min_max_ratio(rates)
    assert ratio.verdict == INSUFFICIENT and not ratio.flag and ratio.value is None
    out = audit_arrays(pd.DataFrame({"gender": labels}), placed, has_option)
    status = {g["group"]: g["status"] for g in out["attributes"]["gender"]["placement"]}
    assert status == {"a": "ok", "b": INSUFFICIENT}
    # the small group is left out of the ratio, so a third large group gets a verdict again
    labels2, placed2, _ = cohort(4, {"a": 200, "b": MIN_GROUP - 1, "c": 100},
                                 {"a": 0.9, "b": 0.0, "c": 0.85})
    r2 = min_max_ratio(group_rates(labels2, placed2))
    assert r2.verdict == "ok" and {r2.lowest, r2.highest} <= {"a", "c"}


def test_flag_under_four_fifths() -> None:
    labels, placed, _ = cohort(5, {"a": 1000, "b": 1000}, {"a": 0.6, "b": 0.3})
    r = min_max_ratio(group_rates(labels, placed))
    assert r.flag and r.clear and r.lowest == "b" and r.ci_high < 0.8
    labels, placed, _ = cohort(5, {"a": 1000, "b": 1000}, {"a": 0.6, "b": 0.6})
    assert min_max_ratio(group_rates(labels, placed)).verdict == "ok"


def test_not_given_is_left_out() -> None:
    labels = np.array(["a"] * 40 + [""] * 10 + ["b"] * 40, dtype=object)
    placed = np.array([True] * 40 + [False] * 10 + [True] * 20 + [False] * 20)
    rates = group_rates(labels, placed)
    assert list(rates.groups) == ["a", "b"] and list(rates.size) == [40, 40]
    assert list(rates.rate) == [1.0, 0.5]


def test_correlation_ratio_is_r_squared_of_group_means() -> None:
    rng = np.random.default_rng(0)
    g = rng.choice(["x", "y", "z"], 500)
    x = rng.normal(size=500) + (g == "x") * 1.5
    dummies = pd.get_dummies(g).to_numpy(float)
    fit = dummies @ np.linalg.lstsq(dummies, x, rcond=None)[0]
    r2 = 1 - ((x - fit) ** 2).sum() / ((x - x.mean()) ** 2).sum()
    assert correlation_ratio(x, g) == pytest.approx(np.sqrt(r2), rel=1e-9)


def test_cramers_v_bounds() -> None:
    from scipy.stats.contingency import association

    rng = np.random.default_rng(1)
    a = rng.choice(["p", "q", "r"], 3000)
    assert cramers_v(a, a) == pytest.approx(1.0, abs=1e-3)
    b = rng.choice(["u", "v"], 3000)
    assert cramers_v(a, b) < 0.05
    c = np.where(rng.random(3000) < 0.7, a == "p", b == "u")
    table = pd.crosstab(a, c).to_numpy()
    assert 0.3 < cramers_v(a, c) <= association(table, method="cramer") + 1e-12
