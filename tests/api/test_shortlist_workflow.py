"""The shortlist workflow: POST issues, GET reads back, Idempotency-Key, filters and paging,
unknown parameters refused, typed numbers."""

from __future__ import annotations

import asyncio
from typing import Any

import pandas as pd

from api.security import Caller, Role
from api.shortlisting import Ask, ShortlistBatcher
from matcher.levels import LEVEL_RANK
from tests.api.conftest import PILOT, Api

URL = "/v1/options/TCK-KEUKEN/shortlist"


def _ids(body: dict[str, Any]) -> list[str]:
    return [e["candidate_id"] for e in body["entries"]]


def test_get_reads_the_callers_latest_open_shortlist_and_issues_nothing(api: Api) -> None:
    api.import_pilot()
    assert api.get(URL, "esp_tck").status_code == 404  # none issued yet
    first = api.post(URL + "?k=2", "esp_tck")
    second = api.post(URL + "?k=3", "esp_tck")
    assert first.status_code == second.status_code == 201
    records = len(api.all_items("/v1/audit/records", "auditor"))
    got = api.get(URL, "esp_tck")
    assert got.status_code == 200 and got.json() == second.json()
    assert api.get(URL, "esp_tck").json() == second.json()  # no new shortlist, no record
    assert len(api.all_items("/v1/audit/records", "auditor")) == records
    assert api.get(URL, "coordinator").status_code == 404  # another key's
    one = api.get(f"/v1/shortlists/{first.json()['id']}", "esp_tck")
    assert one.status_code == 200 and one.json() == first.json()
    assert api.get(f"/v1/shortlists/{first.json()['id']}", "esp_idid").status_code == 404
    assert api.get("/v1/shortlists/999999", "esp_tck").status_code == 404
    api.post(f"/v1/shortlists/{second.json()['id']}/close", "esp_tck")
    latest = api.get(URL, "esp_tck").json()
    assert latest["id"] == first.json()["id"] and latest["status"] == "open"
    closed = api.get(f"/v1/shortlists/{second.json()['id']}", "esp_tck").json()
    assert closed["status"] == "closed" and closed["closed_at"]
    page = api.get("/v1/shortlists", "esp_tck", params={"status": "open"}).json()
    assert [s["id"] for s in page["items"]] == [first.json()["id"]] and page["total"] == 1
    assert api.get("/v1/shortlists", "esp_idid").json()["total"] == 0  # not its organisations'
    assert api.get("/v1/shortlists", "coordinator").json()["total"] == 2


def test_idempotency_key_replays_the_first_shortlist(api: Api) -> None:
    api.import_pilot()
    h = {"Idempotency-Key": "retry-1"}
    first = api.client.post(URL + "?k=3", headers=api.h("esp_tck") | h)
    again = api.client.post(URL + "?k=3", headers=api.h("esp_tck") | h)
    assert first.status_code == 201 and again.status_code == 200
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    other = api.client.post(URL + "?k=4", headers=api.h("esp_tck") | h)
    assert other.status_code == 422 and "Idempotency-Key" in other.json()["detail"]
    # scoped to the API key: another key may use the same header value
    assert api.client.post(URL + "?k=3", headers=api.h("coordinator") | h).status_code == 201
    # the same request as JSON body is the same request
    body = api.client.post(URL, headers=api.h("esp_tck") | h, json={"k": 3})
    assert body.status_code == 200 and body.json()["id"] == first.json()["id"]
    issued = [r for r in api.all_items("/v1/audit/records", "auditor") if r["action"] == "shortlist"]
    assert len(issued) == 2


def test_one_idempotency_key_twice_in_one_batch_issues_once(api: Api) -> None:
    api.import_pilot()
    state = api.app.state
    batcher = ShortlistBatcher(state.shortlists, state.cache)
    caller = Caller(1, Role.coordinator, frozenset())
    asks = [Ask(caller, "TCK-KEUKEN", 3, idem_key="same"), Ask(caller, "TCK-KEUKEN", 3, idem_key="same"),
            Ask(caller, "TCK-KEUKEN", 4, idem_key="same")]

    async def together() -> list[Any]:
        return await asyncio.gather(*(batcher.issue(a) for a in asks), return_exceptions=True)

    a, b, c = asyncio.run(together())
    assert a[0].result["id"] == b[0].result["id"] and b[0].replayed and not a[0].replayed
    assert getattr(c, "status_code", None) == 422
    issued = [r for r in api.all_items("/v1/audit/records", "auditor") if r["action"] == "shortlist"]
    assert len(issued) == 1


