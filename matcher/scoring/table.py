"""The edge table: one row per candidate-option pair the solver may choose, with its score.

``score`` is the policy-weighted mean of the components, rounded to 6 decimals.
``weight`` = ``match_bonus`` + ``score`` (rounded to 6 decimals) is the pair's exact coefficient
in the solver's objective; the solver works in integer micro-units, ``weight_int`` =
``weight`` x 1,000,000, so objective values are exact and the same on every machine.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from matcher.model import Instance
from matcher.policy import Policy
from matcher.scoring.components import COMPONENT_FUNCTIONS, COMPONENTS
from matcher.scoring.eligibility import distances_km, eligible_pairs, filter_failures, is_eligible

SCALE = 1_000_000
NO_DECISION, LOCK, FORBID = 0, 1, 2
DECISION_NAMES = np.array(["", "lock", "forbid"], dtype=object)


@dataclass(frozen=True)
class EdgeTable:
    """Whole arrays over pairs, sorted by (candidate, option)."""

    cand: np.ndarray  # int32 row in inst.candidates
    opt: np.ndarray  # int32 row in inst.options
    distance_km: np.ndarray
    components: dict[str, np.ndarray]
    score: np.ndarray
    weight: np.ndarray
    weight_int: np.ndarray  # int64, weight in micro-units: the solver's coefficient
    eligible: np.ndarray  # False only for a coordinator's lock on an ineligible pair
    decision: np.ndarray  # int8: 0 none, 1 lock, 2 forbid
    extra: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.cand)

    def take(self, index: np.ndarray) -> EdgeTable:
        return EdgeTable(
            cand=self.cand[index], opt=self.opt[index], distance_km=self.distance_km[index],
            components={k: v[index] for k, v in self.components.items()},
            score=self.score[index], weight=self.weight[index],
            weight_int=self.weight_int[index], eligible=self.eligible[index],
            decision=self.decision[index], extra={k: v[index] for k, v in self.extra.items()},
        )

    def to_frame(self, inst: Instance) -> pd.DataFrame:
        """edges.csv: ids, score, one column per component, weight, and the coordinator decision."""
        df = pd.DataFrame({
            "candidate_id": inst.candidates["candidate_id"].to_numpy()[self.cand],
            "option_id": inst.options["option_id"].to_numpy()[self.opt],
            "score": self.score,
        })
        for name in COMPONENTS:
            df[name] = np.round(self.components[name], 6)
        df["distance_km"] = np.round(self.distance_km, 3)
        df["weight"] = self.weight
        df["eligible"] = self.eligible
        df["decision"] = DECISION_NAMES[self.decision]
        return df


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


def build_edges(inst: Instance, policy: Policy) -> EdgeTable:
    """Score every eligible pair, plus any locked pair a coordinator chose outside the rules."""
    cand, opt, dist = eligible_pairs(inst)
    eligible = np.ones(len(cand), dtype=bool)
    decision = np.zeros(len(cand), dtype=np.int8)
    dec = inst.decisions
    if len(dec):
        key = cand.astype(np.int64) * inst.n_options + opt
        dkey = dec["cand"].to_numpy(np.int64) * inst.n_options + dec["opt"].to_numpy(np.int64)
        dkind = np.where(dec["decision"].to_numpy() == "lock", LOCK, FORBID).astype(np.int8)
        pos = np.searchsorted(key, dkey)
        found = np.zeros(len(dkey), dtype=bool)
        if len(key):
            found = (pos < len(key)) & (key[np.minimum(pos, len(key) - 1)] == dkey)
        decision[pos[found]] = dkind[found]
        # Locks on pairs outside the rules are kept: the coordinator decides.
        outside = ~found & (dkind == LOCK)
        if outside.any():
            oc = dec["cand"].to_numpy()[outside].astype(np.int32)
            oo = dec["opt"].to_numpy()[outside].astype(np.int32)
            cand = np.concatenate([cand, oc])
            opt = np.concatenate([opt, oo])
            dist = np.concatenate([dist, distances_km(inst, oc, oo)])
            eligible = np.concatenate([eligible, np.zeros(len(oc), dtype=bool)])
            decision = np.concatenate([decision, np.full(len(oc), LOCK, dtype=np.int8)])
            order = np.lexsort((opt, cand))
            cand, opt, dist = cand[order], opt[order], dist[order]
            eligible, decision = eligible[order], decision[order]
    comps, score = score_pairs(inst, cand, opt, dist, policy)
    weight = np.round(score + policy.objective.match_bonus, 6)
    return EdgeTable(
        cand=cand, opt=opt, distance_km=dist, components=comps, score=score, weight=weight,
        weight_int=np.rint(weight * SCALE).astype(np.int64), eligible=eligible, decision=decision,
    )


def check_pairs(inst: Instance, cand: np.ndarray, opt: np.ndarray) -> np.ndarray:
    """Eligibility of arbitrary pairs under the shipped rules."""
    return is_eligible(filter_failures(inst, cand, opt))
