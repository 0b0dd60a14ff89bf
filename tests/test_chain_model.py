"""The exact chain model against brute force on tiny rounds with routes, hours and cohorts.

The brute force enumerates every person's choice (nothing, one option alone, one route) and
checks the semantics of docs/data-format.md ("The participation chain") directly, with the
round's own weights; the model's answer must be feasible by the same check and as good.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from matcher.cli import app
from matcher.errors import InputError
from matcher.load import instance_from_frames
from matcher.policy import default_policy
from matcher.round import Round, run_round
from matcher.solver import Status
from tests.conftest import read_tables, write_tables

LEVELS = ["A0", "A1", "A2", "B1", "B2"]


def tables(seed: int, n_c: int = 5) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    orgs = pd.DataFrame({"organisation_id": ["G1", "G2"], "name": ["g1", "g2"],
                         "kind": ["programme_provider", "employer"],
                         "guidance_capacity": rng.integers(1, 5, 2)})
    n_opt = 4
    kind = ["programme", "programme", "place", "place"]
    cap = rng.integers(1, 3, n_opt)
    opts = pd.DataFrame({
        "option_id": [f"O{i}" for i in range(n_opt)],
        "organisation_id": rng.choice(["G1", "G2"], n_opt), "kind": kind,
        "sector": rng.choice(["a", "b"], n_opt), "capacity": cap,
        "hours_min": rng.integers(4, 16, n_opt), "hours_max": rng.integers(20, 36, n_opt),
        "min_dutch_level": rng.choice(LEVELS, n_opt), "skills": rng.choice(["x:1", "y:2", ""], n_opt),
        "lat": 52.09 + rng.random(n_opt) * 0.01, "lon": 5.1 + rng.random(n_opt) * 0.01,
        "language_gain": [str(rng.integers(0, 3)), str(rng.integers(0, 3)), "", ""],
        "min_participants": [str(min(rng.integers(0, 3), c)) for c in cap],
        "capacity_hours": [str(rng.integers(15, 60)) if rng.random() < 0.5 else ""
                           for _ in range(n_opt)],
    })
    cands = pd.DataFrame({
        "candidate_id": [f"C{i}" for i in range(n_c)], "skills": rng.choice(["x:2", "y:1", ""], n_c),
        "sectors": rng.choice(["a", "b", "a;b"], n_c), "hours_available": rng.integers(10, 36, n_c),
        "dutch_level": rng.choice(LEVELS, n_c), "guidance_need": rng.integers(0, 3, n_c),
        "max_travel_km": 50, "lat": 52.09 + rng.random(n_c) * 0.01,
        "lon": 5.1 + rng.random(n_c) * 0.01})
    pairs = [(p, q) for p in ("O0", "O1") for q in ("O2", "O3") if rng.random() < 0.7]
    routes = pd.DataFrame({"programme_id": [p for p, _ in pairs], "place_id": [q for _, q in pairs],
                           "seats": [rng.choice(["", "0", "1"]) for _ in pairs]})
    out = {"organisations": orgs, "options": opts, "candidates": cands, "routes": routes}
    if seed % 3 == 0 and pairs:  # a lock: of a route or of a pair
        p, q = pairs[0]
        nxt = q if seed % 2 else ""
        out["decisions"] = pd.DataFrame({"candidate_id": ["C0"], "option_id": [p],
                                         "decision": ["lock"], "next_option_id": [nxt]})
    return out


def _choices(rnd: Round) -> list[list[tuple[int, int, int]]]:
    """Per person: (option, next place or -1, weight) of every choice the round may make."""
    out: list[list[tuple[int, int, int]]] = [[] for _ in range(rnd.instance.n_candidates)]
    p = rnd.problem
    for c, o, w in zip(p.cand, p.opt, p.weight, strict=True):
        out[c].append((int(o), -1, int(w)))
    assert rnd.chain is not None
    r = rnd.chain.routes
    for c, o, q, w in zip(r.cand, r.prog, r.place, r.weight_int, strict=True):
        out[c].append((int(o), int(q), int(w)))
    return out


def _feasible(rnd: Round, pick: tuple[tuple[int, int, int] | None, ...]) -> bool:
    inst = rnd.instance
    opts = inst.options
    cands = inst.candidates
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
    if (seats > opts["capacity"].to_numpy()).any():
        return False
    limit = opts["capacity_hours"].to_numpy() if "capacity_hours" in opts else None
    if limit is not None and ((limit >= 0) & (hours > limit)).any():
        return False
    minimum = opts["min_participants"].to_numpy()
    if ((seats > 0) & (seats < minimum)).any():
        return False
    if (guidance > inst.organisations["guidance_capacity"].to_numpy()).any():
        return False
    rs = inst.routes.set_index(["prog", "place"])["seats"]
    if any(n > rs[k] for k, n in route_use.items()):
        return False
    for c, o in zip(inst.locks()["cand"], inst.locks()["opt"], strict=True):
        if pick[c] is None or pick[c][0] != o:
            return False
    rl = inst.route_decisions[inst.route_decisions["decision"] == "lock"]
    return all(pick[c] is not None and pick[c][:2] == (o, q)
               for c, o, q in zip(rl["cand"], rl["opt"], rl["next"], strict=True))


def _brute(rnd: Round) -> int | None:
    best = None
    for pick in itertools.product(*[[None, *ch] for ch in _choices(rnd)]):
        if _feasible(rnd, pick):
            value = sum(ch[2] for ch in pick if ch is not None)
            best = value if best is None or value > best else best
    return best


def _answer(rnd: Round) -> tuple[tuple[int, int, int] | None, ...]:
    assert rnd.chain is not None
    pick: list[tuple[int, int, int] | None] = [None] * rnd.instance.n_candidates
    p, sol = rnd.problem, rnd.chain
    for e in np.flatnonzero(sol.singles):
        pick[p.cand[e]] = (int(p.opt[e]), -1, int(p.weight[e]))
    r = sol.routes
    for i in np.flatnonzero(sol.chosen_routes):
        assert pick[r.cand[i]] is None
        pick[r.cand[i]] = (int(r.prog[i]), int(r.place[i]), int(r.weight_int[i]))
    return tuple(pick)


def _round(seed: int) -> tuple[dict[str, pd.DataFrame], Round | None]:
    """A tiny round (4 people where 5 give too many combinations to enumerate quickly); None
    when the round is refused."""
    for n_c in (5, 4):
        t = tables(seed, n_c)
        try:
            rnd = run_round(instance_from_frames(t), default_policy())
        except InputError:
            return t, None
        if np.prod([1 + len(c) for c in _choices(rnd)]) <= 20_000:
            break
    return t, rnd


@pytest.mark.parametrize("seed", range(40))
def test_chain_model_is_optimal_against_brute_force(seed: int):
    t, rnd = _round(seed)
    if rnd is None:
        # refused before (or by) the model: then no assignment keeps every decision
        assert "decisions" in t
        free = run_round(instance_from_frames({k: v for k, v in t.items() if k != "decisions"}),
                         default_policy())
        assert _brute(replace(free, instance=instance_from_frames(t))) is None
        return
    assert rnd.result.status is Status.OPTIMAL
    pick = _answer(rnd)
    assert _feasible(rnd, pick)
    assert rnd.result.objective == sum(ch[2] for ch in pick if ch is not None)
    assert rnd.result.objective == _brute(rnd)


def test_chain_answer_is_deterministic():
    inst = instance_from_frames(tables(7))
    a = run_round(inst, default_policy())
    b = run_round(instance_from_frames(tables(7)), default_policy())
    assert a.chain is not None and b.chain is not None
    assert (a.chosen == b.chosen).all()
    assert (a.chain.chosen_routes == b.chain.chosen_routes).all()


def _one_route(level: str, gain: str, same_org: bool = False, budget: int = 5
               ) -> dict[str, pd.DataFrame]:
    orgs = pd.DataFrame({"organisation_id": ["TCK", "COMPASS"], "name": ["t", "c"],
                         "kind": ["programme_provider", "employer"],
                         "guidance_capacity": [budget, budget]})
    opts = pd.DataFrame({
        "option_id": ["KEUKEN", "CATERING"], "organisation_id": ["TCK", "TCK" if same_org else
                                                                 "COMPASS"],
        "kind": ["programme", "place"], "sector": ["hospitality", "catering"], "capacity": [2, 2],
        "hours_min": [16, 20], "hours_max": [32, 36], "min_dutch_level": ["A1", "A2"],
        "skills": ["cooking:1", "cooking:1"], "lat": [52.09, 52.10], "lon": [5.11, 5.12],
        "language_gain": [gain, ""], "duration_weeks": ["12", ""]})
    cands = pd.DataFrame({"candidate_id": ["P-1"], "skills": ["cooking:2"],
                          "sectors": ["hospitality"], "hours_available": [24],
                          "dutch_level": [level], "guidance_need": [2], "max_travel_km": [20],
                          "lat": [52.09], "lon": [5.1]})
    routes = pd.DataFrame({"programme_id": ["KEUKEN"], "place_id": ["CATERING"]})
    return {"organisations": orgs, "options": opts, "candidates": cands, "routes": routes}


def test_language_gain_opens_the_place():
    # A1 does not reach the place's A2 directly; with a gain of 1 the route does.
    closed = run_round(instance_from_frames(_one_route("A1", "0")), default_policy())
    opened = run_round(instance_from_frames(_one_route("A1", "1")), default_policy())
    assert closed.chain is not None and len(closed.chain.routes) == 0
    assert opened.chain is not None and len(opened.chain.routes) == 1
    assert opened.chain.chosen_routes.all()
    assert int(opened.chain.routes.exit_level[0]) == 2  # A2


def test_route_weight_lies_between_its_programme_and_two_placements():
    rnd = run_round(instance_from_frames(_one_route("A2", "1")), default_policy())
    assert rnd.chain is not None
    r = rnd.chain.routes
    bonus = round(default_policy().objective.match_bonus * 1_000_000)
    assert (r.weight_int > r.programme_weight_int).all()
    assert (r.weight_int < r.programme_weight_int + bonus).all()


@pytest.mark.parametrize(("same_org", "budget", "route"), [(True, 2, True), (False, 2, True),
                                                           (True, 1, False)])
def test_guidance_counts_once_per_distinct_organisation(same_org: bool, budget: int, route: bool):
    # need 2: one organisation with 2 units coaches the whole route; two organisations need 2
    # each (both have 2 here); with 1 unit the person is not eligible anywhere.
    rnd = run_round(instance_from_frames(_one_route("A2", "0", same_org, budget)),
                    default_policy())
    assert rnd.chain is not None
    assert bool(rnd.chain.chosen_routes.any()) is route


@pytest.mark.parametrize(("column", "value", "words", "dutch"), [
    ("capacity_hours", "20", "the locks P-007 (COMPASS-CATERING) take 28 hours a week at "
                             "'COMPASS-CATERING', which offers 20 (capacity_hours)",
     "fout: decisions.csv, kolom option_id: de vastleggingen P-007 (COMPASS-CATERING) nemen 28 "
     "uur per week in bij 'COMPASS-CATERING', dat er 20 biedt (capacity_hours)"),
    ("min_participants", "2", "the locks P-007 (COMPASS-CATERING) need 'COMPASS-CATERING' to run, "
                              "but it runs from 2 people (min_participants) and only 1 could "
                              "take it",
     "de vastleggingen P-007 (COMPASS-CATERING) hebben 'COMPASS-CATERING' nodig, maar die gaat "
     "pas door vanaf 2 deelnemers (min_participants)"),
])
def test_infeasible_locks_are_refused_before_solving(pilot: Path, tmp_path: Path, column: str,
                                                     value: str, words: str, dutch: str):
    t = read_tables(pilot)
    opts = t["options"]
    opts[column] = ""
    opts.loc[opts["option_id"] == "COMPASS-CATERING", column] = value
    if column == "min_participants":  # only P-007 can reach the place: keep it so
        opts.loc[opts["option_id"] == "COMPASS-CATERING", "min_dutch_level"] = "C2"
    write_tables(pilot, {"options": opts})
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["--lang", "en", "run", str(pilot), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert words in " ".join(result.output.split())
    assert not out.exists()
    result = CliRunner().invoke(app, ["--lang", "nl", "run", str(pilot), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert dutch in " ".join(result.output.split())  # a code with parameters, in Dutch
    assert not out.exists()


def test_a_route_worth_two_placements_is_refused():
    from matcher.policy import policy_from_dict

    policy = policy_from_dict({"objective": {"match_bonus": 0.7}})
    with pytest.raises(InputError, match=r"must be below objective\.match_bonus"):
        run_round(instance_from_frames(_one_route("A2", "1")), policy)
