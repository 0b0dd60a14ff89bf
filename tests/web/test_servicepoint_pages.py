"""The employer service point's pages, role x owner: only its own organisations' options; a
shortlist made from the page is the API's (same ranking, idempotent per form, audited); another
organisation's option or shortlist is a 404 page exactly like one that does not exist."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.models import AuditRecord, Shortlist
from api.security import Role, create_key
from api.users import create_user
from tests.web.conftest import PASSWORD, PILOT, Web, csrf_of, login

TABLES = ("organisations", "options", "candidates", "decisions")
OWN, OTHER = "TCK-KEUKEN", "IDID-NAAIATELIER"


def _import_pilot(web: Web) -> None:
    key = create_key(web.app.state.db, Role.coordinator)[1]
    files = {t: (f"{t}.csv", (PILOT / f"{t}.csv").read_bytes(), "text/csv") for t in TABLES}
    r = web.anonymous.post("/v1/imports/csv", files=files, headers={"X-API-Key": key})
    assert r.status_code == 201, r.text


@pytest.fixture
def sp(web: Web) -> Web:
    _import_pilot(web)
    return web


def _client(web: Web, name: str, role: Role, orgs: list[str]) -> TestClient:
    create_user(web.app.state.db, name, role, PASSWORD, orgs)
    c = TestClient(web.app)
    assert login(c, name).status_code == 303
    return c


def _shortlists(web: Web) -> int:
    with web.app.state.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(Shortlist)) or 0)


def _same(page: str, path: str, other: str, other_path: str) -> bool:
    """The same page, but for its own address (the language switch links back to it)."""
    return page.replace(path, "{path}") == other.replace(other_path, "{path}")


def _ask(web: Web, who: str, option: str, **fields: Any) -> Any:
    page = web.as_(who).get(f"/service-point/options/{option}")
    assert page.status_code == 200, page.text
    key = re.search(r'name="request_key" value="([^"]+)"', page.text)
    data = {"csrf_token": csrf_of(page.text), "request_key": key.group(1) if key else "",
            "k": "3"} | fields
    return web.as_(who).post(f"/service-point/options/{option}/shortlist", data=data,
                             follow_redirects=False)


def test_options_page_lists_own_organisations_options_by_name(sp: Web) -> None:
    page = sp.as_("esp_tck").get("/service-point")
    assert page.status_code == 200
    assert "Leerwerktraject keuken" in page.text and "Leerwerktraject bediening" in page.text
    assert "The Colour Kitchen" in page.text
    assert "Naaiatelier" not in page.text and "FC Utrecht" not in page.text
    assert f'href="/service-point/options/{OWN}"' in page.text
    assert 'lang="nl"' in page.text and "Onze opties" in page.text


@pytest.mark.parametrize("who", ["coordinator", "planner", "auditor"])
def test_other_roles_get_403(sp: Web, who: str) -> None:
    for path in ("/service-point", f"/service-point/options/{OWN}",
                 "/service-point/shortlists/1"):
        assert sp.as_(who).get(path).status_code == 403, (who, path)
    r = sp.post(who, f"/service-point/options/{OWN}/shortlist", {"k": "3"})
    assert r.status_code == 403
    assert _shortlists(sp) == 0


def test_not_logged_in_goes_to_login(sp: Web) -> None:
    c = TestClient(sp.app)
    for path in ("/service-point", f"/service-point/options/{OWN}", "/service-point/shortlists/1"):
        r = c.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next="), path
    r = c.post(f"/service-point/options/{OWN}/shortlist", data={"k": "3"},
               follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert _shortlists(sp) == 0


def test_another_organisations_option_is_exactly_a_missing_one(sp: Web) -> None:
    c = sp.as_("esp_tck")
    other, missing = c.get(f"/service-point/options/{OTHER}"), c.get("/service-point/options/NOPE")
    assert other.status_code == missing.status_code == 404
    assert _same(other.text, f"/service-point/options/{OTHER}", missing.text,
                 "/service-point/options/NOPE")
    assert "Naaiatelier" not in other.text
    token = csrf_of(c.get("/service-point").text)
    for option in (OTHER, "NOPE"):
        r = c.post(f"/service-point/options/{option}/shortlist",
                   data={"csrf_token": token, "k": "3"}, follow_redirects=False)
        assert r.status_code == 404
        assert _same(r.text, f"/service-point/options/{option}/shortlist", missing.text,
                     "/service-point/options/NOPE")
    assert _shortlists(sp) == 0


def test_shortlist_from_the_page_is_the_apis(sp: Web) -> None:
    r = _ask(sp, "esp_tck", OWN)
    assert r.status_code == 303
    shortlist_id = int(r.headers["location"].rsplit("/", 1)[1])
    page = sp.as_("esp_tck").get(r.headers["location"])
    assert page.status_code == 200
    # the same request over the API (another key of the same organisation) ranks the same people
    key = create_key(sp.app.state.db, Role.employer_service_point, ["TCK"])[1]
    api = sp.anonymous.post(f"/v1/options/{OWN}/shortlist", json={"k": 3},
                            headers={"X-API-Key": key}).json()
    ids = [e["candidate_id"] for e in api["entries"]]
    shown = re.findall(r"<td>(P-\d+)</td>", page.text)
    assert shown == ids and len(ids) == 3
    assert "Leerwerktraject keuken" in page.text and "open" in page.text
    with sp.app.state.db.session() as s:
        actions = s.scalars(select(AuditRecord.action).where(
            AuditRecord.target == f"shortlist/{shortlist_id}")).all()
    assert actions, "a shortlist made from a page is in the audit trail"
    # seen again later: the option's page links the newest open shortlist
    again = sp.as_("esp_tck").get(f"/service-point/options/{OWN}")
    assert f'href="/service-point/shortlists/{shortlist_id}"' in again.text


def test_the_same_form_sent_twice_makes_one_shortlist(sp: Web) -> None:
    page = sp.as_("esp_tck").get(f"/service-point/options/{OWN}")
    data = {"csrf_token": csrf_of(page.text), "k": "2",
            "request_key": re.search(r'name="request_key" value="([^"]+)"', page.text).group(1)}
    first = sp.as_("esp_tck").post(f"/service-point/options/{OWN}/shortlist", data=data,
                                   follow_redirects=False)
    second = sp.as_("esp_tck").post(f"/service-point/options/{OWN}/shortlist", data=data,
                                    follow_redirects=False)
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    assert _shortlists(sp) == 1


def test_another_service_points_shortlist_is_a_404(sp: Web) -> None:
    r = _ask(sp, "esp_tck", OWN)
    path = r.headers["location"]
    idid = _client(sp, "esp_idid", Role.employer_service_point, ["IDID", "SPEC"])
    assert idid.get(path).status_code == 404
    assert _same(idid.get(path).text, path, idid.get("/service-point/shortlists/999999").text,
                 "/service-point/shortlists/999999")
    assert idid.get("/service-point/shortlists/abc").status_code == 404
    assert idid.get(f"/service-point/options/{OWN}").status_code == 404
    assert "Naaiatelier" in idid.get("/service-point").text


@pytest.mark.parametrize(("field", "value"), [("k", "0"), ("k", "drie"), ("k", ""),
                                              ("max_km", "-2"), ("max_km", "ver"),
                                              ("min_dutch_level", "Z9")])
def test_wrong_values_are_shown_beside_their_field(sp: Web, field: str, value: str) -> None:
    r = _ask(sp, "esp_tck", OWN, **{field: value})
    assert r.status_code == 422
    assert f'href="#{field}"' in r.text and f'id="{field}-problem"' in r.text
    assert 'aria-invalid="true"' in r.text
    assert _shortlists(sp) == 0


def test_unknown_field_and_missing_csrf_are_refused(sp: Web) -> None:
    r = _ask(sp, "esp_tck", OWN, sector_typo="x")
    assert r.status_code == 422 and "sector_typo" in r.text
    r = sp.as_("esp_tck").post(f"/service-point/options/{OWN}/shortlist", data={"k": "3"},
                               follow_redirects=False)
    assert r.status_code == 403
    assert _shortlists(sp) == 0
