"""Benchmark: a what-if sweep of 10 variants on a synthetic 20,000-candidate region (issue 5).

    flock /tmp/heavy.lock python -m benchmarks.whatif_sweep [--candidates 20000] [--cold]

Data: the project's synthetic generator (`matcher.synth`), the same folder as
`matcher generate --candidates N --seed N --region utrecht` (seed defaults to the number of
candidates), with the regional policy (matcher/policy/regional.toml: each person's best 50
options). Runs the baseline round, then a sweep of guidance capacity +0..+9 at the organisation
with the most options, and prints one table row per round (baseline included): seconds, method,
objective, bound, gap, matched, moves against the baseline. `--cold` solves every variant from
scratch (no warm start from the baseline's multipliers and assignment), for comparison.
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--candidates", type=int, default=20_000)
    ap.add_argument("--variants", type=int, default=10)
    ap.add_argument("--seed", type=int, default=None, help="generator seed (default: candidates)")
    ap.add_argument("--region", default="utrecht")
    ap.add_argument("--policy", type=Path, default=ROOT / "matcher" / "policy" / "regional.toml")
    ap.add_argument("--cold", action="store_true", help="no warm start (solve each from scratch)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)

    from matcher.policy import load_policy
    from matcher.synth import generate, write_generated
    from matcher.whatif import Scenario, Sweep, diff_outcome, load_baseline, run_sweep

    seed = args.candidates if args.seed is None else args.seed
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        folder = write_generated(generate(args.candidates, args.region, seed), Path(tmp) / "data")
        print(f"generate {args.candidates} candidates (region {args.region}, seed {seed}): "
              f"{time.perf_counter() - t:.1f} s")
        policy = load_policy(args.policy)
        t0, c0 = time.perf_counter(), time.process_time()
        base = load_baseline(folder, policy)
        t1, c1 = time.perf_counter(), time.process_time()
        inst = base.round.instance
        org = inst.options["organisation_id"].value_counts().sort_index().idxmax()
        sweep = Sweep(name="guidance", target=f"organisations.{org}.guidance_capacity",
                      values=[f"+{k}" for k in range(args.variants)])
        variants = run_sweep(base, sweep, Scenario(name="base"), warm=not args.cold)
        t2 = time.perf_counter()
        diffs = [diff_outcome(base, v) for v in variants]
        t3, c3 = time.perf_counter(), time.process_time()

    r = base.round
    print(f"{len(r.edges)} pairs, {inst.n_candidates} candidates, {inst.n_options} options, "
          f"{inst.n_organisations} organisations; sweep target {sweep.target}; "
          f"{'cold' if args.cold else 'warm'} start")
    print()
    print("| round | seconds | solve s | method | iterations | objective | bound | gap | "
          "matched | moves |")
    print("|---|---|---|---|---|---|---|---|---|---|")

    def row(name: str, seconds: float, rnd: Any, moves: str) -> None:
        s = rnd.result
        it = s.details.iterations if s.details.iterations is not None else "-"
        print(f"| {name} | {seconds:.1f} | {rnd.timings['solve']:.1f} | {s.method} | {it} | "
              f"{s.objective / 1e6:,.3f} | {s.bound / 1e6:,.3f} | {s.gap:.3%} | "
              f"{int(rnd.chosen.sum()):,} | {moves} |")

    row("baseline", t1 - t0, r, "-")
    for v, d in zip(variants, diffs, strict=True):
        row(f"{sweep.name} {v.x}", v.stats["seconds"], v.round, str(len(d.moves)))
    print()
    print(f"baseline (load, score, solve): {t1 - t0:.1f} s (CPU {c1 - c0:.1f} s); sweep of "
          f"{len(variants)} variants: {t2 - t1:.1f} s solving, {t3 - t2:.1f} s diffs, "
          f"{t3 - t1:.1f} s in all (CPU {c3 - c1:.1f} s; the machine's load average "
          f"{os.getloadavg()[0]:.2f} at the end)")


if __name__ == "__main__":
    main()
