"""End to end over both databases: imports, rounds, decisions, history."""

from __future__ import annotations

import pandas as pd

from matcher.load import load_instance
from matcher.policy import default_policy
from matcher.round import run_round
from tests.api.conftest import PILOT, Api


def test_pilot_import_and_round_match_the_library(api: Api) -> None:
    imp = api.import_pilot()
    assert imp["counts"] == {"organisations": 9, "options": 11, "candidates": 25,
                             "protected": 25, "decisions": 2}
    rnd = api.round()
    assert rnd["status"] == "done" and rnd["kind"] == "official"
    # The API's round is the library's round over the same data.
    inst, _ = load_instance(PILOT)
    lib = run_round(inst, default_policy())
    got = pd.DataFrame(api.all_items(f"/v1/rounds/{rnd['id']}/assignments"))
    want = lib.assignments
    assert sorted(zip(got["candidate_id"], got["option_id"], strict=True)) == sorted(
        zip(want["candidate_id"], want["option_id"], strict=True))
    assert rnd["objective"] == lib.result.objective / 1e6
    # An auditor can match the API's round with `matcher run` on the same files.
    assert rnd["instance_hash"] == inst.content_hash
    assert rnd["counts"]["matched"] == len(want)
    unmatched = api.all_items(f"/v1/rounds/{rnd['id']}/unmatched")
    assert sorted(u["candidate_id"] for u in unmatched) == sorted(lib.unmatched["candidate_id"])
    util = api.get(f"/v1/rounds/{rnd['id']}/utilisation").json()
    assert sum(u["seats_used"] for u in util if u["level"] == "option") == len(want)


def test_decisions_are_respected_by_the_next_round_and_history_is_kept(api: Api) -> None:
    api.import_pilot()
    r1 = api.round()
    a1 = api.all_items(f"/v1/rounds/{r1['id']}/assignments")
    free = [a for a in a1 if not a["locked"]]
    rejected, accepted = free[0], free[1]
    for kind, a in (("reject", rejected), ("accept", accepted)):
        r = api.post("/v1/decisions", json={
            "candidate_id": a["candidate_id"], "option_id": a["option_id"], "kind": kind,
            "reason": f"coordinator {kind}s after intake", "round_id": r1["id"]})
        assert r.status_code == 201, r.text
    # Lock an unmatched-but-eligible style pair: move a third person to a forbidden-free option.
    third = free[2]
    r = api.post("/v1/decisions", json={"candidate_id": third["candidate_id"],
                                        "option_id": third["option_id"], "kind": "forbid",
                                        "reason": "employer and candidate know each other"})
    assert r.status_code == 201
    r2 = api.round()
    a2 = {(a["candidate_id"], a["option_id"]): a
          for a in api.all_items(f"/v1/rounds/{r2['id']}/assignments")}
    assert (rejected["candidate_id"], rejected["option_id"]) not in a2
    assert (third["candidate_id"], third["option_id"]) not in a2
    assert a2[(accepted["candidate_id"], accepted["option_id"])]["locked"] is True
    # Round 1 is a snapshot: unchanged.
    assert api.all_items(f"/v1/rounds/{r1['id']}/assignments") == a1
    hist = api.all_items("/v1/decisions")
    assert [h["kind"] for h in hist] == ["lock", "forbid", "reject", "accept", "forbid"]
    assert all(h["reason"] for h in hist)
    # Release the forbid: it leaves the decisions in force but stays in the history.
    r = api.post("/v1/decisions", json={"candidate_id": third["candidate_id"],
                                        "option_id": third["option_id"], "kind": "release",
                                        "reason": "misunderstanding cleared up"})
    assert r.status_code == 201
    in_force = api.get("/v1/decisions/in-force").json()
    assert (third["candidate_id"], third["option_id"]) not in {
        (d["candidate_id"], d["option_id"]) for d in in_force}
    assert len(api.all_items("/v1/decisions")) == 6


