"""Optional fairness constraints: optimal against brute force on tiny cases, price, clear errors."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fairness_cohort import make_cohort
from typer.testing import CliRunner

from matcher.cli import app
from matcher.policy import default_policy, policy_from_dict
from matcher.solver import AssignmentProblem, solve
from matcher.solver.fairness import apply_fairness

SCALE = 1_000_000


def tiny(seed: int) -> tuple[AssignmentProblem, dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    n_c, n_o, n_g = 6, 3, 2
    pairs = sorted({(c, o) for c in range(n_c) for o in range(n_o) if rng.random() < 0.6})
    cand = np.array([p[0] for p in pairs], dtype=np.int32)
    opt = np.array([p[1] for p in pairs], dtype=np.int32)
    score = rng.integers(0, SCALE + 1, len(pairs))
    problem = AssignmentProblem(
        cand=cand, opt=opt, weight=(SCALE + score).astype(np.int64),
        locked=np.zeros(len(pairs), bool), capacity=rng.integers(1, 3, n_o).astype(np.int64),
        option_org=rng.integers(0, n_g, n_o).astype(np.int32),
        budget=rng.integers(1, 5, n_g).astype(np.int64),
        need=rng.integers(0, 3, n_c).astype(np.int64))
    return problem, {"statushouder": rng.random(n_c) < 0.4}


def feasible_assignments(p: AssignmentProblem):
    options = [[-1, *np.flatnonzero(p.cand == c).tolist()] for c in range(p.n_candidates)]
    for combo in itertools.product(*options):
        chosen = np.zeros(p.n_edges, bool)
        chosen[[e for e in combo if e >= 0]] = True
        if not p.violations(chosen):
            yield chosen


def brute(p: AssignmentProblem, groups, min_rate: dict[str, float], max_min: bool):
    def placed(ch):
        out = np.zeros(p.n_candidates, bool)
        out[p.cand[ch]] = True
        return out

    ok = [ch for ch in feasible_assignments(p)
          if all(placed(ch)[m].sum() >= math.ceil(min_rate.get(g, 0) * m.sum() - 1e-9)
                 for g, m in groups.items())]
    if not ok:
        return None, None
    best = max(p.objective(ch) for ch in ok)
    if not max_min:
        return best, None
    n = max(placed(ch).sum() for ch in ok if p.objective(ch) == best)
    keep = [ch for ch in ok if placed(ch).sum() >= n]
    low = {id(ch): (p.weight[ch] - SCALE).min() if ch.any() else SCALE for ch in keep}
    floor = max(low.values())
    return max(p.objective(ch) for ch in keep if low[id(ch)] == floor), floor


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize(("rate", "max_min"), [(0.7, False), (0.0, True), (0.5, True)])
def test_optimal_against_brute_force(seed: int, rate: float, max_min: bool) -> None:
    p, groups = tiny(seed)
    fair = {"min_rate": {"statushouder": rate} if rate else {}, "max_min": max_min}
    pol = policy_from_dict({"fairness": fair})
    base = solve(p, default_policy())
    want, floor = brute(p, groups if rate else {}, fair["min_rate"], max_min)
    if want is None:
        with pytest.raises(Exception, match=r"fairness\.min_rate\.statushouder"):
            apply_fairness(p, pol, base, groups if rate else {})
        return
    got = apply_fairness(p, pol, base, groups if rate else {})
    assert not p.violations(got.chosen)
    assert got.objective == want
    price = got.details.fairness
    assert price["price_micro"] == base.objective - got.objective >= 0
    if rate:
        placed = np.zeros(p.n_candidates, bool)
        placed[p.cand[got.chosen]] = True
        assert placed[groups["statushouder"]].sum() >= math.ceil(rate * groups["statushouder"].sum())
    if max_min:
        assert price["lowest_score_floor"] * SCALE == pytest.approx(floor)


def _policy_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(text)
    return path


def test_round_reports_the_price(tmp_path: Path) -> None:
    data = make_cohort(tmp_path / "d", n=200, seed=2, seat_share=0.4, target_groups=True,
                       biased=True)
    cands = pd.read_csv(data / "candidates.csv", dtype=str, keep_default_na=False)
    # statushouders here are the people with little Dutch: the plain optimum places few of them
    low = cands["dutch_level"].isin(["A0", "A1"])
    cands["target_group"] = np.where(low & (np.arange(len(cands)) % 2 == 0), "statushouder", "")
    cands.to_csv(data / "candidates.csv", index=False)
    plain = CliRunner().invoke(app, ["run", str(data), "--out", str(tmp_path / "plain")])
    assert plain.exit_code == 0, plain.output
    pol = _policy_file(tmp_path, "[fairness]\nmin_rate = { statushouder = 0.15 }\nmax_min = true\n")
    r = CliRunner().invoke(app, ["run", str(data), "--out", str(tmp_path / "fair"), "--policy",
                                 str(pol)])
    assert r.exit_code == 0, r.output
    meta = json.loads((tmp_path / "fair" / "round.json").read_text())
    base = json.loads((tmp_path / "plain" / "round.json").read_text())
    f = meta["fairness"]
    assert "fairness" not in base
    assert f["unconstrained"]["objective"] == pytest.approx(base["solver"]["objective"])
    assert f["unconstrained"]["group_rates"]["statushouder"] < 0.15
    assert f["constrained"]["group_rates"]["statushouder"] >= 0.15
    assert f["price_micro"] > 0
    assert f["constrained"]["lowest_score"] >= f["lowest_score_floor"]
    assert meta["solver"]["objective_micro"] == base["solver"]["objective_micro"] - f["price_micro"]


def test_fairness_errors_are_bad_input(tmp_path: Path) -> None:
    data = make_cohort(tmp_path / "d", n=100, seed=2)
    pol = _policy_file(tmp_path, "[fairness]\nmin_rate = { statushouder = 0.5 }\n")
    r = CliRunner().invoke(app, ["run", str(data), "--out", str(tmp_path / "o"), "--policy", str(pol)])
    assert r.exit_code == 2 and "target_group" in r.output
    data = make_cohort(tmp_path / "d2", n=100, seed=2, target_groups=True)
    pol = _policy_file(tmp_path, "[solver]\nexact_max_pairs = 10\n[fairness]\nmax_min = true\n")
    r = CliRunner().invoke(app, ["run", str(data), "--out", str(tmp_path / "o"), "--policy", str(pol)])
    assert r.exit_code == 2 and "fairness.max_min" in r.output and "exact_max_pairs" in r.output
    pol = _policy_file(tmp_path, "[fairness]\nmin_rate = { statushouder = 1.5 }\n")
    r = CliRunner().invoke(app, ["run", str(data), "--out", str(tmp_path / "o"), "--policy", str(pol)])
    assert r.exit_code == 2 and "fairness.min_rate" in r.output
    pol = _policy_file(tmp_path, "[fairness]\nmin_rate = { banenafspraak = 0.5 }\n")
    r = CliRunner().invoke(app, ["run", str(data), "--out", str(tmp_path / "o"), "--policy", str(pol)])
    assert r.exit_code == 2 and "fairness.min_rate.banenafspraak" in r.output
    assert not (tmp_path / "o").exists()


def test_off_by_default() -> None:
    assert not default_policy().fairness.active
