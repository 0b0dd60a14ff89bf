"""Group metrics of a round: placement rate per group with a bootstrap interval, disparate impact.

Written with NumPy so they scale and stay deterministic; tests/test_audit_metrics.py checks every
number against fairlearn's MetricFrame, ``demographic_parity_ratio`` and
``equal_opportunity_ratio``.

The bootstrap resamples each group with replacement (group sizes fixed, as reported), which for
a yes/no outcome is a binomial draw per group: ``B x groups`` numbers at any cohort size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

#: Groups smaller than this get 'insufficient data', not a verdict.
MIN_GROUP = 30
#: The four-fifths rule: flag a disparate-impact ratio below this.
FOUR_FIFTHS = 0.8
N_BOOT = 2000
SEED = 20240601
CI = (0.025, 0.975)

INSUFFICIENT = "insufficient data"


@dataclass(frozen=True)
class GroupRates:
    groups: np.ndarray  # group labels, sorted
    size: np.ndarray  # int
    placed: np.ndarray  # int
    rate: np.ndarray  # float (nan for an empty group)
    ci_low: np.ndarray
    ci_high: np.ndarray
    boot: np.ndarray  # B x groups bootstrap rates

    @property
    def large(self) -> np.ndarray:
        return self.size >= MIN_GROUP


def group_rates(labels: np.ndarray, outcome: np.ndarray, mask: np.ndarray | None = None,
                n_boot: int = N_BOOT, seed: int = SEED) -> GroupRates:
    """Rate of `outcome` per label among the rows in `mask`; labels "" (not given) are left out."""
    labels = np.asarray(labels, dtype=object)
    keep = labels != ""
    if mask is not None:
        keep &= np.asarray(mask, dtype=bool)
    codes, groups = pd.factorize(pd.Series(labels[keep]), sort=True)
    g = len(groups)
    size = np.bincount(codes, minlength=g).astype(np.int64)
    placed = np.bincount(codes, weights=np.asarray(outcome, dtype=float)[keep],
                         minlength=g).round().astype(np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(size > 0, placed / np.maximum(size, 1), np.nan)
    rng = np.random.default_rng(seed)
    p = np.nan_to_num(rate)
    draws = rng.binomial(np.broadcast_to(size, (n_boot, g)), np.broadcast_to(p, (n_boot, g)))
    boot = draws / np.maximum(size, 1)
    lo, hi = (np.quantile(boot, CI, axis=0) if g else (np.zeros(0), np.zeros(0)))
    return GroupRates(np.asarray(groups, dtype=object), size, placed, rate, lo, hi, boot)


@dataclass(frozen=True)
class Ratio:
    value: float | None  # lowest over highest rate among groups of at least MIN_GROUP
    ci_low: float | None
    ci_high: float | None
    lowest: str | None
    highest: str | None
    verdict: str  # "ok", "flag" or "insufficient data"

    @property
    def flag(self) -> bool:
        return self.verdict == "flag"

    @property
    def clear(self) -> bool:
        """A flag whose whole bootstrap interval lies below the threshold (not likely chance)."""
        return self.flag and self.ci_high is not None and self.ci_high < FOUR_FIFTHS


def min_max_ratio(rates: GroupRates, threshold: float = FOUR_FIFTHS) -> Ratio:
    """Lowest rate over highest among the large groups, with its bootstrap interval."""
    idx = np.flatnonzero(rates.large)
    if len(idx) < 2:
        return Ratio(None, None, None, None, None, INSUFFICIENT)
    r = rates.rate[idx]
    hi_i, lo_i = idx[np.argmax(r)], idx[np.argmin(r)]
    top = rates.rate[hi_i]
    value = float(rates.rate[lo_i] / top) if top > 0 else 1.0
    b = rates.boot[:, idx]
    bmax = b.max(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        br = np.where(bmax > 0, b.min(axis=1) / np.where(bmax > 0, bmax, 1), 1.0)
    lo, hi = np.quantile(br, CI)
    verdict = "flag" if value < threshold else "ok"
    return Ratio(value, float(lo), float(hi), str(rates.groups[lo_i]), str(rates.groups[hi_i]),
                 verdict)
