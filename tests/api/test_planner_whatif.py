"""The planner's what-if on the stored data is `matcher whatif` on the same data: the same
baseline and scenario figures, the edits named, and a bad edit refused naming it."""

from __future__ import annotations

import pytest

from api.services.planner_whatif import WhatIfAsk, what_if
from matcher.errors import InputError
from matcher.policy import load_policy
from matcher.whatif import Scenario, load_baseline, run_scenario
from matcher.whatif.diff import placements
from tests.api.conftest import PILOT, Api


def test_what_if_on_the_stored_data_is_the_cli_what_if(sqlite_api: Api) -> None:
    sqlite_api.import_pilot()
    policy = load_policy(None)
    ask = WhatIfAsk(option_id="TCK-KEUKEN", seats=0, organisation_id="TCK", guidance_capacity=9)
    got = what_if(sqlite_api.app.state.db, policy, ask)
    base = load_baseline(PILOT, policy)
    cli = run_scenario(base, Scenario("what if", ask.sets()))
    assert got.report["baseline"] == base.outcome.summary
    scenario = got.report["scenarios"][0]
    assert scenario["summary"] == cli.summary
    assert scenario["edits"] == ["set options.TCK-KEUKEN.capacity=0",
                                 "set organisations.TCK.guidance_capacity=9"]
    totals = scenario["diff"]["totals"]
    assert totals["seats"]["change"] == -4 and totals["guidance_capacity"]["change"] == 2
    before = placements(base.round)
    placed_there = set(before.index[before["option_id"] == "TCK-KEUKEN"])
    moved = {m["candidate_id"] for m in scenario["diff"]["moves"]}
    assert placed_there and placed_there <= moved
    titles = [t for t, _, _ in got.sections]
    assert "Who changes, and how" in titles
    assert set(got.plots) == {"utilisation", "scores"}
    assert all(p.startswith(b"\x89PNG") for p in got.plots.values())


def test_language_requirement_and_an_unknown_option(sqlite_api: Api) -> None:
    sqlite_api.import_pilot()
    policy = load_policy(None)
    db = sqlite_api.app.state.db
    strict = what_if(db, policy, WhatIfAsk(option_id="TCK-KEUKEN", min_dutch_level="C2"))
    totals = strict.report["scenarios"][0]["diff"]["totals"]
    assert totals["matched"]["change"] <= 0
    with pytest.raises(InputError) as err:
        what_if(db, policy, WhatIfAsk(option_id="NO-SUCH", seats=3))
    assert "NO-SUCH" in str(err.value)
