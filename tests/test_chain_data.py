"""The chain's data contract: optional options.csv columns, routes.csv and route decisions.

Every new column and file is optional (a folder without them gives the very same instance);
every bad value is refused with exit 2 naming the file, the row and the column.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from matcher.cli import app
from matcher.errors import InputError
from matcher.load import load_instance
from matcher.xlsxio import workbook_bytes
from tests.conftest import PILOT, read_tables, write_tables

runner = CliRunner()


def _chain_folder(folder: Path) -> Path:
    """The pilot with chain columns and two routes."""
    t = read_tables(folder)
    opts = t["options"]
    opts["language_gain"] = ""
    opts["duration_weeks"] = ""
    opts["min_participants"] = ""
    opts["capacity_hours"] = ""
    opts.loc[opts["option_id"] == "TCK-KEUKEN", ["language_gain", "duration_weeks"]] = ["1", "12"]
    opts.loc[opts["option_id"] == "COMPASS-CATERING", "capacity_hours"] = "60"
    routes = pd.DataFrame({"programme_id": ["TCK-KEUKEN", "IDID-NAAIATELIER"],
                           "place_id": ["COMPASS-CATERING", "VEBEGO-SCHOONMAAK"],
                           "seats": ["1", ""]})
    write_tables(folder, {"options": opts, "routes": routes})
    return folder


def test_folder_without_chain_inputs_is_unchanged(pilot: Path):
    base, _ = load_instance(PILOT)
    t = read_tables(pilot)
    for col in ("language_gain", "min_participants", "capacity_hours"):
        t["options"][col] = ""  # empty everywhere: the same as no column
    t["decisions"]["next_option_id"] = ""
    write_tables(pilot, {"options": t["options"], "decisions": t["decisions"]})
    (pilot / "routes.csv").write_text("programme_id,place_id,seats\n")
    inst, _ = load_instance(pilot)
    assert inst.content_hash == base.content_hash
    assert list(inst.options.columns) == list(base.options.columns)
    assert inst.routes.empty and inst.route_decisions.empty


def test_chain_inputs_are_parsed(pilot: Path):
    inst, _ = load_instance(_chain_folder(pilot))
    opts = inst.options.set_index("option_id")
    assert opts.loc["TCK-KEUKEN", "language_gain"] == 1
    assert opts.loc["TCK-KEUKEN", "duration_weeks"] == 12
    assert opts.loc["COMPASS-CATERING", "capacity_hours"] == 60
    assert opts.loc["SPEC-TESTER", "capacity_hours"] == -1  # no limit
    r = inst.routes.set_index(["programme_id", "place_id"])["seats"]
    assert r[("TCK-KEUKEN", "COMPASS-CATERING")] == 1
    assert r[("IDID-NAAIATELIER", "VEBEGO-SCHOONMAAK")] == 2  # default: the place's capacity
    base, _ = load_instance(PILOT)
    assert inst.content_hash != base.content_hash


def test_route_decisions(pilot: Path):
    _chain_folder(pilot)
    t = read_tables(pilot)
    dec = t["decisions"]
    dec["next_option_id"] = ""
    extra = pd.DataFrame({"candidate_id": ["P-001", "P-002"], "option_id": ["TCK-KEUKEN",
                          "IDID-NAAIATELIER"], "decision": ["lock", "forbid"], "reason": ["x", "y"],
                          "next_option_id": ["COMPASS-CATERING", "VEBEGO-SCHOONMAAK"]})
    write_tables(pilot, {"decisions": pd.concat([dec, extra], ignore_index=True)})
    inst, _ = load_instance(pilot)
    rd = inst.route_decisions
    assert rd[["candidate_id", "option_id", "next_option_id", "decision"]].values.tolist() == [
        ["P-001", "TCK-KEUKEN", "COMPASS-CATERING", "lock"],
        ["P-002", "IDID-NAAIATELIER", "VEBEGO-SCHOONMAAK", "forbid"]]
    pairs = inst.decisions[["candidate_id", "option_id", "decision"]].values.tolist()
    assert ["P-001", "TCK-KEUKEN", "lock"] in pairs  # a route lock locks its programme too
    assert all(p[0] != "P-002" for p in pairs)  # a route forbid leaves the pair allowed


BAD = [
    # (table, match column, match value, column, value, words)
    ("options", "option_id", "TCK-KEUKEN", "language_gain", "-1", "at least 0"),
    ("options", "option_id", "COMPASS-CATERING", "language_gain", "1", "is for programmes"),
    ("options", "option_id", "COMPASS-CATERING", "duration_weeks", "8", "is for programmes"),
    ("options", "option_id", "TCK-KEUKEN", "duration_weeks", "0", "at least 1"),
    ("options", "option_id", "COMPASS-CATERING", "capacity_hours", "-5", "at least 0"),
    ("options", "option_id", "COMPASS-CATERING", "capacity_hours", "veel", "whole number"),
    ("options", "option_id", "TCK-KEUKEN", "min_participants", "5", "above the option's capacity"),
    ("options", "option_id", "TCK-KEUKEN", "start_date", "11-01-2027", "ISO date"),
    ("routes", "programme_id", "TCK-KEUKEN", "place_id", "NOPE", "unknown id"),
    ("routes", "programme_id", "TCK-KEUKEN", "programme_id", "SPEC-TESTER",
     "a route starts at a programme"),
    ("routes", "programme_id", "TCK-KEUKEN", "place_id", "IDID-PRODUCTIE",
     "a route leads to a place"),
    ("routes", "programme_id", "TCK-KEUKEN", "seats", "-2", "at least 0"),
]


@pytest.mark.parametrize(("table", "key", "value", "column", "new", "words"),
                         BAD)
def test_bad_chain_input_is_named(pilot: Path, tmp_path: Path, table, key, value, column, new,
                                  words):
    _chain_folder(pilot)
    t = read_tables(pilot)
    df = t[table]
    if column not in df.columns:
        df[column] = ""
    hit = df.index[df[key] == value][0]
    df.loc[hit, column] = new
    write_tables(pilot, {table: df})
    out = tmp_path / "out"
    result = runner.invoke(app, ["run", str(pilot), "--out", str(out)])
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert f"{table}.csv, row {hit + 2}, column {column}" in text
    assert words in text
    assert not out.exists()


def test_duplicate_route_and_route_decision_without_route(pilot: Path):
    _chain_folder(pilot)
    t = read_tables(pilot)
    routes = pd.concat([t["routes"], t["routes"].iloc[[0]]], ignore_index=True)
    dec = t["decisions"].assign(next_option_id="")
    dec.loc[len(dec)] = ["P-003", "TCK-BEDIENING", "lock", "r", "COMPASS-CATERING"]
    write_tables(pilot, {"routes": routes, "decisions": dec})
    with pytest.raises(InputError) as exc:
        load_instance(pilot)
    text = str(exc.value)
    assert "routes.csv, row 4, column place_id: a second route" in text
    assert "decisions.csv, row 4, column next_option_id: routes.csv has no route" in text


def test_routes_sheet_in_a_workbook(pilot: Path, tmp_path: Path):
    _chain_folder(pilot)
    tables = read_tables(pilot)
    book = tmp_path / "book"
    book.mkdir()
    (book / "pilot.xlsx").write_bytes(workbook_bytes(tables))
    from_csv, _ = load_instance(pilot)
    from_xlsx, _ = load_instance(book)
    assert from_xlsx.content_hash == from_csv.content_hash
    assert len(from_xlsx.routes) == 2
    tables["routes"].loc[0, "place_id"] = "IDID-PRODUCTIE"
    (book / "pilot.xlsx").write_bytes(workbook_bytes(tables))
    with pytest.raises(InputError) as exc:
        load_instance(book)
    assert "pilot.xlsx, sheet routes, row 2, column place_id" in str(exc.value)

