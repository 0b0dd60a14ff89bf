"""Rounds that stay stable (``matcher run DATA --previous PREV``): with a bonus of 0 the round is
the round without --previous; with a bonus fewer people move and the round stays feasible; the
answer is optimal for the objective with the bonus, against brute force on tiny rounds (with
and without routes, hours and cohorts); who moved and why is reported."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from matcher.cli import app
from matcher.errors import InputError
from matcher.load import instance_from_frames
from matcher.policy import default_policy, policy_from_dict
from matcher.round import OUTPUT_FILES, Round, run_round
from matcher.solver import Status
from matcher.stability import MOVES_FILE, Previous, bonus_micro, load_previous
from tests.conftest import PILOT, read_tables, write_tables
from tests.test_chain_model import tables

runner = CliRunner()


def _run(data: Path, out: Path, *extra: str) -> dict:
    result = runner.invoke(app, ["run", str(data), "--out", str(out), *extra])
    assert result.exit_code == 0, result.output
    return json.loads((out / "round.json").read_text())


def _policy(tmp_path: Path, bonus: float) -> Path:
    path = tmp_path / f"bonus{bonus}.toml"
    path.write_text(f"[objective]\nstability_bonus = {bonus}\n")
    return path


def _changed_pilot(pilot: Path) -> Path:
    """The pilot after a change a coordinator re-runs for: a strong new person and one seat
    fewer at SPEC-TESTER."""
    t = read_tables(pilot)
    c = t["candidates"]
    new = c[c["candidate_id"] == "P-003"].assign(candidate_id="P-026")
    opts = t["options"]
    opts.loc[opts["option_id"] == "SPEC-TESTER", "capacity"] = "1"
    write_tables(pilot, {"candidates": pd.concat([c, new], ignore_index=True), "options": opts})
    return pilot


def test_bonus_zero_is_the_round_without_previous(pilot: Path, tmp_path: Path):
    _run(PILOT, tmp_path / "r1")
    _changed_pilot(pilot)
    plain = _run(pilot, tmp_path / "plain")
    meta = _run(pilot, tmp_path / "zero", "--previous", str(tmp_path / "r1"), "--policy",
                str(_policy(tmp_path, 0.0)))
    for name in OUTPUT_FILES:
        assert (tmp_path / "plain" / name).read_bytes() == (tmp_path / "zero" / name).read_bytes()
    assert meta["solver"]["objective_micro"] == plain["solver"]["objective_micro"]
    assert meta["stability"]["bonus_micro_total"] == 0
    assert (tmp_path / "zero" / MOVES_FILE).exists()
    assert "stability" not in plain and not (tmp_path / "plain" / MOVES_FILE).exists()


def _pairs(out: Path) -> dict[str, str]:
    a = pd.read_csv(out / "assignments.csv", dtype=str, keep_default_na=False)
    return dict(zip(a["candidate_id"], a["option_id"], strict=True))


def test_a_bonus_keeps_more_people_and_the_round_feasible(pilot: Path, tmp_path: Path):
    _run(PILOT, tmp_path / "r1")
    _changed_pilot(pilot)
    zero = _run(pilot, tmp_path / "zero", "--previous", str(tmp_path / "r1"), "--policy",
                str(_policy(tmp_path, 0.0)))
    kept = _run(pilot, tmp_path / "kept", "--previous", str(tmp_path / "r1"), "--policy",
                str(_policy(tmp_path, 0.5)))
    assert kept["stability"]["moved"] < zero["stability"]["moved"]
    assert kept["stability"]["kept"] > zero["stability"]["kept"]
    assert kept["counts"]["matched"] == zero["counts"]["matched"]  # nobody loses a place for it
    util = pd.read_csv(tmp_path / "kept" / "utilisation.csv")
    assert (util["seats_used"] <= util["seats"]).all()
    orgs = util[util["level"] == "organisation"]
    assert (orgs["guidance_used"] <= orgs["guidance_capacity"]).all()
    before, after = _pairs(tmp_path / "r1"), _pairs(tmp_path / "kept")
    moves = pd.read_csv(tmp_path / "kept" / MOVES_FILE, dtype=str, keep_default_na=False)
    changed = {c for c, o in before.items() if after.get(c) != o}
    assert set(moves["candidate_id"]) == changed  # exactly who moved is reported
    # SPEC-TESTER lost a seat: one of its two people had to move, and says so
    assert "fewer_seats" in set(moves["reason"])
    assert set(moves["reason"]) <= {"fewer_seats", "gain"}
    assert kept["stability"]["bonus_micro_total"] == kept["stability"]["kept"] * 500_000
    a = pd.read_csv(tmp_path / "kept" / "assignments.csv")
    # the objective is the weights plus the bonus of each person kept
    assert round(a["weight"].sum() * 1e6) + kept["stability"]["bonus_micro_total"] == \
        kept["solver"]["objective_micro"]


def test_why_people_moved(pilot: Path, tmp_path: Path):
    _run(PILOT, tmp_path / "r1")
    before = _pairs(tmp_path / "r1")
    t = read_tables(pilot)
    gone, forbidden = sorted(before)[0], sorted(before)[1]
    cands = t["candidates"][t["candidates"]["candidate_id"] != gone]
    dec = t["decisions"]
    dec.loc[len(dec)] = {"candidate_id": forbidden, "option_id": before[forbidden],
                         "decision": "forbid", "reason": "no longer"} | (
        {c: "" for c in dec.columns if c not in ("candidate_id", "option_id", "decision",
                                                  "reason")})
    write_tables(pilot, {"candidates": cands, "decisions": dec})
    (pilot / "protected.csv").unlink()  # it names the person who left
    _run(pilot, tmp_path / "r2", "--previous", str(tmp_path / "r1"))
    moves = pd.read_csv(tmp_path / "r2" / MOVES_FILE, dtype=str, keep_default_na=False)
    why = dict(zip(moves["candidate_id"], moves["reason"], strict=True))
    assert why[gone] == "candidate_gone"
    assert why[forbidden] == "not_eligible"
    row = moves[moves["candidate_id"] == gone].iloc[0]
    assert row["previous_option_id"] == before[gone] and row["option_id"] == ""


def test_bad_previous_folder_is_refused(pilot: Path, tmp_path: Path):
    out = tmp_path / "out"
    (tmp_path / "empty").mkdir()
    result = runner.invoke(app, ["--lang", "en", "run", str(pilot), "--previous",
                                 str(tmp_path / "empty"), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "is not a round's folder" in " ".join(result.output.split())
    assert not out.exists()
    _run(PILOT, tmp_path / "r1")
    a = (tmp_path / "r1" / "assignments.csv").read_text().splitlines()
    (tmp_path / "r1" / "assignments.csv").write_text("\n".join([*a, a[1]]) + "\n")
    result = runner.invoke(app, ["--lang", "en", "run", str(pilot), "--previous",
                                 str(tmp_path / "r1"), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert f"assignments.csv, row {len(a) + 1}, column candidate_id" in result.output
    assert not out.exists()
    result = runner.invoke(app, ["--lang", "en", "run", str(pilot), "--previous",
                                 str(tmp_path / "r1"), "--out", str(tmp_path / "r1")])
    assert result.exit_code == 2, result.output  # the previous round is an input


# --- brute force on tiny rounds -------------------------------------------------------------


def _choices(rnd: Round) -> list[list[tuple[int, int, int]]]:
    """Per person: (option, next place or -1, weight without the bonus) of every choice."""
    out: list[list[tuple[int, int, int]]] = [[] for _ in range(rnd.instance.n_candidates)]
    e = rnd.edges
    for i in np.flatnonzero(rnd.usable):
        out[e.cand[i]].append((int(e.opt[i]), -1, int(e.weight_int[i])))
    if rnd.chain is not None:
        r = rnd.chain.routes
        for c, o, q, w in zip(r.cand, r.prog, r.place, r.weight_int, strict=True):
            out[c].append((int(o), int(q), int(w)))
    return out


def _feasible(rnd: Round, pick: tuple[tuple[int, int, int] | None, ...]) -> bool:
    inst = rnd.instance
    opts, cands = inst.options, inst.candidates
    seats = np.zeros(inst.n_options, int)
    hours = np.zeros(inst.n_options)
    guidance = np.zeros(inst.n_organisations)
    route_use: dict[tuple[int, int], int] = {}
    for c, ch in enumerate(pick):
        if ch is None:
            continue
        o, q, _ = ch
        used = [o] + ([q] if q >= 0 else [])
        for u in used:
            seats[u] += 1
            hours[u] += min(cands["hours_available"].iat[c], opts["hours_max"].iat[u])
        for g in {int(opts["org"].iat[u]) for u in used}:
            guidance[g] += cands["guidance_need"].iat[c]
        if q >= 0:
            route_use[(o, q)] = route_use.get((o, q), 0) + 1
    limit = opts["capacity_hours"].to_numpy() if "capacity_hours" in opts else None
    minimum = opts["min_participants"].to_numpy() if "min_participants" in opts else 0
    rs = inst.routes.set_index(["prog", "place"])["seats"]
    rl = inst.route_decisions[inst.route_decisions["decision"] == "lock"]
    return not ((seats > opts["capacity"].to_numpy()).any()
                or (limit is not None and ((limit >= 0) & (hours > limit)).any())
                or ((seats > 0) & (seats < minimum)).any()
                or (guidance > inst.organisations["guidance_capacity"].to_numpy()).any()
                or any(n > rs[k] for k, n in route_use.items())
                or any(pick[c] is None or pick[c][0] != o
                       for c, o in zip(inst.locks()["cand"], inst.locks()["opt"], strict=True))
                or any(pick[c] is None or pick[c][:2] != (o, q)
                       for c, o, q in zip(rl["cand"], rl["opt"], rl["next"], strict=True)))


def _value(pick, prev: dict[int, tuple[int, int]], bonus: int) -> int:
    return sum(ch[2] + (bonus if prev.get(c) == ch[:2] else 0)
               for c, ch in enumerate(pick) if ch is not None)


def _previous(rnd: Round, seed: int) -> tuple[Previous, dict[int, tuple[int, int]]]:
    """Random earlier proposals (one choice per person, or none; they need not fit together)."""
    rng = np.random.default_rng(seed + 1000)
    cid = rnd.instance.candidates["candidate_id"].to_numpy()
    oid = rnd.instance.options["option_id"].to_numpy()
    rows, prev = [], {}
    for c, ch in enumerate(_choices(rnd)):
        if ch and rng.random() < 0.8:
            o, q, _ = ch[int(rng.integers(len(ch)))]
            prev[c] = (o, q)
            rows.append((cid[c], oid[o], oid[q] if q >= 0 else ""))
    df = pd.DataFrame(rows, columns=["candidate_id", "option_id", "next_option_id"])
    return Previous("test", "", df), prev


@pytest.mark.parametrize("seed", range(24))
def test_stable_round_is_optimal_against_brute_force(seed: int):
    t = tables(seed, 4)
    if seed % 2:  # half the rounds without chain inputs: the ordinary solve path
        t = {k: v for k, v in t.items() if k not in ("routes", "decisions")}
        t["options"] = t["options"].drop(columns=["language_gain", "min_participants",
                                                  "capacity_hours"])
    inst = instance_from_frames(t)
    try:
        base = run_round(inst, default_policy())
    except InputError:
        return
    prev, prev_map = _previous(base, seed)
    bonus = (0.0, 0.3, 1.5)[seed % 3]
    policy = policy_from_dict({"objective": {"stability_bonus": bonus}})
    rnd = run_round(inst, policy, previous=prev)
    assert rnd.result.status is Status.OPTIMAL
    assert rnd.stability is not None
    b = bonus_micro(bonus)
    choices = _choices(rnd)
    best = max(_value(p, prev_map, b) for p in itertools.product(*[[None, *c] for c in choices])
               if _feasible(rnd, p))
    opt_now = {c: (int(o), -1) for c, o in zip(rnd.edges.cand[rnd.chosen],
                                                rnd.edges.opt[rnd.chosen], strict=True)}
    if rnd.chain is not None:
        r = rnd.chain.routes
        for i in np.flatnonzero(rnd.chain.chosen_routes):
            opt_now[int(r.cand[i])] = (int(r.prog[i]), int(r.place[i]))
    pick = tuple(next((ch for ch in choices[c] if ch[:2] == opt_now[c]), None)
                 if c in opt_now else None for c in range(inst.n_candidates))
    assert _feasible(rnd, pick)
    assert _value(pick, prev_map, b) == best == rnd.result.objective
    kept = sum(prev_map.get(c) == opt_now.get(c) for c in prev_map)
    assert rnd.stability.kept == kept and len(rnd.stability.moves) == len(prev_map) - kept
    if bonus == 0:
        assert np.array_equal(rnd.chosen, base.chosen)


def test_previous_file_as_written(tmp_path: Path):
    (tmp_path / "round.json").write_text("{}")
    (tmp_path / "assignments.csv").write_text("candidate_id,option_id\nP-001,SPEC-TESTER\n")
    prev, warnings = load_previous(tmp_path)
    assert prev.proposals.values.tolist() == [["P-001", "SPEC-TESTER", ""]]
    assert [w.code for w in warnings] == ["previous_changed"]


def test_matcher_verify_rechecks_a_stable_round(pilot: Path, tmp_path: Path):
    _run(PILOT, tmp_path / "r1")
    _changed_pilot(pilot)
    meta = _run(pilot, tmp_path / "r2", "--previous", str(tmp_path / "r1"), "--policy",
                str(_policy(tmp_path, 0.5)))
    assert meta["stability"]["bonus_micro_total"] > 0
    assert "previous.csv" in meta["outputs"]
    result = runner.invoke(app, ["--lang", "en", "verify", str(pilot), str(tmp_path / "r2")])
    assert result.exit_code == 0, result.output
    # without the bonus the objective is not the assignment's value: verify must see the bonus
    (tmp_path / "r2" / "previous.csv").write_text("candidate_id,option_id,next_option_id\n")
    result = runner.invoke(app, ["--lang", "en", "verify", str(pilot), str(tmp_path / "r2")])
    assert result.exit_code != 0