def test_filters_keep_only_matching_candidates_and_paging_goes_on(api: Api) -> None:
    api.import_pilot()
    cands = pd.read_csv(PILOT / "candidates.csv", dtype=str, keep_default_na=False)
    cands = cands.set_index("candidate_id")
    everyone = api.post("/v1/options/TCK-BEDIENING/shortlist?k=100").json()
    assert len(everyone["entries"]) >= 4
    api.post(f"/v1/shortlists/{everyone['id']}/close")
    cases: list[tuple[dict[str, Any], Any]] = [
        ({"min_hours": 24}, lambda c: float(c.hours_available) >= 24),
        ({"min_dutch_level": "B1"}, lambda c: LEVEL_RANK[c.dutch_level] >= LEVEL_RANK["B1"]),
        ({"sector": "Hospitality"}, lambda c: "hospitality" in c.sectors.lower().split(";")),
    ]
    for filters, ok in cases:
        got = api.post("/v1/options/TCK-BEDIENING/shortlist", json={"k": 100, **filters})
        assert got.status_code == 201, got.text
        body = got.json()
        want = [i for i in _ids(everyone) if ok(cands.loc[i])]
        assert _ids(body) == want, filters
        assert body["filters"] == filters
        api.post(f"/v1/shortlists/{body['id']}/close")
    near = api.post("/v1/options/TCK-BEDIENING/shortlist?k=100&max_km=3").json()
    assert set(_ids(near)) <= set(_ids(everyone))
    api.post(f"/v1/shortlists/{near['id']}/close")
    page1 = api.post("/v1/options/TCK-BEDIENING/shortlist?k=2").json()
    api.post(f"/v1/shortlists/{page1['id']}/close")
    page2 = api.post("/v1/options/TCK-BEDIENING/shortlist?k=2&offset=2").json()
    assert _ids(page1) + _ids(page2) == _ids(everyone)[:4]
    assert [e["rank"] for e in page2["entries"]] == [3, 4] and page2["offset"] == 2


def test_unknown_or_doubled_parameters_are_refused_naming_them(api: Api) -> None:
    api.import_pilot()
    r = api.post(URL + "?sector=hospitality&max_km=5&max_kms=3&foo=1")
    assert r.status_code == 422
    named = {tuple(d["loc"]) for d in r.json()["detail"]}
    assert named == {("query", "max_kms"), ("query", "foo")}
    r = api.post(URL, json={"k": 3, "maxkm": 5})
    assert r.status_code == 422 and "maxkm" in r.text
    r = api.post(URL + "?k=3", json={"k": 3})
    assert r.status_code == 422 and "not both" in r.text
    r = api.get("/v1/options", params={"limit": 5, "orgnisation": "TCK"})
    assert r.status_code == 422 and "orgnisation" in r.text
    assert api.get(URL, "esp_tck", params={"k": 3}).status_code == 422  # GET takes no k


def test_stored_data_comes_back_with_typed_numbers(api: Api) -> None:
    api.import_pilot()
    opt = api.get("/v1/options", params={"limit": 1}).json()["items"][0]
    assert isinstance(opt["capacity"], int) and isinstance(opt["hours_min"], float)
    assert opt["lat"] is None or isinstance(opt["lat"], float)
    cand = api.get("/v1/candidates", params={"limit": 1}).json()["items"][0]
    assert isinstance(cand["guidance_need"], int) and isinstance(cand["max_travel_km"], float)
    org = api.get("/v1/organisations", params={"limit": 1}).json()["items"][0]
    assert isinstance(org["guidance_capacity"], int)


def test_available_by_keeps_those_who_can_start_in_time(api: Api) -> None:
    cands = pd.read_csv(PILOT / "candidates.csv", dtype=str, keep_default_na=False)
    cands["available_from"] = ""
    cands.loc[cands.index % 2 == 0, "available_from"] = "2027-03-01"
    files = {t: (f"{t}.csv", (PILOT / f"{t}.csv").read_bytes(), "text/csv")
             for t in ("organisations", "options")}
    files["candidates"] = ("candidates.csv", cands.to_csv(index=False).encode(), "text/csv")
    assert api.post("/v1/imports/csv", files=files).status_code == 201
    late = set(cands.loc[cands["available_from"] != "", "candidate_id"])
    everyone = api.post("/v1/options/TCK-BEDIENING/shortlist?k=100").json()
    api.post(f"/v1/shortlists/{everyone['id']}/close")
    soon = api.post("/v1/options/TCK-BEDIENING/shortlist?k=100&available_by=2027-01-01").json()
    assert _ids(soon) == [i for i in _ids(everyone) if i not in late]
    api.post(f"/v1/shortlists/{soon['id']}/close")
    later = api.post("/v1/options/TCK-BEDIENING/shortlist?k=100&available_by=2027-03-01").json()
    assert _ids(later) == _ids(everyone)
    cands.loc[0, "available_from"] = "1 maart"
    files["candidates"] = ("candidates.csv", cands.to_csv(index=False).encode(), "text/csv")
    bad = api.post("/v1/imports/csv", files=files)
    assert bad.status_code == 422
    assert bad.json()["problems"][0]["field"] == "available_from"
