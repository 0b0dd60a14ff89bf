"""A round solved by region on a local Dask cluster against the same round on the process pool,
and an estimate of what 8 and 32 workers would give, from the measured time of every part.

    flock /tmp/matcher-bench.lock python -m benchmarks.dask_cluster national_1_3m --workers 2

Both runs take the same data and policy in this process, one after the other (the process
pool first, then a `distributed.LocalCluster` of `--workers` single-threaded worker processes,
reached at its scheduler's tcp:// address as `matcher run --dask` reaches one); the table says
whether the answers, bounds and gaps are the same (they must be).

The estimate for W workers keeps what does not run in parts (loading, the coordination's price
steps, the whole-problem iterations, polishing) at its measured time, and replaces each pass over
the parts by a longest-part-first schedule of that pass's measured part times on W workers plus
the pass's measured overhead on the cluster (its wall time less that schedule on the measured
workers: shipping the parts, waiting on the slowest). Scoring is taken as divided among the
workers (its chunks go to the cluster too), which is the optimistic side. It is a model from
measured parts, not a measurement of 8 or 32 workers, and it assumes every worker is as fast as
one of this machine's cores and the network as fast as its loopback.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import heapq
import json
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.scenarios import Scenario, by_size, load
from benchmarks.warmup import warm
from matcher.load import load_instance
from matcher.parallel import Mapper, ProcessMapper
from matcher.policy import load_policy
from matcher.round import run_round
from matcher.scoring import SCALE
from matcher.synth import generate, write_generated


def makespan(times: list[float], workers: int) -> float:
    """The wall time of running `times` on `workers` longest first (each on the first free)."""
    free = [0.0] * max(1, workers)
    for t in sorted(times, reverse=True):
        heapq.heapreplace(free, free[0] + t)
    return max(free)


def passes(stats: dict[str, Any]) -> list[dict[str, Any]]:
    """Each pass over the parts: its wall seconds and its parts' own seconds."""
    out = []
    for p in [stats.get("first_pass", {}), *stats.get("border_passes", [])]:
        parts = [float(x.get("seconds", 0.0)) for x in p.get("per_part", [])]
        if parts:
            out.append({"seconds": float(p.get("seconds", 0.0)), "parts": parts})
    return out


def solve_once(inst: Any, policy: Any, warnings: Any, mapper: Mapper) -> dict[str, Any]:
    t = time.perf_counter()
    rnd = run_round(inst, policy, warnings, score_mapper=mapper, solve_mapper=mapper)
    wall = time.perf_counter() - t
    res = rnd.result
    out = {"wall": wall, "score": rnd.timings["score"], "solve": rnd.timings["solve"],
           "objective": res.objective / SCALE, "bound": res.bound / SCALE, "gap": res.gap,
           "objective_micro": int(res.objective), "bound_micro": int(res.bound),
           "method": res.method, "passes": passes(res.details.stats),
           "pairs": rnd.problem.n_edges,
           "assignment_hash": hashlib.sha256(rnd.chosen.tobytes()).hexdigest()}
    del rnd, res
    gc.collect()
    return out


def estimate(run: dict[str, Any], measured_workers: int, workers: int) -> dict[str, float]:
    """Seconds of the round on `workers` workers, from `run` measured on `measured_workers`."""
    in_passes = sum(p["seconds"] for p in run["passes"])
    serial = run["wall"] - run["score"] - in_passes
    total_passes = 0.0
    for p in run["passes"]:
        overhead = max(0.0, p["seconds"] - makespan(p["parts"], measured_workers))
        total_passes += makespan(p["parts"], workers) + overhead
    score = run["score"] * measured_workers / workers
    return {"workers": workers, "score": score, "passes": total_passes, "serial": serial,
            "round": score + total_passes + serial}


def on_dask(inst: Any, policy: Any, warnings: Any, workers: int) -> dict[str, Any]:
    from distributed import LocalCluster

    from matcher.parallel.dask_mapper import connect
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                           dashboard_address=None, memory_limit=0)
    with cluster, connect(cluster.scheduler_address) as mapper:
        return solve_once(inst, policy, warnings, mapper)


def table(sc: Scenario, pool: dict[str, Any], dask: dict[str, Any], workers: int) -> str:
    same = all(pool[k] == dask[k] for k in ("objective_micro", "bound_micro",
                                            "assignment_hash"))
    lines = [f"{sc.name}: {sc.candidates:,} candidates, {pool['pairs']:,} pairs, "
             f"{len(pool['passes'][0]['parts']) if pool['passes'] else 0} parts; "
             f"same answer and bound on both: {'yes' if same else 'NO'}", "",
             "| run | workers | round s | score s | passes s | objective | bound | gap |",
             "|---|---|---|---|---|---|---|---|"]
    for name, r in (("process pool", pool), ("Dask LocalCluster", dask)):
        lines.append(f"| {name} | {workers} | {r['wall']:.1f} | {r['score']:.1f} | "
                     f"{sum(p['seconds'] for p in r['passes']):.1f} | {r['objective']:,.1f} | "
                     f"{r['bound']:,.1f} | {r['gap']:.3%} |")
    lines += ["", "Estimate from the Dask run's measured parts (see the module's docstring):",
              "", "| workers | score s | passes s | not in parts s | round s | vs measured |",
              "|---|---|---|---|---|---|"]
    for w in (workers, 8, 32):
        e = estimate(dask, workers, w)
        lines.append(f"| {w} | {e['score']:.1f} | {e['passes']:.1f} | {e['serial']:.1f} | "
                     f"{e['round']:.1f} | {e['round'] / dask['wall']:.2f}x |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("scenario", help="a module name in benchmarks.scenarios, or a size")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = ap.parse_args()
    sc = by_size([int(args.scenario)])[0] if args.scenario.isdigit() else load(args.scenario)
    with tempfile.TemporaryDirectory(prefix=f"dask-{sc.name}-") as work:
        t = time.perf_counter()
        data = write_generated(generate(sc.candidates, sc.region, sc.seed), Path(work) / "data")
        generated = time.perf_counter() - t
        policy = load_policy(sc.policy_path)
        inst, warnings = load_instance(data)
    warm()  # the kernels compiled (or loaded) first: neither run pays for it
    with ProcessMapper(args.workers) as mapper:
        pool = solve_once(inst, policy, warnings, mapper)
    dask = on_dask(inst, policy, warnings, args.workers)
    print(table(sc, pool, dask, args.workers))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"\ngenerate {generated:.1f} s; peak of this process {peak:,.0f} MB")
    if args.json is not None:
        args.json.write_text(json.dumps({"scenario": sc.name, "pool": pool, "dask": dask,
                                         "estimates": [estimate(dask, args.workers, w)
                                                       for w in (args.workers, 8, 32)]},
                                        indent=1))


if __name__ == "__main__":
    main()
