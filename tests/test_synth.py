"""The synthetic-region generator: reproducible, loadable, distributed as documented."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from matcher.cli import app
from matcher.load import load_instance
from matcher.synth import distributions as D
from matcher.synth import generate, region_names, write_generated
from matcher.synth.regions import N_REGIONS, postcode_areas


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    a = write_generated(generate(500, "utrecht", 7), tmp_path / "a")
    b = write_generated(generate(500, "utrecht", 7), tmp_path / "b")
    c = write_generated(generate(500, "utrecht", 8), tmp_path / "c")
    assert _digest(a) == _digest(b)
    assert _digest(a)["candidates.csv"] != _digest(c)["candidates.csv"]
    assert {"organisations.csv", "options.csv", "candidates.csv", "protected.csv",
            "decisions.csv", "generator.json"} <= set(_digest(a))


def test_generated_folder_loads_without_problems(tmp_path: Path) -> None:
    folder = write_generated(generate(1500, "utrecht", 3), tmp_path / "d")
    inst, warnings = load_instance(folder)
    assert warnings == []
    assert inst.n_candidates == 1500
    assert len(inst.locks()) >= 1 and len(inst.forbids()) >= 1
    assert set(inst.options["sector"]) <= set(D.SECTORS)


def test_distributions_as_documented() -> None:
    g = generate(40_000, "utrecht", 11)
    c, o = g.candidates, g.options
    level = c["dutch_level"].map({v: i for i, v in enumerate(D.LEVELS)}).to_numpy()
    # Language skewed low: most people at B1 or below, median A2.
    assert (level <= 3).mean() > 0.7
    assert np.median(level) == 2
    share = np.bincount(level, minlength=7) / len(level)
    assert np.allclose(share, D.CAND_LEVEL_P, atol=0.01)
    # Mostly part-time, guidance mostly 1-2, capacities 1..15, about 0.7 seats per person.
    assert (c["hours_available"] < 32).mean() > 0.7
    assert c["guidance_need"].isin([1, 2]).mean() > 0.75
    assert o["capacity"].between(1, 15).all()
    assert 0.6 < o["capacity"].sum() / len(c) < 0.8
    # Every location is a real postcode area of the region.
    areas = postcode_areas()
    utrecht = set(areas.pc4[areas.region == areas.names.index("utrecht")])
    assert set(c["postcode"]) <= utrecht and set(o["postcode"]) <= utrecht
    # Clustered around towns: the busiest tenth of the postcode areas hosts far more than a tenth.
    counts = np.sort(o["postcode"].value_counts().to_numpy())[::-1]
    assert counts[: max(1, len(utrecht) // 10)].sum() > 0.25 * len(o)
    # Guidance budgets below what the seats would need at the mean need: they can bind.
    mean_need = float((np.arange(4) * D.NEED_P).sum())
    assert g.organisations["guidance_capacity"].sum() < o["capacity"].sum() * mean_need


def test_regions_are_deterministic_and_cover_the_country() -> None:
    names = region_names()
    assert len(names) == N_REGIONS == len(set(names))
    assert "utrecht" in names and "amsterdam" in names
    areas = postcode_areas()
    assert np.bincount(areas.region, minlength=N_REGIONS).min() > 10
    g = generate(3000, "all", 1)
    assert g.candidates["region"].nunique() > 20


def test_unknown_region_is_an_input_error(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["generate", "-n", "10", "--region", "atlantis",
                                   "--out", str(tmp_path / "x")])
    assert res.exit_code == 2
    assert not (tmp_path / "x").exists()


def test_generate_then_run_25_candidates(tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(app, ["generate", "-n", "25", "--seed", "4", "--out", str(tmp_path / "d")])
    assert res.exit_code == 0, res.output
    meta = json.loads((tmp_path / "d" / "generator.json").read_text())
    assert meta["candidates"] == 25
    res = runner.invoke(app, ["run", str(tmp_path / "d"), "--out", str(tmp_path / "r")])
    assert res.exit_code == 0, res.output
    summary = json.loads((tmp_path / "r" / "round.json").read_text())
    assert summary["counts"]["candidates"] == 25
    assert summary["solver"]["objective"] <= summary["solver"]["bound"] + 1e-9


def test_write_refuses_a_foreign_folder(tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(Exception, match="does not hold generated data"):
        write_generated(generate(10, "utrecht", 0), tmp_path / "mine")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def test_chain_adds_routes_and_leaves_every_other_table_as_it_was(tmp_path: Path) -> None:
    plain = write_generated(generate(400, "utrecht", 5), tmp_path / "plain")
    chain = write_generated(generate(400, "utrecht", 5, chain=True), tmp_path / "chain")
    again = write_generated(generate(400, "utrecht", 5, chain=True), tmp_path / "again")
    for name in ("organisations.csv", "candidates.csv", "protected.csv", "decisions.csv"):
        assert (plain / name).read_bytes() == (chain / name).read_bytes()
    assert not (plain / "routes.csv").exists()
    for name in ("options.csv", "routes.csv", "generator.json"):
        assert (chain / name).read_bytes() == (again / name).read_bytes()
    base = pd.read_csv(plain / "options.csv", dtype=str, keep_default_na=False)
    opts = pd.read_csv(chain / "options.csv", dtype=str, keep_default_na=False)
    assert opts[base.columns].equals(base)  # the same options, with four columns more
    inst, warnings = load_instance(chain)
    assert not warnings
    per_programme = inst.routes.groupby("programme_id").size()
    assert per_programme.between(1, 3).all()
    assert len(per_programme) == int((inst.options["kind"] == "programme").sum())
    assert (inst.options["min_participants"] > 0).any()
    assert (inst.options["capacity_hours"] >= 0).any()
