"""The certificate in round.json and `matcher verify` (issue 27, items 3): every method's
certificate proves a bound no higher than the one reported, and verify fails on a tampered
round."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from test_solver_lagrangian import brute_force, tiny_problems
from typer.testing import CliRunner

from matcher.certificate import candidate_duals, certificate_of
from matcher.cli import app
from matcher.policy import default_policy, policy_from_dict
from matcher.solver import solve
from matcher.solver.problem import AssignmentProblem
from matcher.solver.result import Certificate
from matcher.verify import (
    REL_TOL,
    Pairs,
    dual_check,
    exact_bound,
    lagrangian_bound,
    verify_round,
)

LAGRANGIAN = {"solver": {"exact_max_pairs": 0, "prove_max_pairs": 0}}
NODE_LIMIT = {"solver": {"exact_max_nodes": 1}}


def pairs_of(problem: AssignmentProblem) -> Pairs:
    return Pairs(problem.cand.astype(np.int64), problem.opt.astype(np.int64),
                 problem.weight / 1e6, problem.locked.copy(), problem.need.astype(np.float64),
                 problem.capacity.copy(), problem.option_org.astype(np.int64),
                 problem.budget.astype(np.float64))


def proven_bound(problem: AssignmentProblem, cert: Certificate) -> float:
    """The bound `cert` proves, by matcher.verify's own computations (weight units)."""
    pairs = pairs_of(problem)
    lam = np.zeros(problem.n_organisations) if cert.budget_prices is None \
        else np.asarray(cert.budget_prices) / 1e6
    if cert.kind == "lagrangian":
        return lagrangian_bound(pairs, lam)
    if cert.kind == "dual":
        assert cert.option_duals is not None and cert.budget_prices is not None
        u = candidate_duals(problem, np.asarray(cert.budget_prices), cert.option_duals) / 1e6
        bound, violation, _ = dual_check(pairs, lam, cert.option_duals / 1e6, u)
        assert violation <= 1e-9
        return bound
    return exact_bound(pairs, np.ones(problem.n_edges, dtype=bool))[0]


@pytest.mark.parametrize("override", [{}, LAGRANGIAN, NODE_LIMIT])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problem=tiny_problems())
def test_every_certificate_proves_at_most_the_reported_bound(override: dict,
                                                             problem: AssignmentProblem) -> None:
    policy = policy_from_dict(override) if override else default_policy()
    result = solve(problem, policy)
    cert = certificate_of(problem, result)
    assert cert is not None
    bound = proven_bound(problem, cert)
    assert brute_force(problem) / 1e6 <= bound + 1e-9  # a certificate proves a valid bound
    assert bound <= result.bound / 1e6 * (1 + REL_TOL) + 1e-9


# --- matcher verify on written rounds ----------------------------------------------------------

