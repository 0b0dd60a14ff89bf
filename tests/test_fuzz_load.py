"""Fuzzing the loader (issue #33): hypothesis over the bytes of a data folder's CSV files
(cells, encodings, separators, headers, truncation) and the cells of an Excel workbook. Every
folder either loads or is refused with problems that name a file matcher reads (and the row and
column where there is one); no other exception, ever. The import endpoint: tests/api/test_fuzz_import.py.

Budget (marker `fuzz`, with the import endpoint's): at most one minute of CI. The example
counts below are that budget; raise them locally with HYPOTHESIS_FUZZ_SCALE=10.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matcher.errors import InputError, Problem
from matcher.load import OTHER_TABLES, REQUIRED, load_instance

PILOT = Path(__file__).resolve().parents[1] / "matcher" / "data" / "pilot"
TABLES = sorted(p.stem for p in PILOT.glob("*.csv"))
SCALE = int(os.environ.get("HYPOTHESIS_FUZZ_SCALE", "1"))
FUZZ = settings(max_examples=50 * SCALE, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

pytestmark = pytest.mark.fuzz

#: Cells a careless user or an attacker types: formulas, numbers at and past every limit,
#: separators, quotes, line breaks, control and full-width characters, internal names.
NASTY = ["", " ", "=1+1", "@SUM(1)", "+cmd", "-2+3", "\t1", "nan", "NaN", "inf", "-inf",
         "1e308", "1e999", "9" * 30, "-1", "0", "0.5", "2**63", "9223372036854775808", "1,5",
         "ja", "true", "nee", '"', '""', "a,b", "a;b", "a\nb", "\r", "\x00", "\ufeff",
         "\uff21\uff22\uff23", "é", "_row", "org", "🙂" * 40, "x" * 5000, "2026-13-45", "NULL", "None"]
CELL = st.one_of(st.sampled_from(NASTY), st.text(max_size=12),
                 st.integers(-2**70, 2**70).map(str),
                 st.floats(allow_nan=True, allow_infinity=True).map(repr))
ENCODINGS = ["utf-8", "utf-8-sig", "latin-1", "cp1252", "utf-16"]
SEPARATORS = [",", ";", "\t", "|"]


def pilot_rows(table: str) -> list[list[str]]:
    import csv
    with (PILOT / f"{table}.csv").open(encoding="utf-8", newline="") as f:
        return [list(r) for r in csv.reader(f)]


@st.composite
def mutated_table(draw: st.DrawFn, table: str) -> list[list[str]]:
    rows = [list(r) for r in pilot_rows(table)]
    for _ in range(draw(st.integers(0, 6))):
        r = draw(st.integers(0, len(rows) - 1))
        row = rows[r]
        kind = draw(st.sampled_from(["cell", "cell", "cell", "drop", "extra", "dup", "short"]))
        if kind == "cell" and row:
            row[draw(st.integers(0, len(row) - 1))] = draw(CELL)
        elif kind == "drop" and row:
            del row[draw(st.integers(0, len(row) - 1))]
        elif kind == "extra":
            row.append(draw(CELL))
        elif kind == "dup":
            rows.insert(r, list(row))
        elif kind == "short":
            rows[r] = row[:draw(st.integers(0, len(row)))]
    return rows


def csv_bytes(rows: list[list[str]], sep: str, encoding: str) -> bytes:
    import csv
    buf = io.StringIO()
    csv.writer(buf, delimiter=sep, lineterminator="\n").writerows(rows)
    return buf.getvalue().encode(encoding, errors="replace")


@st.composite
def csv_file(draw: st.DrawFn, table: str) -> bytes:
    data = csv_bytes(draw(mutated_table(table)), draw(st.sampled_from(SEPARATORS)),
                     draw(st.sampled_from(ENCODINGS)))
    damage = draw(st.sampled_from(["none", "none", "none", "truncate", "bytes", "empty"]))
    if damage == "truncate":
        data = data[:draw(st.integers(0, len(data)))]
    elif damage == "bytes":
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(min_size=1, max_size=16)) + data[at:]
    elif damage == "empty":
        data = b""
    return data


@st.composite
def csv_folder(draw: st.DrawFn) -> dict[str, bytes]:
    """The pilot's files, some of them mutated, some left out."""
    files = {t: (PILOT / f"{t}.csv").read_bytes() for t in TABLES}
    for t in draw(st.lists(st.sampled_from(TABLES), min_size=1, max_size=3, unique=True)):
        files[t] = draw(csv_file(t))
    for t in draw(st.lists(st.sampled_from(TABLES), max_size=1)):
        files.pop(t, None)
    return files


