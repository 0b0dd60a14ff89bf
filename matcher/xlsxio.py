"""Excel workbooks as data folders: one sheet per table, read as text exactly as CSV is.

A data folder may hold one ``.xlsx`` workbook instead of the CSV files, with a sheet per table
named like the files (``organisations``, ``options``, ``candidates``, and optionally
``decisions``, ``protected`` and any later table). A workbook named like a table
(``candidates.xlsx``) with a single sheet holds that table, so a coordinator who saved each CSV
file from Excel as a workbook is read too. Every cell is read as text (an id ``0012`` stays
``0012``, also when Excel stores the number 12 with the format ``0000``); a cell holding a
formula is refused with its sheet and cell named (its cached value may be stale, and a round
must not depend on what Excel last computed). Rows keep their Excel row numbers.

:func:`workbook_bytes` writes tables as one workbook, every text cell as text (never a formula).
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import re
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from matcher.csvio import ROW, check_table
from matcher.csvout import starts_like_formula
from matcher.errors import Problem, Problems

log = logging.getLogger(__name__)

SUFFIX = ".xlsx"
#: Excel's own limit of rows per sheet (header included).
MAX_ROWS = 1_048_576
_ZERO_FORMAT = re.compile(r"^0+$")


@dataclass(frozen=True)
class Sheet:
    """Where a table comes from: the workbook file and the sheet in it."""

    book: Path
    sheet: str


def workbooks(data_dir: Path) -> list[Path]:
    """The folder's workbooks (Excel's ``~$`` lock files left out), sorted by name."""
    return sorted(p for p in Path(data_dir).glob(f"*{SUFFIX}")
                  if p.is_file() and not p.name.startswith("~$"))


def find_sheets(data_dir: Path, tables: Iterable[str], problems: Problems) -> dict[str, Sheet]:
    """Table name -> the sheet that holds it, over the folder's workbooks.

    Sheets named like a known table hold that table; a workbook named like a table with one
    sheet holds that table whatever its sheet is called. Any other sheet is a warning (not
    read). A table found twice is an error naming both places."""
    from openpyxl import load_workbook

    known = list(tables)
    found: dict[str, Sheet] = {}
    for book in workbooks(data_dir):
        try:
            wb = load_workbook(book, read_only=True)
        except Exception as exc:  # zipfile, XML and openpyxl's own errors alike
            problems.add(book.name, None, None, f"cannot be read as an Excel workbook: {exc}",
                         code="xlsx_unreadable", params={"detail": str(exc)})
            continue
        names = list(wb.sheetnames)
        wb.close()
        pairs = [(n, n.strip().lower()) for n in names]
        if book.stem.lower() in known and len(names) == 1:
            pairs = [(names[0], book.stem.lower())]
        for sheet, table in pairs:
            if table not in known:
                problems.add(book.name, None, None,
                             f"sheet {sheet!r} is not read (expected sheets named "
                             f"{', '.join(known)})", "warning", sheet=sheet,
                             code="xlsx_sheet_unknown", params={"sheet": sheet})
                continue
            if table in found:
                first = found[table]
                problems.add(book.name, None, None,
                             f"table {table} is given twice (also {first.book.name}, sheet "
                             f"{first.sheet!r})", sheet=sheet, code="xlsx_table_twice",
                             params={"table": table, "other": f"{first.book.name}:{first.sheet}"})
                continue
            found[table] = Sheet(book, sheet)
    return found


def _cell_text(value: Any, number_format: str | None) -> str:
    """A cell's value as the text a CSV export of it would hold."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        text = str(value)
        if number_format and _ZERO_FORMAT.match(number_format) and value >= 0:
            text = text.zfill(len(number_format))  # Excel shows 12 formatted 0000 as 0012
        return text
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return _cell_text(int(value), number_format)
        return f"{value:.15g}"
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return str(value).strip()


