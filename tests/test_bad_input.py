"""Every kind of bad input: a clear error naming file, row and column, exit 2, nothing written."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from matcher.cli import app
from tests.conftest import read_tables, write_tables

runner = CliRunner()


def run_cli(data: Path, out: Path) -> tuple[int, str]:
    result = runner.invoke(app, ["run", str(data), "--out", str(out)])
    return result.exit_code, result.output


def edit(folder: Path, name: str, row: int, column: str, value: str) -> None:
    """Set one cell; `row` is the spreadsheet row (header = 1)."""
    tables = read_tables(folder)
    tables[name].loc[row - 2, column] = value
    write_tables(folder, {name: tables[name]})


CASES = [
    # (file, spreadsheet row, column, new value, words the message must contain)
    ("candidates", 4, "dutch_level", "B3", "unknown language level"),
    ("options", 3, "capacity", "-1", "at least 0"),
    ("options", 5, "capacity", "2.5", "whole number"),
    ("options", 2, "capacity", "", "whole number"),
    ("candidates", 6, "candidate_id", "P-001", "duplicate id"),
    ("options", 3, "organisation_id", "NOPE", "unknown id"),
    ("options", 4, "kind", "job", "must be one of"),
    ("candidates", 3, "lat", "95", "at most 90"),
    ("candidates", 2, "lon", "5,1", None),  # only lon given on a postcode row: allowed? see below
    ("candidates", 7, "postcode", "1000", "unknown postcode"),
    ("candidates", 11, "postcode", "35xx", "unknown postcode"),
    ("candidates", 8, "guidance_need", "7", "at most 3"),
    ("candidates", 9, "skills", "cooking:5", "level 1, 2 or 3"),
    ("candidates", 10, "hours_available", "veel", "expected a number"),
    ("options", 6, "hours_max", "1", "below hours_min"),
    ("decisions", 2, "option_id", "NOPE", "unknown id"),
    ("decisions", 3, "decision", "maybe", "must be one of"),
    ("organisations", 3, "guidance_capacity", "x", "whole number"),
]


@pytest.mark.parametrize(("name", "row", "column", "value", "words"), CASES)
def test_bad_cell_is_named(pilot: Path, tmp_path: Path, name, row, column, value, words):
    edit(pilot, name, row, column, value)
    out = tmp_path / "out"
    code, text = run_cli(pilot, out)
    if words is None:
        # lon without lat on a row that also has a postcode: both-or-neither is required.
        assert code == 2
        assert f"{name}.csv, row {row}, column lat" in text
    else:
        assert code == 2, text
        assert f"{name}.csv, row {row}, column {column}" in text, text
        assert words in text
    assert not out.exists()
    assert not list(tmp_path.glob(".out.tmp-*"))


def test_missing_file(pilot: Path, tmp_path: Path):
    (pilot / "options.csv").unlink()
    code, text = run_cli(pilot, tmp_path / "out")
    assert code == 2 and "options.csv: file not found" in text
    assert not (tmp_path / "out").exists()


def test_missing_column(pilot: Path, tmp_path: Path):
    t = read_tables(pilot)
    write_tables(pilot, {"candidates": t["candidates"].drop(columns=["max_travel_km"])})
    code, text = run_cli(pilot, tmp_path / "out")
    assert code == 2 and "candidates.csv, row 1, column max_travel_km: required column" in text


@pytest.mark.parametrize("content", ["", "candidate_id,skills\n"])
def test_empty_files(pilot: Path, tmp_path: Path, content: str):
    (pilot / "candidates.csv").write_text(content)
    code, text = run_cli(pilot, tmp_path / "out")
    assert code == 2 and "candidates.csv" in text


def test_header_only(pilot: Path, tmp_path: Path):
    header = (pilot / "options.csv").read_text().splitlines()[0]
    (pilot / "options.csv").write_text(header + "\n")
    code, text = run_cli(pilot, tmp_path / "out")
    assert code == 2 and "options.csv: file has a header but no data rows" in text


def test_all_problems_reported_at_once(pilot: Path, tmp_path: Path):
    edit(pilot, "candidates", 4, "dutch_level", "Z9")
    edit(pilot, "options", 3, "capacity", "-3")
    edit(pilot, "organisations", 2, "kind", "bakery")
    result = runner.invoke(app, ["validate", str(pilot)])
    assert result.exit_code == 2
    for where in ("candidates.csv, row 4, column dutch_level",
                  "options.csv, row 3, column capacity",
                  "organisations.csv, row 2, column kind"):
        assert where in result.output


def test_locks_beyond_capacity(pilot: Path, tmp_path: Path):
    dec = pd.DataFrame({"candidate_id": ["P-001", "P-004", "P-022"],
                        "option_id": ["SPEC-TESTER"] * 3, "decision": ["lock"] * 3})
    write_tables(pilot, {"decisions": dec})
    result = runner.invoke(app, ["--lang", "en", "run", str(pilot), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and not (tmp_path / "o").exists()
    assert ("3 locks at SPEC-TESTER take 3 seats, SPEC-TESTER has 2: raise its capacity to 3 "
            "(options.csv) or undo 1 of these locks: P-001 -> SPEC-TESTER, P-004 -> SPEC-TESTER, "
            "P-022 -> SPEC-TESTER") in " ".join(result.output.split())


def test_two_locks_for_one_candidate(pilot: Path, tmp_path: Path):
    dec = pd.DataFrame({"candidate_id": ["P-001", "P-001"],
                        "option_id": ["TCK-KEUKEN", "TCK-BEDIENING"], "decision": ["lock"] * 2})
    write_tables(pilot, {"decisions": dec})
    code, text = run_cli(pilot, tmp_path / "out")
    assert code == 2 and "locked to more than one option" in text


def test_bad_policy_key(pilot: Path, tmp_path: Path):
    pol = tmp_path / "p.toml"
    pol.write_text("[weights]\nskils = 0.5\n")
    result = runner.invoke(app, ["run", str(pilot), "--out", str(tmp_path / "o"),
                                 "--policy", str(pol)])
    assert result.exit_code == 2 and "p.toml" in result.output and "weights.skils" in result.output


def test_unrelated_output_folder_is_not_clobbered(pilot: Path, tmp_path: Path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    code, text = run_cli(pilot, out)
    assert code == 2 and "does not hold an earlier round" in text
    assert (out / "notes.txt").read_text() == "keep me"


def test_unused_column_is_a_warning_not_silence(pilot: Path, tmp_path: Path):
    t = read_tables(pilot)
    t["candidates"]["notes"] = "x"
    write_tables(pilot, {"candidates": t["candidates"]})
    code, text = run_cli(pilot, tmp_path / "out")
    assert code == 0
    assert "candidates.csv, row 1, column notes: column is not used" in text


def test_values_with_brackets_are_shown_verbatim(pilot: Path, tmp_path: Path):
    edit(pilot, "candidates", 4, "dutch_level", "[red]B3")
    code, text = run_cli(pilot, tmp_path / "out")
    assert code == 2 and "'[red]B3'" in text


def test_tables_in_memory_get_the_same_checks():
    """The API and what-if build instances from tables, not files: same errors, no crash."""
    from matcher.errors import InputError
    from matcher.load import build_instance
    from tests.conftest import PILOT

    tables = read_tables(PILOT)
    tables.pop("protected")
    tables["decisions"] = tables["decisions"].drop(columns=["decision"])
    with pytest.raises(InputError) as exc:
        build_instance(tables)
    assert "decisions.csv, row 1, column decision: required column is missing" in str(exc.value)
