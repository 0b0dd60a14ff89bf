"""Logging in to the pages: passwords, sessions, CSRF, rate limits, language and headers."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from api.models import WebSession
from api.users import set_disabled
from tests.web.conftest import PASSWORD, Web, csrf_of, login, make_web


def test_login_ok_then_logout(web: Web) -> None:
    c = TestClient(web.app)
    assert c.get("/", follow_redirects=False).headers["location"] == "/login"
    r = login(c, "coordinator")
    assert r.status_code == 303 and r.headers["location"] == "/"
    cookie = r.headers["set-cookie"]
    assert "matcher_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain http here (see the HTTPS test)
    home = c.get("/")
    assert home.status_code == 200 and "Ingelogd als coordinator (coördinator)" in home.text
    r = c.post("/logout", data={"csrf_token": csrf_of(home.text)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    c.cookies.clear()
    assert c.get("/", follow_redirects=False).headers["location"] == "/login"


def test_old_cookie_is_refused_after_logout(web: Web) -> None:
    c = TestClient(web.app)
    login(c, "coordinator")
    token = c.cookies.get("matcher_session")
    home = c.get("/")
    c.post("/logout", data={"csrf_token": csrf_of(home.text)})
    replay = TestClient(web.app, cookies={"matcher_session": token})
    assert replay.get("/", follow_redirects=False).headers["location"] == "/login"


@pytest.mark.parametrize(("name", "password"), [("coordinator", "wrong password"),
                                                 ("nobody", PASSWORD), ("coordinator", "")])
def test_bad_login_is_refused_in_dutch(web: Web, name: str, password: str) -> None:
    c = TestClient(web.app)
    r = login(c, name, password)
    assert r.status_code in (401, 422)
    if r.status_code == 401:
        assert "De naam of het wachtwoord klopt niet." in r.text
    assert "matcher_session" not in c.cookies


def test_disabled_user_cannot_log_in_and_is_logged_out(web: Web) -> None:
    c = web.as_("planner")
    assert c.get("/").status_code == 200
    set_disabled(web.app.state.db, "planner", True)
    assert c.get("/", follow_redirects=False).headers["location"] == "/login"
    assert login(TestClient(web.app), "planner").status_code == 401


def test_expired_session_goes_to_login(web: Web) -> None:
    c = web.as_("coordinator")
    with web.app.state.db.write() as s:
        s.execute(update(WebSession).values(expires_at="2000-01-01T00:00:00.000000Z"))
    r = c.get("/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_session_lasts_as_set(tmp_path: Path) -> None:
    for web in make_web(tmp_path, session_hours=2):
        r = login(TestClient(web.app), "coordinator")
        assert "Max-Age=7200" in r.headers["set-cookie"]


def test_secure_cookie_over_https(web: Web) -> None:
    c = TestClient(web.app, base_url="https://testserver")
    r = login(c, "coordinator")
    assert r.status_code == 303 and "Secure" in r.headers["set-cookie"]


def test_post_without_csrf_is_refused(web: Web) -> None:
    c = web.as_("coordinator")
    for data in ({}, {"csrf_token": "forged"}):
        r = c.post("/logout", data=data, follow_redirects=False)
        assert r.status_code == 403
        assert "Dit formulier is verlopen" in r.text
    assert c.get("/").status_code == 200  # still logged in


def test_login_without_its_csrf_is_refused(web: Web) -> None:
    c = TestClient(web.app)
    r = c.post("/login", data={"name": "coordinator", "password": PASSWORD,
                               "csrf_token": "made-up"}, follow_redirects=False)
    assert r.status_code == 403
    c.get("/login")  # the cookie is set now, but the form's token must match it
    r = c.post("/login", data={"name": "coordinator", "password": PASSWORD,
                               "csrf_token": "made-up"}, follow_redirects=False)
    assert r.status_code == 403 and "matcher_session" not in c.cookies


def test_login_attempts_are_rate_limited(tmp_path: Path) -> None:
    for web in make_web(tmp_path, login_burst=3, login_attempts_per_minute=1):
        c = TestClient(web.app)
        codes = [login(c, "coordinator", "wrong password").status_code for _ in range(3)]
        assert codes == [401, 401, 401]
        r = login(c, "coordinator")  # the right password, but too many tries
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        assert "Te veel pogingen" in r.text
        # the name is counted too: another address gets no more tries for it
        other = TestClient(web.app, client=("10.0.0.9", 5000))
        assert login(other, "coordinator").status_code == 429
        web.ensure("planner")
        assert login(other, "planner").status_code == 303


def test_next_stays_on_this_site(web: Web) -> None:
    c = TestClient(web.app)
    page = c.get("/login?next=//evil.example/x")
    r = c.post("/login", data={"name": "coordinator", "password": PASSWORD,
                               "csrf_token": csrf_of(page.text), "next": "https://evil.example"},
               follow_redirects=False)
    assert r.headers["location"] == "/"


def test_dutch_by_default_english_by_choice(web: Web) -> None:
    c = TestClient(web.app)
    page = c.get("/login")
    assert '<html lang="nl">' in page.text and "Wachtwoord" in page.text
    r = c.get("/taal/en?next=/login", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    page = c.get("/login")
    assert '<html lang="en">' in page.text and "Password" in page.text
    assert "Wachtwoord" not in page.text
    assert c.get("/taal/fr", follow_redirects=False).status_code == 404


def test_pages_allow_only_their_own_origin(web: Web) -> None:
    page = TestClient(web.app).get("/login")
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    assert "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert "<script>" not in page.text and "style=" not in page.text
    assert 'href="/static/matcher.css"' in page.text
    css = TestClient(web.app).get("/static/matcher.css")
    assert css.status_code == 200 and ":focus-visible" in css.text


def test_layout_has_skip_link_and_landmarks(web: Web) -> None:
    html = web.as_("coordinator").get("/").text
    assert '<a class="skip-link" href="#main">' in html
    for landmark in ("<header", '<main id="main"', "<footer", "<nav "):
        assert landmark in html


def test_unknown_page_is_an_html_404_for_browsers(web: Web) -> None:
    c = web.as_("coordinator")
    r = c.get("/no-such-page", headers={"accept": "text/html"})
    assert r.status_code == 404 and "Deze pagina bestaat niet" in r.text
    assert c.get("/v1/no-such", headers={"accept": "text/html"}).headers["content-type"] \
        .startswith("application/json")


def test_api_stays_key_only(web: Web) -> None:
    c = web.as_("coordinator")  # a logged-in browser is no API caller
    assert c.get("/v1/rounds").status_code == 401
