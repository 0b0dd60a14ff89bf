"""The planner's what-if page, role x owner: planners only; the report in the page is the
what-if service's (the figures of `matcher whatif` on the same data); wrong values are shown
beside their field, nothing runs."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.services.planner_whatif import WhatIfAsk, what_if
from tests.web.conftest import Web, csrf_of
from tests.web.test_servicepoint_pages import _import_pilot

PAGE = "/planner/what-if"


@pytest.fixture
def pl(web: Web) -> Web:
    _import_pilot(web)
    return web


def _run(web: Web, **fields: str) -> Any:
    token = csrf_of(web.as_("planner").get(PAGE).text)
    return web.as_("planner").post(PAGE, data={"csrf_token": token, **fields},
                                   follow_redirects=False)


def test_form_names_options_and_organisations(pl: Web) -> None:
    page = pl.as_("planner").get(PAGE)
    assert page.status_code == 200
    assert "Leerwerktraject keuken (The Colour Kitchen, 4)" in page.text
    assert '<option value="TCK">The Colour Kitchen (7)</option>' in page.text
    assert 'lang="nl"' in page.text and "Wat als" in page.text


@pytest.mark.parametrize("who", ["coordinator", "auditor", "esp_tck"])
def test_other_roles_get_403(pl: Web, who: str) -> None:
    assert pl.as_(who).get(PAGE).status_code == 403
    assert pl.post(who, PAGE, {"option_id": "TCK-KEUKEN", "seats": "0"}).status_code == 403


def test_not_logged_in_goes_to_login(pl: Web) -> None:
    c = TestClient(pl.app)
    r = c.get(PAGE, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_report_in_the_page_is_the_services(pl: Web) -> None:
    r = _run(pl, option_id="TCK-KEUKEN", seats="0", organisation_id="TCK",
             guidance_capacity="9")
    assert r.status_code == 200, r.text
    service = what_if(pl.app.state.db, pl.app.state.policy,
                      WhatIfAsk("TCK-KEUKEN", 0, None, "TCK", 9), "wat als")
    moves = service.report["scenarios"][0]["diff"]["moves"]
    assert moves
    for m in moves:
        assert f"<td>{m['candidate_id']}</td>" in r.text
    assert "set options.TCK-KEUKEN.capacity=0" in r.text
    for title, _level, _body in service.sections:
        assert title in r.text
    assert len(re.findall(r'<img class="plot" src="data:image/png;base64,', r.text)) == 2


@pytest.mark.parametrize(("fields", "field"), [
    ({"option_id": "TCK-KEUKEN", "seats": "-1"}, "seats"),
    ({"option_id": "TCK-KEUKEN", "seats": "veel"}, "seats"),
    ({"seats": "3"}, "option_id"),
    ({"guidance_capacity": "3"}, "organisation_id"),
    ({"option_id": "IDID-NOPE", "seats": "3"}, "option_id"),
    ({"option_id": "TCK-KEUKEN", "min_dutch_level": "Z9"}, "min_dutch_level"),
    ({}, "seats"),
])
def test_wrong_values_are_shown_beside_their_field(pl: Web, fields: dict[str, str],
                                                   field: str) -> None:
    r = _run(pl, **fields)
    assert r.status_code == 422
    assert f'href="#{field}"' in r.text and f'id="{field}-problem"' in r.text
    assert "whatif-report" not in r.text


def test_unknown_field_is_refused(pl: Web) -> None:
    r = _run(pl, option_id="TCK-KEUKEN", seats="1", budget="3")
    assert r.status_code == 422 and "budget" in r.text
