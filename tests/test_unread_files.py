"""Files in a data folder that matcher does not read get a warning naming them and the files it
reads (issue #33, case 7 of the issue's list; docs/security.md)."""

from __future__ import annotations

import shutil
from pathlib import Path

from matcher.load import load_instance


def test_a_misspelt_file_is_named(pilot: Path) -> None:
    shutil.copy(pilot / "decisions.csv", pilot / "decision.csv")
    (pilot / "notes.txt").write_text("x")
    (pilot / ".hidden").write_text("x")
    _, warnings = load_instance(pilot)
    named = {w.file: w.message for w in warnings}
    assert "decision.csv" in named and "notes.txt" in named and ".hidden" not in named
    assert "candidates.csv" in named["decision.csv"]


def test_a_missing_table_beside_its_misspelling(pilot: Path) -> None:
    from matcher.errors import InputError

    (pilot / "candidates.csv").rename(pilot / "candidate.csv")
    try:
        load_instance(pilot)
    except InputError as exc:
        files = {p.file for p in exc.problems + exc.warnings}
        assert {"candidates.csv", "candidate.csv"} <= files
    else:
        raise AssertionError("a folder without candidates.csv was accepted")
