"""Run a baseline round and scenarios against it, reusing the baseline's scoring where possible."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from matcher.chain.model import chain_active
from matcher.csvio import ROW, parse_int
from matcher.errors import InputError, Problem, Problems
from matcher.load import ID, build_instance, read_raw
from matcher.model import Instance
from matcher.policy import Policy
from matcher.round import Round, check_locks, solve_round
from matcher.scoring import SCALE, build_edges
from matcher.whatif.edits import EditedInput, apply_edits
from matcher.whatif.groups import read_protected
from matcher.whatif.incremental import derive_edges
from matcher.whatif.scenario import Scenario, Sweep

log = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]


@dataclass
class Outcome:
    """One solved round (the baseline or a scenario) with its summary figures."""

    name: str
    edits: list[str]
    round: Round
    stats: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    sweep: str | None = None
    x: str | None = None

    @functools.cached_property
    def summary(self) -> dict[str, Any]:
        return summarise(self.round)


@dataclass
class Baseline:
    raw: dict[str, pd.DataFrame]
    policy: Policy
    outcome: Outcome
    protected: pd.DataFrame | None = None
    warnings: list[Problem] = field(default_factory=list)

    @property
    def round(self) -> Round:
        return self.outcome.round


#: What-if rounds are solved whole, not by region (that change of answers on large data comes
#: with its own before/after figures, issue #26).
BY_REGION = False


def summarise(rnd: Round) -> dict[str, Any]:
    inst, r = rnd.instance, rnd.result
    score = rnd.edges.score_at(rnd.chosen)
    matched = int(rnd.chosen.sum())
    reasons = rnd.unmatched["reason"].value_counts()
    return {
        "candidates": inst.n_candidates,
        "options": inst.n_options,
        "organisations": inst.n_organisations,
        "seats": int(inst.options["capacity"].sum()),
        "guidance_capacity": int(inst.organisations["guidance_capacity"].sum()),
        "matched": matched,
        "unmatched": inst.n_candidates - matched,
        "objective": r.objective / SCALE,
        "objective_micro": int(r.objective),
        "bound": r.bound / SCALE,
        "gap": round(r.gap, 9),
        "status": str(r.status),
        "method": r.method,
        "total_score": round(float(score.sum()), 6),
        "mean_score": round(float(score.mean()), 6) if matched else 0.0,
        "unmatched_by_reason": {str(k): int(v) for k, v in sorted(reasons.items())},
    }


def run_baseline(raw: Mapping[str, pd.DataFrame], policy: Policy, source: str = "",
                 protected: pd.DataFrame | None = None) -> Baseline:
    problems = Problems()
    raw = {k: v.copy() for k, v in raw.items()}
    inst = build_instance(raw, problems, source=source)
    t = time.perf_counter()
    edges = build_edges(inst, policy)
    rnd = solve_round(inst, policy, edges, {"score": time.perf_counter() - t}, regions=BY_REGION)
    return Baseline(raw, policy, Outcome("baseline", [], rnd), protected, problems.warnings)


def load_baseline(data_dir: Path, policy: Policy) -> Baseline:
    """Read a data folder (and protected.csv when present, for the equal-chances figures only)."""
    problems = Problems()
    raw = read_raw(Path(data_dir), problems)
    problems.raise_if_errors()
    base = run_baseline(raw, policy, str(data_dir), read_protected(Path(data_dir)))
    base.warnings = problems.warnings + base.warnings
    return base


def run_scenario(base: Baseline, scenario: Scenario, warm: bool = True) -> Outcome:
    """Apply a scenario's edits to the baseline's input and solve, reusing unchanged scores and
    warm-starting the solver from the baseline (`matcher.round.solve_round`; `warm=False`: from
    scratch)."""
    t0 = time.perf_counter()
    try:
        edited = apply_edits(base.raw, base.policy, scenario.sets, scenario.removes,
                             scenario.add_options, scenario.add_organisations)
    except InputError as exc:
        raise _named(exc, scenario.name) from None
    source = f"{base.round.instance.source} [{scenario.name}]"
    try:
        inst = fast_instance(base.round.instance, edited, source)
        fast = inst is not None
        if inst is None:
            inst = build_instance(edited.raw, Problems(), source=source)
        check_locks(inst)
    except InputError as exc:
        raise _named(edited.relabel(exc), scenario.name) from None
    t1 = time.perf_counter()
    edges, stats = derive_edges(base.round.instance, base.round.edges, base.policy, inst,
                                edited.policy)
    t2 = time.perf_counter()
    rnd = solve_round(inst, edited.policy, edges, {"build": t1 - t0, "score": t2 - t1},
                      prev=base.round, warm=warm, regions=BY_REGION)
    info: dict[str, Any] = dict(stats) | {"fast_instance": int(fast),
                                          "seconds": time.perf_counter() - t0,
                                          "timings_s": {k: round(v, 4)
                                                        for k, v in rnd.timings.items()}}
    return Outcome(scenario.name, scenario.edits(), rnd, info, edited.notes)


#: Edits that change no scoring input and no row: the instance is patched, not rebuilt.
FAST_FIELDS = {("options", "capacity"), ("organisations", "guidance_capacity")}


def fast_instance(inst: Instance, edited: EditedInput, source: str) -> Instance | None:
    """The baseline instance with edited seat capacities and guidance budgets, or None when the
    edits need a full rebuild. Edited values are parsed by the same parser as a file's
    (`matcher.csvio.parse_int`), so they are validated and reported exactly the same way."""
    cells = edited.cell_origin
    if edited.structural or any((t, f) not in FAST_FIELDS for t, _, f in cells):
        return None
    if chain_active(inst):  # route seats default to a capacity; minimums are checked against it
        return None
    problems = Problems()
    frames = {"options": inst.options, "organisations": inst.organisations}
    changes: list[list[Any]] = []
    for table, fld in sorted({(t, f) for t, _, f in cells}):
        raw = edited.raw[table]
        rows = sorted(r for t, r, f in cells if (t, f) == (table, fld))
        sub = raw[raw[ROW].isin(rows)].reset_index(drop=True)
        values = parse_int(sub, fld, problems, f"{table}.csv")
        df = frames[table].copy()
        pos = pd.Index(df[ID[table]]).get_indexer(sub[ID[table]].str.strip())
        df.loc[df.index[pos], fld] = values
        frames[table] = df
        changes += [[table, str(i), fld, int(v)] for i, v in
                    zip(df[ID[table]].to_numpy()[pos], values.tolist(), strict=True)]
    problems.raise_if_errors()
    # The hash of a patched instance: the baseline's, plus the values that changed.
    h = hashlib.sha256(inst.content_hash.encode())
    h.update(json.dumps(sorted(changes)).encode())
    return dataclasses.replace(inst, options=frames["options"],
                               organisations=frames["organisations"],
                               content_hash=h.hexdigest(), source=source)


def _named(exc: InputError, name: str) -> InputError:
    return InputError([Problem(p.file, p.row, p.column, f"{p.message} (scenario {name!r})",
                               p.severity) for p in exc.problems + exc.warnings])


def run_sweep(base: Baseline, sweep: Sweep, on: Scenario | None = None,
              progress: Progress | None = None, warm: bool = True) -> list[Outcome]:
    """One outcome per point of the sweep, each on top of the scenario `on` (default: none),
    each warm-started from the baseline (see `run_scenario`)."""
    on = on or Scenario("baseline")
    points = sweep.points(base.raw)
    out = []
    for k, (name, spec, label) in enumerate(points):
        if progress:
            progress(k, len(points), name)
        o = run_scenario(base, on.plus(name, (spec,)), warm)
        o.sweep, o.x = sweep.name, label
        out.append(o)
    if progress:
        progress(len(points), len(points), "done")
    return out
