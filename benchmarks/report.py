"""Render benchmarks/out/results.json as Markdown tables (for benchmarks/RESULTS.md).

`python -m benchmarks.report [results.json ...]`
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from benchmarks.scenarios import ROOT


def _f(x: Any, fmt: str) -> str:
    return "-" if x is None else format(x, fmt)


def _workers(r: dict[str, Any]) -> str:
    if not r.get("peak_worker_mb"):
        return ""
    return f" + {r.get('workers', 1)} x {r['peak_worker_mb']:,.0f}"


def markdown(doc: dict[str, Any]) -> str:
    out = [f"Command: `{doc['command']}`, {doc['date']}, machine: {doc['machine']}", ""]
    out += ["| scenario | candidates | options | seats | pairs | generate s | load s | score s | "
            "solve s | write s | round s | peak MB | method | objective | bound | gap |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in doc["results"]:
        if "error" in r:
            out.append(f"| {r['scenario']} | {r['candidates']:,} | failed: {r['error']} |")
            continue
        out.append(
            f"| {r['scenario']} | {r['candidates']:,} | {r['options']:,} | {r['seats']:,} | "
            f"{r['pairs']:,} | {r['t_generate']:.1f} | {r['t_load']:.1f} | {r['t_score']:.1f} | "
            f"{r['t_solve']:.1f} | {r['t_write']:.1f} | {r['t_total_round']:.1f} | "
            f"{r['peak_mb']:,.0f}{_workers(r)} | {r['method']} ({r['status']}) | "
            f"{r['objective']:,.3f} | "
            f"{r['bound']:,.3f} | {r['gap']:.3%} |")
    out.append("")
    out += ["| scenario | method | seconds | objective | keeps guidance budgets | gap to our bound "
            "| note |", "|---|---|---|---|---|---|---|"]
    for r in doc["results"]:
        if "error" in r:
            continue
        out.append(f"| {r['scenario']} | **matcher** ({r['method']}) | {r['t_solve']:.2f} | "
                   f"{r['objective']:,.3f} | {'yes' if r['violations'] == 0 else 'NO'} | "
                   f"{r['gap']:.3%} | |")
        for a in r["alternatives"]:
            feas = "-" if a["feasible"] is None else (
                "yes" if a["feasible"] else f"no ({a['violations']} budgets broken)")
            out.append(f"| {r['scenario']} | {a['name']} | {_f(a['seconds'], '.2f')} | "
                       f"{_f(a['objective'], ',.3f')} | {feas} | "
                       f"{_f(a['gap_to_bound'], '.3%')} | {a['note'] or ''} |")
    ng_rows = [r for r in doc["results"] if "error" not in r and r.get("no_guidance")]
    if ng_rows:
        out += ["", "Without guidance budgets (same pairs, budgets lifted; faster of two runs "
                "each; target: matcher within 1.5 times the bare flow):", "",
                "| scenario | matcher s | method | bare OR-Tools min-cost flow s | ratio | "
                "same objective |", "|---|---|---|---|---|---|"]
        for r in ng_rows:
            ng = r["no_guidance"]
            out.append(f"| {r['scenario']} | {ng['matcher_seconds']:.2f} | {ng['method']} | "
                       f"{ng['bare_flow_seconds']:.2f} | {ng['ratio']:.2f}x | "
                       f"{'yes' if ng['same_objective'] else 'NO'} |")
    return "\n".join(out) + "\n"


def main() -> None:
    paths = [Path(p) for p in sys.argv[1:]] or [ROOT / "benchmarks" / "out" / "results.json"]
    for p in paths:
        sys.stdout.write(markdown(json.loads(p.read_text("utf-8"))) + "\n")


if __name__ == "__main__":
    main()
