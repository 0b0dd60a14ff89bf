"""The participation chain at city size (issue 28): `python -m benchmarks.chain_city
[--sizes 2000,20000] [--seed 7]`, under ``flock /tmp/matcher-bench.lock``.

For each size N: ``matcher generate --candidates N --seed SEED --chain`` (routes, language
gains, hour capacities, cohort minimums) and the same command without ``--chain`` (the same
city without them); each folder's round is scored and solved in this process as ``matcher run``
does (`matcher.round.run_round`, default policy). A chain round above ``[chain]
exact_max_variables`` is solved by the Lagrangian (`matcher.chain.lagrange`). The table gives
each round's pairs, route edges, solve and round time, objective, certified bound and gap, and
the chain round's time as a ratio of the plain round's in the same run (target: 3x, gap 0.3%).
Results: the table on stdout and benchmarks/out/chain_city.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from matcher.load import load_instance
from matcher.policy import default_policy
from matcher.round import run_round

OUT = Path(__file__).parent / "out" / "chain_city.json"


def _generate(n: int, seed: int, chain: bool, out: Path) -> None:
    cmd = [sys.executable, "-m", "matcher", "generate", "--candidates", str(n), "--seed",
           str(seed), "--out", str(out), *(["--chain"] if chain else [])]
    subprocess.run(cmd, check=True, capture_output=True)


def measure(n: int, seed: int, chain: bool, work: Path) -> dict[str, Any]:
    """One round of an N-candidate city, with or without the chain's inputs."""
    folder = work / f"{'chain' if chain else 'plain'}-{n}"
    _generate(n, seed, chain, folder)
    inst, _ = load_instance(folder)
    started = time.perf_counter()
    rnd = run_round(inst, default_policy())
    seconds = time.perf_counter() - started
    res = rnd.result
    gap = (res.bound - res.objective) / max(res.objective, 1)
    routes = 0 if rnd.chain is None else len(rnd.chain.routes)
    return {"candidates": n, "chain": chain, "pairs": int(rnd.problem.n_edges),
            "route_edges": routes, "method": str(res.method), "round_s": round(seconds, 2),
            "solve_s": round(rnd.timings.get("solve", float("nan")), 2),
            "objective": res.objective, "bound": res.bound, "gap_pct": round(100 * gap, 4)}


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="2000")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in (int(s) for s in args.sizes.split(",")):
            plain = measure(n, args.seed, False, Path(tmp))
            chain = measure(n, args.seed, True, Path(tmp))
            chain["vs_plain_round"] = round(chain["round_s"] / max(plain["round_s"], 1e-9), 2)
            rows += [plain, chain]
    table = Table(title="Chain city: the same city with and without routes, hours, cohorts")
    cols = ["candidates", "chain", "pairs", "route_edges", "method", "round_s", "solve_s",
            "gap_pct", "vs_plain_round"]
    for c in cols:
        table.add_column(c)
    for r in rows:
        table.add_row(*(str(r.get(c, "")) for c in cols))
    Console().print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=1))
    return rows


if __name__ == "__main__":
    main()
