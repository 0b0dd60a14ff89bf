"""Congestion of shortlists with and without the cap, at city scale: one command, one table.

    flock /tmp/matcher-bench.lock .venv/bin/python -m benchmarks.congestion \\
        --candidates 20000 --seed 2020 --vacancies 500 --k 10

A city from `matcher generate` (default policy); `--vacancies` options drawn at random (seed),
each asked for one shortlist of `k`, in random order, as service points would one after another
(matcher.congestion.issue_in_order: the cap counts the shortlists issued before; none closes).
The same requests are issued with the policy's cap (max_open_shortlists) and without one. The
issue's bar: the cap spreads chances (fewer never put forward, lower Gini) while the mean score
of the people put forward stays within 5% and the expected hires within 2% of the cap-less run.
"""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from matcher.congestion import OFFER_RATE, Congestion, congestion, issue_in_order
from matcher.load import load_instance
from matcher.policy import default_policy
from matcher.shortlist_index import rank_options

log = logging.getLogger("congestion")


def _row(label: str, c: Congestion, seconds: float) -> str:
    return (f"| {label} | {c.shortlists} | {c.entries} | {c.put_forward} | {c.eligible} | "
            f"{100 * c.never_share:.1f}% | {c.gini:.3f} | {c.max_times} | {c.mean_score:.4f} | "
            f"{c.expected_hires:.1f} | {seconds:.2f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--candidates", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=2020)
    ap.add_argument("--vacancies", type=int, default=500)
    ap.add_argument("--k", type=int, default=10)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    with tempfile.TemporaryDirectory(prefix="matcher-congestion-") as tmp:
        city = Path(tmp) / "city"
        subprocess.run([sys.executable, "-m", "matcher", "generate", "--candidates",
                        str(args.candidates), "--seed", str(args.seed), "--out", str(city)],
                       check=True, capture_output=True)
        inst, _ = load_instance(city)
    policy = default_policy()
    t = time.perf_counter()
    ranking = rank_options(inst, policy)
    log.info("ranked %d pairs in %.1f s", len(ranking.edges.cand), time.perf_counter() - t)
    rng = np.random.default_rng(args.seed)
    n = min(args.vacancies, inst.n_options)
    options = rng.permutation(rng.choice(inst.n_options, size=n, replace=False)).tolist()
    cap = policy.shortlist.max_open_shortlists
    lines = ["| cap | shortlists | entries | people put forward | eligible people | never put "
             "forward | Gini of exposure | most times | mean score | expected hires | "
             "seconds |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    results = {}
    for label, c in ((f"max_open_shortlists = {cap}", cap), ("no cap", None)):
        t = time.perf_counter()
        lists = issue_in_order(ranking, options, args.k, c)
        seconds = time.perf_counter() - t
        results[label] = congestion(ranking, options, lists)
        lines.append(_row(label, results[label], seconds))
    capped, free = results.values()
    print(f"\n{args.candidates} candidates (matcher generate --seed {args.seed}, default policy), "
          f"{n} vacancies, k={args.k}; expected hires: offer chance {OFFER_RATE} x score per "
          "entry, one job per person\n")
    print("\n".join(lines))
    print(f"\ncap vs no cap: mean score {100 * (capped.mean_score / free.mean_score - 1):+.2f}% "
          f"(bar: within 5%), expected hires "
          f"{100 * (capped.expected_hires / free.expected_hires - 1):+.2f}% (bar: within 2%), "
          f"never put forward {100 * capped.never_share:.1f}% vs {100 * free.never_share:.1f}%, "
          f"Gini {capped.gini:.3f} vs {free.gini:.3f}")


if __name__ == "__main__":
    main()
