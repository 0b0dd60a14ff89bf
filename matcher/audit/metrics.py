"""Group metrics of a round: placement rate per group with a Wilson interval, disparate impact.

Rates: the Wilson score interval of each group (`scipy.stats.binomtest(...).proportion_ci`),
which stays informative at 0 of n and at n of n (4 of 4 placed: 51%-100%, where resampling the
group gave 100%-100%).

Disparate impact: the lowest rate over the highest among the groups of at least ``MIN_GROUP``.
The data pick which two groups those are, so an interval for one fixed pair is not valid for it.
:func:`ratio_interval` takes the Koopman score interval of the ratio of every pair of groups
and combines them:

- the true statistic is the minimum of the true ratios over all ordered pairs (i, j);
- lower bound: the smallest lower bound over all ordered pairs, each at one-sided level
  ALPHA / 2. It can only be too high if the lower bound of the pair (a, b) that truly is the
  minimum is, so it needs no correction for the number of pairs;
- upper bound: the smallest upper bound over all ordered pairs, each at one-sided level
  ALPHA / (2 (G (G - 1) - 1)), capped at 1. It is too low only if some pair's upper bound is
  below that pair's true ratio. For the pair (b, a) that event is "the lower bound of (a, b) at
  the smaller level lies above the truth", already counted in the lower bound's error, so
  Bonferroni runs over the other G (G - 1) - 1 ordered pairs.

So the interval misses with probability at most ALPHA / 2 + ALPHA / 2 = 5%, whichever groups the
data make lowest and highest (for two groups it is exactly the image of the pair's 95% interval
under r -> min(r, 1 / r)); it always contains the point estimate (each pair's interval contains
its own), and a lowest rate of 0 gives a lower bound of 0.
tests/test_audit_intervals.py measures the coverage on 1,000 generated cohorts.

Everything is written with NumPy over a leading batch axis, so the simulation runs in a second.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import binomtest, norm

#: Groups smaller than this get 'insufficient data', not a verdict.
MIN_GROUP = 30
#: The four-fifths rule: flag a disparate-impact ratio below this.
FOUR_FIFTHS = 0.8
#: Level of the intervals (rates and ratios).
LEVEL = 0.95
RATE_METHOD = "wilson"
RATIO_METHOD = ("simultaneous over all pairs of groups: lowest of the pairs' Koopman score "
                "lower bounds, lowest of their Bonferroni-adjusted upper bounds")

INSUFFICIENT = "insufficient data"


@dataclass(frozen=True)
class GroupRates:
    groups: np.ndarray  # group labels, sorted
    size: np.ndarray  # int
    placed: np.ndarray  # int
    rate: np.ndarray  # float (nan for an empty group)
    ci_low: np.ndarray
    ci_high: np.ndarray

    @property
    def large(self) -> np.ndarray:
        return self.size >= MIN_GROUP


def rate_interval(placed: int, size: int, level: float = LEVEL) -> tuple[float, float]:
    """Wilson score interval of `placed` out of `size` (NaN, NaN for an empty group)."""
    if size <= 0:
        return float("nan"), float("nan")
    ci = binomtest(int(placed), int(size)).proportion_ci(confidence_level=level,
                                                          method=RATE_METHOD)
    return float(ci.low), float(ci.high)


def group_rates(labels: np.ndarray, outcome: np.ndarray,
                mask: np.ndarray | None = None) -> GroupRates:
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
    bounds = np.array([rate_interval(k, n) for k, n in zip(placed, size, strict=True)]
                      ).reshape(g, 2)
    return GroupRates(np.asarray(groups, dtype=object), size, placed, rate, bounds[:, 0],
                      bounds[:, 1])


# -- the ratio of two rates: Koopman's score interval, vectorised ------------------------------
def _koopman_stat(theta: np.ndarray, x1: np.ndarray, n1: np.ndarray, x2: np.ndarray,
                  n2: np.ndarray) -> np.ndarray:
    """Koopman's (1984) chi-square score statistic for H0: p1 / p2 = theta (inf where undefined)."""
    # the constrained maximum-likelihood p2: theta N p2^2 - a p2 + (x1 + x2) = 0
    a = theta * (n1 + x2) + x1 + n2
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        disc = np.maximum(a * a - 4.0 * theta * (n1 + n2) * (x1 + x2), 0.0)
        p2 = (a - np.sqrt(disc)) / (2.0 * theta * (n1 + n2))
        p1 = theta * p2
        stat = ((x1 - n1 * p1) ** 2 / (n1 * p1 * (1 - p1))
                + (x2 - n2 * p2) ** 2 / (n2 * p2 * (1 - p2)))
    return np.where(np.isnan(stat), np.inf, stat)


