"""A pair's score from its components, and each candidate's best K pairs."""

from __future__ import annotations

import numpy as np

from matcher.model import Instance
from matcher.policy import Policy
from matcher.scoring.components import COMPONENT_FUNCTIONS, COMPONENTS

SCALE = 1_000_000
NO_DECISION, LOCK, FORBID = 0, 1, 2


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
