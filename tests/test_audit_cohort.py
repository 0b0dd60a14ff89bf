"""End to end: a round on a deliberately biased cohort raises the flag; an unbiased one does not."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fairness_cohort import make_cohort
from typer.testing import CliRunner

from matcher.cli import app


def run_audit(data: Path, out: Path) -> dict:
    result = CliRunner().invoke(app, ["run", str(data), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "audit.md").read_text().startswith("# Equal chances")
    return json.loads((out / "audit.json").read_text())


@pytest.fixture(scope="module")
def biased(tmp_path_factory: pytest.TempPathFactory) -> dict:
    base = tmp_path_factory.mktemp("biased")
    return run_audit(make_cohort(base / "d", n=600, biased=True), base / "o")


@pytest.fixture(scope="module")
def unbiased(tmp_path_factory: pytest.TempPathFactory) -> dict:
    base = tmp_path_factory.mktemp("unbiased")
    return run_audit(make_cohort(base / "d", n=600, biased=False), base / "o")


def test_biased_cohort_raises_the_flag(biased: dict) -> None:
    m = biased["attributes"]["migration_background"]
    assert m["disparate_impact"]["flag"] and m["disparate_impact"]["clear"]
    assert m["disparate_impact"]["lowest"] == "yes"
    assert m["disparate_impact"]["ci"][1] < 0.8
    assert any(f.startswith("disparate impact for migration_background") for f in biased["flags"])
    rates = {g["group"]: g["rate"] for g in m["placement"]}
    assert rates["yes"] < 0.8 * rates["no"]


def test_biased_cohort_names_the_proxy(biased: dict) -> None:
    top = biased["proxies"][0]
    assert (top["input"], top["attribute"], top["level"]) == (
        "dutch_level", "migration_background", "strong")
    others = [p for p in biased["proxies"] if p["attribute"] != "migration_background"]
    assert all(p["level"] != "strong" for p in others)


def test_unbiased_cohort_raises_no_flag(unbiased: dict) -> None:
    for name, entry in unbiased["attributes"].items():
        assert entry["disparate_impact"]["verdict"] == "ok", name
        assert entry["equal_opportunity"]["verdict"] == "ok", name
    for name, entry in unbiased["intersections"].items():
        assert not entry["disparate_impact"]["clear"], name
    assert not [p for p in unbiased["proxies"] if p["level"] == "strong"]


def test_group_sizes_add_up(biased: dict) -> None:
    for entry in biased["attributes"].values():
        assert sum(g["size"] for g in entry["placement"]) + entry["not_given"] == 600
        assert sum(g["placed"] for g in entry["placement"]) <= biased["overall"]["placed"]
    assert biased["overall"]["candidates"] == 600


def test_audit_is_deterministic_and_ignores_row_order(tmp_path: Path) -> None:
    import pandas as pd

    data = make_cohort(tmp_path / "d", n=120, biased=True, seed=9)
    CliRunner().invoke(app, ["run", str(data), "--out", str(tmp_path / "a")])
    first = (tmp_path / "a" / "audit.json").read_bytes()
    for name in ("protected", "candidates"):
        df = pd.read_csv(data / f"{name}.csv", dtype=str, keep_default_na=False)
        df.iloc[::-1].to_csv(data / f"{name}.csv", index=False)
    CliRunner().invoke(app, ["run", str(data), "--out", str(tmp_path / "b")])
    assert (tmp_path / "b" / "audit.json").read_bytes() == first
    assert (tmp_path / "b" / "audit.md").read_bytes() == (tmp_path / "a" / "audit.md").read_bytes()


def test_missing_rows_and_unknown_values_are_not_given(tmp_path: Path) -> None:
    import pandas as pd

    from matcher.audit import load_protected

    data = make_cohort(tmp_path / "d", n=60, seed=4)
    prot = pd.read_csv(data / "protected.csv", dtype=str, keep_default_na=False)
    prot.loc[0, "gender"] = "onbekend"
    prot.loc[1, "gender"] = ""
    prot.iloc[:-5][["candidate_id", "gender"]].to_csv(data / "protected.csv", index=False)
    ids = pd.read_csv(data / "candidates.csv", dtype=str)["candidate_id"]
    table, digest = load_protected(data / "protected.csv", ids)
    assert list(table.columns) == ["gender"] and len(table) == 60 and len(digest) == 64
    assert (table["gender"] == "").sum() == 7
    assert table["gender"].iat[2] == prot["gender"].iat[2]


def test_audit_of_written_round_equals_the_rounds_own(tmp_path: Path) -> None:
    data = make_cohort(tmp_path / "d", n=150, biased=True, seed=11)
    for dialect in ("standard", "excel-nl"):
        rnd = tmp_path / f"r-{dialect}"
        r = CliRunner().invoke(app, ["run", str(data), "--out", str(rnd), "--csv-dialect", dialect])
        assert r.exit_code == 0, r.output
        r = CliRunner().invoke(app, ["audit", str(data), str(rnd), "--out", str(tmp_path / "a")])
        assert r.exit_code == 0, r.output
        for name in ("audit.json", "audit.md"):
            assert (tmp_path / "a" / name).read_bytes() == (rnd / name).read_bytes()
    other = make_cohort(tmp_path / "other", n=150, biased=True, seed=12)
    r = CliRunner().invoke(app, ["audit", str(other), str(tmp_path / "r-standard")])
    assert r.exit_code == 2 and "input_hash" in r.output