def _bisect(x1: np.ndarray, n1: np.ndarray, x2: np.ndarray, n2: np.ndarray, crit: np.ndarray,
            t_in: np.ndarray, t_out: np.ndarray, iters: int = 60) -> np.ndarray:
    """The point between t_in (inside the interval) and t_out (outside) where the statistic
    reaches `crit`; t in (0, 1) stands for theta = t / (1 - t)."""
    for _ in range(iters):
        mid = 0.5 * (t_in + t_out)
        with np.errstate(divide="ignore"):
            out = _koopman_stat(mid / (1 - mid), x1, n1, x2, n2) > crit
        t_in, t_out = np.where(out, t_in, mid), np.where(out, mid, t_out)
    return 0.5 * (t_in + t_out)


def ratio_bounds(x1: np.ndarray, n1: np.ndarray, x2: np.ndarray, n2: np.ndarray,
                 alpha_side: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    """One-sided Koopman score bounds (each at level 1 - alpha_side) for p1 / p2, elementwise.

    x1 = 0 gives a lower bound of 0; x2 = 0 an upper bound of inf; 0 of both gives (0, inf)."""
    x1, n1, x2, n2 = (np.asarray(v, dtype=float) for v in (x1, n1, x2, n2))
    crit = np.broadcast_to(norm.isf(alpha_side) ** 2, x1.shape)
    p1, p2 = x1 / n1, x2 / n2
    with np.errstate(divide="ignore", invalid="ignore"):
        t_hat = np.where(x2 > 0, p1 / (p1 + p2), 1.0)
    t_hat = np.nan_to_num(t_hat, nan=0.5)
    lo_t = _bisect(x1, n1, x2, n2, crit, t_hat, np.zeros_like(t_hat))
    hi_t = _bisect(x1, n1, x2, n2, crit, t_hat, np.ones_like(t_hat))
    with np.errstate(divide="ignore", invalid="ignore"):
        lo = np.where(x1 > 0, lo_t / (1 - lo_t), 0.0)
        hi = np.where(x2 > 0, hi_t / (1 - hi_t), np.inf)
        theta = np.where(x2 > 0, p1 / np.where(x2 > 0, p2, 1.0), np.inf)
    theta = np.where((x1 == 0) & (x2 == 0), 1.0, theta)
    return np.minimum(lo, theta), np.maximum(hi, theta)


def ratio_interval(placed: np.ndarray, size: np.ndarray, level: float = LEVEL,
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lowest rate over highest with its interval, for a batch of cohorts.

    `placed` and `size` are (..., G) arrays of G >= 2 groups (all of them count). Returns the
    point estimate, lower and upper bound, each of shape (...). All rates 0 gives 1 (no
    difference between groups) with the interval (0, 1).
    """
    placed, size = np.asarray(placed, dtype=float), np.asarray(size, dtype=float)
    g = placed.shape[-1]
    i, j = np.triu_indices(g, k=1)
    x1, n1, x2, n2 = placed[..., i], size[..., i], placed[..., j], size[..., j]
    # p_i / p_j for i < j; the reversed pair's bounds are the reciprocals
    alpha = 1.0 - level
    lo, hi = ratio_bounds(x1, n1, x2, n2, alpha / 2)
    lo_adj, hi_adj = ratio_bounds(x1, n1, x2, n2, alpha / (2 * (g * (g - 1) - 1)))
    with np.errstate(divide="ignore"):
        low = np.minimum(lo, 1.0 / hi).min(axis=-1)
        high = np.minimum(hi_adj, 1.0 / lo_adj).min(axis=-1)
    rate = placed / size
    top = rate.max(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.where(top > 0, rate.min(axis=-1) / top, 1.0)
    none = top <= 0
    low = np.where(none, 0.0, np.minimum(low, value))
    high = np.where(none, 1.0, np.clip(high, value, 1.0))
    return value, low, high


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
        """A flag whose whole interval lies below the threshold (not likely chance)."""
        return self.flag and self.ci_high is not None and self.ci_high < FOUR_FIFTHS


def min_max_ratio(rates: GroupRates, threshold: float = FOUR_FIFTHS) -> Ratio:
    """Lowest rate over highest among the large groups, with its simultaneous interval."""
    idx = np.flatnonzero(rates.large)
    if len(idx) < 2:
        return Ratio(None, None, None, None, None, INSUFFICIENT)
    r = rates.rate[idx]
    hi_i, lo_i = idx[np.argmax(r)], idx[np.argmin(r)]
    value, lo, hi = ratio_interval(rates.placed[idx], rates.size[idx])
    verdict = "flag" if value < threshold else "ok"
    return Ratio(float(value), float(lo), float(hi), str(rates.groups[lo_i]),
                 str(rates.groups[hi_i]), verdict)
