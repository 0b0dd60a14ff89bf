"""Benchmark: marginal values (one more seat, one more guidance unit) by warm re-solves.

    flock /tmp/matcher-bench.lock python -m benchmarks.marginal [--sizes pilot,2000,20000]

Data: the shipped pilot (default policy) and the synthetic generator's regions
(`matcher generate --candidates N --seed N --region utrecht`, regional policy). Prints one
table: per size the pairs, the baseline round, the estimates (LP or the solver's prices), the
warm re-solves (how many, seconds), how many rows are exact or within the solver's tolerance,
and, for comparison, what the former method would have shown: ranking by estimate and
re-solving only its top 5 (how many of the re-solved top 5 by people it would have missed).
Beside the warm re-solves, in the same run, what a planner would do without them: the same +1
as a what-if scenario solved from scratch (`run_scenario(..., warm=False)`, a sweep point
without the warm start) for the top 5 guidance rows, with its seconds per re-solve and whether
it gives the same people placed and objective.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]


def measure(size: str, tmp: Path) -> dict[str, Any]:
    from matcher.policy import default_policy, load_policy
    from matcher.synth import generate, write_generated
    from matcher.whatif import load_baseline, marginal_values

    if size == "pilot":
        folder, policy = ROOT / "matcher" / "data" / "pilot", default_policy()
    else:
        n = int(size)
        folder = write_generated(generate(n, "utrecht", n), tmp / f"d{n}")
        policy = load_policy(ROOT / "matcher" / "policy" / "regional.toml")
    t = time.perf_counter()
    base = load_baseline(folder, policy)
    t_base = time.perf_counter() - t
    t = time.perf_counter()
    m = marginal_values(base)
    t_marg = time.perf_counter() - t
    seat, guid = m["seats"], m["guidance"]
    rows = len(seat) + len(guid)
    exact = int((seat["value"] == "exact").sum() + (guid["value"] == "exact").sum())
    tol = int((seat["reading"] == "within the solver's tolerance").sum()
              + (guid["reading"] == "within the solver's tolerance").sum())
    g = guid[guid["value"] == "exact"]
    best = set(g.head(5)["organisation_id"])
    by_est = set(guid.sort_values(["estimate", "organisation_id"], ascending=[False, True])
                 .head(5)["organisation_id"])
    cold = _cold(base, list(g.head(COLD)["organisation_id"]))
    r = base.round.result
    return cold | {"size": size, "pairs": base.round.problem.n_edges, "baseline_s": t_base,
            "gap": (r.bound - r.objective) / 1e6, "marginal_s": t_marg, "resolves": exact,
            "rows": rows, "per_resolve_s": t_marg / max(exact, 1), "tolerance": tol,
            "top": f"{g.iloc[0]['organisation']} {g.iloc[0]['people']:+d} people, "
                   f"{g.iloc[0]['objective']:+.2f}" if len(g) else "-",
            "missed": len(best - by_est), "note": m["note"]}


#: Guidance rows re-solved both warm and from scratch for the comparison.
COLD = 5


def _cold(base: Any, orgs: list[str]) -> dict[str, Any]:
    """Seconds per re-solve, warm and from scratch, for the same +1 specs, and whether the two
    agree on people placed and objective (within the solver's tolerance)."""
    from matcher.whatif import Scenario, run_scenario
    from matcher.whatif.marginal import GUIDANCE_SPEC

    times = {True: 0.0, False: 0.0}
    same = 0
    for org in orgs:
        spec = GUIDANCE_SPEC.format(org)
        got = {}
        for warm in (True, False):
            t = time.perf_counter()
            o = run_scenario(base, Scenario(spec, (spec,)), warm=warm)
            times[warm] += time.perf_counter() - t
            r = o.round.result
            got[warm] = (int(o.round.chosen.sum()), r.objective, max(r.bound - r.objective, 0))
        tol = max(got[True][2], got[False][2]) + 1
        same += got[True][0] == got[False][0] and abs(got[True][1] - got[False][1]) <= tol
    n = max(len(orgs), 1)
    return {"compared": len(orgs), "warm_each_s": times[True] / n, "cold_each_s": times[False] / n,
            "same": same}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="pilot,2000,20000")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    table = Table(title="Marginal values by warm re-solves")
    cols = ("size", "pairs", "baseline s", "gap (objective)", "re-solves / rows",
            "marginal s", "s per re-solve", "within tolerance", "best guidance +1",
            "top 5 the estimate-top-5 misses", "warm s each (top 5)",
            "from scratch s each (same +1)", "same answer")
    for c in cols:
        table.add_column(c, justify="left" if c in ("size", "best guidance +1") else "right")
    notes = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes.split(","):
            r = measure(size.strip(), Path(tmp))
            table.add_row(r["size"], f"{r['pairs']:,}", f"{r['baseline_s']:.1f}",
                          f"{r['gap']:.2f}", f"{r['resolves']} / {r['rows']}",
                          f"{r['marginal_s']:.1f}", f"{r['per_resolve_s']:.2f}",
                          str(r["tolerance"]), r["top"], str(r["missed"]),
                          f"{r['warm_each_s']:.2f}", f"{r['cold_each_s']:.2f}",
                          f"{r['same']} of {r['compared']}")
            notes.append(f"{r['size']}: {r['note']}")
    Console(width=200).print(table)
    for n in notes:
        print(n)


if __name__ == "__main__":
    main()
