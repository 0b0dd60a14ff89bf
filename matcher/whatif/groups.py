"""Equal-chances figures for scenarios: placement rate per group, before and after.

Reads ``protected.csv`` (candidate_id plus one column per attribute) on its own. The protected
attributes never enter an Instance, the scoring or the solver: they are joined to the rounds'
results by candidate id only here, after solving. Deliberately minimal, so it can later be
replaced by the full audit in `matcher.audit`.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from matcher.csvio import ROW, read_table
from matcher.errors import Problems
from matcher.round import Round

log = logging.getLogger(__name__)

UNKNOWN = "(not recorded)"


def read_protected(data_dir: Path) -> pd.DataFrame | None:
    """protected.csv as strings indexed by candidate_id, or None when absent or unusable."""
    path = Path(data_dir) / "protected.csv"
    if not path.exists():
        return None
    problems = Problems()
    df = read_table(path, problems, ("candidate_id",))
    if df is None or problems.errors:
        log.warning("protected.csv not used: %s", "; ".join(str(p) for p in problems.errors))
        return None
    df = df.drop(columns=[ROW]).drop_duplicates("candidate_id", keep="first")
    return df.set_index("candidate_id")


def placement_rates(rnd: Round, protected: pd.DataFrame) -> pd.DataFrame:
    """attribute, group, candidates, placed, rate for every protected attribute."""
    ids = rnd.instance.candidates["candidate_id"].to_numpy()
    placed = np.zeros(len(ids), dtype=bool)
    placed[rnd.edges.cand[rnd.chosen]] = True
    rows = []
    for attr in protected.columns:
        group = protected[attr].reindex(ids).fillna("").replace("", UNKNOWN).to_numpy()
        df = pd.DataFrame({"group": group, "placed": placed})
        agg = df.groupby("group", sort=True)["placed"].agg(["size", "sum"])
        for g, r in agg.iterrows():
            rows.append({"attribute": attr, "group": str(g), "candidates": int(r["size"]),
                         "placed": int(r["sum"]),
                         "rate": round(float(r["sum"]) / float(r["size"]), 6)})
    return pd.DataFrame(rows, columns=["attribute", "group", "candidates", "placed", "rate"])


def rates_diff(before: Round, after: Round, protected: pd.DataFrame) -> pd.DataFrame:
    """Placement rate per group before and after, with the change and each rate's ratio to the
    best-placed group of its attribute (the 'four-fifths' style disparity ratio)."""
    a = placement_rates(before, protected)
    b = placement_rates(after, protected)
    out = a.merge(b, on=["attribute", "group"], how="outer", suffixes=("_before", "_after"))
    for side in ("before", "after"):
        best = out.groupby("attribute")[f"rate_{side}"].transform("max")
        out[f"ratio_to_best_{side}"] = np.round(out[f"rate_{side}"] / best.where(best > 0), 6)
    out["rate_change"] = np.round(out["rate_after"] - out["rate_before"], 6)
    return out.sort_values(["attribute", "group"], kind="stable").reset_index(drop=True)
