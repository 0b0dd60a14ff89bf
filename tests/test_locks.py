"""Locks that make a round infeasible are explained before any solving (issue 27, item 4):
which locks, over which limit, and what would have to change; exit 2 in the CLI."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from matcher.cli import app
from matcher.load import load_instance
from matcher.locks import lock_conflicts
from tests.conftest import write_tables

runner = CliRunner()
# Four people locked at TCK, whose guidance capacity is 7: they need 2 + 3 + 2 + 2 = 9 units.
TCK_LOCKS = pd.DataFrame({"candidate_id": ["P-005", "P-006", "P-009", "P-011"],
                          "option_id": ["TCK-KEUKEN", "TCK-KEUKEN", "TCK-BEDIENING",
                                        "TCK-BEDIENING"],
                          "decision": ["lock"] * 4, "reason": ["test"] * 4})


def text(output: str) -> str:
    return " ".join(output.split())


def test_guidance_over_capacity_names_the_locks_and_the_way_out(pilot: Path,
                                                                 tmp_path: Path) -> None:
    write_tables(pilot, {"decisions": TCK_LOCKS})
    inst, _ = load_instance(pilot)
    [problem] = lock_conflicts(inst)
    assert problem.file == "decisions.csv" and problem.code == "locks_over_guidance"
    assert problem.message == (
        "4 locks at TCK need 9 guidance units, TCK has 7: raise its guidance_capacity to 9 "
        "(organisations.csv) or undo locks that need 2 units or more (at least 1; guidance need "
        "in brackets): P-006 -> TCK-KEUKEN (3), P-005 -> TCK-KEUKEN (2), P-009 -> TCK-BEDIENING "
        "(2), P-011 -> TCK-BEDIENING (2)")
    result = runner.invoke(app, ["--lang", "en", "run", str(pilot), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and not (tmp_path / "o").exists()
    assert "4 locks at TCK need 9 guidance units, TCK has 7" in text(result.output)


def test_the_explanation_in_dutch(pilot: Path, tmp_path: Path) -> None:
    write_tables(pilot, {"decisions": TCK_LOCKS})
    result = runner.invoke(app, ["--lang", "nl", "run", str(pilot), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "4 vastgezette keuzes bij TCK hebben 9 begeleidingseenheden nodig, TCK heeft er 7" \
        in text(result.output)


def test_locks_that_fit_are_no_conflict(pilot: Path) -> None:
    write_tables(pilot, {"decisions": TCK_LOCKS.iloc[:3]})  # 7 units: exactly the capacity
    inst, _ = load_instance(pilot)
    assert lock_conflicts(inst) == []


def test_the_fewest_locks_to_undo(pilot: Path) -> None:
    # Needs 3, 2, 2, 2 and 1 (P-003) at TCK: 10 units for 7, so 3 too many; undoing the person
    # who needs 3 is enough (1 lock), not the three with the smallest needs.
    more = pd.concat([TCK_LOCKS, pd.DataFrame({"candidate_id": ["P-003"],
                                               "option_id": ["TCK-KEUKEN"],
                                               "decision": ["lock"], "reason": ["test"]})])
    write_tables(pilot, {"decisions": more})
    inst, _ = load_instance(pilot)
    [problem] = lock_conflicts(inst)
    assert problem.params is not None
    assert problem.params["excess"] == 3 and problem.params["undo"] == 1


def test_every_broken_limit_at_once(pilot: Path) -> None:
    # Five at TCK-KEUKEN (4 seats) who need 10 guidance units at TCK (7): two problems.
    five = pd.DataFrame({"candidate_id": ["P-003", "P-005", "P-006", "P-009", "P-011"],
                         "option_id": ["TCK-KEUKEN"] * 5, "decision": ["lock"] * 5,
                         "reason": ["test"] * 5})
    write_tables(pilot, {"decisions": five})
    inst, _ = load_instance(pilot)
    assert [p.code for p in lock_conflicts(inst)] == ["locks_over_seats", "locks_over_guidance"]
