"""What-if scenarios on the chain: routes added, removed and given seats, and the chain's
option fields changed, through the --set grammar."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from matcher.cli import app
from matcher.errors import InputError, Problems
from matcher.load import build_instance, read_raw
from matcher.policy import default_policy
from matcher.whatif import Scenario, load_baseline, run_scenario
from matcher.whatif.edits import apply_edits
from tests.test_chain_outputs import _with_routes


@pytest.fixture
def base(pilot: Path):
    return load_baseline(_with_routes(pilot), default_policy())


def _routes(outcome) -> dict[tuple[str, str], int]:
    r = outcome.round.instance.routes
    return dict(zip(zip(r["programme_id"], r["place_id"], strict=True), r["seats"], strict=True))


def test_set_adds_a_route_and_changes_its_seats(base):
    o = run_scenario(base, Scenario("x", ("routes.TCK-BEDIENING.USTAL-STALLING.seats=1",
                                          "routes.TCK-KEUKEN.COMPASS-CATERING.seats=+1")))
    seats = _routes(o)
    assert seats[("TCK-BEDIENING", "USTAL-STALLING")] == 1
    assert seats[("TCK-KEUKEN", "COMPASS-CATERING")] == 3  # the place's 2, plus 1
    assert o.round.chain is not None


def test_no_route_seats_means_no_guarantee(base):
    assert base.round.chain is not None and base.round.chain.chosen_routes.any()
    o = run_scenario(base, Scenario("x", ("routes.TCK-KEUKEN.COMPASS-CATERING.seats=0",
                                          "routes.IDID-NAAIATELIER.VEBEGO-SCHOONMAAK.seats=0")))
    assert o.round.chain is not None and not o.round.chain.chosen_routes.any()
    assert o.round.result.objective < base.round.result.objective
    gone = run_scenario(base, Scenario("y", removes=("routes.TCK-KEUKEN.COMPASS-CATERING",
                                                     "routes.IDID-NAAIATELIER.VEBEGO-SCHOONMAAK")))
    assert gone.round.result.objective == o.round.result.objective


def test_chain_option_fields_can_be_changed(base):
    o = run_scenario(base, Scenario("x", ("options.COMPASS-CATERING.capacity_hours=+100",
                                          "options.TCK-KEUKEN.language_gain=2",
                                          "options.VEBEGO-SCHOONMAAK.min_participants=2")))
    opts = o.round.instance.options.set_index("option_id")
    assert opts.loc["COMPASS-CATERING", "capacity_hours"] == 160
    assert opts.loc["TCK-KEUKEN", "language_gain"] == 2
    assert opts.loc["VEBEGO-SCHOONMAAK", "min_participants"] == 2


def test_bad_route_edits_are_named(pilot: Path):
    raw = read_raw(_with_routes(pilot), Problems())
    with pytest.raises(InputError, match="naming two options"):
        apply_edits(raw, default_policy(), sets=["routes.NOPE.COMPASS-CATERING.seats=1"])
    with pytest.raises(InputError, match="no route from"):
        apply_edits(raw, default_policy(), removes=["routes.TCK-BEDIENING.COMPASS-CATERING"])
    edited = apply_edits(raw, default_policy(), sets=["routes.COMPASS-CATERING.TCK-KEUKEN.seats=1"])
    with pytest.raises(InputError, match="a route starts at a programme"):
        build_instance(edited.raw)


def test_whatif_command_with_a_route(pilot: Path, tmp_path: Path):
    out = tmp_path / "w"
    result = CliRunner().invoke(app, ["whatif", str(_with_routes(pilot)), "--set",
                                      "routes.TCK-KEUKEN.COMPASS-CATERING.seats=0",
                                      "--no-decisions", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "report.md").exists()
