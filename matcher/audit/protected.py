"""Loading protected attributes (``protected.csv``), held apart from everything that scores or solves.

The file has ``candidate_id`` plus any of :data:`ATTRIBUTES`. It is read only by the audit (this
package); :mod:`matcher.load`, :mod:`matcher.scoring` and :mod:`matcher.solver` never import it
(tests/test_audit_separation.py proves this over the import graph and at run time).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from matcher.csvio import ROW, check_ids, check_refs, read_table
from matcher.errors import Problems

PROTECTED_FILE = "protected.csv"
ATTRIBUTES = ("gender", "age_band", "migration_background", "disability")
#: Cells with these values (or empty) mean "not given": the person is left out of that attribute.
NOT_GIVEN = ("", "unknown", "not given", "onbekend", "-")


def load_protected(path: Path, candidate_ids: pd.Series | np.ndarray) -> tuple[pd.DataFrame, str]:
    """Protected attributes aligned with the instance's candidates (canonical order), content hash.

    Returns a frame with one row per candidate (in the order of `candidate_ids`) and one column
    per attribute present in the file; "" where a value is not given or the person has no row.
    Unknown candidate ids, unknown columns and duplicate ids are errors naming file, row, column.
    """
    path = Path(path)
    problems = Problems()
    df = read_table(path, problems, ("candidate_id",))
    problems.raise_if_errors()
    assert df is not None
    f = path.name
    for col in df.columns:
        if col not in (ROW, "candidate_id", *ATTRIBUTES):
            problems.add(f, 1, col, f"unknown column (expected candidate_id and any of "
                                    f"{', '.join(ATTRIBUTES)})")
    check_ids(df, "candidate_id", problems, f)
    known = pd.Index(np.asarray(candidate_ids, dtype=object))
    pos = check_refs(df, "candidate_id", known, "candidates.csv", problems, f)
    problems.raise_if_errors()
    attrs = [a for a in ATTRIBUTES if a in df.columns]
    out = pd.DataFrame({a: np.full(len(known), "", dtype=object) for a in attrs})
    for a in attrs:
        values = df[a].astype(str).str.strip()
        values = values.where(~values.str.lower().isin(NOT_GIVEN), "")
        col = out[a].to_numpy(copy=True)
        col[pos] = values.to_numpy(dtype=object)
        out[a] = col
    return out, content_hash(df)


def content_hash(df: pd.DataFrame) -> str:
    """SHA-256 of the table's content, independent of row and column order."""
    body = df.drop(columns=[ROW])
    body = body[sorted(body.columns)].sort_values("candidate_id", kind="stable")
    return hashlib.sha256(body.to_csv(index=False, lineterminator="\n").encode()).hexdigest()
