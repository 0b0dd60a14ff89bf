"""The planner's what-if on the stored data: one scenario (an option's seats and language
requirement, an organisation's guidance capacity) against a baseline round of the data and
decisions in force now, with the what-if report's own sections and plots (matcher.whatif)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from api.db import Database
from api.store.data import round_tables
from matcher.policy import Policy
from matcher.whatif import Scenario, diff_outcome, run_baseline, run_scenario
from matcher.whatif.report import build_report, make_plots, report_sections


@dataclass(frozen=True)
class WhatIfAsk:
    """What the planner changes; None leaves a figure as it is."""

    option_id: str | None = None
    seats: int | None = None
    min_dutch_level: str | None = None
    organisation_id: str | None = None
    guidance_capacity: int | None = None

    def sets(self) -> tuple[str, ...]:
        """The scenario's edits, as `matcher whatif --set` takes them."""
        out = []
        if self.option_id is not None and self.seats is not None:
            out.append(f"options.{self.option_id}.capacity={self.seats}")
        if self.option_id is not None and self.min_dutch_level is not None:
            out.append(f"options.{self.option_id}.min_dutch_level={self.min_dutch_level}")
        if self.organisation_id is not None and self.guidance_capacity is not None:
            out.append(f"organisations.{self.organisation_id}.guidance_capacity="
                       f"{self.guidance_capacity}")
        return tuple(out)


@dataclass
class WhatIfResult:
    report: dict[str, Any]  # report.json's content
    sections: list[tuple[str, int, Any]]  # (title, heading level, text | rows | ("plot", name))
    plots: dict[str, bytes]  # PNG by name


def what_if(db: Database, policy: Policy, ask: WhatIfAsk, name: str = "what if") -> WhatIfResult:
    """Solve the baseline and the scenario (raises InputError naming a bad edit)."""
    with db.session() as s:
        tables = round_tables(s)
    base = run_baseline(tables, policy, source="the data imported now")
    outcome = run_scenario(base, Scenario(name, ask.sets()))
    done = [(outcome, diff_outcome(base, outcome))]
    report = build_report(base, done, {})
    return WhatIfResult(report, report_sections(report), make_plots(base, done, {}, None))
