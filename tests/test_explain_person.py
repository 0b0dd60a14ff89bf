"""Explanations: counterfactuals against a re-run of the hard rules, alternatives' reasons, words."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fairness_cohort import make_cohort
from typer.testing import CliRunner

from matcher.cli import app
from matcher.errors import InputError
from matcher.explain_person import CHANGES, alternatives, counterfactuals, explain_candidate
from matcher.explain_words import explanation_text
from matcher.levels import CEFR
from matcher.load import load_instance
from matcher.policy import default_policy, policy_from_dict
from matcher.round import run_round
from matcher.scoring.eligibility import eligible_pairs

PILOT = Path(__file__).resolve().parents[1] / "matcher" / "data" / "pilot"


@pytest.fixture(scope="module")
def pilot_round():
    inst, _ = load_instance(PILOT)
    return run_round(inst, default_policy())


@pytest.fixture(scope="module")
def tight_round(tmp_path_factory):
    """A cohort where seats and guidance both bind (solved exactly by CP-SAT)."""
    d = make_cohort(tmp_path_factory.mktemp("tight") / "d", n=120, seed=5, seat_share=0.5)
    orgs = pd.read_csv(d / "organisations.csv")
    orgs["guidance_capacity"] = [8, 12, 5, 20][: len(orgs)] + [10] * max(0, len(orgs) - 4)
    orgs.to_csv(d / "organisations.csv", index=False)
    inst, _ = load_instance(d)
    rnd = run_round(inst, default_policy())
    assert rnd.result.status == "optimal"
    return d, rnd


def _edit_candidates(src: Path, dst: Path, col: str, delta: float) -> Path:
    shutil.copytree(src, dst)
    df = pd.read_csv(dst / "candidates.csv", dtype=str, keep_default_na=False)
    if col == "dutch_level":
        rank = {c: i for i, c in enumerate(CEFR)} | {"1F": 2, "2F": 3, "3F": 4}
        df[col] = [CEFR[min(rank[v.upper()] + int(delta), len(CEFR) - 1)] for v in df[col]]
    else:
        df[col] = np.maximum(df[col].astype(float) + delta, 0).map(lambda v: f"{v:g}")
    df.to_csv(dst / "candidates.csv", index=False)
    return dst


def _eligible_count(folder: Path) -> np.ndarray:
    inst, _ = load_instance(folder)
    cand, _, _ = eligible_pairs(inst)
    return np.bincount(cand, minlength=inst.n_candidates)


@pytest.mark.parametrize("change", [c for c in CHANGES if c[0] != "language" or c[1] == 1])
def test_counterfactuals_match_a_rerun_of_the_rules(tmp_path: Path, change) -> None:
    """'X would open N options' equals the eligible options gained by editing the data itself."""
    rule, delta = change
    col = {"language": "dutch_level", "hours": "hours_available", "travel": "max_travel_km",
           "guidance": "guidance_need"}[rule]
    inst, _ = load_instance(PILOT)
    cf = counterfactuals(inst, np.arange(inst.n_candidates))
    got = cf[(cf["rule"] == rule) & (cf["change"] == delta)]["opens"].to_numpy()
    before = _eligible_count(PILOT)
    after = _eligible_count(_edit_candidates(PILOT, tmp_path / "d", col, delta))
    # a change only relaxes a rule, so no option closes: the gain is the count of new options
    np.testing.assert_array_equal(got, after - before)
    assert got.sum() > 0 or rule == "guidance"


def test_alternative_reasons_hold(tight_round) -> None:
    _, rnd = tight_round
    inst, e = rnd.instance, rnd.edges
    alt = alternatives(rnd)
    assert (alt["alternative_reason"] == "guidance").any()
    assert alt["alternative_reason"].isin(["full", "outcompeted"]).any()
    # at the proven optimum nothing free and better is left unused
    assert not (alt["alternative_reason"] == "not_chosen").any()
    seats_used = np.bincount(e.opt[rnd.chosen], minlength=inst.n_options)
    cap = inst.options["capacity"].to_numpy()
    opt_pos = pd.Index(inst.options["option_id"])
    has = alt["alternative_option_id"] != ""
    o = opt_pos.get_indexer(alt.loc[has, "alternative_option_id"])
    reason = alt.loc[has, "alternative_reason"].to_numpy()
    full = seats_used[o] >= cap[o]
    assert np.all(full[np.isin(reason, ["full", "outcompeted"])])
    assert not np.any(full[np.isin(reason, ["guidance", "lower_score"])])
    # the alternative is the best usable option the person did not get
    for c in np.flatnonzero(has.to_numpy())[:40]:
        mine = rnd.usable & ~rnd.chosen & (e.cand == c)
        assert alt["alternative_score"].iat[c] == e.score[mine].max()


def test_matched_explanation_adds_up(pilot_round) -> None:
    x = explain_candidate(pilot_round, "P-001")
    assert x["status"] == "matched"
    m = x["match"]
    assert sum(c["contribution"] for c in m["components"]) == pytest.approx(m["score"], abs=1e-3)
    assert all(f["passed"] for f in m["filters"])
    assert [c["component"] for c in m["components"]] == list(default_policy().weights.as_dict())
    text = explanation_text(x)
    assert "Leerwerktraject keuken" in text and "4 of 4 met" in text


def test_unmatched_explanation_names_reason_and_what_helps(pilot_round) -> None:
    un = pilot_round.unmatched
    for cid, reason in zip(un["candidate_id"], un["reason"], strict=True):
        x = explain_candidate(pilot_round, cid)
        assert x["status"] == "unmatched" and x["unmatched"]["reason"] == reason
        text = explanation_text(x)
        assert f"(code: {reason})" in text and "What would change this" in text
    x = explain_candidate(pilot_round, "P-019")
    assert "5 km more travel would open" in explanation_text(x)


def test_explanations_ignore_row_order(tmp_path: Path, pilot_round) -> None:
    d = tmp_path / "d"
    shutil.copytree(PILOT, d)
    for name in ("candidates", "options", "organisations"):
        df = pd.read_csv(d / f"{name}.csv", dtype=str, keep_default_na=False)
        df.iloc[::-1].to_csv(d / f"{name}.csv", index=False)
    inst, _ = load_instance(d)
    other = run_round(inst, default_policy())
    for cid in ("P-001", "P-006", "P-013"):
        a, b = explain_candidate(pilot_round, cid), explain_candidate(other, cid)
        assert explanation_text(a) == explanation_text(b)


def test_cli_explain(tmp_path: Path) -> None:
    r = CliRunner().invoke(app, ["explain", str(PILOT), "P-013"])
    assert r.exit_code == 0, r.output
    assert "4 more hours a week would open 1 option." in r.output
    assert "no place in this round" in r.output
    r = CliRunner().invoke(app, ["explain", str(PILOT), "P-001", "--json"])
    assert r.exit_code == 0 and '"status": "matched"' in r.output
    r = CliRunner().invoke(app, ["explain", str(PILOT), "NOBODY"])
    assert r.exit_code == 2 and "unknown candidate 'NOBODY'" in r.output


def test_policy_changes_the_explained_weights(pilot_round) -> None:
    pol = policy_from_dict({"weights": {"skills": 0.0}})
    rnd = run_round(pilot_round.instance, pol)
    x = explain_candidate(rnd, "P-001")
    weights = {c["component"]: c["weight"] for c in x["match"]["components"]}
    assert weights["skills"] == 0.0


def test_explain_all_agrees_with_each_person(pilot_round, tmp_path: Path) -> None:
    from matcher.explain_person import explain_all

    table = explain_all(pilot_round)
    assert list(table["candidate_id"]) == list(pilot_round.instance.candidates["candidate_id"])
    for row in table.itertuples(index=False):
        x = explain_candidate(pilot_round, row.candidate_id)
        assert row.status == x["status"]
        if x["status"] == "matched":
            assert row.option_id == x["match"]["option_id"]
        else:
            assert row.reason == x["unmatched"]["reason"]
            cf = {(c["rule"], c["change"]): c["opens"] for c in x["counterfactuals"]}
            assert row.opens_hours_plus_4 == cf[("hours", 4.0)]
            assert row.opens_travel_plus_5 == cf[("travel", 5.0)]
        assert row.alternative_reason == (x["alternative"]["reason"] if "alternative" in x else "")
    out = tmp_path / "all.csv"
    r = CliRunner().invoke(app, ["explain", str(PILOT), "--all", str(out)])
    assert r.exit_code == 0, r.output
    assert pd.read_csv(out, keep_default_na=False)["status"].tolist() == table["status"].tolist()


def test_a_replayed_round_explains_as_the_solved_one() -> None:
    from matcher.round import replay_round
    inst, _ = load_instance(PILOT)
    policy = default_policy()
    rnd = run_round(inst, policy)
    pairs = rnd.assignments
    again = replay_round(inst, policy, pairs["candidate_id"].tolist(), pairs["option_id"].tolist())
    assert (again.chosen == rnd.chosen).all()
    assert again.result.objective == rnd.result.objective
    for cid in inst.candidates["candidate_id"]:
        assert explain_candidate(again, cid) == explain_candidate(rnd, cid)
    with pytest.raises(InputError, match="not a pair"):
        replay_round(inst, policy, ["P-001"], ["NO-SUCH"])
