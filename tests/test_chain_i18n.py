"""The chain's problems are codes with parameters (matcher.i18n.PROBLEM_MESSAGES): shown in
Dutch by default, in English with ``--lang en``, the English message kept for the records."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from matcher.cli import app
from matcher.errors import InputError, Problem
from matcher.i18n import PROBLEM_MESSAGES, language, problem_message
from matcher.load import load_instance
from tests.conftest import read_tables, write_tables
from tests.test_chain_data import BAD, _chain_folder

runner = CliRunner()


def _problems(folder: Path) -> list[Problem]:
    with pytest.raises(InputError) as exc:
        load_instance(folder)
    return exc.value.problems


def _check_translated(p: Problem, caplog: pytest.LogCaptureFixture) -> None:
    assert p.code in PROBLEM_MESSAGES, p
    with language("en"):
        english = problem_message(p)
    with language("nl"):
        dutch = problem_message(p)
    assert "do not fit its message" not in caplog.text  # the parameters fill the template
    assert english == p.message  # the code says what the English record says
    assert dutch != english


@pytest.mark.parametrize(("table", "key", "value", "column", "new", "words"), BAD)
def test_every_bad_chain_value_has_a_code(pilot: Path, table, key, value, column, new, words,
                                          caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.WARNING)
    _chain_folder(pilot)
    t = read_tables(pilot)
    df = t[table]
    if column not in df.columns:
        df[column] = ""
    df.loc[df.index[df[key] == value][0], column] = new
    write_tables(pilot, {table: df})
    problems = _problems(pilot)
    assert problems
    for p in problems:
        _check_translated(p, caplog)


def test_route_problems_have_codes(pilot: Path, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.WARNING)
    _chain_folder(pilot)
    t = read_tables(pilot)
    routes = pd.concat([t["routes"], t["routes"].iloc[[0]]], ignore_index=True)
    dec = t["decisions"].assign(next_option_id="")
    dec.loc[len(dec)] = ["P-003", "TCK-BEDIENING", "lock", "r", "COMPASS-CATERING"]
    dec.loc[len(dec)] = ["P-004", "TCK-KEUKEN", "forbid", "r", ""]
    dec.loc[len(dec)] = ["P-004", "TCK-KEUKEN", "lock", "r", "COMPASS-CATERING"]
    write_tables(pilot, {"routes": routes, "decisions": dec})
    codes = {p.code for p in _problems(pilot)}
    assert {"route_twice", "route_unknown", "route_lock_forbidden"} <= codes
    for p in _problems(pilot):
        _check_translated(p, caplog)


def test_fairness_with_chain_inputs_is_refused_in_dutch(pilot: Path, tmp_path: Path):
    _chain_folder(pilot)
    policy = tmp_path / "fair.toml"
    policy.write_text("[fairness]\nmax_min = true\n")
    out = tmp_path / "out"
    result = runner.invoke(app, ["--lang", "nl", "run", str(pilot), "--policy", str(policy),
                                 "--out", str(out)])
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert ("fout: policy, kolom fairness: de eerlijkheidsopties zijn niet beschikbaar in een "
            "ronde met ketengegevens") in text
    assert not out.exists()
    result = runner.invoke(app, ["--lang", "en", "whatif", str(pilot), "--policy", str(policy),
                                 "--set", "options.TCK-KEUKEN.capacity=+1", "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "the fairness options are not available" in " ".join(result.output.split())
    assert not out.exists()