def run(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(app, ["--lang", "en", *args])
    return res.exit_code, res.output


def solved(data: Path, out_dir: Path, override: dict | None = None) -> Path:
    args = ["run", str(data), "--out", str(out_dir)]
    if override:
        policy = out_dir.with_suffix(".toml")
        policy.write_text("\n".join(f"[{s}]\n" + "\n".join(f"{k} = {v}" for k, v in kv.items())
                                    for s, kv in override.items()) + "\n")
        args += ["--policy", str(policy)]
    code, out = run(*args)
    assert code == 0, out
    return out_dir


@pytest.fixture(scope="module")
def rounds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A generated round (150 candidates: its budgets bind) solved by each method, and its data.
    (Seed 5: one branch-and-bound node does not prove it, so its certificate is a dual one.)"""
    tmp = tmp_path_factory.mktemp("verify")
    data = tmp / "data"
    code, out = run("generate", "--candidates", "150", "--seed", "5", "--out", str(data))
    assert code == 0, out
    out = {"data": data}
    for name, override in (("exact", None), ("lagrangian", LAGRANGIAN), ("dual", NODE_LIMIT)):
        out[name] = solved(data, tmp / name, override)
    return out


def meta(round_dir: Path) -> dict:
    return json.loads((round_dir / "round.json").read_text())


def copy_of(rounds: dict[str, Path], name: str, tmp_path: Path) -> Path:
    return Path(shutil.copytree(rounds[name], tmp_path / name))


def failed(data: Path, round_dir: Path) -> dict[str, str]:
    """The checks that fail (name -> detail), after `matcher verify` exits 1."""
    code, out = run("verify", str(data), str(round_dir))
    assert code == 1, out
    return {c.name: c.detail for c in verify_round(data, round_dir) if not c.ok}


def test_the_pilot_verifies(tmp_path: Path) -> None:
    code, out = run("run", "--out", str(tmp_path / "pilot"))
    assert code == 0, out
    pilot = Path(__file__).parents[1] / "matcher" / "data" / "pilot"
    code, out = run("verify", str(pilot), str(tmp_path / "pilot"))
    assert code == 0, out
    assert "every check holds" in out


@pytest.mark.parametrize(("kind", "method"), [
    ("exact", "highs_core"), ("lagrangian", "lagrangian"), ("dual", "highs_core")])
def test_generated_rounds_verify(rounds: dict[str, Path], kind: str, method: str) -> None:
    solver = meta(rounds[kind])["solver"]
    assert solver["method"] == method and solver["certificate"]["kind"] == kind
    code, out = run("verify", str(rounds["data"]), str(rounds[kind]))
    assert code == 0, out
    checks = {c.name: c for c in verify_round(rounds["data"], rounds[kind])}
    assert all(c.ok for c in checks.values())
    assert checks["pairs"].detail.endswith("exactly those the hard rules allow")
    assert checks["certificate"].detail.startswith(f"{kind}: bound from the certificate")


def test_a_flow_round_verifies(rounds: dict[str, Path], tmp_path: Path) -> None:
    data = Path(shutil.copytree(rounds["data"], tmp_path / "roomy"))
    orgs = pd.read_csv(data / "organisations.csv", dtype=str, keep_default_na=False)
    orgs["guidance_capacity"] = "100000"  # no budget can bind: the flow is the optimum
    orgs.to_csv(data / "organisations.csv", index=False)
    out_dir = solved(data, tmp_path / "round")
    solver = meta(out_dir)["solver"]
    assert solver["method"] == "min_cost_flow"
    assert set(solver["certificate"]["budget_prices"].values()) == {0.0}
    code, out = run("verify", str(data), str(out_dir))
    assert code == 0, out


def test_a_tampered_assignment_fails(rounds: dict[str, Path], tmp_path: Path) -> None:
    out_dir = copy_of(rounds, "exact", tmp_path)
    path = out_dir / "assignments.csv"
    rows = pd.read_csv(path, dtype=str, keep_default_na=False)
    rows = pd.concat([rows, rows.iloc[[0]].assign(option_id=rows["option_id"].iat[1])])
    rows.to_csv(path, index=False)  # one person twice
    bad = failed(rounds["data"], out_dir)
    assert "more than one option" in bad["assignment"]
    assert bad["files"] == "changed or missing: assignments.csv"


@pytest.mark.parametrize("kind", ["lagrangian", "dual"])
def test_a_tampered_price_fails(rounds: dict[str, Path], tmp_path: Path, kind: str) -> None:
    out_dir = copy_of(rounds, kind, tmp_path)
    m = meta(out_dir)
    prices = m["solver"]["certificate"]["budget_prices"]
    org = max(prices, key=prices.get)
    prices[org] *= 1.5  # a higher price: the bound it proves rises above the one reported
    (out_dir / "round.json").write_text(json.dumps(m))
    bad = failed(rounds["data"], out_dir)
    assert set(bad) == {"certificate"}  # round.json itself is not among its own outputs
    assert "> reported bound" in bad["certificate"]


def test_a_lowered_dual_fails(rounds: dict[str, Path], tmp_path: Path) -> None:
    out_dir = copy_of(rounds, "dual", tmp_path)
    m = meta(out_dir)
    duals = m["solver"]["certificate"]["candidate_duals"]
    person = max(duals, key=duals.get)
    duals[person] /= 2  # the bound falls, but a pair of this person is no longer covered
    (out_dir / "round.json").write_text(json.dumps(m))
    assert "dual constraint broken" in failed(rounds["data"], out_dir)["certificate"]


def test_a_missing_pair_fails(rounds: dict[str, Path], tmp_path: Path) -> None:
    out_dir = copy_of(rounds, "lagrangian", tmp_path)
    path = out_dir / "edges.csv"
    edges = pd.read_csv(path, dtype=str, keep_default_na=False)
    gone = edges[edges["eligible"] == "True"].index[-1]
    edges.drop(index=gone).to_csv(path, index=False)
    bad = failed(rounds["data"], out_dir)
    assert bad["pairs"].startswith("1 eligible pairs missing")
