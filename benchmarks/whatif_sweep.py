"""Benchmark: a what-if sweep of 10 variants on a random 20,000-candidate region.

    PYTHONPATH=$PWD /work/venv/bin/python benchmarks/whatif_sweep.py [--candidates 20000]

Writes a random data folder (fixed seed) to a temporary directory, runs the baseline round and a
sweep of guidance capacity +0..+9 at the organisation with the most options, and prints the
wall-clock time of each step. The region generator is deliberately simple (uniform locations
around Utrecht, random skills and wishes); it is not the synthetic-region generator of
`matcher.synth`, which lives on another branch.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

SKILLS = [f"skill{i:02d}" for i in range(40)]
SECTORS = ["hospitality", "textile", "production", "logistics", "cleaning", "retail", "it_testing",
           "care", "green", "construction", "catering", "sport"]
LEVELS = ["A0", "A1", "A2", "B1", "B2", "C1"]


def _skills(rng: np.random.Generator, n: int, k_max: int) -> list[str]:
    out = []
    for _ in range(n):
        k = int(rng.integers(1, k_max + 1))
        names = rng.choice(len(SKILLS), size=k, replace=False)
        out.append(";".join(f"{SKILLS[s]}:{int(rng.integers(1, 4))}" for s in sorted(names)))
    return out


def make_region(folder: Path, n_candidates: int, seed: int = 0) -> Path:
    """Write organisations/options/candidates/decisions CSVs for a random region."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    n_opt = max(2, n_candidates // 10)
    n_org = max(1, n_opt // 5)
    org_ids = [f"ORG{i:04d}" for i in range(n_org)]
    opt_org = rng.integers(0, n_org, n_opt)
    cap = np.clip(np.round(rng.triangular(1, 10, 10, n_opt)), 1, 10).astype(int)
    lo = rng.choice([4, 8, 12, 16], n_opt)
    options = pd.DataFrame({
        "option_id": [f"OPT{i:05d}" for i in range(n_opt)],
        "organisation_id": np.array(org_ids)[opt_org],
        "kind": rng.choice(["programme", "place"], n_opt),
        "sector": rng.choice(SECTORS, n_opt),
        "capacity": cap,
        "hours_min": lo,
        "hours_max": lo + rng.choice([8, 16, 24], n_opt),
        "min_dutch_level": rng.choice(LEVELS[:4], n_opt),
        "skills": _skills(rng, n_opt, 3),
        "lat": np.round(rng.uniform(51.95, 52.25, n_opt), 5),
        "lon": np.round(rng.uniform(4.85, 5.35, n_opt), 5),
    })
    need = rng.choice([0, 1, 2, 3], n_candidates, p=[0.2, 0.4, 0.3, 0.1])
    seats_org = np.bincount(opt_org, weights=cap, minlength=n_org)
    budget = np.round(seats_org * need.mean() * rng.uniform(0.3, 0.8, n_org)).astype(int)
    orgs = pd.DataFrame({
        "organisation_id": org_ids, "name": [f"Organisation {i}" for i in range(n_org)],
        "kind": rng.choice(["programme_provider", "employer"], n_org),
        "guidance_capacity": budget,
    })
    wishes = [";".join(rng.choice(SECTORS, size=int(rng.integers(0, 4)), replace=False))
              for _ in range(n_candidates)]
    cands = pd.DataFrame({
        "candidate_id": [f"C{i:06d}" for i in range(n_candidates)],
        "skills": _skills(rng, n_candidates, 4),
        "sectors": wishes,
        "hours_available": rng.choice([8, 12, 16, 20, 24, 32], n_candidates),
        "dutch_level": rng.choice(LEVELS, n_candidates),
        "guidance_need": need,
        "max_travel_km": rng.choice([2, 3, 4, 5], n_candidates),
        "lat": np.round(rng.uniform(51.95, 52.25, n_candidates), 5),
        "lon": np.round(rng.uniform(4.85, 5.35, n_candidates), 5),
    })
    orgs.to_csv(folder / "organisations.csv", index=False)
    options.to_csv(folder / "options.csv", index=False)
    cands.to_csv(folder / "candidates.csv", index=False)
    return folder


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--candidates", type=int, default=20_000)
    ap.add_argument("--variants", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)

    from matcher.policy import default_policy
    from matcher.whatif import Scenario, Sweep, diff_outcome, load_baseline, run_sweep

    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        folder = make_region(Path(tmp) / "region", args.candidates, args.seed)
        print(f"generate {args.candidates} candidates: {time.perf_counter() - t:.1f} s")
        t0 = time.perf_counter()
        policy = default_policy()
        base = load_baseline(folder, policy)
        inst = base.round.instance
        t2 = time.perf_counter()
        print(f"load and baseline round {t2 - t0:.1f} s (score {base.round.timings['score']:.1f} s) "
              f"({len(base.round.edges)} pairs, solver {base.round.result.method}, "
              f"matched {int(base.round.chosen.sum())})")
        org = inst.options["organisation_id"].value_counts().sort_index().idxmax()
        sweep = Sweep(name="guidance", target=f"organisations.{org}.guidance_capacity",
                      values=[f"+{k}" for k in range(args.variants)])
        variants = run_sweep(base, sweep, Scenario(name="base"))
        t3 = time.perf_counter()
        diffs = [diff_outcome(base, v) for v in variants]
        t4 = time.perf_counter()
        for v, d in zip(variants, diffs, strict=True):
            t = v.stats["timings_s"]
            print(f"  {v.name:55s} matched {v.summary['matched']:6d} objective "
                  f"{v.summary['objective']:.6f} ({v.summary['method']}, gap {v.summary['gap']:.4%}) "
                  f"moves {len(d.moves):4d}; reused {v.stats['reused_pairs']} pairs, rescored "
                  f"{v.stats['rescored_pairs']}; {v.stats['seconds']:.2f} s (instance "
                  f"{t['build']:.2f}, edges {t['score']:.2f}, solve {t['solve']:.2f})")
        print(f"sweep of {len(variants)} variants: {t3 - t2:.1f} s solving, {t4 - t3:.1f} s diffs "
              f"against the baseline, {t4 - t2:.1f} s in all "
              f"(whole run incl. load and baseline: {t4 - t0:.1f} s)")


if __name__ == "__main__":
    main()
