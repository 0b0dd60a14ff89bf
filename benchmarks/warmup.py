"""Fill numba's on-disk cache of compiled kernels before the suite is timed.

matcher's numba kernels (the auction, the spatial grid of the scoring) are compiled on their first
call after an install and cached on disk (``cache=True``); every later process loads them. The
first scenario of a suite on a fresh install would otherwise count that compile (about 5 s on
this machine, session 18) in its score and solve stages, which no later round pays.
`python -m benchmarks.warmup` runs small rounds through every path that compiles a kernel (a
city-style round by auction in Jacobi rounds; rounds solved by region under the regional and
national policies; the scoring of 5,000 people, where the spatial grid starts) and prints, as
JSON, its seconds, the kernels it compiled and the kernels it ran; `benchmarks.run` calls it
first and reports it. `compiled_kernels` lists what a process compiled (the worker reports it
for the measured round: after the warm-up it is empty).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
import tomllib
from pathlib import Path
from typing import Any

from benchmarks.scenarios import ROOT
from matcher.load import load_instance
from matcher.policy import policy_from_flat
from matcher.round import run_round
from matcher.scoring import build_edges
from matcher.scoring.eligibility import GRID_MIN_CANDIDATES
from matcher.synth import generate, write_generated

KERNEL_MODULES = ("matcher.solver.auction", "matcher.scoring.grid")


def _kernels() -> dict[str, Any]:
    """matcher's numba kernels in the modules this process imported, by qualified name."""
    out: dict[str, Any] = {}
    for name in KERNEL_MODULES:
        module = sys.modules.get(name)
        if module is None:
            continue
        for attr, obj in vars(module).items():
            if hasattr(obj, "stats") and hasattr(obj, "signatures"):
                out[f"{name}.{attr}"] = obj
    return out


def compiled_kernels() -> dict[str, int]:
    """Each of matcher's numba kernels this process compiled (not loaded from the cache), with
    the number of signatures; kernels in modules not imported yet are not counted."""
    out: dict[str, int] = {}
    for name, kernel in _kernels().items():
        misses = sum(kernel.stats.cache_misses.values())
        if misses:
            out[name] = misses
    return out


def called_kernels() -> list[str]:
    """The kernels this process has run (compiled or loaded for at least one signature)."""
    return sorted(name for name, kernel in _kernels().items() if kernel.signatures)


#: No exact CP-SAT model and short polishes (no kernel there): the warm-up is about the
#: kernels, not the answer.
_QUICK = {"polish_deterministic_time": 0.05, "polish_slack_deterministic_time": 0.05,
          "warm_polish_deterministic_time": 0.05, "exact_max_pairs": 0, "prove_max_pairs": 0}


def _policy(name: str, **solver: Any) -> Any:
    data = tomllib.loads((ROOT / "matcher" / "policy" / name).read_text("utf-8"))
    section = data.setdefault("solver", {})
    section.update(_QUICK | solver)
    if "parts" in section:
        section["parts"].update(_QUICK)
    return policy_from_flat(data, name)


def warm(candidates: int = 800, seed: int = 1) -> dict[str, Any]:
    """Run the small rounds; returns seconds and the kernels compiled on the way."""
    t = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        data = write_generated(generate(candidates, "all", seed), Path(tmp) / "data")
        inst, warnings = load_instance(data)
        # A city's round: the whole problem by auction, in Jacobi rounds on 2 threads.
        run_round(inst, _policy("regional.toml", lagrangian_auction_min_pairs=1,
                                decompose_min_pairs=0), warnings)
        # Rounds solved by region: parts by auction one bidder at a time, the coordination
        # and (national) the whole-problem iterations.
        for name in ("regional.toml", "national.toml"):
            run_round(inst, _policy(name, lagrangian_auction_min_pairs=1,
                                    decompose_min_pairs=1), warnings)
        # The scoring's spatial grid (used from GRID_MIN_CANDIDATES people up): scoring only.
        data = write_generated(generate(GRID_MIN_CANDIDATES, "utrecht", seed),
                               Path(tmp) / "grid")
        inst, _ = load_instance(data)
        build_edges(inst, _policy("regional.toml"))
    return {"seconds": time.perf_counter() - t, "compiled_kernels": compiled_kernels(),
            "called_kernels": called_kernels()}


def main() -> None:
    print(json.dumps(warm()))


if __name__ == "__main__":
    main()
