"""Planners' what-if scenarios: edit the input, re-solve against a baseline, and compare.

Plain functions, no printing: `matcher.cli.whatif_commands` is the command-line layer.
"""

from matcher.whatif.decisions import price_of_decisions
from matcher.whatif.diff import Diff, diff_outcome, diff_rounds
from matcher.whatif.edits import apply_edits
from matcher.whatif.engine import (
    Baseline,
    Outcome,
    load_baseline,
    run_baseline,
    run_scenario,
    run_sweep,
    summarise,
)
from matcher.whatif.incremental import derive_edges
from matcher.whatif.marginal import lp_duals, marginal_values
from matcher.whatif.scenario import Scenario, Sweep, load_scenario_file, parse_sweep

__all__ = [
    "Baseline",
    "Diff",
    "Outcome",
    "Scenario",
    "Sweep",
    "apply_edits",
    "derive_edges",
    "diff_outcome",
    "diff_rounds",
    "load_baseline",
    "load_scenario_file",
    "lp_duals",
    "marginal_values",
    "parse_sweep",
    "price_of_decisions",
    "run_baseline",
    "run_scenario",
    "run_sweep",
    "summarise",
]
