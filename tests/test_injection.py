"""Spreadsheet formula injection (issue #33, case 2; docs/security.md).

The class, not only the example: ids that start like a formula are refused at input (exit 2,
file, row and column named; ids are pseudonyms), every text cell matcher writes to a CSV file
or a workbook is neutralised (the OWASP rule: a quote in front in CSV, Excel's quote prefix in a
workbook), numbers stay numbers, and matcher's own readers of its outputs read them back as
they were.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from matcher import csvout
from matcher.cli import app
from matcher.csvio import read_table
from matcher.errors import Problems
from matcher.round import CSV_DIALECTS
from tests.conftest import read_tables, write_tables

runner = CliRunner()
#: First characters a spreadsheet reads as the start of a formula.
TRIGGERS = set("=+-@\t\r\uff1d\uff0b\uff0d\uff20")
FORMULAS = ["=1+1", "@SUM(1+1)", "+cmd", "-2+3", "=HYPERLINK(\"http://x\",\"y\")", "\uff1d1"]


def invoke(*args: object) -> tuple[int, str]:
    result = runner.invoke(app, [str(a) for a in args])
    return result.exit_code, result.output


def rename_id(folder: Path, table: str, col: str, new: str, old: str | None = None) -> int:
    """Give the first row of `table` (or id `old`) the id `new`, and every reference to it;
    returns the spreadsheet row of the first row."""
    tables = read_tables(folder)
    old = tables[table].loc[0, col] if old is None else old
    for df in tables.values():
        if col in df.columns:
            df.loc[df[col] == old, col] = new
    write_tables(folder, tables)
    return 2


@pytest.mark.parametrize("value", [*FORMULAS, "-P1"])
@pytest.mark.parametrize("table,col", [("organisations", "organisation_id"),
                                       ("options", "option_id"),
                                       ("candidates", "candidate_id")])
def test_an_id_that_starts_like_a_formula_is_refused(pilot: Path, table: str, col: str,
                                                     value: str) -> None:
    row = rename_id(pilot, table, col, value)
    code, text = invoke("validate", pilot)
    assert code == 2, text
    assert f"{table}.csv, row {row}, column {col}: id starts like a spreadsheet formula" in text


def test_numbers_below_zero_are_not_ids(pilot: Path) -> None:
    """-2 in a numeric column is a number: refused or accepted for its value, never as a
    formula; and a negative number written to a CSV stays a number."""
    t = read_tables(pilot)
    t["options"].loc[0, "capacity"] = "-2"
    write_tables(pilot, {"options": t["options"]})
    code, text = invoke("validate", pilot)
    assert code == 2 and "must be at least 0" in text and "formula" not in text
    df = pd.DataFrame({"n": [-2, 3], "x": [-0.5, 1.0], "id": ["a", "b"]})
    assert csvout.safe_frame(df) is df
    assert csvout.csv_chunks(df) is not None
    assert b"".join(csvout.csv_chunks(df) or []) == b"n,x,id\n-2,-0.5,a\n3,1.0,b\n"


@given(st.text(max_size=12))
def test_neutralise_round_trips_and_is_never_a_formula(text: str) -> None:
    safe = csvout.neutralise(text)
    assert safe[:1] not in TRIGGERS
    assert csvout.unneutralise(safe) == text


@given(st.lists(st.text(alphabet="=+-@'a1;\t", max_size=5), min_size=2, max_size=8))
def test_every_text_cell_written_is_neutralised_and_read_back(cells: list[str]) -> None:
    import tempfile

    df = pd.DataFrame({"id": [f"c{i}" for i in range(len(cells))], "text": cells,
                       "n": np.arange(len(cells)) - 3})
    with tempfile.TemporaryDirectory() as tmp:
        for dialect in CSV_DIALECTS.values():
            for frames in ([df], [df.iloc[:1], df.iloc[1:]]):  # whole, and piece by piece
                path = Path(tmp) / "t.csv"
                csvout.write_csv_frames(frames, path, **dialect)
                for row in _cells(path, dialect["sep"]):
                    assert all(_safe(c) for c in row), row
                back = read_table(path, Problems(), ("text",), output=True)
                assert back is not None
                assert back["text"].tolist() == cells


def _cells(path: Path, sep: str) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.reader(fh, delimiter=sep))


def _safe(cell: str) -> bool:
    """A cell a spreadsheet does not run: it starts with no formula character, or it is a
    number (negative numbers are numbers)."""
    if cell[:1] not in TRIGGERS:
        return True
    try:
        float(cell.replace(",", "."))
    except ValueError:
        return False
    return True


def _formulas_everywhere(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Formulas in every free-text input column that reaches an output (names, sectors, skill
    names, decision reasons) and, with the input check turned off, in ids: every writer
    neutralises whatever text reaches it, not only what the input check lets through."""
    import matcher.csvio

    monkeypatch.setattr(matcher.csvio, "starts_like_formula", lambda text: False)
    t = read_tables(folder)
    t["organisations"]["name"] = "@SUM(1+1)"
    t["options"]["name"] = FORMULAS[4]
    t["options"]["sector"] = "-evil"
    t["candidates"]["sectors"] = "-evil;+worse"
    t["options"]["skills"] = "=s:1"
    t["candidates"]["skills"] = "=s:2;+t:1"
    t["decisions"]["reason"] = "=1+2"
    write_tables(folder, t)
    for table, col, new, old in (("candidates", "candidate_id", "=P-1", None),
                                 ("candidates", "candidate_id", "-P-19", "P-019"),  # unmatched
                                 ("options", "option_id", "@TCK", None),
                                 ("organisations", "organisation_id", "+ORG", None)):
        rename_id(folder, table, col, new, old)


