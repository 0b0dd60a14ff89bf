"""Excel workbooks as data folders: the same contract and the same errors as CSV files."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from typer.testing import CliRunner

from matcher.cli import app
from matcher.cli.round_commands import pilot_dir
from matcher.errors import InputError
from matcher.load import OTHER_TABLES, REQUIRED, load_instance
from matcher.xlsxio import folder_workbook

TABLES = (*REQUIRED, *OTHER_TABLES)


def _book(tmp: Path, name: str = "pilot.xlsx") -> Path:
    d = tmp / "book"
    d.mkdir()
    (d / name).write_bytes(folder_workbook(pilot_dir(), TABLES))
    return d


def _edit(path: Path, sheet: str, cell: str, value: object) -> None:
    wb = openpyxl.load_workbook(path)
    wb[sheet][cell] = value
    wb.save(path)


def test_workbook_gives_the_same_instance_and_round_as_the_csv_files(tmp_path: Path) -> None:
    d = _book(tmp_path)
    a, _ = load_instance(pilot_dir())
    b, _ = load_instance(d)
    assert a.content_hash == b.content_hash
    runner = CliRunner()
    for src, out in ((pilot_dir(), tmp_path / "o1"), (d, tmp_path / "o2")):
        r = runner.invoke(app, ["run", str(src), "--out", str(out), "--format", "xlsx"])
        assert r.exit_code == 0, r.output
    for f in ("assignments.csv", "unmatched.csv", "edges.csv", "audit.json", "round.xlsx"):
        assert (tmp_path / "o1" / f).read_bytes() == (tmp_path / "o2" / f).read_bytes(), f
    wb = openpyxl.load_workbook(tmp_path / "o1" / "round.xlsx")
    assert wb.sheetnames == ["assignments", "unmatched", "utilisation"]
    assigned = pd.read_csv(tmp_path / "o1" / "assignments.csv", dtype=str)
    rows = list(wb["assignments"].iter_rows(values_only=True))
    assert list(rows[0]) == list(assigned.columns)
    assert [r[0] for r in rows[1:]] == assigned["candidate_id"].tolist()


def test_cells_are_text_an_id_0012_stays_0012(tmp_path: Path) -> None:
    d = _book(tmp_path)
    book = d / "pilot.xlsx"
    wb = openpyxl.load_workbook(book)
    ws = wb["candidates"]
    ws["A2"] = 12
    ws["A2"].number_format = "0000"  # Excel shows 0012
    ws["A3"] = "0013"
    wb.save(book)
    inst, _ = load_instance(d)
    ids = set(inst.candidates["candidate_id"])
    assert {"0012", "0013"} <= ids


def test_a_formula_cell_is_refused_with_sheet_and_cell(tmp_path: Path) -> None:
    d = _book(tmp_path)
    _edit(d / "pilot.xlsx", "options", "F3", "=2+3")
    r = CliRunner().invoke(app, ["run", str(d), "--out", str(tmp_path / "o")])
    assert r.exit_code == 2
    assert "pilot.xlsx, sheet options, row 3, column capacity" in r.output
    assert "cell F3 holds a formula (=2+3)" in r.output
    assert not (tmp_path / "o").exists()


def test_bad_value_names_workbook_sheet_row_and_column(tmp_path: Path) -> None:
    d = _book(tmp_path)
    _edit(d / "pilot.xlsx", "candidates", "E4", "Z9")  # dutch_level
    with pytest.raises(InputError) as exc:
        load_instance(d)
    [p] = exc.value.problems
    assert (p.file, p.sheet, p.row, p.column) == ("pilot.xlsx", "candidates", 4, "dutch_level")
    assert str(p).startswith("pilot.xlsx, sheet candidates, row 4, column dutch_level: unknown")


def test_unknown_reference_names_the_other_sheet(tmp_path: Path) -> None:
    d = _book(tmp_path)
    _edit(d / "pilot.xlsx", "options", "B2", "NOPE")  # organisation_id
    with pytest.raises(InputError) as exc:
        load_instance(d)
    msgs = [str(p) for p in exc.value.problems]
    assert any("sheet options, row 2, column organisation_id: unknown id (not in sheet "
               "organisations)" in m for m in msgs), msgs


def test_csv_and_workbook_in_one_folder_is_exit_2(tmp_path: Path) -> None:
    d = _book(tmp_path)
    shutil.copy(pilot_dir() / "candidates.csv", d / "candidates.csv")
    r = CliRunner().invoke(app, ["validate", str(d)])
    assert r.exit_code == 2
    assert "both CSV files (candidates.csv) and an Excel workbook (pilot.xlsx)" in r.output


def test_a_missing_sheet_is_named(tmp_path: Path) -> None:
    d = _book(tmp_path)
    wb = openpyxl.load_workbook(d / "pilot.xlsx")
    del wb["options"]
    wb.save(d / "pilot.xlsx")
    r = CliRunner().invoke(app, ["validate", str(d)])
    assert r.exit_code == 2
    assert "pilot.xlsx: no sheet named options" in r.output


def test_one_workbook_per_table_named_like_the_csv_files(tmp_path: Path) -> None:
    """A coordinator who saved each CSV file as a workbook (candidates.xlsx, ...)."""
    d = tmp_path / "d"
    d.mkdir()
    for t in ("organisations", "options", "candidates"):
        data = folder_workbook(pilot_dir(), (t,))
        wb = openpyxl.load_workbook(io.BytesIO(data))
        wb[t].title = "Sheet1"  # Excel's default name
        wb.save(d / f"{t}.xlsx")
    inst, _ = load_instance(d)
    assert inst.n_candidates == 25
    # only candidates.xlsx: the missing tables are named, not "candidates.csv: file not found"
    for t in ("organisations", "options"):
        (d / f"{t}.xlsx").unlink()
    r = CliRunner().invoke(app, ["validate", str(d)])
    assert r.exit_code == 2
    assert "no sheet named organisations" in r.output
    assert "candidates.csv" not in r.output


def test_text_that_looks_like_a_formula_is_written_as_text(tmp_path: Path) -> None:
    from matcher.xlsxio import workbook_bytes
    data = workbook_bytes({"t": pd.DataFrame({"a": ["=1+1", "x"], "b": [1, 2]})})
    wb = openpyxl.load_workbook(io.BytesIO(data))
    cell = wb["t"]["A2"]
    assert cell.value == "=1+1" and cell.data_type == "s"
    assert workbook_bytes({"t": pd.DataFrame({"a": ["x"]})}) == \
        workbook_bytes({"t": pd.DataFrame({"a": ["x"]})})
