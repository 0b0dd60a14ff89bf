"""Outcomes through the API: one at a time or as outcomes.csv, validated, audited, per owner."""

from __future__ import annotations

from tests.api.conftest import Api
from tests.api.test_access import ESP_ORGS, ROLES

HEADER = "candidate_id,option_id,event,date,reason\n"


def _csv(api: Api, text: str, who: str = "coordinator") -> object:
    return api.post("/v1/outcomes/csv", who,
                    files={"outcomes": ("outcomes.csv", text.encode(), "text/csv")})


def test_outcomes_are_validated_recorded_listed_and_audited(api: Api) -> None:
    api.import_pilot()
    one = {"candidate_id": "P-001", "option_id": "TCK-KEUKEN", "event": "started",
           "date": "2026-01-05"}
    r = api.post("/v1/outcomes", "esp_tck", json=one)
    assert r.status_code == 201, r.text
    assert r.json()["event"] == "started" and r.json()["date"] == "2026-01-05"
    assert api.post("/v1/outcomes", "esp_tck", json=one).status_code == 409  # recorded already
    for body, status, field in (
            (one | {"event": "hired"}, 422, "event"),
            (one | {"date": "2026-02-30"}, 422, "date"),
            (one | {"salary": 3}, 422, "salary"),
            (one | {"candidate_id": "P-NOBODY"}, 404, "candidate_id"),
            (one | {"option_id": "NO-SUCH"}, 404, "option_id")):
        bad = api.post("/v1/outcomes", "esp_tck", json=body)
        assert bad.status_code == status and field in bad.text, (body, bad.text)
    # a file: every bad row named, nothing stored
    refused = _csv(api, HEADER + "P-002,IDID-NAAIATELIER,started,2026-01-05,\n"
                   "P-002,IDID-NAAIATELIER,in_work_9m,2026-01-05,\n"
                   "P-NOBODY,IDID-NAAIATELIER,started,2026-01-05,\n"
                   "P-001,TCK-KEUKEN,started,2026-01-06,\n")
    assert refused.status_code == 422
    assert {(p["row"], p["field"]) for p in refused.json()["problems"]} == {
        (3, "event")}  # the file's own problems first
    refused = _csv(api, HEADER + "P-002,IDID-NAAIATELIER,started,2026-01-05,\n"
                   "P-NOBODY,IDID-NAAIATELIER,started,2026-01-05,\n"
                   "P-001,TCK-KEUKEN,started,2026-01-06,\n")
    assert refused.status_code == 422
    assert {(p["row"], p["field"]) for p in refused.json()["problems"]} == {
        (3, "candidate_id"), (4, "event")}
    assert api.get("/v1/outcomes").json()["total"] == 1
    ok = _csv(api, HEADER + "P-002,IDID-NAAIATELIER,started,2026-01-05,\n"
              "P-002,IDID-NAAIATELIER,dropped_out,2026-02-01,te ver reizen\n")
    assert ok.status_code == 201 and ok.json() == {"recorded": 2}
    listed = api.get("/v1/outcomes", params={"candidate_id": "P-002"}).json()
    assert [(o["event"], o["reason"], o["source"]) for o in listed["items"]] == [
        ("started", "", "csv"), ("dropped_out", "te ver reizen", "csv")]
    actions = [r["action"] for r in api.all_items("/v1/audit/records", "auditor")]
    assert actions.count("outcome.started") == 1 and actions.count("outcome.import") == 1


def test_outcomes_role_owner_matrix(api: Api) -> None:
    api.import_pilot()
    api.keys["wrong_key"] = "mk_not-a-key"
    owner = {"TCK-KEUKEN": "TCK", "IDID-NAAIATELIER": "IDID"}
    for role in ROLES:
        for i, (option, org) in enumerate(owner.items()):
            want = 401 if role in ("none", "wrong_key") else 403 if role in ("planner", "auditor") \
                else 404 if role in ESP_ORGS and org not in ESP_ORGS[role] else 201
            body = {"candidate_id": f"P-00{ROLES.index(role) + 1}", "option_id": option,
                    "event": ["started", "in_work_3m"][i], "date": "2026-01-05"}
            r = api.post("/v1/outcomes", role, json=body)
            assert r.status_code == want, (role, option, r.text)
            if want == 404:  # another organisation's option looks exactly missing
                assert r.json() == {"detail": f"option_id: unknown option {option!r}"}
            csv = _csv(api, HEADER + f"P-01{ROLES.index(role)},{option},in_work_6m,2026-07-06,\n", role)
            assert csv.status_code == (422 if want == 404 else want), (role, option, csv.text)
    seen = {role: {o["option_id"] for o in api.all_items("/v1/outcomes", role)}
            for role in ("coordinator", "esp_tck", "esp_idid")}
    assert seen == {"coordinator": set(owner), "esp_tck": {"TCK-KEUKEN"},
                    "esp_idid": {"IDID-NAAIATELIER"}}
    for role in ("planner", "auditor"):
        assert api.get("/v1/outcomes", role).status_code == 403
