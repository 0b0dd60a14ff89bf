"""Registry of benchmark scenarios: one small module per generated scenario, fixed seeds.

Each module defines NAME, CANDIDATES, REGION, SEED, POLICY (a path relative to the repository
root, or None for the shipped default) and QUICK (part of the default quick set).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

MODULES = ("region_2k", "city_20k", "regions_200k", "national_1_3m")
ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Scenario:
    name: str
    candidates: int
    region: str
    seed: int
    policy: str | None
    quick: bool
    description: str

    @property
    def policy_path(self) -> Path | None:
        return ROOT / self.policy if self.policy else None


def load(module: str) -> Scenario:
    m = importlib.import_module(f"benchmarks.scenarios.{module}")
    return Scenario(m.NAME, m.CANDIDATES, m.REGION, m.SEED, m.POLICY, m.QUICK,
                    (m.__doc__ or "").strip())


def all_scenarios() -> list[Scenario]:
    return [load(m) for m in MODULES]


def by_size(sizes: list[int]) -> list[Scenario]:
    """Registered scenarios of these sizes; other sizes get an ad-hoc scenario (seed = size)."""
    known = {s.candidates: s for s in all_scenarios()}
    out = []
    for n in sizes:
        out.append(known.get(n) or Scenario(f"adhoc_{n}", n, "auto", n,
                                            "matcher/policy/regional.toml", False,
                                            f"ad-hoc scenario of {n} candidates"))
    return out
