"""Benchmark suite: `python -m benchmarks.run [--sizes 2000,20000] [--full] [--no-alternatives]`.

Runs each scenario in its own subprocess (so peak memory is per size), prints a rich table per
size, and writes benchmarks/out/results.json and benchmarks/out/results.png (time and gap
against size).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from benchmarks.scenarios import ROOT, Scenario, all_scenarios, by_size

OUT = ROOT / "benchmarks" / "out"
console = Console(width=None if sys.stdout.isatty() else 150)


def _module_json(module: str, *args: str) -> dict[str, Any]:
    """`python -m module args` in its own process: the JSON of its last output line, or
    {"error": its last line of error output}."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-m", module, *args], capture_output=True,
                          text=True, cwd=ROOT, env=env, check=False)
    if proc.returncode != 0:
        return {"error": (proc.stderr or proc.stdout).strip().splitlines()[-1:]}
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def run_one(sc: Scenario, alternatives: bool, workers: int = 1) -> dict[str, Any]:
    args = [sc.name if not sc.name.startswith("adhoc_") else str(sc.candidates),
            "--workers", str(workers)]
    if not alternatives:
        args.append("--no-alternatives")
    result = _module_json("benchmarks.worker", *args)
    if "error" in result:
        return {"scenario": sc.name, "candidates": sc.candidates, "error": result["error"]}
    return result


def warm_up() -> dict[str, Any]:
    """`benchmarks.warmup` in its own process: numba's compiled kernels on disk before the
    first scenario is timed (a compile happens once per install, not once per round)."""
    return _module_json("benchmarks.warmup")


def _f(x: Any, fmt: str) -> str:
    return "-" if x is None else format(x, fmt)


def print_result(r: dict[str, Any]) -> None:
    if "error" in r:
        console.print(f"[red]{r['scenario']}: failed[/red] {r['error']}")
        return
    t = Table(title=f"{r['scenario']}: {r['candidates']:,} candidates, {r['options']:,} options, "
                    f"{r['seats']:,} seats, {r['pairs']:,} pairs, peak {r['peak_mb']:,.0f} MB"
                    + (f" (+ {r.get('workers', 1)} workers of at most "
                       f"{r['peak_worker_mb']:,.0f} MB)" if r.get("peak_worker_mb") else ""))
    for col in ("stage", "seconds"):
        t.add_column(col)
    for stage in ("generate", "load", "score", "solve", "write", "total_round"):
        t.add_row(stage, f"{r['t_' + stage]:.2f}")
    console.print(t)
    if r.get("compiled_kernels"):
        console.print(f"[yellow]numba compiled {len(r['compiled_kernels'])} kernels during this "
                      "round: their compile time is in the stages above[/yellow]")
    a = Table(title=f"{r['scenario']}: objective and gap to our bound {r['bound']:.3f}")
    for col in ("method", "seconds", "objective", "feasible (guidance)", "gap to bound", "note"):
        a.add_column(col)
    a.add_row(f"matcher ({r['method']}, {r['status']})", f"{r['t_solve']:.2f}",
              f"{r['objective']:.3f}", "yes" if r["violations"] == 0 else "NO",
              f"{r['gap']:.4%}", "")
    for alt in r["alternatives"]:
        a.add_row(alt["name"], _f(alt["seconds"], ".2f"), _f(alt["objective"], ".3f"),
                  "-" if alt["feasible"] is None else ("yes" if alt["feasible"] else
                                                       f"NO ({alt['violations']})"),
                  _f(alt["gap_to_bound"], ".4%"), alt["note"] or "")
    console.print(a)
    ng = r.get("no_guidance")
    if ng:
        console.print(
            f"without guidance budgets, same pairs: matcher {ng['matcher_seconds']:.2f} s "
            f"({ng['method']}, {ng['status']}), bare OR-Tools min-cost flow "
            f"{ng['bare_flow_seconds']:.2f} s: [bold]{ng['ratio']:.2f}x[/bold] (target <= 1.5x); "
            f"same objective: {'yes' if ng['same_objective'] else 'NO'}")


def plot(results: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = [r for r in results if "error" not in r]
    if not ok:
        return
    n = [r["candidates"] for r in ok]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for stage in ("load", "score", "solve", "write", "total_round"):
        ax1.plot(n, [r[f"t_{stage}"] for r in ok], marker="o", label=stage)
    ax1.set(xscale="log", yscale="log", xlabel="candidates", ylabel="seconds",
            title="time per stage")
    ax1.legend()
    ax2.plot(n, [r["gap"] * 100 for r in ok], marker="o", label="matcher")
    names = {a["name"] for r in ok for a in r["alternatives"]}
    for name in sorted(names):
        pts = [(r["candidates"], a["gap_to_bound"]) for r in ok for a in r["alternatives"]
               if a["name"] == name and a["feasible"]]
        if pts:
            ax2.plot([p[0] for p in pts], [p[1] * 100 for p in pts], marker="x",
                     linestyle="--", label=name)
    ax2.set(xscale="log", xlabel="candidates", ylabel="gap to our bound, %",
            title="gap of feasible answers (those breaking budgets not shown)")
    ax2.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def machine() -> dict[str, Any]:
    mem = ""
    try:
        with open("/proc/meminfo") as fh:
            mem = fh.readline().split(":")[1].strip()
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "memory": mem, "python": platform.python_version(),
            "platform": platform.platform()}


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", help="comma-separated candidate counts (default: quick set)")
    ap.add_argument("--full", action="store_true", help="every registered scenario, to 1.3 M")
    ap.add_argument("--no-alternatives", action="store_true")
    ap.add_argument("--workers", type=int, default=1,
                    help="processes for the regions of rounds solved by region (matcher run "
                         "--workers)")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--midsize", action="store_true",
                    help="the mid-size table instead (benchmarks.midsize: 25 to 5,000 candidates, "
                         "beside HiGHS, CP-SAT and a bare flow; --sizes as there)")
    args = ap.parse_args(argv)
    if args.midsize:
        from benchmarks import midsize

        midsize.main(["--out", str(args.out)] + (["--sizes", args.sizes] if args.sizes else []))
        return []
    if args.sizes:
        scenarios = by_size([int(s) for s in args.sizes.split(",")])
    else:
        scenarios = [s for s in all_scenarios() if args.full or s.quick]
    warmup = warm_up()
    if "error" in warmup:
        console.print(f"[red]warm-up failed[/red] {warmup['error']}")
    else:
        compiled = len(warmup["compiled_kernels"])
        console.print(f"warm-up round: {warmup['seconds']:.1f} s, {compiled} numba kernels "
                      f"compiled{' (once per install)' if compiled else ' (all cached)'}; "
                      "not counted in any scenario")
    results = []
    for sc in scenarios:
        console.print(f"[bold]{sc.name}[/bold]: {sc.description}")
        r = run_one(sc, not args.no_alternatives, args.workers)
        print_result(r)
        results.append(r)
    args.out.mkdir(parents=True, exist_ok=True)
    doc = {"command": "python -m benchmarks.run " + " ".join(argv if argv is not None
                                                              else sys.argv[1:]),
           "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
           "machine": machine(), "warmup": warmup, "results": results}
    (args.out / "results.json").write_text(json.dumps(doc, indent=2) + "\n", "utf-8")
    plot(results, args.out / "results.png")
    console.print(f"written: {args.out / 'results.json'}, {args.out / 'results.png'}")
    return results


if __name__ == "__main__":
    main()
