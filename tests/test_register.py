"""The register entry lists exactly the inputs the scoring, hard rules and solver read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fairness_cohort import make_cohort
from typer.testing import CliRunner

from matcher.cli import app
from matcher.i18n import language
from matcher.load import load_instance
from matcher.policy import default_policy, policy_from_dict
from matcher.register import DERIVED, INPUTS, register_entry, register_inputs, register_markdown
from matcher.round import make_problem, run_round
from matcher.scoring.components import COMPONENT_FUNCTIONS, COMPONENTS
from matcher.scoring.eligibility import FILTERS, eligible_pairs, filter_failures
from matcher.scoring.table import build_edges

PILOT = Path(__file__).resolve().parents[1] / "matcher" / "data" / "pilot"
COUNTS = {"n_candidates", "n_options", "n_organisations"}


class TracedFrame:
    """A DataFrame stand-in that records which columns are read."""

    def __init__(self, df, table: str, log: set) -> None:
        self._df, self._table, self._log = df, table, log

    def _note(self, key: Any) -> None:
        for k in key if isinstance(key, list) else [key]:
            if isinstance(k, str):
                self._log.add((self._table, k))

    def __getitem__(self, key: Any):
        self._note(key)
        out = self._df[key]
        return TracedFrame(out, self._table, self._log) if hasattr(out, "columns") else out

    def __len__(self) -> int:
        return len(self._df)

    def __contains__(self, key: Any) -> bool:
        return key in self._df

    @property
    def iloc(self):
        frame = self

        class _I:
            def __getitem__(self, key):
                return TracedFrame(frame._df.iloc[key], frame._table, frame._log)
        return _I()

    @property
    def loc(self):
        frame = self

        class _L:
            def __getitem__(self, key):
                if isinstance(key, tuple):
                    frame._note(key[1])
                out = frame._df.loc[key]
                return TracedFrame(out, frame._table, frame._log) if hasattr(out, "columns") else out
        return _L()

    def __getattr__(self, name: str):
        if name in self._df.columns:
            self._log.add((self._table, name))
        return getattr(self._df, name)


class TracedInstance:
    def __init__(self, inst, log: set) -> None:
        self._inst, self._log = inst, log

    def __getattr__(self, name: str):
        value = getattr(self._inst, name)
        if name in ("candidates", "options", "organisations", "decisions"):
            return TracedFrame(value, name, self._log)
        if not callable(value) and name not in COUNTS:
            self._log.add(("instance", name))
        if name in ("locks", "forbids"):
            self._log.update(("decisions", c) for c in ("decision", "cand", "opt"))
        return value


def as_files(log: set) -> set[tuple[str, str]]:
    return {DERIVED.get(k, (f"{k[0]}.csv", k[1])) for k in log}


def as_round_files(inst, log: set) -> set[tuple[str, str]]:
    """The files a round read; with no routes.csv, seeing the chain's empty table reads no file."""
    assert inst.routes.empty
    return as_files(log - {("instance", "routes")})


@pytest.fixture(scope="module")
def pilot():
    inst, _ = load_instance(PILOT)
    cand, opt, dist = eligible_pairs(inst)
    return inst, cand, opt, dist


@pytest.mark.parametrize("name", COMPONENTS)
def test_each_component_reads_what_the_register_says(pilot, name: str) -> None:
    inst, cand, opt, dist = pilot
    log: set = set()
    COMPONENT_FUNCTIONS[name](TracedInstance(inst, log), cand, opt, dist, default_policy())
    reads = as_files(log)
    if name == "travel":  # the travel score reads the distance the rules computed from locations
        reads |= {("candidates.csv", "location"), ("options.csv", "location")}
    assert reads == set(INPUTS[name])


def test_hard_rules_read_what_the_register_says(pilot) -> None:
    inst, cand, opt, _ = pilot
    log: set = set()
    filter_failures(TracedInstance(inst, log), cand, opt)
    assert as_files(log) == {c for f in FILTERS for c in INPUTS[f"filter:{f}"]}


