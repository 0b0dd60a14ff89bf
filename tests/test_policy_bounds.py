"""Every number in a policy is finite and within bounds (issue #33, case 3; docs/security.md).

The class, not only the examples: every numeric key of the shipped default policy, whatever its
table layout, is set to each kind of absurd value and must be refused naming that key; the
shipped policies still load; files' numbers that overflow 64 bits get a clear message."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from matcher.cli import app
from matcher.csvio import MAX_WHOLE, ROW, parse_float, parse_int
from matcher.errors import InputError, Problems
from matcher.policy import MAX_DECIMAL, _default_dict, load_policy, policy_from_dict

POLICIES = Path(__file__).resolve().parents[1] / "matcher" / "policy"
ABSURD = [math.inf, -math.inf, math.nan, 1e308, 10**30, 2**63]


def numeric_keys(d: dict[str, Any], path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for k, v in d.items():
        if isinstance(v, dict):
            yield from numeric_keys(v, (*path, k))
        elif isinstance(v, (int, float, list)) and not isinstance(v, bool):
            yield (*path, k)


def nested(path: tuple[str, ...], value: object) -> dict[str, Any]:
    out: dict[str, Any] = {path[-1]: value}
    for k in reversed(path[:-1]):
        out = {k: out}
    return out


KEYS = sorted(numeric_keys(_default_dict()))


def test_the_walk_sees_the_policy() -> None:
    assert len(KEYS) > 40 and ("weights", "skills") in KEYS


@pytest.mark.parametrize("key", KEYS, ids=".".join)
def test_every_number_is_finite_and_bounded(key: tuple[str, ...]) -> None:
    current = _default_dict()
    for k in key:
        current = current[k]
    for value in ABSURD:
        v: object = [value] if isinstance(current, list) else value
        with pytest.raises(InputError) as exc:
            policy_from_dict(nested(key, v), "p.toml")
        assert any(p.column == ".".join(key) for p in exc.value.problems), (value, exc.value)


def test_absurd_values_in_tables_of_settings_are_refused() -> None:
    with pytest.raises(InputError, match=r"rate_div: must be a whole number"):
        policy_from_dict({"solver": {"parts": {"lagrangian": {"rate_div": 10**20}}}})
    with pytest.raises(InputError, match="finite"):
        policy_from_dict({"fairness": {"min_rate": {"statushouder": math.nan}}})


@pytest.mark.parametrize("name", ["default.toml", "regional.toml", "national.toml"])
def test_shipped_policies_are_within_the_bounds(name: str) -> None:
    load_policy(POLICIES / name)


def test_a_big_but_sane_value_is_kept() -> None:
    p = policy_from_dict({"weights": {"skills": MAX_DECIMAL}})
    assert p.weights.skills == MAX_DECIMAL


def test_cli_names_the_key(tmp_path: Path) -> None:
    pol = tmp_path / "p.toml"
    pol.write_text("[weights]\nskills = inf\n")
    result = CliRunner().invoke(app, ["validate", "--policy", str(pol)])
    assert result.exit_code == 2
    assert "p.toml, column weights.skills: must be a finite number" in result.output


def test_whole_numbers_that_overflow_get_a_clear_message() -> None:
    df = pd.DataFrame({ROW: [2, 3, 4], "n": [str(2**70), str(2**63), "-" + str(2**70)],
                       "x": ["9" * 400, "1,5", "2"]})
    problems = Problems()
    parse_int(df, "n", problems, "f.csv")
    parse_float(df, "x", problems, "f.csv", maximum=None)
    text = [str(p) for p in problems.items]
    assert f"f.csv, row 2, column n: must be at most {MAX_WHOLE}, got '{2**70}'" in text
    assert f"f.csv, row 3, column n: must be at most {MAX_WHOLE}, got '{2**63}'" in text
    assert f"f.csv, row 4, column n: must be at least 0, got '-{2**70}'" in text
    assert any(t.startswith("f.csv, row 2, column x: expected a number") for t in text)
    assert len(text) == 4
