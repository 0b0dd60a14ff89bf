"""The fast loading paths give exactly what the plain per-cell paths give."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matcher import csvio
from matcher.errors import Problems
from matcher.levels import LEVEL_RANK, parse_levels

cell = st.text(alphabet=st.sampled_from(list("ab1,;.: \t\u00a0é")), max_size=6)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.lists(cell, min_size=3, max_size=3), min_size=1, max_size=6),
       sep=st.sampled_from([",", ";", "\t"]), crlf=st.booleans())
def test_whole_text_strip_equals_per_cell_strip(tmp_path: Path, monkeypatch, rows, sep, crlf
                                                ) -> None:  # type: ignore[no-untyped-def]
    header = sep.join(["id", "x", "y"])
    body = [sep.join(r).replace("\n", "") for r in rows]
    text = ("\r\n" if crlf else "\n").join([header, *body]) + "\n"
    path = tmp_path / "t.csv"
    path.write_text(text, encoding="utf-8")

    def read() -> tuple[pd.DataFrame | None, list[str]]:
        problems = Problems()
        df = csvio.read_table(path, problems, ("id",))
        return df, [str(p) for p in problems.items]

    fast, fast_problems = read()
    with monkeypatch.context() as m:
        m.setattr(csvio, "_strip_fields_in_text", lambda text, sep: None)
        slow, slow_problems = read()
    assert fast_problems == slow_problems
    if slow is None:
        assert fast is None
    else:
        assert fast is not None
        pd.testing.assert_frame_equal(fast.reset_index(drop=True), slow.reset_index(drop=True))


@given(st.lists(st.sampled_from([*LEVEL_RANK, " b1", "a2 ", "x", "", "c2", "1f"]), max_size=30))
def test_levels_on_distinct_values_equal_per_cell(values: list[str]) -> None:
    got = parse_levels(pd.Series(values, dtype=object))
    want = np.array([LEVEL_RANK.get(v.strip().upper(), -1) for v in values], dtype=np.int8)
    assert np.array_equal(got, want)


@given(st.lists(st.sampled_from(["3", "3.0", "3,0", "-1", "x", "", " 4", "2.5", "7"]),
                min_size=1, max_size=30))
def test_parse_int_on_distinct_values_reports_every_row(values: list[str]) -> None:
    df = pd.DataFrame({"n": values, csvio.ROW: np.arange(2, len(values) + 2)})
    problems = Problems()
    got = csvio.parse_int(df, "n", problems, "f.csv", minimum=0, maximum=5)
    ok = [csvio._INT_RE.match(v) is not None for v in values]
    for i, v in enumerate(values):
        if ok[i]:
            assert got[i] == int(float(v.replace(",", ".")))
    bad_rows = {p.row for p in problems.items}
    expect = {i + 2 for i, v in enumerate(values)
              if not ok[i] or not 0 <= int(float(v.replace(",", "."))) <= 5}
    assert bad_rows == expect
