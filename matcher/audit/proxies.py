"""Proxies: how strongly each scoring input goes together with each protected attribute.

A neutral-looking input (location, Dutch level) can carry a group. For every scoring input this
reports its association with every protected attribute, in [0, 1]:

- numeric or ordered inputs (Dutch level, hours, travel limit, guidance need, number of skills):
  the correlation ratio eta (share of the input's spread explained by the groups, square-rooted);
- categories (region, first sector wish): Cramer's V with the bias correction of Bergsma (2013).

Scoring inputs are read from the instance, exactly as the score reads them; protected values come
from the audit's own table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from matcher.audit.metrics import INSUFFICIENT, MIN_GROUP
from matcher.model import Instance

#: Above this an input "carries" the attribute; between MODERATE and STRONG it is worth a look.
STRONG = 0.3
MODERATE = 0.1
#: Region cells for the location input: about 11 x 10 km around Utrecht.
REGION_LAT_STEP = 0.1
REGION_LON_STEP = 0.15

#: Scoring input -> (plain description, kind)
PROXY_INPUTS: dict[str, tuple[str, str]] = {
    "dutch_level": ("Dutch language level", "numeric"),
    "hours_available": ("hours available a week", "numeric"),
    "max_travel_km": ("maximum travel distance", "numeric"),
    "guidance_need": ("guidance need", "numeric"),
    "skills_count": ("number of skills", "numeric"),
    "region": ("where the person lives (about 10 km area)", "category"),
    "first_sector_wish": ("first sector wish", "category"),
}


def scoring_inputs(inst: Instance) -> pd.DataFrame:
    """One column per scoring input, one row per candidate (canonical order)."""
    c = inst.candidates
    lat = np.floor(c["lat"].to_numpy() / REGION_LAT_STEP).astype(np.int64)
    lon = np.floor(c["lon"].to_numpy() / REGION_LON_STEP).astype(np.int64)
    first = c["sectors"].str.lower().str.split(";").str[0].fillna("").str.strip()
    return pd.DataFrame({
        "dutch_level": c["level"].to_numpy(dtype=float),
        "hours_available": c["hours_available"].to_numpy(dtype=float),
        "max_travel_km": c["max_travel_km"].to_numpy(dtype=float),
        "guidance_need": c["guidance_need"].to_numpy(dtype=float),
        "skills_count": np.diff(inst.cand_skills.indptr).astype(float),
        "region": pd.Series(lat).astype(str).to_numpy() + ":" + pd.Series(lon).astype(str).to_numpy(),
        "first_sector_wish": first.replace("", "(none)").to_numpy(dtype=object),
    })


def correlation_ratio(x: np.ndarray, groups: np.ndarray) -> float:
    """eta: sqrt(between-group sum of squares / total sum of squares)."""
    x = np.asarray(x, dtype=float)
    codes, _ = pd.factorize(pd.Series(groups), sort=True)
    n = np.bincount(codes)
    means = np.bincount(codes, weights=x) / n
    total = ((x - x.mean()) ** 2).sum()
    if total <= 0:
        return 0.0
    between = (n * (means - x.mean()) ** 2).sum()
    return float(np.sqrt(min(1.0, between / total)))


def cramers_v(a: np.ndarray, b: np.ndarray) -> float:
    """Bias-corrected Cramer's V (Bergsma 2013) of two categorical arrays."""
    table = pd.crosstab(pd.Series(a), pd.Series(b)).to_numpy(dtype=float)
    n = table.sum()
    r, k = table.shape
    if n <= 1 or r < 2 or k < 2:
        return 0.0
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / n
    chi2 = ((table - expected) ** 2 / expected).sum()
    phi2 = max(0.0, chi2 / n - (k - 1) * (r - 1) / (n - 1))
    rc = r - (r - 1) ** 2 / (n - 1)
    kc = k - (k - 1) ** 2 / (n - 1)
    denom = min(kc - 1, rc - 1)
    return float(np.sqrt(phi2 / denom)) if denom > 0 else 0.0


def proxy_table(inst: Instance, protected: pd.DataFrame) -> list[dict[str, object]]:
    """Association of every scoring input with every protected attribute, strongest first."""
    inputs = scoring_inputs(inst)
    rows: list[dict[str, object]] = []
    for attr in protected.columns:
        labels = protected[attr].to_numpy(dtype=object)
        given = labels != ""
        sizes = pd.Series(labels[given]).value_counts()
        enough = int((sizes >= MIN_GROUP).sum()) >= 2
        for name, (words, kind) in PROXY_INPUTS.items():
            x = inputs[name].to_numpy()[given]
            if given.sum() < 2:
                value = 0.0
            elif kind == "numeric":
                value = correlation_ratio(x, labels[given])
            else:
                value = cramers_v(x, labels[given])
            level = ("strong" if value >= STRONG else "moderate" if value >= MODERATE else "weak")
            rows.append({
                "input": name, "description": words, "attribute": attr,
                "measure": "correlation ratio" if kind == "numeric" else "Cramer's V",
                "value": round(value, 4), "people": int(given.sum()),
                "level": level if enough else INSUFFICIENT,
            })
    rows.sort(key=lambda r: (-float(r["value"]), str(r["input"]), str(r["attribute"])))  # type: ignore[arg-type]
    return rows
