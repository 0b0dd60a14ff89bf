"""Reading coordinators' CSV files, including what Dutch Excel writes, and parsing their fields.

Every parser collects problems into a :class:`~matcher.errors.Problems` rather than stopping at
the first, and names the file, the spreadsheet row (header = row 1) and the column.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from matcher.csvout import starts_like_formula, unneutralise
from matcher.errors import Problems
from matcher.i18n import N_

ROW = "_row"  # spreadsheet row number of each record (header is row 1)
#: The largest whole number a file may give where its column names no bound of its own
#: (counts stay within a 32-bit integer; docs/security.md, limits).
MAX_WHOLE = 10**9
_INT_RE = re.compile(r"^[+-]?\d+(?:[.,]0*)?$")
_FLOAT_RE = re.compile(r"^[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)$")


def sniff_separator(first_line: str) -> str:
    """`;` for Dutch Excel, a tab for TSV exports, else `,`."""
    counts = {sep: first_line.count(sep) for sep in (";", "\t", ",")}
    best = max(counts, key=lambda s: counts[s])
    return best if counts[best] > 0 else ","


def read_table(path: Path, problems: Problems, required: tuple[str, ...],
               allow_empty: bool = False, output: bool = False) -> pd.DataFrame | None:
    """Read a CSV file as strings (no type guessing), with a `_row` column.

    Accepts `,`, `;` or tab separators, UTF-8 with or without byte-order mark, and falls back to
    Windows-1252 (old Excel) with a warning. Returns None when the file cannot be used at all.
    `output`: a file matcher wrote, read without stripping spaces, its neutralised text cells
    (`csvout.neutralise`) as they were.
    """
    name = path.name
    if not path.is_file():
        problems.add(name, None, None, f"file not found in {path.parent}", code="file_not_found",
                     params={"folder": str(path.parent)})
        return None
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252", errors="replace")
        problems.add(name, None, None, "file is not UTF-8; read as Windows-1252", "warning",
                     code="not_utf8")
    if not text.strip():
        problems.add(name, None, None, "file is empty (no header row)", code="file_empty")
        return None
    sep = sniff_separator(text.splitlines()[0])
    # a file matcher wrote is read as written, its neutralised text cells as they were
    fast = text if output else _strip_fields_in_text(text, sep)
    stripped = fast is not None
    text = fast if fast is not None else text
    try:
        df = pd.read_csv(
            io.StringIO(text),
            sep=sep,
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=True,
            quoting=csv.QUOTE_MINIMAL,
        )
    except (pd.errors.ParserError, ValueError) as exc:
        problems.add(name, None, None, f"cannot be read as CSV: {exc}", code="not_csv",
                     params={"detail": str(exc)})
        return None
    if not stripped:
        df = df.apply(lambda s: s.str.strip())
    if output:
        df = df.apply(lambda s: on_uniques(s, lambda u: u.map(unneutralise)))
    df.attrs["stripped"] = True
    return check_table(df, name, problems, required, allow_empty)


def check_table(df: pd.DataFrame, name: str, problems: Problems, required: tuple[str, ...],
                allow_empty: bool = False, sheet: str | None = None) -> pd.DataFrame | None:
    """A string table's header checked (no duplicate names, the required columns there, rows
    unless `allow_empty`), with a `_row` column (header = row 1); None when it cannot be used.
    The same checks for a CSV file and an Excel sheet (`sheet`)."""
    df.columns = [str(c).strip() for c in df.columns]
    dupes = sorted({c for c in df.columns if list(df.columns).count(c) > 1 or c.endswith(".1")})
    if dupes:
        problems.add(name, 1, None, f"duplicate column names: {', '.join(dupes)}", sheet=sheet,
                     code="duplicate_columns", params={"columns": ", ".join(dupes)})
        return None
    missing = [c for c in required if c not in df.columns]
    for col in missing:
        problems.add(name, 1, col, "required column is missing", sheet=sheet,
                     code="column_missing")
    if missing:
        return None
    if df.empty and not allow_empty:
        problems.add(name, None, None, "file has a header but no data rows", sheet=sheet,
                     code="no_rows")
        return None
    return with_row_numbers(df, name, problems, sheet)


def with_row_numbers(df: pd.DataFrame, name: str, problems: Problems,
                     sheet: str | None = None) -> pd.DataFrame:
    """`df` with matcher's `_row` column (spreadsheet rows, header = row 1). A column of the
    user's own with that name is set aside with a warning (matcher's internal names are kept
    apart from the names a user may choose)."""
    if ROW in df.columns:
        problems.add(name, 1, ROW, f"column name {ROW} is matcher's own (the spreadsheet row); "
                     "the column is ignored", "warning", sheet=sheet, code="internal_column",
                     params={"column": ROW})
        df = df.drop(columns=[ROW])
    df.insert(0, ROW, np.arange(2, len(df) + 2))
    return df


#: Whitespace other than spaces, tabs and line ends (str.strip removes it too).
_OTHER_WS = re.compile(r"[^\S \t\r\n]")
_BLANKISH_LINE = re.compile(r"^[ \t]+\r?$", re.MULTILINE)


def _strip_fields_in_text(text: str, sep: str) -> str | None:
    """The text with spaces around every field removed, or None when that is not safe here.

    Equivalent to stripping every parsed field when the file has no quotes, no whitespace but
    spaces/tabs/line ends, and no lines of only spaces; it runs over the whole file at C speed
    instead of a Python call per cell.
    """
    if '"' in text:
        return None
    if text.isascii():
        if "\x0b" in text or "\x0c" in text or "\x1c" in text or "\x1d" in text \
                or "\x1e" in text or "\x1f" in text:
            return None
    elif _OTHER_WS.search(text):
        return None
    pads = (" ",) if sep == "\t" else (" ", "\t")
    ends = (sep, "\n", "\r")
    if not any(p + e in text or e + p in text for p in pads for e in ends) \
            and not text.startswith(pads) and not text.endswith(pads):
        return text
    if _BLANKISH_LINE.search(text):
        return None
    pad = "[ ]+" if sep == "\t" else "[ \t]+"
    sep_re = re.escape(sep)
    around = re.compile(f"{pad}(?={sep_re}|\r?\n|$)|(?<={sep_re}){pad}|(?<=\n){pad}")
    return around.sub("", text.lstrip("".join(pads)))


def on_uniques(s: pd.Series, fn: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """fn (a Series -> Series of the same length) applied once per distinct value of `s`.

    Columns such as levels, hours, sectors or skill lists repeat a few values over millions of
    rows; a pandas string method is a Python call per cell, so it runs on the distinct values.
    """
    codes, uniq = pd.factorize(s, use_na_sentinel=False)
    out = fn(pd.Series(uniq, dtype=object)).to_numpy()
    return pd.Series(out[codes], index=s.index, dtype=object)


def _report(
    df: pd.DataFrame, bad: np.ndarray, problems: Problems, file: str, col: str, what: str,
    **what_params: object,
) -> None:
    """One problem per bad row: `what` is a message template (translated with its params)."""
    if not bad.any():
        return
    text = what.format(**what_params)
    for row, value in zip(df.loc[bad, ROW].tolist(), df.loc[bad, col].tolist(), strict=True):
        problems.add(file, int(row), col, f"{text}, got {value!r}", kind=text, code="bad_value",
                     params={"what": what, **what_params, "value": repr(value)})


def parse_int(
    df: pd.DataFrame,
    col: str,
    problems: Problems,
    file: str,
    *,
    minimum: int | None = 0,
    maximum: int | None = None,
) -> np.ndarray:
    """Whole numbers (`3`, `3.0`, `3,0`); empty or fractional values are errors, and so is a
    number beyond `maximum` (default MAX_WHOLE: no count needs more, and none overflows)."""
    maximum = MAX_WHOLE if maximum is None else maximum
    codes, uniq = pd.factorize(df[col], use_na_sentinel=False)
    u = pd.Series(uniq, dtype=object)
    u_ok = u.str.match(_INT_RE).to_numpy(dtype=bool)
    u_float = np.zeros(len(u))
    u_float[u_ok] = u[u_ok].str.replace(",", ".").astype(float).to_numpy()
    ok = u_ok[codes]
    _report(df, ~ok, problems, file, col, N_("expected a whole number"))
    # clipped before the cast, which would wrap 2**64 around to a small or negative number
    values = np.clip(np.where(ok, u_float[codes], 0), -2.0 * MAX_WHOLE, 2.0 * MAX_WHOLE)
    values = values.astype(np.int64)
    _check_range(df, values, ok, problems, file, col, minimum, maximum)
    return values


def parse_float(
    df: pd.DataFrame,
    col: str,
    problems: Problems,
    file: str,
    *,
    minimum: float | None = 0.0,
    maximum: float | None = None,
    required: bool = True,
) -> np.ndarray:
    """Decimal numbers with a decimal point or a decimal comma; NaN where empty and optional."""
    codes, uniq = pd.factorize(df[col], use_na_sentinel=False)
    u = pd.Series(uniq, dtype=object)
    u_ok = u.str.match(_FLOAT_RE).to_numpy(dtype=bool)
    u_val = np.full(len(u), np.nan)
    u_val[u_ok] = u[u_ok].str.replace(",", ".").astype(float).to_numpy()
    u_ok = u_ok & np.isfinite(u_val)  # 400 digits are read as inf: not a number here
    empty = (u == "").to_numpy(dtype=bool)[codes]
    ok = u_ok[codes]
    bad = ~ok & (~empty if not required else True)
    _report(df, bad, problems, file, col, N_("expected a number"))
    values = np.where(ok, u_val[codes], np.nan)
    _check_range(df, values, ok, problems, file, col, minimum, maximum)
    return values


def _check_range(
    df: pd.DataFrame,
    values: np.ndarray,
    ok: np.ndarray,
    problems: Problems,
    file: str,
    col: str,
    minimum: float | None,
    maximum: float | None,
) -> None:
    if minimum is not None:
        _report(df, ok & (values < minimum), problems, file, col, N_("must be at least {minimum}"),
                minimum=minimum)
    if maximum is not None:
        _report(df, ok & (values > maximum), problems, file, col, N_("must be at most {maximum}"),
                maximum=maximum)


def check_choice(
    df: pd.DataFrame, col: str, choices: tuple[str, ...], problems: Problems, file: str
) -> pd.Series:
    """Lower-cased values, each one of `choices`."""
    s = on_uniques(df[col], lambda u: u.str.lower())
    bad = ~s.isin(choices).to_numpy(dtype=bool)
    _report(df, bad, problems, file, col, N_("must be one of {choices}"), choices=", ".join(choices))
    return s


def check_ids(df: pd.DataFrame, col: str, problems: Problems, file: str) -> None:
    """Ids are required, unique within their file, and do not start like a spreadsheet formula
    (=, +, -, @, tab, CR: ids are pseudonyms a coordinator chooses, and they are written to every
    output)."""
    s = df[col]
    _report(df, (s == "").to_numpy(dtype=bool), problems, file, col, N_("id is empty"))
    formula = on_uniques(s, lambda u: u.map(starts_like_formula)).to_numpy(dtype=bool)
    _report(df, formula, problems, file, col,
            N_("id starts like a spreadsheet formula (=, +, -, @, tab or CR); choose an id that "
               "starts with a letter or digit"))
    dup = s.duplicated(keep="first").to_numpy(dtype=bool) & (s != "").to_numpy(dtype=bool)
    for row, value in zip(df.loc[dup, ROW].tolist(), s[dup].tolist(), strict=True):
        first = int(df.loc[(s == value).to_numpy(), ROW].iloc[0])
        problems.add(file, int(row), col, f"duplicate id {value!r} (first on row {first})",
                     kind="duplicate id", code="duplicate_id",
                     params={"value": repr(value), "first": first})


def check_refs(
    df: pd.DataFrame, col: str, known: pd.Index, target: str, problems: Problems, file: str
) -> np.ndarray:
    """Positions of referenced ids in `known` (sorted); -1 and an error where unknown."""
    if not known.is_unique:  # duplicate ids are reported elsewhere; refer to the first
        first = pd.Series(np.arange(len(known)), index=known)
        first = first[~first.index.duplicated()]
        pos = df[col].map(first).fillna(-1).to_numpy(dtype=np.int64)
    else:
        pos = known.get_indexer(df[col])
    _report(df, pos < 0, problems, file, col, N_("unknown id (not in {target})"), target=target)
    return pos
