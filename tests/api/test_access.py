"""Who may do what: the shortlist matrix, 401/403/404, and no forbidden field in any response."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Api

PROTECTED_FIELDS = {"gender", "age_band", "migration_background", "disability", "religion",
                    "attributes", "origin", "age"}
ROLES = ("none", "wrong_key", "coordinator", "planner", "auditor", "esp_tck", "esp_idid")
OPTIONS = ("TCK-KEUKEN", "IDID-NAAIATELIER", "NO-SUCH-OPTION")
#: option -> organisation in the pilot data; esp_tck acts for TCK, esp_idid for IDID and SPEC.
OWNER = {"TCK-KEUKEN": "TCK", "IDID-NAAIATELIER": "IDID"}
ESP_ORGS = {"esp_tck": {"TCK"}, "esp_idid": {"IDID", "SPEC"}}


def expected(role: str, option: str) -> int:
    if role in ("none", "wrong_key"):
        return 401
    if role in ("planner", "auditor"):
        return 403
    if option not in OWNER:
        return 404
    if role in ESP_ORGS and OWNER[option] not in ESP_ORGS[role]:
        return 404
    return 201


def test_shortlist_role_owner_option_matrix(api: Api) -> None:
    api.import_pilot()
    api.keys["wrong_key"] = "mk_not-a-key"
    missing_body = api.post("/v1/options/NO-SUCH-OPTION/shortlist").json()
    for role in ROLES:
        for option in OPTIONS:
            r = api.post(f"/v1/options/{option}/shortlist", role)
            assert r.status_code == expected(role, option), (role, option, r.text)
            if r.status_code == 404:  # another organisation's option looks exactly missing
                assert r.json() == missing_body
            if r.status_code == 201:
                body = r.json()
                assert body["option_id"] == option and body["entries"]
                assert all(e["candidate_id"].startswith("P-") for e in body["entries"])


def _walk(obj: Any, path: str = "") -> list[str]:
    """Paths of keys that name a protected attribute, anywhere in a JSON body."""
    bad = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if str(k).lower() in PROTECTED_FIELDS:
                bad.append(f"{path}.{k}")
            bad += _walk(v, f"{path}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            bad += _walk(v, f"{path}[{i}]")
    return bad


def test_no_response_carries_protected_attributes_to_non_auditors(sqlite_api: Api) -> None:
    api = sqlite_api
    api.import_pilot()
    # A candidates file with a protected column: the column is not stored, only warned about.
    cands = (api.get("/v1/candidates").json()["items"])[:2]
    r = api.post("/v1/imports", json={"candidates": [c | {"gender": "female"} for c in cands]})
    assert r.status_code == 201
    assert [w["field"] for w in r.json()["warnings"]] == ["gender"]
    rnd = api.round()
    a = api.all_items(f"/v1/rounds/{rnd['id']}/assignments")[0]
    api.post("/v1/decisions", json={"candidate_id": a["candidate_id"], "option_id": a["option_id"],
                                    "kind": "accept", "reason": "fits", "round_id": rnd["id"]})
    values = {"round_id": str(rnd["id"]), "option_id": "TCK-KEUKEN", "shortlist_id": "1",
              "candidate_id": a["candidate_id"]}
    schema = api.app.openapi()
    seen = 0
    paths = set()
    for role in ("coordinator", "planner", "esp_tck", "esp_idid"):
        for path, ops in schema["paths"].items():
            if "get" not in ops:
                continue
            url = path
            for name, value in values.items():
                url = url.replace("{" + name + "}", value)
            r = api.get(url, role)
            if path == "/v1/protected":
                assert r.status_code == 403
            if r.status_code != 200:
                continue
            seen += 1
            paths.add(path)
            assert not _walk(r.json()), (role, url, _walk(r.json()))
            assert "female" not in r.text
    assert seen >= 20 and "/v1/rounds/{round_id}/explain/{candidate_id}" in paths
    # The auditor does read them.
    prot = api.get("/v1/protected", "auditor").json()
    assert prot["total"] == 25 and set(prot["items"][0]["attributes"]) == {
        "gender", "age_band", "migration_background", "disability"}


@pytest.mark.parametrize("path", ["/v1/rounds", "/v1/candidates", "/v1/decisions",
                                  "/v1/audit/records", "/v1/protected", "/v1/imports"])
def test_no_key_is_401_everywhere(sqlite_api: Api, path: str) -> None:
    assert sqlite_api.client.get(path).status_code == 401


def test_wrong_role_is_403(sqlite_api: Api) -> None:
    api = sqlite_api
    assert api.get("/v1/protected", "coordinator").status_code == 403
    assert api.get("/v1/audit/records", "planner").status_code == 403
    assert api.post("/v1/imports", "planner", json={"candidates": []}).status_code == 403
    assert api.get("/v1/candidates", "esp_tck").status_code == 403
    assert api.get("/v1/rounds", "esp_tck").status_code == 403


def test_service_points_list_only_their_options(sqlite_api: Api) -> None:
    api = sqlite_api
    api.import_pilot()
    own = api.all_items("/v1/options", "esp_tck")
    assert own and {o["organisation_id"] for o in own} == {"TCK"}
    assert len(api.all_items("/v1/options")) == 11


def test_shortlist_reads_and_close_role_owner_matrix(api: Api) -> None:
    """GET latest, GET one, the list and close, for every role against TCK's and IDID's
    shortlists: service points see only their organisations' (404 as if missing)."""
    api.import_pilot()
    api.keys["wrong_key"] = "mk_not-a-key"
    issued = {"TCK": api.post("/v1/options/TCK-KEUKEN/shortlist", "esp_tck").json(),
              "IDID": api.post("/v1/options/IDID-NAAIATELIER/shortlist", "esp_idid").json()}
    for role in ROLES:
        for org, sl in issued.items():
            want = 401 if role in ("none", "wrong_key") else 403 if role in ("planner", "auditor") \
                else 404 if role in ESP_ORGS and org not in ESP_ORGS[role] else 200
            one = api.get(f"/v1/shortlists/{sl['id']}", role)
            assert one.status_code == want, (role, org, one.text)
            latest = api.get(f"/v1/options/{sl['option_id']}/shortlist", role)
            mine = role == {"TCK": "esp_tck", "IDID": "esp_idid"}[org]
            assert latest.status_code == (200 if mine else 404 if want == 200 else want), (role, org)
        listed = api.get("/v1/shortlists", role)
        if role in ("none", "wrong_key", "planner", "auditor"):
            assert listed.status_code in (401, 403)
        else:
            orgs = ESP_ORGS.get(role, {"TCK", "IDID"})
            assert {s["organisation_id"] for s in listed.json()["items"]} == orgs & set(issued)
    for role in ROLES:  # closing last: esp_idid cannot close TCK's, esp_tck can
        want = 401 if role in ("none", "wrong_key") else 403 if role in ("planner", "auditor") \
            else 404 if role == "esp_idid" else 200
        r = api.post(f"/v1/shortlists/{issued['TCK']['id']}/close", role)
        assert r.status_code == want, (role, r.text)
