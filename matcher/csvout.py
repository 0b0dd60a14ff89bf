"""Writing tables as CSV fast, with exactly the bytes ``DataFrame.to_csv`` writes (of the table
with its text cells neutralised: `safe_frame`, docs/security.md).

``to_csv`` turns every float into a Python string and hands each row to the ``csv`` module;
on edges.csv (about 1 million rows) that takes seconds. :func:`csv_chunks` builds the same bytes
with whole-array NumPy operations instead:

- floats are written as ``str(value)`` (the shortest round-trip form, e.g. ``0.5``, ``1.0``,
  ``3.4e-05``) with the dialect's decimal sign, as pandas does. Values that are a whole number
  of millionths between 0.001 and 1000 (every score, component, distance and weight) are
  formatted from integers with lookup tables; any other value (NaN, tiny, huge, negative, more
  decimals) is formatted by the same call pandas makes;
- every other column (text, ids, booleans, integers) is formatted once per distinct value by
  the ``csv`` module itself (same quoting), and the formatted values are gathered by index.

Each row is laid out in a fixed-width byte matrix, unused bytes NUL; dropping the NUL bytes
gives the CSV text. A table with a column type not listed above, a text holding a NUL character
or a single column is written by ``to_csv`` itself.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from pandas.api.types import infer_dtype

#: Rows per chunk (bounds the memory of the byte matrix).
CHUNK_ROWS = 131_072
#: Threads that lay out chunks (the bytes do not depend on it).
CHUNK_THREADS = 2

_MICRO = 1_000_000


def _digit_table(texts: list[str]) -> np.ndarray:
    """Texts of at most 4 ASCII characters as little-endian uint32, NUL-padded on the right."""
    return np.array([list(t.encode().ljust(4, b"\0")) for t in texts],
                    dtype=np.uint8).view("<u4").ravel()


#: Integer parts 0..999, right-aligned in 4 bytes behind NUL bytes (NUL = unused).
_INT4 = np.array([list(str(i).rjust(4, "\0").encode()) for i in range(1000)],
                 dtype=np.uint8).view("<u4").ravel()
#: Millionths = 1000 * hi + lo. First three digits: index hi when lo == 0 (trailing zeros
#: dropped, at least one digit), 1000 + hi when lo > 0 (all three); last three: index lo
#: (trailing zeros dropped, none for 0).
_FRAC_HI = _digit_table([(f"{i:03d}".rstrip("0") or "0") for i in range(1000)]
                        + [f"{i:03d}" for i in range(1000)])
_FRAC_LO = _digit_table([f"{i:03d}".rstrip("0") for i in range(1000)])


#: Characters that make the csv module quote a field (with the separator); others never do.
_QUOTE_CHARS = ('"', "\r", "\n")

#: A text that a spreadsheet would run as a formula (OWASP CSV injection: =, +, -, @, tab, CR,
#: and their full-width forms), after any quotes a neutralised text already starts with.
_FORMULA = re.compile("'*[=+\\-@\t\r\uff1d\uff0b\uff0d\uff20]")


def starts_like_formula(text: str) -> bool:
    """Whether a spreadsheet would read `text` (or it with its leading quotes removed) as a
    formula."""
    return _FORMULA.match(text) is not None


def neutralise(text: str) -> str:
    """`text` as written to a CSV cell: a quote in front where a spreadsheet would read it as a
    formula (the OWASP rule; also in front of a text that already starts with quotes and then
    such a character, so `unneutralise` gives back exactly the text)."""
    return "'" + text if _FORMULA.match(text) else text


def unneutralise(text: str) -> str:
    """The text `neutralise` was given (matcher's readers of its own outputs)."""
    return text[1:] if text.startswith("'") and _FORMULA.match(text, 1) else text


def _is_text(series: pd.Series) -> bool:
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return _is_text(pd.Series(dtype.categories))
    if isinstance(dtype, pd.StringDtype):
        return True
    return isinstance(dtype, np.dtype) and dtype.kind == "O"  # any of its cells may be text


def safe_frame(df: pd.DataFrame) -> pd.DataFrame:
    """`df` with every text cell neutralised (numbers, booleans and missing values as they are);
    `df` itself when no cell needs it."""
    out = None
    for col in df.columns:
        s = df[col]
        if not _is_text(s):
            continue
        if isinstance(s.dtype, pd.CategoricalDtype):
            cats = s.cat.categories
            fixed = [neutralise(c) if isinstance(c, str) else c for c in cats]
            if fixed != list(cats):
                out = df.copy() if out is None else out
                out[col] = s.cat.rename_categories(fixed)
            continue
        if any(isinstance(v, str) and _FORMULA.match(v) for v in pd.unique(s[s.notna()])):
            out = df.copy() if out is None else out
            out[col] = s.map(lambda v: neutralise(v) if isinstance(v, str) else v)
    return df if out is None else out


def _pandas_float_strings(values: np.ndarray, decimal: str) -> list[str]:
    """What to_csv writes for these floats: str(value) with the decimal sign, NaN empty."""
    if decimal == ".":
        out = values.astype(str).astype(object)
    else:
        out = np.array([str(v).replace(".", decimal, 1) for v in values], dtype=object)
    out[np.isnan(values)] = ""
    return list(out)


class _FloatColumn:
    """A float64 column: fast integer formatting where exact, pandas' own formatting elsewhere.

    Layout of a fast value: integer part (1 byte, or 4 right-aligned when some value is 10 or
    more), decimal sign, 8 bytes of fraction digits; unused bytes are NUL and dropped.
    """

    def __init__(self, values: np.ndarray, decimal: bytes) -> None:
        self.values, self.decimal = values, np.frombuffer(decimal, dtype=np.uint8)
        with np.errstate(invalid="ignore", over="ignore"):
            micro = np.rint(values * _MICRO)
            fast = ((values >= 0.001) & (values < 1000.0)) \
                | ((values == 0.0) & ~np.signbit(values))
            fast &= (micro / _MICRO) == values
        self.micro = np.where(fast, micro, 0.0).astype(np.int64)
        self.int_width = 1 if int(self.micro.max(initial=0)) < 10 * _MICRO else 4
        self.slow = np.flatnonzero(~fast)
        self.slow_bytes = [t.encode() for t in
                           _pandas_float_strings(values[self.slow], decimal.decode())]
        self.width = max(self.int_width + len(decimal) + 8,
                         max((len(b) for b in self.slow_bytes), default=0))

    def fill(self, data: np.ndarray, start: int, stop: int) -> None:
        n = stop - start
        ip, fr = np.divmod(self.micro[start:stop], _MICRO)
        hi, lo = np.divmod(fr, 1000)
        w, d = self.int_width, len(self.decimal)
        if w == 1:
            data[:, 0] = ip + ord("0")
        else:
            data[:, 0:4] = _INT4[ip].view(np.uint8).reshape(n, 4)
        data[:, w:w + d] = self.decimal
        frac = np.empty((n, 2), dtype="<u4")
        frac[:, 0] = _FRAC_HI[hi + 1000 * (lo > 0)]
        frac[:, 1] = _FRAC_LO[lo]
        data[:, w + d:w + d + 8] = frac.view(np.uint8)
        data[:, w + d + 8:] = 0
        lo_s, hi_s = np.searchsorted(self.slow, [start, stop])
        if hi_s > lo_s:
            slow = self.slow[lo_s:hi_s] - start
            data[slow] = 0
            for row, b in zip(slow.tolist(), self.slow_bytes[lo_s:hi_s], strict=True):
                data[row, :len(b)] = np.frombuffer(b, dtype=np.uint8)


class _CodesColumn:
    """Formatted distinct values (bytes, NUL-padded to a multiple of 4) gathered by codes."""

    def __init__(self, codes: np.ndarray, texts: list[bytes]) -> None:
        self.codes = codes
        longest = max(max((len(t) for t in texts), default=0), 1)
        self.width = -(-longest // 4) * 4
        self.table = np.array(texts, dtype=f"S{self.width}").view("<u4").reshape(
            len(texts), self.width // 4)

    def fill(self, data: np.ndarray, start: int, stop: int) -> None:
        rows = self.table[self.codes[start:stop]]
        data[:] = rows.view(np.uint8).reshape(len(rows), self.width)


class _ConstColumn:
    def __init__(self, text: bytes) -> None:
        self.text, self.width = np.frombuffer(text, dtype=np.uint8), len(text)

    def fill(self, data: np.ndarray, start: int, stop: int) -> None:
        data[:] = self.text


def _format_fields(values: list[str], sep: str) -> list[str]:
    """Fields as the csv module writes them in a row of several fields (quoted if needed)."""
    out = list(values)
    joined = "".join(values)
    if sep not in joined and not any(ch in joined for ch in _QUOTE_CHARS):
        return out
    for i, v in enumerate(values):
        if sep in v or any(ch in v for ch in _QUOTE_CHARS):
            buf = io.StringIO()
            csv.writer(buf, delimiter=sep, lineterminator="\n",
                       quoting=csv.QUOTE_MINIMAL).writerow([v, ""])
            out[i] = buf.getvalue()[:-(len(sep) + 1)]
    return out


def _value_text(v: object) -> str:
    return "" if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v)


def _codes_column(series: pd.Series, sep: str,
                  tables: dict[int, list[bytes]] | None = None) -> _CodesColumn | None:
    """The column by distinct values, or None if this writer does not support its type."""
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        cats = dtype.categories
        codes = np.asarray(series.cat.codes, dtype=np.int64)
        codes = np.where(codes < 0, len(cats), codes)  # code -1 (missing) is written empty
        if tables is not None and id(cats) in tables:
            return _CodesColumn(codes, tables[id(cats)])
        if not (isinstance(cats.dtype, pd.StringDtype)
                or (cats.dtype.kind == "O" and infer_dtype(cats, skipna=True) == "string")):
            return None
        uniq = [*cats.tolist(), ""]
        texts = [t.encode("utf-8") for t in
                 _format_fields([neutralise(_value_text(v)) for v in uniq], sep)]
        if any(b"\0" in t for t in texts):  # NUL marks unused bytes here
            return None
        if tables is not None:
            tables[id(cats)] = texts
        return _CodesColumn(codes, texts)
    else:
        if isinstance(dtype, np.dtype) and dtype.kind == "O":
            if infer_dtype(series, skipna=True) not in ("string", "empty"):
                return None
        elif not (isinstance(dtype, pd.StringDtype)
                  or (isinstance(dtype, np.dtype) and dtype.kind in "biu")
                  or isinstance(dtype, pd.Int64Dtype)):
            return None
        fcodes, funiq = pd.factorize(series, use_na_sentinel=False)
        codes, uniq = np.asarray(fcodes, dtype=np.int64), list(funiq)
    text = [_value_text(v) for v in uniq]
    if not (isinstance(dtype, np.dtype) and dtype.kind in "biu") \
            and not isinstance(dtype, pd.Int64Dtype):
        text = [neutralise(t) for t in text]
    texts = [t.encode("utf-8") for t in _format_fields(text, sep)]
    if any(b"\0" in t for t in texts):  # NUL marks unused bytes here
        return None
    return _CodesColumn(codes, texts)


def csv_chunks(df: pd.DataFrame, sep: str = ",", decimal: str = ".",
               encoding: str = "utf-8", header: bool = True,
               tables: dict[int, list[bytes]] | None = None) -> Iterator[bytes] | None:
    """The bytes of ``df.to_csv(index=False, lineterminator="\\n", sep=..., decimal=...,
    encoding=...)``, chunk after chunk; None where this writer does not support the table.

    `header=False` leaves out the header line (and BOM). `tables` caches the formatted
    categories of categorical columns by ``id(categories)`` across calls whose frames share
    the same categories object (`write_csv_frames`).
    """
    enc = encoding.replace("-", "").replace("_", "").lower()
    if len(df.columns) < 2 or not df.columns.is_unique or enc not in ("utf8", "utf8sig") \
            or len(sep) != 1:
        return None
    columns: list[_FloatColumn | _CodesColumn | _ConstColumn] = []
    for i, name in enumerate(df.columns):
        s = df[name]
        if i:
            columns.append(_ConstColumn(sep.encode()))
        col: _FloatColumn | _CodesColumn | None
        if isinstance(s.dtype, np.dtype) and s.dtype == np.float64:
            col = _FloatColumn(s.to_numpy(), decimal.encode())
        else:
            col = _codes_column(s, sep, tables)
        if col is None:
            return None
        columns.append(col)
    columns.append(_ConstColumn(b"\n"))
    head = ""
    if header:
        line = io.StringIO()
        csv.writer(line, delimiter=sep, lineterminator="\n", quoting=csv.QUOTE_MINIMAL
                   ).writerow([str(c) for c in df.columns])
        head = ("\ufeff" if enc == "utf8sig" else "") + line.getvalue()
    return _chunks(columns, len(df), head.encode("utf-8"))


def _chunks(columns: list[_FloatColumn | _CodesColumn | _ConstColumn], n: int,
            head: bytes) -> Iterator[bytes]:
    """The rows' bytes, CHUNK_ROWS rows at a time, in order. Chunks are laid out on
    CHUNK_THREADS threads (NumPy releases the GIL; the columns are only read), at most twice
    that many ahead of the consumer, so a large table's formatting uses a second core."""
    if head:
        yield head
    width = sum(c.width for c in columns)

    def layout(start: int) -> bytes:
        stop = min(start + CHUNK_ROWS, n)
        data = np.empty((stop - start, width), dtype=np.uint8)
        at = 0
        for c in columns:
            c.fill(data[:, at:at + c.width], start, stop)
            at += c.width
        return data[data != 0].tobytes()

    starts = range(0, n, CHUNK_ROWS)
    if len(starts) < 2 or CHUNK_THREADS < 2:
        for start in starts:
            yield layout(start)
        return
    pending: deque[Future[bytes]] = deque()
    with ThreadPoolExecutor(CHUNK_THREADS) as pool:
        try:
            for start in starts:
                pending.append(pool.submit(layout, start))
                if len(pending) >= 2 * CHUNK_THREADS:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for fut in pending:
                fut.cancel()


def write_csv_frames(frames: Iterable[pd.DataFrame], path: Path, sep: str = ",",
                     decimal: str = ".", encoding: str = "utf-8") -> str:
    """Write the row-wise concatenation of `frames` (same columns; at least one) as
    `write_csv` writes the whole table, holding one frame at a time; returns the sha256.

    Each row's text depends on that row alone, so the bytes are those of the whole table.
    Categorical columns whose frames share one categories object are formatted once.
    """
    h = hashlib.sha256()
    tables: dict[int, list[bytes]] = {}
    first = True
    with open(path, "wb") as f:
        for df in frames:
            chunks = csv_chunks(df, sep=sep, decimal=decimal, encoding=encoding, header=first,
                                tables=tables)
            if chunks is None:
                text = safe_frame(df).to_csv(index=False, header=first, lineterminator="\n",
                                             sep=sep, decimal=decimal)
                chunks = iter([text.encode(encoding if first else "utf-8")])
            first = False
            for chunk in chunks:
                h.update(chunk)
                f.write(chunk)
    return h.hexdigest()


def write_csv(df: pd.DataFrame, path: Path, sep: str = ",", decimal: str = ".",
              encoding: str = "utf-8") -> str:
    """Write `df` as ``to_csv(index=False, lineterminator="\\n")`` would; returns the sha256."""
    h = hashlib.sha256()
    chunks = csv_chunks(df, sep=sep, decimal=decimal, encoding=encoding)
    if chunks is None:
        buf = safe_frame(df).to_csv(index=False, lineterminator="\n", sep=sep, decimal=decimal)
        chunks = iter([buf.encode(encoding)])
    with open(path, "wb") as f:
        for chunk in chunks:
            h.update(chunk)
            f.write(chunk)
    return h.hexdigest()
