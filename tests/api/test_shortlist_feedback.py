"""Feedback per candidate on a shortlist: invited / not_suitable / hired / withdrawn, what each
does to cap slots and other shortlists, a coordinator confirming or rejecting a reported hire,
and who may do it."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Api
from tests.api.test_access import ESP_ORGS, ROLES

TCK = "/v1/options/TCK-KEUKEN/shortlist"
BEDIENING = "/v1/options/TCK-BEDIENING/shortlist"


def _ids(body: dict[str, Any]) -> list[str]:
    return [e["candidate_id"] for e in body["entries"]]


def _fb(api: Api, sl_id: int, who: str = "esp_tck", **body: Any) -> Any:
    return api.post(f"/v1/shortlists/{sl_id}/feedback", who, json=body)


def _counts(body: dict[str, Any]) -> dict[str, int]:
    return {e["candidate_id"]: e["other_open_shortlists"] for e in body["entries"]}


def test_feedback_is_validated_recorded_and_audited(api: Api) -> None:
    api.import_pilot()
    sl = api.post(TCK + "?k=4", "esp_tck").json()
    a, b, c, _ = _ids(sl)
    bad = [({"candidate_id": a, "kind": "not_suitable"}, "reason_code"),
           ({"candidate_id": a, "kind": "invited", "reason_code": "skills"}, "reason_code"),
           ({"candidate_id": a, "kind": "not_suitable", "reason_code": "other"}, "note"),
           ({"candidate_id": a, "kind": "not_suitable", "reason_code": "bad_luck"}, "reason_code"),
           ({"candidate_id": a, "kind": "promoted"}, "kind"),
           ({"candidate_id": a, "kind": "invited", "colour": "red"}, "colour"),
           ({"candidate_id": "P-NOT-LISTED", "kind": "invited"}, "candidate_id")]
    for body, field in bad:
        r = _fb(api, sl["id"], **body)
        assert r.status_code == 422 and field in r.text, (body, r.text)
    invited = _fb(api, sl["id"], candidate_id=a, kind="invited", note="gesprek dinsdag")
    assert invited.status_code == 201, invited.text
    assert invited.json()["kind"] == "invited" and invited.json()["note"] == "gesprek dinsdag"
    assert _fb(api, sl["id"], candidate_id=a, kind="invited").status_code == 409  # nothing new
    ns = _fb(api, sl["id"], candidate_id=b, kind="not_suitable", reason_code="language")
    assert ns.status_code == 201 and ns.json()["reason_code"] == "language"
    other = _fb(api, sl["id"], candidate_id=c, kind="not_suitable", reason_code="other",
                note="wil alleen 's avonds werken")
    assert other.status_code == 201
    for kind in ("invited", "hired", "withdrawn"):  # not_suitable is final
        assert _fb(api, sl["id"], candidate_id=b, kind=kind).status_code == 409
    hired = _fb(api, sl["id"], candidate_id=a, kind="hired")  # invited, then hired
    assert hired.status_code == 201 and hired.json()["resolution"] is None
    back = api.get(f"/v1/shortlists/{sl['id']}", "esp_tck").json()
    assert [(f["candidate_id"], f["kind"]) for f in back["feedback"]] == [
        (a, "invited"), (b, "not_suitable"), (c, "not_suitable"), (a, "hired")]
    assert back["left"] == [b, c]  # their places are free; the hired one keeps hers
    assert back["entries"] == sl["entries"]  # the list as issued
    actions = [r["action"] for r in api.all_items("/v1/audit/records", "auditor")]
    assert actions.count("shortlist.feedback.not_suitable") == 2
    assert {"shortlist.feedback.invited", "shortlist.feedback.hired"} <= set(actions)


def test_not_suitable_and_withdrawn_free_the_slot_invited_keeps_it(api: Api) -> None:
    api.import_pilot()
    first = api.post(TCK + "?k=10", "esp_tck").json()
    probe = api.post(BEDIENING + "?k=10", "coordinator").json()
    both = [cid for cid in _ids(probe) if cid in _ids(first)]
    assert len(both) >= 3, "the pilot's two TCK options share candidates"
    assert all(_counts(probe)[cid] == 1 for cid in both)
    kept, freed, gone = both[:3]
    assert _fb(api, first["id"], candidate_id=kept, kind="invited").status_code == 201
    assert _fb(api, first["id"], candidate_id=freed, kind="not_suitable",
               reason_code="hours").status_code == 201
    assert _fb(api, first["id"], candidate_id=gone, kind="withdrawn").status_code == 201
    again = _counts(api.post(BEDIENING + "?k=10", "coordinator").json())
    assert again[kept] == 1 and again[freed] == 0 and again[gone] == 0


def test_hired_leaves_other_shortlists_until_a_coordinator_resolves_it(api: Api) -> None:
    api.import_pilot()
    mine = api.post(TCK + "?k=10", "esp_tck").json()
    elsewhere = api.post(BEDIENING + "?k=10", "coordinator").json()
    x, y = [cid for cid in _ids(elsewhere) if cid in _ids(mine)][:2]
    hired = _fb(api, mine["id"], candidate_id=x, kind="hired")
    assert hired.status_code == 201 and hired.json()["left_shortlists"] == [elsewhere["id"]]
    assert api.get(f"/v1/shortlists/{elsewhere['id']}").json()["left"] == [x]
    # held back from every new shortlist while the report is pending
    assert x not in _ids(api.post(BEDIENING + "?k=30", "coordinator").json())
    assert x not in _ids(api.post(TCK + "?k=30", "esp_tck").json())
    # reported hired twice: refused while the first report stands
    assert _fb(api, elsewhere["id"], "coordinator", candidate_id=x,
               kind="hired").status_code == 409
    fid = hired.json()["id"]
    path = f"/v1/shortlists/{mine['id']}/feedback/{fid}"
    assert api.post(path + "/reject", "coordinator", json={}).status_code == 422  # no reason
    rejected = api.post(path + "/reject", "coordinator", json={"reason": "contract not signed"})
    assert rejected.status_code == 200 and rejected.json()["resolution"] == "rejected"
    assert api.post(path + "/confirm", "coordinator",
                    json={"reason": "late"}).status_code == 409  # resolved already
    assert x in _ids(api.post(BEDIENING + "?k=30", "coordinator").json())  # back in the pool
    # a confirmed hire is a coordinator's lock, with the reason given
    hired_y = _fb(api, mine["id"], candidate_id=y, kind="hired").json()
    confirmed = api.post(f"/v1/shortlists/{mine['id']}/feedback/{hired_y['id']}/confirm",
                         "coordinator", json={"reason": "contract signed 7 December"})
    assert confirmed.status_code == 200, confirmed.text
    decision_id = confirmed.json()["confirmed_decision_id"]
    assert confirmed.json()["resolution"] == "confirmed" and decision_id
    in_force = api.get("/v1/decisions/in-force").json()
    assert {"candidate_id": y, "option_id": "TCK-KEUKEN", "decision": "lock",
            "reason": "contract signed 7 December"}.items() <= next(
        d for d in in_force if d["candidate_id"] == y).items()
    assert y not in _ids(api.post(BEDIENING + "?k=30", "coordinator").json())  # committed
    here = api.post(TCK + "?k=30", "esp_tck").json()
    assert next(e for e in here["entries"] if e["candidate_id"] == y)["locked_here"]
    actions = [r["action"] for r in api.all_items("/v1/audit/records", "auditor")]
    assert {"shortlist.hire.reject", "shortlist.hire.confirm", "decision.lock"} <= set(actions)


def test_feedback_role_owner_matrix(api: Api) -> None:
    """Feedback on TCK's and IDID's shortlists by every role: a service point only on its
    organisations' (404 exactly as a missing one); confirm and reject: coordinators only."""
    api.import_pilot()
    api.keys["wrong_key"] = "mk_not-a-key"
    issued = {"TCK": api.post(TCK + "?k=10", "esp_tck").json(),
              "IDID": api.post("/v1/options/IDID-NAAIATELIER/shortlist?k=10", "esp_idid").json()}
    missing = _fb(api, 999999, candidate_id="P-1", kind="invited")
    assert missing.status_code == 404
    for i, role in enumerate(ROLES):
        for org, sl in issued.items():
            want = 401 if role in ("none", "wrong_key") else 403 if role in ("planner", "auditor") \
                else 404 if role in ESP_ORGS and org not in ESP_ORGS[role] else 201
            r = _fb(api, sl["id"], role, candidate_id=_ids(sl)[i], kind="invited")
            assert r.status_code == want, (role, org, r.text)
            if want == 404:
                assert r.json() == missing.json()
    hires = {}
    for org, sl in issued.items():
        cid = next(c for c in _ids(sl)[len(ROLES):] if c not in hires.values())
        r = _fb(api, sl["id"], "coordinator", candidate_id=cid, kind="hired")
        assert r.status_code == 201, r.text
        hires[org] = r.json()["id"]
    for org, sl in issued.items():
        for role in ROLES:
            want = 401 if role in ("none", "wrong_key") else 200 if role == "coordinator" \
                else 403
            r = api.post(f"/v1/shortlists/{sl['id']}/feedback/{hires[org]}/reject", role,
                         json={"reason": "checked with the employer"})
            assert r.status_code == want, (role, org, r.text)
    # another shortlist's feedback through this shortlist's path: missing
    r = api.post(f"/v1/shortlists/{issued['TCK']['id']}/feedback/{hires['IDID']}/confirm",
                 "coordinator", json={"reason": "x"})
    assert r.status_code == 404