def test_decision_rules(api: Api) -> None:
    api.import_pilot()
    r1 = api.round()
    a = api.all_items(f"/v1/rounds/{r1['id']}/assignments")
    free = next(x for x in a if not x["locked"])
    base = {"candidate_id": free["candidate_id"], "option_id": free["option_id"], "reason": "r"}
    # accept needs the round; a pair the round did not propose cannot be accepted
    assert api.post("/v1/decisions", json=base | {"kind": "accept"}).status_code == 422
    other = next(x for x in a if x["option_id"] != free["option_id"])
    bad = base | {"kind": "accept", "round_id": r1["id"], "option_id": other["option_id"]}
    assert api.post("/v1/decisions", json=bad).status_code == 422
    assert api.post("/v1/decisions", json=base | {"kind": "accept", "round_id": 999}
                    ).status_code == 404
    # a reason is always required; unknown fields are refused
    assert api.post("/v1/decisions", json=base | {"kind": "lock", "reason": ""}).status_code == 422
    assert api.post("/v1/decisions", json=base | {"kind": "lock", "why": "x"}).status_code == 422
    # unknown candidate -> 404 naming the field
    r = api.post("/v1/decisions", json=base | {"kind": "lock", "candidate_id": "NOPE"})
    assert r.status_code == 404 and "candidate_id" in r.json()["detail"]
    # P-007 is locked to COMPASS-CATERING by the pilot decisions: a second lock conflicts
    r = api.post("/v1/decisions", json={"candidate_id": "P-007", "option_id": free["option_id"],
                                        "kind": "lock", "reason": "r"})
    assert r.status_code == 409 and "COMPASS-CATERING" in r.json()["detail"]
    # only coordinators decide
    for who in ("planner", "auditor", "esp_tck"):
        assert api.post("/v1/decisions", who, json=base | {"kind": "lock"}).status_code == 403


def test_planner_runs_scenarios_only_and_policy_overrides_are_checked(api: Api) -> None:
    api.import_pilot()
    assert api.post("/v1/rounds", "planner", json={}).status_code == 403
    sc = api.round("planner", kind="scenario", policy={"weights": {"skills": 0.9}})
    assert sc["kind"] == "scenario" and sc["status"] == "done"
    assert sc["policy_hash"] != api.round()["policy_hash"]
    r = api.post("/v1/rounds", json={"policy": {"weights": {"charm": 1}}})
    assert r.status_code == 422
    assert any(p["field"] == "weights.charm" for p in r.json()["problems"])
    assert api.post("/v1/rounds", json={"kind": "official", "colour": "red"}).status_code == 422
    # a scenario cannot be decided on
    a = api.all_items(f"/v1/rounds/{sc['id']}/assignments")[0]
    r = api.post("/v1/decisions", json={"candidate_id": a["candidate_id"],
                                        "option_id": a["option_id"], "kind": "accept",
                                        "reason": "r", "round_id": sc["id"]})
    assert r.status_code == 404


def test_round_without_data_and_with_infeasible_locks(api: Api) -> None:
    r = api.post("/v1/rounds", json={})
    assert r.status_code == 422 and "import" in r.json()["problems"][0]["message"]
    api.import_pilot()
    # TCK-BEDIENING has 3 seats: lock 4 candidates to it -> no round, 422 before any solving,
    # naming the locks and what would have to change (issue 27).
    for c in ("P-001", "P-004", "P-022", "P-023"):
        r = api.post("/v1/decisions", json={"candidate_id": c, "option_id": "TCK-BEDIENING",
                                            "kind": "lock", "reason": "test"})
        assert r.status_code == 201, r.text
    r = api.post("/v1/rounds", json={})
    assert r.status_code == 422, r.text
    assert r.json()["problems"][0]["message"].startswith(
        "4 locks at TCK-BEDIENING take 4 seats, TCK-BEDIENING has 3: raise its capacity to 4")


def test_explain_one_person_as_the_command_line_does(api: Api) -> None:
    from sqlalchemy import update

    from api.models import Round
    from matcher.explain_person import explain_candidate
    from matcher.explain_words import explanation_text

    api.import_pilot()
    rnd = api.round()
    inst, _ = load_instance(PILOT)
    lib = run_round(inst, default_policy())
    statuses = set()
    for cid in ("P-001", "P-007", "P-012", *inst.candidates["candidate_id"].tolist()[-6:]):
        for who in ("coordinator", "planner", "auditor"):
            r = api.get(f"/v1/rounds/{rnd['id']}/explain/{cid}", who)
            assert r.status_code == 200, r.text
            body = r.json()
            want = explain_candidate(lib, cid)
            assert body["text"] == explanation_text(want)
            assert body["status"] == want["status"] and body["candidate_id"] == cid
            assert body["option_id"] == (want["match"]["option_id"] if "match" in want else None)
            statuses.add(body["status"])
    assert statuses == {"matched", "unmatched"}
    url = f"/v1/rounds/{rnd['id']}/explain/P-001"
    assert api.get(url, "esp_tck").status_code == 403
    assert api.client.get(url).status_code == 401
    assert api.get(f"/v1/rounds/{rnd['id']}/explain/P-999").status_code == 404
    assert api.get("/v1/rounds/999/explain/P-001").status_code == 404
    second = api.round(kind="scenario")
    with api.app.state.db.write() as s:
        s.execute(update(Round).where(Round.id == second["id"]).values(status="running"))
    r = api.get(f"/v1/rounds/{second['id']}/explain/P-001")
    assert r.status_code == 409 and "running" in r.json()["detail"]
