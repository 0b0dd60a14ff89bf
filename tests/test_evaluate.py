"""`matcher evaluate`: the score judged by what happened (placement, retention, AUC, groups)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from matcher.audit.evaluate import auc, evaluate, load_outcomes
from matcher.cli import app
from matcher.errors import InputError
from matcher.scoring.components import COMPONENTS

HEADER = "candidate_id,option_id,event,date,reason\n"


def _round(folder: Path, n: int, seed: int) -> pd.DataFrame:
    """A written round's outputs as `evaluate` reads them: n proposals with scores in [0, 1]."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    a = pd.DataFrame({"candidate_id": [f"P-{i:04d}" for i in range(n)],
                      "option_id": [f"O-{i % 7}" for i in range(n)],
                      "organisation_id": [f"ORG-{i % 3}" for i in range(n)],
                      "score": rng.uniform(0, 1, n).round(6)})
    a.to_csv(folder / "assignments.csv", index=False)
    edges = a[["candidate_id", "option_id", "score"]].copy()
    for c in COMPONENTS:
        edges[c] = rng.uniform(0, 1, n).round(6)
    edges["skills"] = edges["score"]  # one component that carries the score
    edges.to_csv(folder / "edges.csv", index=False)
    return a


def _outcomes(path: Path, a: pd.DataFrame, p_start: np.ndarray, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    rows = []
    for (_, r), p in zip(a.iterrows(), p_start, strict=True):
        if rng.random() < p:
            rows.append((r.candidate_id, r.option_id, "started", "2026-01-05", ""))
            if rng.random() < 0.6:
                rows.append((r.candidate_id, r.option_id, "in_work_6m", "2026-07-06", ""))
            else:
                rows.append((r.candidate_id, r.option_id, "dropped_out", "2026-03-01", "moved"))
    pd.DataFrame(rows, columns=HEADER.strip().split(",")).to_csv(path, index=False)
    return path


def test_auc_equals_counting_every_pair() -> None:
    rng = np.random.default_rng(3)
    for _ in range(40):
        n = int(rng.integers(2, 12))
        score = rng.integers(0, 4, n).astype(float)  # ties on purpose
        outcome = rng.random(n) < 0.5
        got = auc(score, outcome)
        pos, neg = score[outcome], score[~outcome]
        if len(pos) == 0 or len(neg) == 0:
            assert got["auc"] is None
            continue
        wins = sum(1.0 if p > q else 0.5 if p == q else 0.0
                   for p, q in itertools.product(pos, neg))
        assert got["auc"] == pytest.approx(wins / (len(pos) * len(neg)), abs=1e-6)
        assert got["ci"][0] <= got["auc"] <= got["ci"][1]


def test_a_score_that_predicts_is_told_from_one_that_does_not(tmp_path: Path) -> None:
    a = _round(tmp_path / "r", 600, seed=1)
    good = evaluate([tmp_path / "r"], _outcomes(tmp_path / "good.csv", a, a["score"].to_numpy(),
                                                 seed=2))
    flat = evaluate([tmp_path / "r"], _outcomes(tmp_path / "flat.csv", a, np.full(600, 0.5),
                                                 seed=2))
    assert good["scores"]["score"]["placement"]["ci"][0] > 0.6
    assert good["scores"]["skills"]["placement"]["ci"][0] > 0.6  # the component carrying it
    assert good["scores"]["travel"]["placement"]["ci"][0] < 0.5 < \
        good["scores"]["travel"]["placement"]["ci"][1]  # a component that does not
    bands = good["score_bands"]
    assert len(bands) == 5 and sum(b["proposed"] for b in bands) == 600
    assert bands[-1]["placement"]["ci"][0] > bands[0]["placement"]["ci"][1]
    lo, hi = flat["scores"]["score"]["placement"]["ci"]
    assert lo < 0.5 < hi
    assert flat["overall"]["placement"]["ci"][0] < 0.5 < flat["overall"]["placement"]["ci"][1]
    assert {o["option_id"] for o in good["options"]} == {f"O-{i}" for i in range(7)}
    assert sum(o["proposed"] for o in good["organisations"]) == 600


def test_retention_counts_only_placements_due(tmp_path: Path) -> None:
    _round(tmp_path / "r", 4, seed=1)
    (tmp_path / "o.csv").write_text(HEADER + "\n".join([
        "P-0000,O-0,started,2026-01-05,",
        "P-0000,O-0,in_work_6m,2026-07-06,",      # due, still in work
        "P-0001,O-1,started,2026-01-08,",          # due, not in work at 6 months
        "P-0001,O-1,dropped_out,2026-02-01,te ver",
        "P-0002,O-2,started,2026-06-01,",          # started a month ago: not due yet
        "P-0003,O-3,in_work_3m,2026-07-01,",       # implies started (2026-07-01: not due)
        "P-0999,O-0,started,2026-01-05,",          # a pair no round proposed
    ]) + "\n")
    report = evaluate([tmp_path / "r"], tmp_path / "o.csv", as_of="2026-07-10")
    o = report["overall"]
    assert o["placement"]["k"] == 4 and o["placement"]["n"] == 4
    assert (o["retention_6m"]["k"], o["retention_6m"]["n"]) == (1, 2)
    assert o["dropped_out"] == 1 and report["outcomes_not_proposed"] == 1
    later = evaluate([tmp_path / "r"], tmp_path / "o.csv", as_of="2027-01-31")
    assert later["overall"]["retention_6m"]["n"] == 4  # all due now; two not in work


@pytest.mark.parametrize("line, column", [
    ("P-1,O-1,hired,2026-01-05,", "event"),
    ("P-1,O-1,started,05-01-2026,", "date"),
    ("P-1,O-1,started,2026-02-30,", "date"),
    (",O-1,started,2026-01-05,", "candidate_id"),
    ("P-1,,started,2026-01-05,", "option_id"),
])
def test_bad_outcome_rows_name_row_and_column(tmp_path: Path, line: str, column: str) -> None:
    path = tmp_path / "outcomes.csv"
    path.write_text(HEADER + "P-0,O-0,started,2026-01-05,\n" + line + "\n")
    with pytest.raises(InputError) as exc:
        load_outcomes(path)
    assert [(p.file, p.row, p.column) for p in exc.value.problems] == [
        ("outcomes.csv", 3, column)]


def test_unknown_columns_and_repeated_events_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "outcomes.csv"
    path.write_text("candidate_id,option_id,event,date,salary\nP-0,O-0,started,2026-01-05,9\n")
    with pytest.raises(InputError, match="salary"):
        load_outcomes(path)
    path.write_text(HEADER + "P-0,O-0,started,2026-01-05,\nP-0,O-0,started,2026-01-06,\n")
    with pytest.raises(InputError) as exc:
        load_outcomes(path)
    assert [(p.row, p.column) for p in exc.value.problems] == [(3, "event")]


def test_groups_get_outcome_rates_and_protected_attributes_change_nothing_else(
        tmp_path: Path) -> None:
    a = _round(tmp_path / "r", 400, seed=4)
    outcomes = _outcomes(tmp_path / "o.csv", a, a["score"].to_numpy(), seed=5)
    groups = np.where(np.arange(400) % 20 == 0, "x", np.where(np.arange(400) % 2, "f", "m"))
    pd.DataFrame({"candidate_id": [*list(a["candidate_id"]), "P-NOT-PROPOSED"],
                  "gender": [*list(groups), "f"]}).to_csv(tmp_path / "protected.csv",
                                                          index=False)
    plain = evaluate([tmp_path / "r"], outcomes)
    audited = evaluate([tmp_path / "r"], outcomes, tmp_path / "protected.csv")
    groups_part = audited.pop("protected_groups")
    audited.pop("min_group")
    assert audited == plain
    rows = {g["group"]: g for g in groups_part["gender"]["placement"]["groups"]}
    assert rows["x"]["n"] == 20 and rows["x"]["status"] == "insufficient data"
    assert rows["f"]["status"] == rows["m"]["status"] == "ok"
    assert rows["f"]["n"] + rows["m"]["n"] + rows["x"]["n"] == 400


def test_cli_evaluates_the_pilot_round_end_to_end(tmp_path: Path, pilot: Path) -> None:
    run = CliRunner().invoke(app, ["run", str(pilot), "--out", str(tmp_path / "round")])
    assert run.exit_code == 0, run.output
    a = pd.read_csv(tmp_path / "round" / "assignments.csv", dtype=str)
    lines = [f"{c},{o},started,2026-01-05," for c, o in zip(a["candidate_id"][:10],
                                                            a["option_id"][:10], strict=True)]
    (tmp_path / "outcomes.csv").write_text(HEADER + "\n".join(lines) + "\n")
    args = ["evaluate", str(tmp_path / "round"), "--outcomes", str(tmp_path / "outcomes.csv"),
            "--protected", str(pilot / "protected.csv")]
    first = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "e1")])
    assert first.exit_code == 0, first.output
    again = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "e2")])
    assert again.exit_code == 0
    for name in ("evaluation.json", "evaluation.md", "evaluation.html", "score_bands.png"):
        assert (tmp_path / "e1" / name).read_bytes() == (tmp_path / "e2" / name).read_bytes()
    report = json.loads((tmp_path / "e1" / "evaluation.json").read_text())
    assert report["overall"]["placement"]["k"] == 10
    assert report["overall"]["proposed"] == len(a)
    shown = CliRunner().invoke(app, args)
    assert shown.exit_code == 0 and "Is a higher score a better chance?" in shown.output
    (tmp_path / "bad.csv").write_text(HEADER + "P-001,TCK-KEUKEN,begun,2026-01-05,\n")
    bad = CliRunner().invoke(app, ["evaluate", str(tmp_path / "round"), "--outcomes",
                                   str(tmp_path / "bad.csv"), "--out", str(tmp_path / "e3")])
    assert bad.exit_code == 2 and "bad.csv" in bad.output and "event" in bad.output
    assert not (tmp_path / "e3").exists()
