"""The participation chain through the API: routes.csv and the options' chain columns imported
(CSV and JSON), route decisions (next_option_id) in force in the next round, and who may do it."""

from __future__ import annotations

from pathlib import Path

import pytest

from matcher.load import load_instance
from matcher.policy import default_policy
from matcher.round import run_round
from tests.api.conftest import Api

CHAIN = Path(__file__).resolve().parents[2] / "matcher" / "data" / "pilot_chain"
TABLES = ("organisations", "options", "candidates", "protected", "decisions", "routes")


def _import_chain(api: Api, who: str = "coordinator") -> object:
    files = {t: (f"{t}.csv", (CHAIN / f"{t}.csv").read_bytes(), "text/csv") for t in TABLES}
    return api.post("/v1/imports/csv", who, files=files)


def _routes(api: Api, round_id: int) -> dict[str, tuple[str, str]]:
    return {a["candidate_id"]: (a["option_id"], a["next_option_id"])
            for a in api.all_items(f"/v1/rounds/{round_id}/assignments")}


def test_chain_import_and_round_match_the_library(api: Api) -> None:
    r = _import_chain(api)
    assert r.status_code == 201, r.text
    assert r.json()["counts"]["routes"] == 5
    rnd = api.round()
    assert rnd["status"] == "done" and rnd["method"] == "chain_milp", rnd
    got = _routes(api, rnd["id"])
    lib = run_round(load_instance(CHAIN)[0], default_policy()).assignments
    want = dict(zip(lib["candidate_id"], zip(lib["option_id"], lib["next_option_id"],
                                             strict=True), strict=True))
    assert got == want
    assert any(nxt for _, nxt in got.values())  # some routes are proposed


def test_route_decisions_are_in_force_in_the_next_round(sqlite_api: Api) -> None:
    api = sqlite_api
    assert _import_chain(api).status_code == 201
    first = api.round()
    proposed = {c: v for c, v in _routes(api, first["id"]).items() if v[1]}
    cand, (prog, place) = sorted(proposed.items())[0]
    # accepting a proposed route holds its follow-on place
    r = api.post("/v1/decisions", json={"candidate_id": cand, "option_id": prog, "kind": "accept",
                                        "reason": "fits", "round_id": first["id"]})
    assert r.status_code == 201, r.text
    assert r.json()["next_option_id"] == place
    in_force = {(d["candidate_id"], d["option_id"]): d for d in api.get(
        "/v1/decisions/in-force").json()}
    assert in_force[(cand, prog)]["decision"] == "lock"
    assert in_force[(cand, prog)]["next_option_id"] == place
    # a lock of another route: P-002 to i-did's workshop and on to Vebego's cleaning place
    r = api.post("/v1/decisions", json={"candidate_id": "P-002", "option_id": "IDID-NAAIATELIER",
                                        "next_option_id": "VEBEGO-SCHOONMAAK", "kind": "lock",
                                        "reason": "afgesproken"})
    assert r.status_code == 201, r.text
    second = api.round()
    got = _routes(api, second["id"])
    assert got[cand] == (prog, place)
    assert got["P-002"] == ("IDID-NAAIATELIER", "VEBEGO-SCHOONMAAK")
    # released: the route is no longer held
    r = api.post("/v1/decisions", json={"candidate_id": "P-002", "option_id": "IDID-NAAIATELIER",
                                        "kind": "release", "reason": "gaat niet door"})
    assert r.status_code == 201, r.text
    assert ("P-002", "IDID-NAAIATELIER") not in {(d["candidate_id"], d["option_id"]) for d in api.get(
        "/v1/decisions/in-force").json()}


def test_route_decision_problems(sqlite_api: Api) -> None:
    api = sqlite_api
    assert _import_chain(api).status_code == 201
    base = {"candidate_id": "P-003", "option_id": "TCK-KEUKEN", "kind": "lock", "reason": "x"}
    r = api.post("/v1/decisions", json=base | {"next_option_id": "NOPE"})
    assert r.status_code == 404 and "next_option_id" in r.text
    r = api.post("/v1/decisions", json=base | {"next_option_id": "VEBEGO-SCHOONMAAK"})
    assert r.status_code == 422 and "has no route" in r.text
    rnd = api.round()
    single = next(a for a in api.all_items(f"/v1/rounds/{rnd['id']}/assignments")
                  if not a["next_option_id"])
    r = api.post("/v1/decisions", json={"candidate_id": single["candidate_id"],
                                        "option_id": single["option_id"], "kind": "accept",
                                        "reason": "x", "round_id": rnd["id"],
                                        "next_option_id": "COMPASS-CATERING"})
    assert r.status_code in (404, 422), r.text  # not what the round proposed


