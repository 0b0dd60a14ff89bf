"""Column names a user may choose are kept apart from matcher's internal names (issue #33,
case 4; docs/security.md).

The class, not only `org` and `_row`: every name that parsing adds to a table (whatever the
instance's frames hold, of any table) and the row-number column, added as a column of the
user's own to each table, gives a warning naming it and the same instance as without it."""

from __future__ import annotations

from pathlib import Path

import pytest

from matcher.csvio import ROW
from matcher.errors import InputError
from matcher.load import REQUIRED, load_instance
from tests.conftest import PILOT, read_tables, write_tables

BASE, _ = load_instance(PILOT)
INTERNAL = sorted({ROW, "index", *BASE.organisations.columns, *BASE.options.columns,
                   *BASE.candidates.columns, *BASE.decisions.columns})
TABLES = ("organisations", "options", "candidates", "decisions")


def test_the_internal_names_are_found() -> None:
    assert {"org", "level", "cand", "opt", ROW} <= set(INTERNAL)


@pytest.mark.parametrize("table", TABLES)
def test_a_users_column_never_meets_an_internal_one(pilot: Path, table: str) -> None:
    t = read_tables(pilot)
    added = [c for c in INTERNAL if c not in t[table].columns]
    for col in added:
        t[table][col] = "7"
    write_tables(pilot, {table: t[table]})
    try:
        inst, warnings = load_instance(pilot)
    except InputError as exc:  # pragma: no cover - the failure shows what went wrong
        pytest.fail(f"refused: {exc}")
    assert inst.content_hash == BASE.content_hash
    named = {w.column for w in warnings if w.file == f"{table}.csv"}
    assert set(added) <= named, set(added) - named


def test_a_required_column_is_still_read(pilot: Path) -> None:
    """Only unknown columns are set aside: a typo in a known one still changes the answer."""
    t = read_tables(pilot)
    t["options"].loc[0, "capacity"] = "9"
    write_tables(pilot, {"options": t["options"]})
    inst, _ = load_instance(pilot)
    assert inst.content_hash != BASE.content_hash
    assert set(REQUIRED["options"]) <= set(inst.options.columns)