def read_sheet(src: Sheet, problems: Problems, required: tuple[str, ...],
               allow_empty: bool = False) -> pd.DataFrame | None:
    """One sheet as a string table with a ``_row`` column (Excel's row numbers; wholly empty
    rows are skipped). Formula cells are errors naming sheet and cell. Problems name the
    workbook file and the sheet."""
    from openpyxl import load_workbook
    from openpyxl.utils import get_column_letter

    book = src.book.name
    sub = Problems()
    wb = load_workbook(src.book, read_only=True)
    try:
        ws = wb[src.sheet]
        rows: list[list[str]] = []
        numbers: list[int] = []
        header: list[str] | None = None
        for r, cells in enumerate(ws.iter_rows(), start=1):
            texts = []
            for c, cell in enumerate(cells, start=1):
                value = getattr(cell, "value", None)
                if getattr(cell, "data_type", None) == "f":
                    where = f"{get_column_letter(c)}{r}"
                    sub.add(book, r, header[c - 1] if header and c <= len(header) else None,
                            f"cell {where} holds a formula ({value}); type the value itself",
                            sheet=src.sheet, kind="formula", code="xlsx_formula",
                            params={"cell": where, "formula": str(value)})
                    value = None
                texts.append(_cell_text(value, getattr(cell, "number_format", None)))
            if header is None:
                header = texts
                continue
            if any(texts):
                rows.append(texts)
                numbers.append(r)
    finally:
        wb.close()
    problems.items.extend(sub.items)
    if header is None or not any(header):
        problems.add(book, None, None, "sheet is empty (no header row)", sheet=src.sheet,
                     code="sheet_empty")
        return None
    if sub.errors:
        return None
    while header and header[-1] == "":
        header.pop()  # Excel's used range can run past the last named column
    width = len(header)
    body = [(row + [""] * width)[:width] for row in rows]
    spill = [(n, row) for n, row in zip(numbers, rows, strict=True) if any(row[width:])]
    for n, _ in spill:
        problems.add(book, n, None, "values right of the last named column (give it a header)",
                     sheet=src.sheet, kind="spill", code="xlsx_spill")
    if spill:
        return None
    df = pd.DataFrame(body, columns=header, dtype=object)
    df.attrs["stripped"] = True
    df = check_table(df, book, problems, required, allow_empty, sheet=src.sheet)
    if df is not None:
        df[ROW] = np.asarray(numbers, dtype=np.int64)
    return df


def locate(problems: Iterable[Problem], sources: Mapping[str, Sheet]) -> list[Problem]:
    """Problems the loader reported against ``TABLE.csv`` moved to the workbook and sheet the
    table came from (other problems as they are)."""
    by_file = {f"{t}.csv": s for t, s in sources.items()}
    out = []
    for p in problems:
        src = by_file.get(p.file)
        if src is None:
            out.append(p)
            continue
        message = p.message
        for t, s in sources.items():
            message = message.replace(f"(not in {t}.csv)", f"(not in sheet {s.sheet})")
        out.append(p.moved(src.book.name, src.sheet, message))
    return out


def _write_sheet(wb: Any, name: str, df: pd.DataFrame) -> None:
    from openpyxl.cell import WriteOnlyCell

    ws = wb.create_sheet(title=name[:31])
    ws.append([str(c) for c in df.columns])
    for row in df.itertuples(index=False, name=None):
        out: list[Any] = []
        for v in row:
            if isinstance(v, np.generic):
                v = v.item()
            if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
                out.append(None)
            elif isinstance(v, str) and starts_like_formula(v):
                # text, never a formula; Excel's quote prefix keeps it text when edited too
                # (the OWASP rule in a workbook: the value itself stays as it is)
                cell = WriteOnlyCell(ws, value=v)
                cell.data_type = "s"
                cell.quotePrefix = True
                out.append(cell)
            else:
                out.append(v)
        ws.append(out)


def workbook_bytes(tables: Mapping[str, pd.DataFrame]) -> bytes:
    """The tables as one workbook, a sheet per table in the given order (text stays text).

    Raises ValueError for a table longer than a sheet can hold."""
    from openpyxl import Workbook

    for name, df in tables.items():
        if len(df) + 1 > MAX_ROWS:
            raise ValueError(f"{name}: {len(df)} rows do not fit in one Excel sheet "
                             f"(at most {MAX_ROWS - 1})")
    wb = Workbook(write_only=True)
    wb.properties.created = wb.properties.modified = _EPOCH
    for name, df in tables.items():
        _write_sheet(wb, name, df)
    buf = io.BytesIO()
    wb.save(buf)
    return _fixed_times(buf.getvalue())


_EPOCH = dt.datetime(2000, 1, 1)
_MODIFIED = re.compile(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)")


def _fixed_times(data: bytes) -> bytes:
    """The same zip with every entry's time fixed, so the same tables give the same bytes."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=(2000, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            content = src.read(info.filename)
            if info.filename == "docProps/core.xml":  # openpyxl stamps the save time here
                content = _MODIFIED.sub(rb"\g<1>2000-01-01T00:00:00Z\g<2>", content)
            dst.writestr(fixed, content)
    return out.getvalue()


def folder_workbook(data_dir: Path, tables: Iterable[str]) -> bytes:
    """A folder's CSV files (those of `tables` it has) as one workbook, every cell as text:
    the same data folder in the other form (for tests and for a coordinator's first workbook)."""
    from matcher.csvio import read_table

    problems = Problems()
    frames = {}
    for name in tables:
        path = Path(data_dir) / f"{name}.csv"
        if path.exists():
            df = read_table(path, problems, (), allow_empty=True)
            if df is not None:
                frames[name] = df.drop(columns=[ROW])
    problems.raise_if_errors()
    return workbook_bytes(frames)
