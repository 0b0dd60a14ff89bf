"""A chain round's output: next_option_id and next_start, route_edges.csv, utilisation with
hours and reserved seats, the option_not_opened reason, and the route in words."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from matcher.cli import app
from matcher.explain_person import explain_candidate
from matcher.explain_words import explanation_text
from matcher.i18n import language
from matcher.load import instance_from_frames, load_instance
from matcher.policy import default_policy
from matcher.round import run_round
from tests.conftest import read_tables, write_tables
from tests.test_chain_model import _one_route

runner = CliRunner()


def _with_routes(folder: Path) -> Path:
    t = read_tables(folder)
    opts = t["options"]
    for col in ("language_gain", "duration_weeks", "start_date", "capacity_hours"):
        opts[col] = ""
    keuken = opts["option_id"] == "TCK-KEUKEN"
    opts.loc[keuken, ["language_gain", "duration_weeks", "start_date"]] = ["1", "12", "2027-01-11"]
    opts.loc[opts["option_id"] == "IDID-NAAIATELIER", "duration_weeks"] = "16"
    opts.loc[opts["option_id"] == "COMPASS-CATERING", "capacity_hours"] = "60"
    routes = pd.DataFrame({"programme_id": ["TCK-KEUKEN", "IDID-NAAIATELIER"],
                           "place_id": ["COMPASS-CATERING", "VEBEGO-SCHOONMAAK"]})
    return write_tables(folder, {"options": opts, "routes": routes})


@pytest.fixture
def chain_round(pilot: Path, tmp_path: Path) -> Path:
    out = tmp_path / "out"
    result = runner.invoke(app, ["run", str(_with_routes(pilot)), "--out", str(out),
                                 "--date", "2026-12-07"])
    assert result.exit_code == 0, result.output
    return out


def test_assignments_name_the_follow_on_place_and_its_start(chain_round: Path):
    a = pd.read_csv(chain_round / "assignments.csv", dtype=str, keep_default_na=False)
    assert list(a.columns[4:6]) == ["next_option_id", "next_start"]
    routes = a[a["next_option_id"] != ""]
    assert len(routes) >= 1
    keuken = routes[routes["option_id"] == "TCK-KEUKEN"]
    assert (keuken["next_start"] == "2027-04-05").all()  # 2027-01-11 + 12 weeks
    atelier = routes[routes["option_id"] == "IDID-NAAIATELIER"]
    assert (atelier["next_start"] == "2027-03-29").all()  # the round's date + 16 weeks
    meta = json.loads((chain_round / "round.json").read_text())
    assert meta["date"] == "2026-12-07"
    assert meta["chain"]["guaranteed_routes"] == len(routes)
    assert "route_edges.csv" in meta["outputs"]
    assert meta["solver"]["status"] == "optimal" and meta["solver"]["method"] == "chain_milp"


def test_route_edges_hold_the_exact_weight_and_its_parts(chain_round: Path):
    r = pd.read_csv(chain_round / "route_edges.csv")
    assert len(r) > 0
    total = r["programme_weight"] + r["place_term"] + r["guarantee"]
    assert (abs(total - r["weight"]) < 1e-9).all()
    assert (abs(r["place_term"] - 0.5 * r["place_score"]) < 1e-6).all()
    assert set(r["option_id"]) <= {"TCK-KEUKEN", "IDID-NAAIATELIER"}


def test_utilisation_counts_reserved_places_and_hours(chain_round: Path):
    a = pd.read_csv(chain_round / "assignments.csv", dtype=str, keep_default_na=False)
    u = pd.read_csv(chain_round / "utilisation.csv", dtype=str, keep_default_na=False)
    opt = u[u["level"] == "option"].set_index("id")
    for place in ("COMPASS-CATERING", "VEBEGO-SCHOONMAAK"):
        reserved = int((a["next_option_id"] == place).sum())
        alone = int((a["option_id"] == place).sum())
        assert int(opt.loc[place, "reserved_seats"]) == reserved
        assert int(opt.loc[place, "seats_used"]) == reserved + alone
    assert opt.loc["COMPASS-CATERING", "hours_capacity"] == "60"
    assert float(opt.loc["COMPASS-CATERING", "hours_used"]) <= 60
    assert opt.loc["SPEC-TESTER", "hours_capacity"] == ""


def test_without_a_date_next_start_stays_empty(pilot: Path, tmp_path: Path):
    out = tmp_path / "o"
    assert runner.invoke(app, ["run", str(_with_routes(pilot)), "--out", str(out)]).exit_code == 0
    a = pd.read_csv(out / "assignments.csv", dtype=str, keep_default_na=False)
    assert (a["next_start"] == "").all()
    assert "date" not in json.loads((out / "round.json").read_text())


def test_a_bad_date_is_refused(pilot: Path, tmp_path: Path):
    result = runner.invoke(app, ["run", str(pilot), "--out", str(tmp_path / "o"), "--date",
                                 "7-12-2026"])
    assert result.exit_code == 2
    assert "--date" in result.output


def test_option_not_opened_is_the_reason_and_said_in_words():
    t = _one_route("A1", "0")  # A1: the programme only (the place asks A2)
    t["options"]["min_participants"] = ["2", ""]
    rnd = run_round(instance_from_frames(t), default_policy())
    un = rnd.unmatched
    assert un["reason"].tolist() == ["option_not_opened"]
    keuken = rnd.instance.options["option_id"].tolist().index("KEUKEN")
    assert rnd.chain is not None and not rnd.chain.opened[keuken]
    with language("en"):
        text = explanation_text(explain_candidate(rnd, "P-1"))
    assert "too few people could join them" in text
    assert "option_not_opened" in text


def test_the_route_in_words(pilot: Path):
    inst, _ = load_instance(_with_routes(pilot))
    rnd = run_round(inst, default_policy(), date="2026-12-07")
    a = rnd.assignments
    who = a.loc[a["next_option_id"] == "COMPASS-CATERING", "candidate_id"].iloc[0]
    with language("en"):
        text = explanation_text(explain_candidate(rnd, who))
    assert ("Leerwerktraject keuken (12 weeks), then a guaranteed place: Medewerker "
            "bedrijfscatering at Compass Group from 2027-04-05.") in text


def test_audit_reports_guaranteed_routes_per_group(chain_round: Path, pilot: Path,
                                                   tmp_path: Path):
    audit = json.loads((chain_round / "audit.json").read_text())
    a = pd.read_csv(chain_round / "assignments.csv", dtype=str, keep_default_na=False)
    routed = set(a.loc[a["next_option_id"] != "", "candidate_id"])
    protected = pd.read_csv(pilot / "protected.csv", dtype=str, keep_default_na=False)
    gender = {g["group"]: g for g in audit["guaranteed_routes"]["gender"]["all"]}
    for group, rows in protected.groupby("gender"):
        assert gender[group]["placed"] == len(routed & set(rows["candidate_id"]))
    assert "## Guaranteed routes per group" in (chain_round / "audit.md").read_text()
    # the audit of the written round says the same
    again = tmp_path / "again"
    result = runner.invoke(app, ["audit", str(pilot), str(chain_round), "--out", str(again)])
    assert result.exit_code == 0, result.output
    assert json.loads((again / "audit.json").read_text())["guaranteed_routes"] == audit[
        "guaranteed_routes"]