def test_a_whole_round_reads_exactly_the_registered_inputs(pilot) -> None:
    inst = pilot[0]
    log: set = set()
    traced = TracedInstance(inst, log)
    rnd = run_round(traced, default_policy())  # type: ignore[arg-type]
    make_problem(traced, build_edges(traced, default_policy()))  # type: ignore[arg-type]
    assert rnd.result.status == "optimal"
    assert as_round_files(inst, log) == set(register_inputs())
    assert not {c for _, c in register_inputs()} & {"gender", "age_band", "migration_background",
                                                   "disability", "target_group"}


def test_register_lists_components_rules_and_policy() -> None:
    pol = policy_from_dict({"weights": {"skills": 0.5, "sector": 0.5, "hours": 0, "travel": 0,
                                        "language": 0}})
    entry = register_entry(pol, "https://example.org/src")
    t = entry["technical_working"]
    assert [c["component"] for c in t["score_components"]] == list(COMPONENTS)
    assert [r["rule"] for r in t["hard_rules"]] == list(FILTERS)
    assert {c["component"]: c["weight"] for c in t["score_components"]}["skills"] == 0.5
    assert entry["policy_hash"] == pol.hash
    with language("nl"):  # the Dutch register's headings (the default language)
        md = register_markdown(register_entry(pol, "https://example.org/src"))
    for field in ("Naam", "Korte omschrijving", "Doel en impact", "Afwegingen",
                  "Menselijke tussenkomst", "Risicobeheer", "Wettelijke basis", "Databronnen",
                  "Technische werking", "Broncode", "Gebruiksinstructies"):
        assert f"## {field}" in md or f"# {field}" in md
    listed = {(d["file"], d["column"]) for d in entry["data_sources"]}
    assert listed == set(register_inputs())
    for f, c in listed:
        assert f"| {f} | {c} |" in md


def test_short_description_is_plain(pilot) -> None:
    text = register_entry(default_policy(), "x")["short_description"]
    sentences = [s for s in text.split(".") if s.strip()]
    assert max(len(s.split()) for s in sentences) <= 20
    assert np.mean([len(s.split()) for s in sentences]) <= 15


def test_cli_register(tmp_path: Path) -> None:
    out = tmp_path / "register.json"
    r = CliRunner().invoke(app, ["register", "--out", str(out), "--source-url", "https://x/y"])
    assert r.exit_code == 0, r.output
    data = json.loads(out.read_text())
    assert data["source_link"] == "https://x/y"
    r = CliRunner().invoke(app, ["register", "--out", str(tmp_path / "r.md")])
    assert r.exit_code == 0 and (tmp_path / "r.md").read_text().startswith("# Algoritmeregister")
    bad = tmp_path / "bad.toml"
    bad.write_text("[weights]\nskils = 1\n")
    r = CliRunner().invoke(app, ["register", "--policy", str(bad)])
    assert r.exit_code == 2 and "skils" in r.output


def test_fairness_policy_adds_target_group(tmp_path: Path) -> None:
    pol = policy_from_dict({"fairness": {"min_rate": {"statushouder": 0.2}}})
    inst, _ = load_instance(make_cohort(tmp_path / "d", n=80, seed=3, target_groups=True))
    log: set = set()
    run_round(TracedInstance(inst, log), pol)  # type: ignore[arg-type]
    assert as_round_files(inst, log) == set(register_inputs(pol))
    assert ("candidates.csv", "target_group") in set(register_inputs(pol))
    assert ("candidates.csv", "target_group") not in set(register_inputs(default_policy()))
    md = register_markdown(register_entry(pol, "x"))
    assert "at least 20% of statushouder placed" in md
    assert "Fairness options: off" in register_markdown(register_entry(default_policy(), "x"))
