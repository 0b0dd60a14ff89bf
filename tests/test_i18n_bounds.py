"""The policy-bound problems and the `_row` column warning in Dutch and English (issue #33):
codes and parameters, rendered through the catalogues; the English message is unchanged."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from matcher.errors import InputError
from matcher.i18n import language, problem_text
from matcher.load import load_instance
from matcher.policy import policy_from_dict

PILOT = Path(__file__).resolve().parents[1] / "matcher" / "data" / "pilot"


@pytest.mark.parametrize(("data", "column", "nl", "en"), [
    ({"weights": {"skills": float("inf")}}, "weights.skills",
     "moet een eindig getal zijn, maar kreeg inf", "must be a finite number, got inf"),
    ({"weights": {"skills": 1e300}}, "weights.skills",
     "mag hoogstens 1e+06 groot zijn, maar kreeg 1e+300", "must be at most 1e+06 in size"),
    ({"solver": {"lagrangian": {"iterations": 10**30}}}, "solver.lagrangian.iterations",
     "moet een heel getal zijn van hoogstens", "must be a whole number of at most"),
    ({"fairness": {"min_rate": {"women": float("nan")}}}, "fairness.min_rate.women",
     "moet een eindig getal zijn", "must be a finite number"),
    ({"sector": {"unwished": 3}}, "sector.unwished", "mag hoogstens 1.0 zijn", "at most 1"),
    ({"weights": {"skills": -1}}, "weights.skills", "moet minstens 0.0 zijn", "at least 0"),
    ({"weights": {"skils": 1}}, "weights.skils", "onbekende sleutel", "xtra"),
])
def test_policy_problems_in_dutch_and_english(data: dict[str, object], column: str, nl: str,
                                               en: str) -> None:
    with pytest.raises(InputError) as exc:
        policy_from_dict(data, "p.toml")
    (p,) = exc.value.problems
    assert p.column == column and p.code is not None
    with language("nl"):
        assert nl in problem_text(p) and f"kolom {column}" in problem_text(p)
    with language("en"):
        text = problem_text(p)
        assert text.startswith(f"p.toml, column {column}: ")
    assert en.lower() in p.message.lower() or en in text  # the stored message stays English


def test_a_row_column_is_warned_about_in_dutch(tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(PILOT, data)
    path = data / "candidates.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join([lines[0] + ",_row"] + [f"{x},7" for x in lines[1:]]) + "\n",
                    encoding="utf-8")
    _, warnings = load_instance(data)
    (w,) = [w for w in warnings if w.column == "_row"]
    with language("nl"):
        assert problem_text(w) == ("candidates.csv, rij 1, kolom _row: de kolomnaam _row gebruikt "
                                   "matcher zelf (het rijnummer in het rekenblad); de kolom wordt "
                                   "genegeerd")
    with language("en"):
        assert "is matcher's own" in problem_text(w)
