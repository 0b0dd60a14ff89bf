"""The difference between a scenario's round and the baseline's, matched by id (not by row)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from matcher.explain import main_reasons
from matcher.round import Round, utilisation_frame
from matcher.whatif.engine import Baseline, Outcome, summarise
from matcher.whatif.groups import rates_diff

TOTALS = ("matched", "unmatched", "objective", "total_score", "mean_score", "seats",
          "guidance_capacity")


@dataclass
class Diff:
    totals: dict[str, dict[str, float]]
    unmatched_reasons: pd.DataFrame  # reason, before, after, change
    utilisation: pd.DataFrame  # changed rows only
    moves: pd.DataFrame  # candidates whose outcome changed
    groups: pd.DataFrame | None  # placement rate per protected group, when protected.csv exists

    @property
    def is_empty(self) -> bool:
        return (self.moves.empty and self.utilisation.empty
                and all(v["change"] == 0 for v in self.totals.values())
                and bool((self.unmatched_reasons["change"] == 0).all()))

    def to_json(self) -> dict[str, Any]:
        return {
            "empty": self.is_empty,
            "totals": self.totals,
            "unmatched_reasons": _records(self.unmatched_reasons),
            "utilisation": _records(self.utilisation),
            "moves": _records(self.moves),
            "groups": None if self.groups is None else _records(self.groups),
        }


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    out = df.astype(object).where(df.notna(), None).to_dict("records")
    return [{k: (v.item() if isinstance(v, np.generic) else v) for k, v in r.items()} for r in out]


def placements(rnd: Round) -> pd.DataFrame:
    """Per candidate id: option_id ('' if unmatched) and score (NaN if unmatched)."""
    inst = rnd.instance
    ids = inst.candidates["candidate_id"].to_numpy()
    option = np.full(len(ids), "", dtype=object)
    score = np.full(len(ids), np.nan)
    chosen = np.flatnonzero(rnd.chosen)
    option[rnd.edges.cand[chosen]] = inst.options["option_id"].to_numpy()[rnd.edges.opt[chosen]]
    score[rnd.edges.cand[chosen]] = rnd.edges.score_at(chosen)
    return pd.DataFrame({"option_id": option, "score": score}, index=ids)


def reasons_for(rnd: Round, ids: np.ndarray) -> pd.Series:
    """The reason in words for the given candidate ids: why matched, or why not."""
    inst = rnd.instance
    cand = pd.Index(inst.candidates["candidate_id"]).get_indexer(ids)
    cand = cand[cand >= 0]
    out = pd.Series("", index=inst.candidates["candidate_id"].to_numpy()[cand], dtype=object)
    want = np.zeros(inst.n_candidates, dtype=bool)
    want[cand] = True
    sub = rnd.edges.take(np.flatnonzero(rnd.chosen & want[rnd.edges.cand]))
    if len(sub):
        main, _ = main_reasons(inst, sub, rnd.policy)
        out[inst.candidates["candidate_id"].to_numpy()[sub.cand]] = "matched: " + main.astype(str)
    un = rnd.unmatched
    un = un[un["candidate_id"].isin(out.index)]
    out[un["candidate_id"].to_numpy()] = ("unmatched (" + un["reason"].astype(str) + "): "
                                          + un["detail"].astype(str)).to_numpy()
    return out


def moves_frame(before: Round, after: Round) -> pd.DataFrame:
    a, b = placements(before), placements(after)
    df = a.merge(b, how="outer", left_index=True, right_index=True, suffixes=("_before", "_after"))
    df.index.name = "candidate_id"
    for side in ("before", "after"):
        df[f"option_id_{side}"] = df[f"option_id_{side}"].fillna("(not in round)")
    df = df[df["option_id_before"] != df["option_id_after"]].reset_index()
    ids = df["candidate_id"].to_numpy()
    why_before = reasons_for(before, ids).reindex(ids).fillna("not in this round's input")
    why_after = reasons_for(after, ids).reindex(ids).fillna("not in this round's input")
    gone_options = set(before.instance.options["option_id"]) - set(after.instance.options["option_id"])
    change = np.where(df["option_id_before"].isin(["", "(not in round)"]), "placed",
                      np.where(df["option_id_after"].isin(["", "(not in round)"]), "unplaced",
                               "moved"))
    cause = np.where(df["option_id_before"].isin(list(gone_options)),
                     "their option was removed", "")
    out = pd.DataFrame({
        "candidate_id": df["candidate_id"],
        "change": change,
        "from_option": df["option_id_before"],
        "to_option": df["option_id_after"],
        "score_before": np.round(df["score_before"].astype(float), 6),
        "score_after": np.round(df["score_after"].astype(float), 6),
        "cause": cause,
        "why_before": why_before.to_numpy(),
        "why_after": why_after.to_numpy(),
    })
    return out.sort_values("candidate_id", kind="stable").reset_index(drop=True)


def utilisation_diff(before: Round, after: Round) -> pd.DataFrame:
    key = ["level", "id"]
    cols = ["seats", "seats_used", "guidance_capacity", "guidance_used"]
    a = utilisation_frame(before).set_index(key)[cols]
    b = utilisation_frame(after).set_index(key)[cols]
    df = a.merge(b, how="outer", left_index=True, right_index=True, suffixes=("_before", "_after"))
    changed = np.zeros(len(df), dtype=bool)
    for c in cols:
        x, y = df[f"{c}_before"], df[f"{c}_after"]
        changed |= ~((x == y).fillna(False).to_numpy(dtype=bool) | (x.isna() & y.isna()).to_numpy())
    df = df[changed].reset_index()
    order = ["level", "id"] + [f"{c}_{s}" for c in cols for s in ("before", "after")]
    df = df[order]
    df["level"] = pd.Categorical(df["level"], ["organisation", "option"])
    return df.sort_values(["level", "id"], kind="stable").reset_index(drop=True).astype(
        {"level": str})


def diff_rounds(before: Round, after: Round, protected: pd.DataFrame | None = None,
                summaries: tuple[dict[str, Any], dict[str, Any]] | None = None) -> Diff:
    """The diff of two rounds; `summaries` (of `summarise`) saves recomputing them."""
    sa, sb = summaries or (summarise(before), summarise(after))
    totals = {}
    for k in TOTALS:
        change = sb[k] - sa[k]
        totals[k] = {"before": sa[k], "after": sb[k],
                     "change": round(change, 6) if isinstance(change, float) else change}
    reasons = sorted(set(sa["unmatched_by_reason"]) | set(sb["unmatched_by_reason"]))
    ur = pd.DataFrame({
        "reason": reasons,
        "before": [sa["unmatched_by_reason"].get(r, 0) for r in reasons],
        "after": [sb["unmatched_by_reason"].get(r, 0) for r in reasons],
    }, columns=["reason", "before", "after"])
    ur["change"] = ur["after"] - ur["before"]
    groups = None
    if protected is not None and len(protected.columns):
        groups = rates_diff(before, after, protected)
    return Diff(totals, ur, utilisation_diff(before, after), moves_frame(before, after), groups)


def diff_outcome(base: Baseline, outcome: Outcome) -> Diff:
    """A scenario's diff against the baseline, with the protected data when there is some."""
    return diff_rounds(base.round, outcome.round, base.protected,
                       (base.outcome.summary, outcome.summary))