def readable_files(folder: Path) -> set[str]:
    """The names a problem may give as its file: the folder's files and the folder."""
    return {p.name for p in folder.iterdir()} | {str(folder)} | {
        f"{t}.csv" for t in (*REQUIRED, *OTHER_TABLES)}


def check_outcome(folder: Path) -> None:
    """Loads, or InputError whose problems name one of the folder's files; nothing else."""
    try:
        load_instance(folder)
    except InputError as exc:
        assert exc.problems, "an InputError with no problem"
        names = readable_files(folder)
        for p in exc.problems + exc.warnings:
            assert isinstance(p, Problem) and p.message.strip()
            files = {f.strip() for f in p.file.split(",")}
            assert files <= names, f"{p} names no file of the folder ({sorted(names)})"
            assert p.row is None or p.row >= 1


def write_folder(files: dict[str, bytes]) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="fuzz-"))
    for name, data in files.items():
        (folder / f"{name}.csv").write_bytes(data)
    return folder


@FUZZ
@given(csv_folder())
def test_csv_folders_load_or_name_their_problems(files: dict[str, bytes]) -> None:
    folder = write_folder(files)
    try:
        check_outcome(folder)
    finally:
        shutil.rmtree(folder)


XCELL = st.one_of(CELL, st.integers(-2**70, 2**70), st.floats(allow_nan=True, allow_infinity=True),
                  st.booleans(), st.none(), st.datetimes().map(lambda d: d.replace(microsecond=0)),
                  st.sampled_from(["=1+1", "=HYPERLINK(\"http://x\")", "=A1", "#N/A"]))


@st.composite
def workbook(draw: st.DrawFn) -> bytes:
    """The pilot as one workbook, some cells replaced by any value a cell can hold (numbers,
    dates, booleans, formulas, empty), a sheet renamed or left out, or the file damaged."""
    from openpyxl import Workbook
    wb = Workbook()
    assert wb.active is not None
    wb.remove(wb.active)
    for t in TABLES:
        if draw(st.integers(0, 9)) == 0:
            continue  # a sheet left out
        name = t if draw(st.integers(0, 9)) else draw(st.sampled_from([t.upper(), t + " ", "Blad1"]))
        ws = wb.create_sheet(name[:31] if name not in wb.sheetnames else t + "2")
        rows: list[list[Any]] = [list(r) for r in pilot_rows(t)]
        for _ in range(draw(st.integers(0, 5))):
            r = draw(st.integers(0, len(rows) - 1))
            if rows[r]:
                rows[r][draw(st.integers(0, len(rows[r]) - 1))] = draw(XCELL)
        for row in rows:
            ws.append([_excel_safe(v) for v in row])
    if not wb.sheetnames:
        wb.create_sheet("Blad1")  # every sheet left out: an empty workbook
    buf = io.BytesIO()
    wb.save(buf)
    data = buf.getvalue()
    if draw(st.integers(0, 9)) == 0:
        data = data[:draw(st.integers(0, len(data)))]
    return data


def _excel_safe(v: Any) -> Any:
    """openpyxl refuses control characters in strings: a user's Excel cannot hold them either."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    return ILLEGAL_CHARACTERS_RE.sub("", v) if isinstance(v, str) else v


@settings(FUZZ, max_examples=20 * SCALE)
@given(workbook())
def test_workbooks_load_or_name_their_problems(data: bytes) -> None:
    folder = Path(tempfile.mkdtemp(prefix="fuzz-"))
    try:
        (folder / "data.xlsx").write_bytes(data)
        check_outcome(folder)
    finally:
        shutil.rmtree(folder)
