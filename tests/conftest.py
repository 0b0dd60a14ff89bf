"""Shared fixtures: the pilot data, data folders written from tables, random instances."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import strategies as st

from matcher.cli.round_commands import pilot_dir

PILOT = pilot_dir()

# The suite's older tests read the English texts; Dutch (the default for users) is tested in
# tests/test_i18n.py and the web tests, which choose their language explicitly.
os.environ["MATCHER_LANG"] = "en"


@pytest.fixture
def pilot(tmp_path: Path) -> Path:
    """A writable copy of the shipped pilot data folder."""
    dst = tmp_path / "pilot"
    shutil.copytree(PILOT, dst)
    return dst


def read_tables(folder: Path) -> dict[str, pd.DataFrame]:
    return {p.stem: pd.read_csv(p, dtype=str, keep_default_na=False)
            for p in sorted(folder.glob("*.csv"))}


def write_tables(folder: Path, tables: dict[str, pd.DataFrame], **to_csv: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, df in tables.items():
        df.to_csv(folder / f"{name}.csv", index=False, **to_csv)  # type: ignore[arg-type]
    return folder


LEVELS = ["A0", "A1", "A2", "B1", "B2", "C1", "C2", "1F", "2F", "3F"]
SECTORS = ["hospitality", "cleaning", "textile", "it_testing"]
SKILLS = ["cooking", "cleaning", "sewing", "testing"]


@st.composite
def random_tables(draw: st.DrawFn, max_candidates: int = 6, max_options: int = 3,
                  max_orgs: int = 2, decisions: bool = True) -> dict[str, pd.DataFrame]:
    """A small random data set in the CSV contract (string tables)."""
    n_org = draw(st.integers(1, max_orgs))
    n_opt = draw(st.integers(1, max_options))
    n_c = draw(st.integers(1, max_candidates))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)

    def skills(k: int) -> list[str]:
        out = []
        for _ in range(k):
            chosen = rng.choice(SKILLS, size=rng.integers(0, 3), replace=False)
            out.append(";".join(f"{s}:{rng.integers(1, 4)}" for s in chosen))
        return out

    orgs = pd.DataFrame({
        "organisation_id": [f"ORG{i}" for i in range(n_org)],
        "name": [f"Org {i}" for i in range(n_org)],
        "kind": rng.choice(["programme_provider", "employer"], n_org),
        "guidance_capacity": rng.integers(0, 6, n_org).astype(str),
    })
    lo = rng.integers(0, 25, n_opt)
    opts = pd.DataFrame({
        "option_id": [f"OPT{i}" for i in range(n_opt)],
        "organisation_id": [f"ORG{i}" for i in rng.integers(0, n_org, n_opt)],
        "kind": rng.choice(["programme", "place"], n_opt),
        "sector": rng.choice(SECTORS, n_opt),
        "capacity": rng.integers(0, 4, n_opt).astype(str),
        "hours_min": lo.astype(str),
        "hours_max": (lo + rng.integers(0, 15, n_opt)).astype(str),
        "min_dutch_level": rng.choice(LEVELS[:5], n_opt),
        "skills": skills(n_opt),
        "lat": np.round(52.09 + rng.normal(0, 0.05, n_opt), 4).astype(str),
        "lon": np.round(5.12 + rng.normal(0, 0.08, n_opt), 4).astype(str),
    })
    cands = pd.DataFrame({
        "candidate_id": [f"C{i:02d}" for i in range(n_c)],
        "skills": skills(n_c),
        "sectors": [";".join(rng.choice(SECTORS, rng.integers(0, 3), replace=False))
                    for _ in range(n_c)],
        "hours_available": rng.integers(4, 40, n_c).astype(str),
        "dutch_level": rng.choice(LEVELS, n_c),
        "guidance_need": rng.integers(0, 4, n_c).astype(str),
        "max_travel_km": rng.integers(1, 25, n_c).astype(str),
        "lat": np.round(52.09 + rng.normal(0, 0.05, n_c), 4).astype(str),
        "lon": np.round(5.12 + rng.normal(0, 0.08, n_c), 4).astype(str),
    })
    tables = {"organisations": orgs, "options": opts, "candidates": cands}
    if decisions and draw(st.booleans()):
        n_dec = draw(st.integers(1, max(1, n_c // 2)))
        cs = rng.choice(n_c, size=min(n_dec, n_c), replace=False)
        tables["decisions"] = pd.DataFrame({
            "candidate_id": [f"C{i:02d}" for i in cs],
            "option_id": [f"OPT{i}" for i in rng.integers(0, n_opt, len(cs))],
            "decision": rng.choice(["forbid", "lock"], len(cs), p=[0.7, 0.3]),
        })
    return tables