def test_routes_and_chain_columns_by_json(sqlite_api: Api) -> None:
    api = sqlite_api
    api.import_pilot()
    bad = api.post("/v1/imports", json={"routes": [
        {"programme_id": "COMPASS-CATERING", "place_id": "VEBEGO-SCHOONMAAK"}]})
    assert bad.status_code == 422
    problem = bad.json()["problems"][0]
    assert (problem["table"], problem["index"], problem["field"]) == ("routes", 0, "programme_id")
    opts = {o["option_id"]: o for o in api.all_items("/v1/options")}
    kitchen = opts["TCK-KEUKEN"] | {"language_gain": "1", "duration_weeks": "12"}
    ok = api.post("/v1/imports", json={
        "options": [kitchen],
        "routes": [{"programme_id": "TCK-KEUKEN", "place_id": "COMPASS-CATERING", "seats": "1"}]})
    assert ok.status_code == 201, ok.text
    rnd = api.round()
    assert rnd["method"] == "chain_milp"
    decisions = api.post("/v1/imports", json={"decisions": [
        {"candidate_id": "P-003", "option_id": "TCK-KEUKEN", "decision": "lock",
         "reason": "afgesproken", "next_option_id": "COMPASS-CATERING"}]})
    assert decisions.status_code == 201, decisions.text
    got = _routes(api, api.round()["id"])
    assert got["P-003"] == ("TCK-KEUKEN", "COMPASS-CATERING")
    # routes replaced by an empty routes.csv: no routes any more, the round as before them
    files = {"routes": ("routes.csv", b"programme_id,place_id,seats\n", "text/csv")}
    assert api.post("/v1/imports/csv", files=files, data={"mode": "replace"}).status_code == 201
    bad_lock = api.round()
    assert bad_lock["status"] == "done"
    assert all(not v[1] for v in _routes(api, bad_lock["id"]).values())


ROLES = ("none", "coordinator", "planner", "auditor", "esp_tck", "esp_idid")


@pytest.mark.parametrize("role", ROLES)
def test_route_import_and_decision_role_matrix(sqlite_api: Api, role: str) -> None:
    """Importing routes and deciding on a route: coordinators only (401 without a key, 403 for
    every other role, whichever organisation's programme or place the route joins)."""
    api = sqlite_api
    api.import_pilot()
    want = {"none": 401, "coordinator": 201}.get(role, 403)
    routes = {"routes": [{"programme_id": "TCK-KEUKEN", "place_id": "COMPASS-CATERING"},
                         {"programme_id": "IDID-NAAIATELIER", "place_id": "VEBEGO-SCHOONMAAK"}]}
    assert api.post("/v1/imports", role, json=routes).status_code == want
    if want != 201:
        assert api.post("/v1/imports", json=routes).status_code == 201
    for prog, place in (("TCK-KEUKEN", "COMPASS-CATERING"),
                        ("IDID-NAAIATELIER", "VEBEGO-SCHOONMAAK")):
        r = api.post("/v1/decisions", role, json={
            "candidate_id": "P-003" if prog.startswith("TCK") else "P-004", "option_id": prog,
            "next_option_id": place, "kind": "forbid", "reason": "x"})
        assert r.status_code == want, (role, prog, r.text)
    in_force = api.get("/v1/decisions/in-force").json()
    assert len([d for d in in_force if d["next_option_id"]]) == (2 if want == 201 else 0)


def test_next_round_stays_stable(sqlite_api: Api) -> None:
    """previous_round_id: the API's next round keeps the earlier proposals (matcher run
    --previous); without it nothing changes."""
    api = sqlite_api
    api.import_pilot()
    first = api.round()
    assert first.get("stability") is None
    second = api.round(previous_round_id=first["id"])
    assert second["status"] == "done", second
    st = second["stability"]
    assert st["kept"] == first["counts"]["matched"] and st["moved"] == 0
    assert {a["candidate_id"]: a["option_id"] for a in api.all_items(
        f"/v1/rounds/{second['id']}/assignments")} == {a["candidate_id"]: a["option_id"] for a in
                                                       api.all_items(
        f"/v1/rounds/{first['id']}/assignments")}
    r = api.post("/v1/rounds", json={"previous_round_id": 999})
    assert r.status_code == 422 and "previous_round_id" in r.text
