"""The shipped pilot round, end to end through the CLI, pinned; and its file-level guarantees."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from matcher.cli import app
from matcher.load import build_instance, load_instance
from matcher.policy import default_policy, policy_from_dict
from matcher.round import OUTPUT_FILES, run_round
from tests.conftest import PILOT, read_tables, write_tables

runner = CliRunner()


def run(data: Path | None, out: Path, *extra: str) -> dict:
    args = ["run", *([str(data)] if data else []), "--out", str(out), *extra]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return json.loads((out / "round.json").read_text())


def test_pilot_round_is_optimal_and_pinned(tmp_path: Path):
    meta = run(None, tmp_path / "r")
    assert meta["solver"]["status"] == "optimal"
    assert meta["solver"]["method"] == "highs_core"  # the pilot's guidance budgets bind
    assert meta["solver"]["guidance_binding"] is True
    assert meta["solver"]["gap"] == 0
    assert meta["solver"]["objective_micro"] == meta["solver"]["bound_micro"] == 34_383_385
    assert meta["counts"]["matched"] == 19
    assert meta["counts"]["unmatched_by_reason"] == {"guidance_capacity_exhausted": 3,
                                                    "no_eligible_option": 3}
    a = pd.read_csv(tmp_path / "r" / "assignments.csv", dtype={"locked": bool})
    pairs = dict(zip(a["candidate_id"], a["option_id"], strict=True))
    assert pairs["P-007"] == "COMPASS-CATERING"  # a coordinator's lock is kept
    assert a.loc[a["candidate_id"] == "P-007", "locked"].item()
    assert pairs.get("P-012") != "VEBEGO-SCHOONMAAK"  # a coordinator's forbid is respected
    assert pairs["P-003"] == "SPEC-TESTER" and pairs["P-018"] == "SPEC-TESTER"
    u = pd.read_csv(tmp_path / "r" / "unmatched.csv")
    assert dict(zip(u["candidate_id"], u["reason"], strict=True))["P-019"] == "no_eligible_option"
    util = pd.read_csv(tmp_path / "r" / "utilisation.csv")
    orgs = util[util["level"] == "organisation"]
    assert (orgs["guidance_used"] <= orgs["guidance_capacity"]).all()
    assert (util["seats_used"] <= util["seats"]).all()
    assert set(meta["outputs"]) == set(OUTPUT_FILES)
    # Everything that computes the answer is recorded, the JIT compiler of the auction too.
    assert {"ortools", "numpy", "scipy", "numba", "llvmlite"} <= set(meta["versions"])
    assert "unknown" not in meta["versions"].values()


def test_pilot_weights_in_edges_are_the_objective(tmp_path: Path):
    run(None, tmp_path / "r")
    a = pd.read_csv(tmp_path / "r" / "assignments.csv")
    e = pd.read_csv(tmp_path / "r" / "edges.csv")
    meta = json.loads((tmp_path / "r" / "round.json").read_text())
    merged = a.merge(e, on=["candidate_id", "option_id"], suffixes=("", "_edge"))
    assert len(merged) == len(a)
    assert np.allclose(merged["weight"], merged["weight_edge"])
    assert round(merged["weight"].sum(), 6) == meta["solver"]["objective"]
    w = default_policy().weights.as_dict()
    recomputed = sum(w[k] * e[k] for k in w) / sum(w.values())
    assert np.allclose(recomputed, e["score"], atol=2e-6)
    assert np.allclose(e["weight"], e["score"] + 1.0, atol=1e-6)


def _deterministic_files(out: Path) -> dict[str, bytes]:
    files = {name: (out / name).read_bytes() for name in OUTPUT_FILES}
    meta = json.loads((out / "round.json").read_text())
    meta.pop("run")
    files["round.json"] = json.dumps(meta, sort_keys=True).encode()
    return files


def test_same_output_whatever_the_row_order(tmp_path: Path):
    run(PILOT, tmp_path / "a")
    tables = read_tables(PILOT)
    rng = np.random.default_rng(7)
    shuffled = {k: v.iloc[rng.permutation(len(v))][list(rng.permutation(v.columns))]
                for k, v in tables.items()}
    write_tables(tmp_path / "data", shuffled)
    run(tmp_path / "data", tmp_path / "b")
    run(PILOT, tmp_path / "c")
    assert _deterministic_files(tmp_path / "a") == _deterministic_files(tmp_path / "b")
    assert _deterministic_files(tmp_path / "a") == _deterministic_files(tmp_path / "c")


def test_protected_columns_change_nothing(pilot: Path, tmp_path: Path):
    run(pilot, tmp_path / "a")
    prot = pd.read_csv(pilot / "protected.csv", dtype=str)
    rng = np.random.default_rng(3)
    for col in prot.columns[1:]:
        prot[col] = prot[col].to_numpy()[rng.permutation(len(prot))]
    prot.to_csv(pilot / "protected.csv", index=False)
    run(pilot, tmp_path / "b")
    (pilot / "protected.csv").unlink()
    run(pilot, tmp_path / "c")
    assert _deterministic_files(tmp_path / "a") == _deterministic_files(tmp_path / "b")
    assert _deterministic_files(tmp_path / "a") == _deterministic_files(tmp_path / "c")


def test_dutch_excel_csv_loads_as_is(tmp_path: Path):
    """`;` separator, decimal comma, UTF-8 with byte-order mark: the same round."""
    tables = read_tables(PILOT)
    for df in tables.values():
        for col in ("lat", "lon", "hours_available", "max_travel_km"):
            if col in df:
                df[col] = df[col].str.replace(".", ",", regex=False)
    write_tables(tmp_path / "nl", tables, sep=";", encoding="utf-8-sig")
    assert (tmp_path / "nl" / "candidates.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    run(PILOT, tmp_path / "a")
    run(tmp_path / "nl", tmp_path / "b")
    assert _deterministic_files(tmp_path / "a") == _deterministic_files(tmp_path / "b")


def test_excel_nl_output_dialect(tmp_path: Path):
    run(None, tmp_path / "r", "--csv-dialect", "excel-nl")
    raw = (tmp_path / "r" / "assignments.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    a = pd.read_csv(tmp_path / "r" / "assignments.csv", sep=";", decimal=",", encoding="utf-8-sig")
    assert a["score"].between(0, 1).all()


def test_rerun_replaces_an_earlier_round(tmp_path: Path):
    """A file the round did not write stops the re-run (issue #33: a user's own file is not
    deleted); with --force it is replaced."""
    run(None, tmp_path / "r")
    (tmp_path / "r" / "stale.csv").write_text("old")
    result = runner.invoke(app, ["run", "--out", str(tmp_path / "r")])
    assert result.exit_code == 2 and "stale.csv" in result.output
    run(None, tmp_path / "r", "--force")
    assert not (tmp_path / "r" / "stale.csv").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["r"]


def test_non_binding_guidance_is_solved_as_a_min_cost_flow():
    inst, _ = load_instance(PILOT)
    rich = inst.organisations.assign(guidance_capacity=1000)
    from dataclasses import replace

    rnd = run_round(replace(inst, organisations=rich), default_policy())
    assert rnd.result.method == "min_cost_flow"
    assert rnd.result.status == "optimal" and rnd.result.guidance_binding is False


def test_match_bonus_is_recorded_in_weight():
    inst, _ = load_instance(PILOT)
    rnd = run_round(inst, policy_from_dict({"objective": {"match_bonus": 0.0}}))
    assert np.allclose(rnd.edges.weight, rnd.edges.score)
    assert rnd.policy.hash != default_policy().hash


def test_validate_and_shortlist_commands():
    result = runner.invoke(app, ["validate", str(PILOT)])
    assert result.exit_code == 0 and "valid" in result.output
    result = runner.invoke(app, ["shortlist", str(PILOT), "TCK-KEUKEN", "-k", "3"])
    assert result.exit_code == 0 and "P-001" in result.output
    result = runner.invoke(app, ["shortlist", str(PILOT), "NOPE"])
    assert result.exit_code == 2 and "unknown option 'NOPE'" in result.output


def test_lock_outside_the_rules_is_kept_and_warned(pilot: Path, tmp_path: Path):
    dec = pd.DataFrame({"candidate_id": ["P-019"], "option_id": ["TCK-KEUKEN"],
                        "decision": ["lock"], "reason": ["coordinator knows better"]})
    write_tables(pilot, {"decisions": dec})
    result = runner.invoke(app, ["run", str(pilot), "--out", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    assert "lock of candidate 'P-019' to option 'TCK-KEUKEN' is outside the hard rules" in \
        result.output
    a = pd.read_csv(tmp_path / "r" / "assignments.csv")
    row = a[a["candidate_id"] == "P-019"]
    assert row["option_id"].item() == "TCK-KEUKEN"
    assert row["main_reason"].item() == "locked by a coordinator outside the hard rules"
    e = pd.read_csv(tmp_path / "r" / "edges.csv")
    assert not e[(e["candidate_id"] == "P-019")]["eligible"].item()


def test_input_hash_ignores_an_empty_optional_column_but_not_values():
    tables = read_tables(PILOT)
    with_protected = build_instance(tables)  # a protected table is ignored, with a warning
    tables.pop("protected")
    assert with_protected.content_hash == build_instance(tables).content_hash
    base = build_instance(tables).content_hash
    with_empty = {k: v.copy() for k, v in tables.items()}
    with_empty["candidates"]["target_group"] = ""
    assert build_instance(with_empty).content_hash == base
    with_value = {k: v.copy() for k, v in tables.items()}
    with_value["candidates"].loc[0, "hours_available"] = "25"
    assert build_instance(with_value).content_hash != base


def test_header_only_decisions_file_means_no_decisions(pilot: Path, tmp_path: Path):
    (pilot / "decisions.csv").write_text("candidate_id,option_id,decision,reason\n")
    meta = run(pilot, tmp_path / "r")
    assert meta["counts"]["locks"] == meta["counts"]["forbids"] == 0
    tables = read_tables(PILOT)
    tables.pop("protected")
    tables["decisions"] = tables["decisions"].iloc[0:0]
    assert len(build_instance(tables).decisions) == 0
