"""Synthetic cohorts with protected attributes, for the equal-chances tests (helper, not a test)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

LEVELS = np.array(["A0", "A1", "A2", "B1", "B2"])


def make_cohort(folder: Path, n: int = 600, biased: bool = False, seed: int = 1,
                seat_share: float = 0.6, target_groups: bool = False) -> Path:
    """A data folder: n candidates around Utrecht, n/10 options, generous guidance budgets.

    Half the people have migration_background=yes. In a biased cohort their Dutch level is
    lower (A0-A1 where the others have A2-B2) and most options ask for A2: a neutral-looking
    input that carries the group, so the round places them far less often.
    """
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    n_opt = max(2, n // 10)
    n_org = max(1, n_opt // 5)
    orgs = pd.DataFrame({
        "organisation_id": [f"ORG{g:03d}" for g in range(n_org)],
        "name": [f"Organisation {g}" for g in range(n_org)],
        "kind": "employer",
        "guidance_capacity": 10_000,
    })
    cap = np.maximum(1, np.round(rng.uniform(0.5, 1.5, n_opt) * seat_share * n / n_opt)).astype(int)
    sectors = np.array(["hospitality", "textile", "logistics", "cleaning", "retail"])
    opts = pd.DataFrame({
        "option_id": [f"OPT{o:03d}" for o in range(n_opt)],
        "organisation_id": [f"ORG{o % n_org:03d}" for o in range(n_opt)],
        "kind": np.where(np.arange(n_opt) % 2 == 0, "programme", "place"),
        "sector": sectors[np.arange(n_opt) % len(sectors)],
        "capacity": cap,
        "hours_min": rng.choice([8, 12, 16], n_opt),
        "hours_max": 32,
        "min_dutch_level": np.where(rng.random(n_opt) < 0.85, "A2", "A0"),
        "skills": np.where(rng.random(n_opt) < 0.5, "teamwork:1", "cooking:1;hygiene:1"),
        "lat": np.round(52.09 + rng.uniform(-0.03, 0.03, n_opt), 5),
        "lon": np.round(5.12 + rng.uniform(-0.05, 0.05, n_opt), 5),
    })
    group = np.where(np.arange(n) % 2 == 0, "yes", "no")
    rng.shuffle(group)
    if biased:
        level = np.where(group == "yes", LEVELS[rng.integers(0, 2, n)], LEVELS[rng.integers(2, 5, n)])
    else:
        level = LEVELS[rng.integers(0, 5, n)]
    cands = pd.DataFrame({
        "candidate_id": [f"C{i:05d}" for i in range(n)],
        "skills": np.where(rng.random(n) < 0.5, "teamwork:2", "cooking:1;hygiene:2"),
        "sectors": sectors[rng.integers(0, len(sectors), n)],
        "hours_available": rng.choice([8, 16, 24, 32], n),
        "dutch_level": level,
        "guidance_need": rng.integers(0, 3, n),
        "max_travel_km": 30,
        "lat": np.round(52.09 + rng.uniform(-0.03, 0.03, n), 5),
        "lon": np.round(5.12 + rng.uniform(-0.05, 0.05, n), 5),
    })
    if target_groups:
        cands["target_group"] = np.where(rng.random(n) < 0.3, "statushouder", "")
    protected = pd.DataFrame({
        "candidate_id": cands["candidate_id"],
        "gender": rng.choice(["female", "male"], n),
        "age_band": rng.choice(["18-24", "25-44", "45-54", "55+"], n),
        "migration_background": group,
        "disability": np.where(rng.random(n) < 0.2, "yes", "no"),
    })
    for name, df in (("organisations", orgs), ("options", opts), ("candidates", cands),
                     ("protected", protected)):
        df.to_csv(folder / f"{name}.csv", index=False)
    return folder
