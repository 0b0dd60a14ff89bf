"""The fast CSV writer writes exactly the bytes of DataFrame.to_csv (of the table with its text
cells neutralised against formula injection, `csvout.safe_frame`)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from matcher import csvout
from matcher.round import CSV_DIALECTS

TRICKY_FLOATS = [0.0, -0.0, 1.0, 0.5, 0.001, 0.000999, 0.0001, 3.4e-05, 1e-06, 999.999999,
                 1000.0, 12345.678, 1e16, 1e22, -0.25, -3.4e-05, np.nan, np.inf, -np.inf,
                 0.1 + 0.2, 1 / 3, 2.675, 17.632, 1.719205, 0.8185700000000001, 5e-324]


def _frame(n: int = 3000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    floats = np.concatenate([np.array(TRICKY_FLOATS), rng.random(n)])
    m = len(floats)
    ids = np.array(["C1", "a,b", 'say "hi"', "x;y", "line\nbreak", "cr\rx", "", " pad ", "é€",
                    "=1+1", "@SUM(1)", "+cmd", "-2+3", "\tx", "'=x", "\uff1d1"], dtype=object)
    return pd.DataFrame({
        "id": ids[rng.integers(0, len(ids), m)],
        "score": np.round(floats, 6),
        "raw": floats,
        "km": np.round(rng.random(m) * 300, 3),
        "flag": rng.random(m) < 0.5,
        "n": rng.integers(-5, 100, m),
        "opt": pd.Categorical.from_codes(rng.integers(-1, 3, m), categories=["O1", "O;2", "=O3"]),
        "maybe": pd.array(np.where(rng.random(m) < 0.2, None, rng.integers(0, 9, m)),
                          dtype="Int64"),
        "text": pd.Series(ids[rng.integers(0, len(ids), m)], dtype="str"),
    })


@pytest.mark.parametrize("threads", [1, 3])
@pytest.mark.parametrize("dialect", list(CSV_DIALECTS))
def test_same_bytes_as_pandas(tmp_path, monkeypatch, dialect, threads):
    monkeypatch.setattr(csvout, "CHUNK_ROWS", 500)  # several chunks, more than threads ahead
    monkeypatch.setattr(csvout, "CHUNK_THREADS", threads)
    df = _frame()
    opts = CSV_DIALECTS[dialect]
    assert csvout.csv_chunks(df, **opts) is not None  # the fast path is taken
    path = tmp_path / "fast.csv"
    digest = csvout.write_csv(df, path, **opts)
    csvout.safe_frame(df).to_csv(tmp_path / "pandas.csv", index=False, lineterminator="\n", **opts)
    expected = (tmp_path / "pandas.csv").read_bytes()
    assert path.read_bytes() == expected
    import hashlib

    assert digest == hashlib.sha256(expected).hexdigest()


@pytest.mark.parametrize("df", [
    pd.DataFrame({"only": ["", "a"]}),  # one column: an empty field is quoted
    pd.DataFrame({"a": ["x\0y", "z"], "b": [1, 2]}),  # NUL in text
    pd.DataFrame({"a": [1.5, 2.5], "b": np.array([1, 2], dtype=np.float32)}),
    pd.DataFrame({"a": [1, "x"], "b": [1, 2]}),  # mixed object column
    pd.DataFrame({"a": [1, "=x"], "b": [-1, 2]}),  # mixed, with a formula
    pd.DataFrame({"a": pd.Series([], dtype=float), "b": pd.Series([], dtype=str)}),
])
def test_fallback_or_same(tmp_path, df):
    for opts in CSV_DIALECTS.values():
        csvout.write_csv(df, tmp_path / "fast.csv", **opts)
        csvout.safe_frame(df).to_csv(tmp_path / "pandas.csv", index=False, lineterminator="\n", **opts)
        assert (tmp_path / "fast.csv").read_bytes() == (tmp_path / "pandas.csv").read_bytes()


@pytest.mark.parametrize("dialect", list(CSV_DIALECTS))
def test_pieces_give_the_bytes_of_the_whole(tmp_path, dialect):
    """write_csv_frames over row pieces (sharing categories) writes the whole table's bytes."""
    df = _frame(5000, seed=1)
    cats = pd.Index(["O1", "O;2", "=O3"])
    df["opt"] = pd.Categorical.from_codes(df["opt"].cat.codes, categories=cats)
    opts = CSV_DIALECTS[dialect]
    whole = csvout.write_csv(df, tmp_path / "whole.csv", **opts)
    pieces = (pd.DataFrame({c: (pd.Categorical.from_codes(df[c].cat.codes.to_numpy()[a:a + 777],
                                                          categories=cats)
                                if c == "opt" else df[c].iloc[a:a + 777].reset_index(drop=True))
                            for c in df.columns})
              for a in range(0, len(df), 777))
    digest = csvout.write_csv_frames(pieces, tmp_path / "pieces.csv", **opts)
    assert (tmp_path / "pieces.csv").read_bytes() == (tmp_path / "whole.csv").read_bytes()
    assert digest == whole
    # An unsupported piece (one column) falls back to pandas without a second header.
    one = pd.DataFrame({"only": ["a", "", "=b"]})
    csvout.write_csv_frames([one.iloc[:1], one.iloc[1:]], tmp_path / "one.csv", **opts)
    csvout.safe_frame(one).to_csv(tmp_path / "one_pd.csv", index=False, lineterminator="\n", **opts)
    assert (tmp_path / "one.csv").read_bytes() == (tmp_path / "one_pd.csv").read_bytes()


def test_edge_table_in_pieces_is_edges_csv(tmp_path):
    """edges.csv written piece by piece is the whole table's CSV, in both dialects."""
    from matcher.cli.round_commands import pilot_dir
    from matcher.load import load_instance
    from matcher.policy import load_policy
    from matcher.scoring import build_edges

    inst, _ = load_instance(pilot_dir())
    edges = build_edges(inst, load_policy(None))
    whole = edges.to_frame(inst, categorical_ids=True)
    pieces = list(edges.to_frames(inst, categorical_ids=True, rows=17))
    assert len(pieces) > 2
    pd.testing.assert_frame_equal(pd.concat(pieces, ignore_index=True).astype(whole.dtypes),
                                  whole)
    for opts in CSV_DIALECTS.values():
        a = csvout.write_csv(whole, tmp_path / "a.csv", **opts)
        b = csvout.write_csv_frames(iter(pieces), tmp_path / "b.csv", **opts)
        assert a == b
        assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
