"""Every page x every role: who may open which page (the same roles as the API), and every
form refuses a POST without its CSRF token. A page added without a row here fails the test."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from api.web import page_modules
from tests.web.conftest import USERS, make_web
from tests.web.test_web_coordinator import pilot_workbook, proposals, start_round, upload

C, P, A, E = "coordinator", "planner", "auditor", "esp_tck"
READERS = {C, P, A}
#: page (path template) -> roles that may open it; everyone else gets 403 (anonymous: login).
PAGES: dict[str, set[str]] = {
    "/": {C, P, A, E},
    "/data": {C},
    "/rounds": READERS,
    "/rounds/{round_id}": READERS,
    "/rounds/{round_id}/status.json": READERS,
    "/rounds/{round_id}/people/{candidate_id}": READERS,
    "/rounds/compare": READERS,
    "/rounds/{round_id}/audit": READERS,
    "/rounds/{round_id}/proposal.xlsx": READERS,
    "/rounds/{round_id}/proposal.csv": READERS,
}
#: the page groups this table covers (the service point's, planner's and auditor's pages have
#: their own role tables in tests/web/test_*_pages.py)
OWN_MODULES = {"auth", "home", "data", "rounds", "review", "compare", "round_audit", "downloads"}
#: pages anyone may open (logging in, the language)
PUBLIC = {"/login", "/taal/{lang}"}
#: forms -> roles that may send them
FORMS: dict[str, set[str]] = {
    "/logout": {C, P, A, E},
    "/data": {C},
    "/rounds": {C},
    "/rounds/{round_id}/people/{candidate_id}": {C},
}


def _flat(routes: list[Any]) -> list[Any]:
    out = []
    for r in routes:
        inner = getattr(r, "original_router", None)  # an included router (FastAPI >= 0.16x)
        out += _flat(inner.routes) if inner is not None else [r]
    return out


def page_routes(app: Any, method: str) -> set[str]:
    """The page modules' routes (their routers have no prefix: the paths are as served)."""
    prefixes = tuple(f"api.web.pages.{m}" for m in page_modules() if m in OWN_MODULES)
    return {r.path for r in _flat(app.routes) if isinstance(r, APIRoute)
            and method in r.methods and r.endpoint.__module__.startswith(prefixes)}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Any:
    mp = pytest.MonkeyPatch()
    mp.delenv("MATCHER_LANG", raising=False)
    gen = make_web(tmp_path_factory.mktemp("access"))
    web = next(gen)
    upload(web, [("pilot.xlsx", pilot_workbook())])
    rid = start_round(web)
    second = start_round(web)
    person = sorted(proposals(web, rid))[0]
    values = {"round_id": str(rid), "candidate_id": person, "lang": "en"}
    yield web, values, second
    mp.undo()
    gen.close()


def url(template: str, values: dict[str, str], second: int) -> str:
    path = template.format(**values)
    return path + (f"?first={values['round_id']}&second={second}" if path.endswith("compare")
                   else "")


def test_every_page_has_a_row(world: Any) -> None:
    web, _, _ = world
    assert page_routes(web.app, "GET") == set(PAGES) | PUBLIC
    assert page_routes(web.app, "POST") == set(FORMS) | {"/login"}


@pytest.mark.parametrize("who", sorted(USERS))
@pytest.mark.parametrize("page", sorted(PAGES))
def test_role_x_page(world: Any, page: str, who: str) -> None:
    web, values, second = world
    r = web.as_(who).get(url(page, values, second), follow_redirects=False)
    if who in PAGES[page]:
        assert r.status_code == 200, (page, who, r.text[:300])
    else:
        assert r.status_code == 403, (page, who, r.status_code)
        assert "Met uw rol mag u deze pagina niet openen" in r.text


@pytest.mark.parametrize("page", sorted(PAGES))
def test_anonymous_goes_to_login(world: Any, page: str) -> None:
    web, values, second = world
    r = TestClient(web.app).get(url(page, values, second), follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


@pytest.mark.parametrize("who", sorted(USERS))
@pytest.mark.parametrize("form", sorted(FORMS))
def test_every_form_needs_its_csrf_token_and_role(world: Any, form: str, who: str) -> None:
    web, values, _ = world
    client = web.as_(who)
    r = client.post(form.format(**values), data={"kind": "lock", "option_id": "X",
                                                 "reason": "r"}, follow_redirects=False)
    assert r.status_code == 403  # no token: refused before anything else
    if who not in FORMS[form]:
        r = web.post(who, form.format(**values), {"kind": "lock", "option_id": "X",
                                                  "reason": "r"})
        assert r.status_code == 403 and "Met uw rol" in r.text


def test_unknown_round_and_person_are_404_pages(world: Any) -> None:
    web, values, _ = world
    c = web.as_(C)
    assert c.get("/rounds/999").status_code == 404
    assert c.get(f"/rounds/{values['round_id']}/people/NOBODY").status_code == 404
    assert "Deze pagina bestaat niet" in c.get("/rounds/999").text


def test_no_page_shows_a_persons_protected_attributes(world: Any) -> None:
    """Only the audit page shows groups, as counts, and names nobody."""
    web, values, second = world
    for page in PAGES:
        if page.endswith((".xlsx", ".json", "/audit")):
            continue
        html = web.as_(C).get(url(page, values, second)).text
        assert "female" not in html and "25-44" not in html, page
    audit = web.as_(C).get(f"/rounds/{values['round_id']}/audit").text
    assert "female" in audit and "P-0" not in audit


def test_fresh_app_makes_its_own_users(tmp_path: Any) -> None:
    for web in make_web(tmp_path):
        assert web.as_(C).get("/").status_code == 200