@pytest.mark.parametrize("dialect", list(CSV_DIALECTS))
def test_no_output_cell_runs_as_a_formula(pilot: Path, tmp_path: Path, dialect: str,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    _formulas_everywhere(pilot, monkeypatch)
    out = tmp_path / "round"
    code, text = invoke("run", pilot, "--out", out, "--format", "xlsx", "--csv-dialect", dialect)
    assert code == 0, text
    expected = {"assignments.csv", "edges.csv", "unmatched.csv", "utilisation.csv"}
    if dialect == "standard":  # the other writers (one dialect only) once
        code, text = invoke("explain", pilot, "--all", tmp_path / "explain.csv")
        assert code == 0, text
        code, text = invoke("whatif", pilot, "--set", "organisations.+ORG.guidance_capacity=+1",
                            "--marginal-top", "1", "--no-decisions", "--out", tmp_path / "whatif")
        assert code == 0, text
        expected |= {"explain.csv", "marginal_guidance.csv", "marginal_seats.csv"}
    files = [*out.glob("*.csv"), *tmp_path.glob("*.csv"), *(tmp_path / "whatif").rglob("*.csv")]
    quoted = set()
    for f in files:
        sep = CSV_DIALECTS[dialect]["sep"] if f.parent == out else ","
        for row in _cells(f, sep):
            assert all(_safe(c) for c in row), (f.name, row)
            if any(c.startswith("'") for c in row):
                quoted.add(f.name)
    # the formulas did reach every kind of output, neutralised
    assert expected <= quoted, quoted
    _workbook_is_safe(out / "round.xlsx")


def _workbook_is_safe(path: Path) -> None:
    import openpyxl

    wb = openpyxl.load_workbook(path)
    seen = 0
    for ws in wb:
        for row in ws.iter_rows():
            for cell in row:
                v = cell.value
                assert cell.data_type != "f", (ws.title, cell.coordinate)
                if isinstance(v, str) and v[:1] in TRIGGERS:
                    assert cell.data_type == "s" and cell.quotePrefix, (ws.title, cell.coordinate)
                    seen += 1
    assert seen > 0


def test_matcher_reads_its_neutralised_outputs_back(pilot: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """`matcher audit` of a written round whose outputs hold neutralised ids gives the audit the
    round wrote itself; the reader gives back the ids as they were."""
    _formulas_everywhere(pilot, monkeypatch)
    out = tmp_path / "round"
    assert invoke("run", pilot, "--out", out, "--csv-dialect", "excel-nl")[0] == 0
    code, text = invoke("audit", pilot, out, "--out", tmp_path / "audit")
    assert code == 0, text
    assert json.loads((tmp_path / "audit" / "audit.json").read_bytes()) == \
        json.loads((out / "audit.json").read_bytes())
    a = read_table(out / "assignments.csv", Problems(), ("candidate_id",), output=True)
    assert a is not None and "=P-1" in set(a["candidate_id"])
    assert not a["candidate_id"].str.startswith("'").any()
