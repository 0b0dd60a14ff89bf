"""Time the equal-chances audit and per-person explanations on synthetic cohorts.

Usage: PYTHONPATH=$PWD python benchmarks/bench_audit.py [N ...]   (default 2000 20000)
Also times fairlearn's MetricFrame bootstrap against matcher's Wilson and simultaneous-pairs
intervals on the same 800 people.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from fairness_cohort import make_cohort

from matcher.audit import audit_files
from matcher.audit.metrics import group_rates, min_max_ratio
from matcher.explain_person import explain_all
from matcher.load import load_instance
from matcher.policy import default_policy
from matcher.round import run_round


def intervals_vs_fairlearn() -> None:
    from fairlearn.metrics import MetricFrame, selection_rate

    rng = np.random.default_rng(0)
    labels = np.where(rng.random(800) < 0.6, "a", "b").astype(object)
    placed = rng.random(800) < 0.5
    t = time.perf_counter()
    min_max_ratio(group_rates(labels, placed))
    ours = time.perf_counter() - t
    t = time.perf_counter()
    MetricFrame(metrics=selection_rate, y_true=placed, y_pred=placed, sensitive_features=labels,
                n_boot=400, ci_quantiles=[0.025, 0.975], random_state=0)
    theirs = time.perf_counter() - t
    print(f"intervals, 800 people: matcher (Wilson + pairs) {ours:.4f} s, fairlearn bootstrap "
          f"(400 replicates) {theirs:.2f} s")


def main(sizes: list[int]) -> None:
    intervals_vs_fairlearn()
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            data = make_cohort(Path(tmp) / "d", n=n, biased=True)
            inst, _ = load_instance(data)
            t = time.perf_counter()
            rnd = run_round(inst, default_policy())
            t_round = time.perf_counter() - t
            t = time.perf_counter()
            files = audit_files(rnd, data / "protected.csv")
            t_audit = time.perf_counter() - t
            t = time.perf_counter()
            table = explain_all(rnd)
            t_explain = time.perf_counter() - t
            print(f"N={n}: round {t_round:.2f} s ({rnd.result.method}), audit {t_audit:.2f} s "
                  f"({len(files['audit.json']) // 1024} KiB audit.json), explain --all "
                  f"{t_explain:.2f} s ({(table['status'] == 'unmatched').sum()} unmatched)")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [2000, 20000])
