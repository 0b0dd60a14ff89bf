"""The auditor's audit-trail page, role x owner: auditors only; it says the chain is intact
when it is, names the first broken record when one is changed, and shows who made each record."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from api import audit
from api.models import AuditRecord
from tests.web.conftest import Web
from tests.web.test_servicepoint_pages import _ask, _import_pilot

PAGE = "/auditor/audit-trail"


@pytest.fixture
def au(web: Web) -> Web:
    _import_pilot(web)
    assert _ask(web, "esp_tck", "TCK-KEUKEN").status_code == 303  # a record made from a page
    return web


def test_intact_trail_and_who_did_what(au: Web) -> None:
    au.as_("auditor")
    page = au.as_("auditor").get(PAGE)
    assert page.status_code == 200
    chain = audit.verify(au.app.state.db)
    assert chain.ok and chain.records >= 3
    assert f"alle {chain.records} records" in page.text
    rows = re.findall(r'<td class="num">(\d+)</td>', page.text)
    assert [int(r) for r in rows] == list(range(1, chain.records + 1))
    assert "<td>esp_tck</td>" in page.text and "shortlist" in page.text


def test_a_changed_record_is_named(au: Web) -> None:
    with au.app.state.db.write() as s:
        s.execute(update(AuditRecord).where(AuditRecord.seq == 2).values(target="forged"))
    page = au.as_("auditor").get(PAGE)
    assert page.status_code == 200
    assert 'role="alert" id="chain-verdict"' in page.text
    assert "record 2" in page.text


def test_pages_of_records(au: Web) -> None:
    au.as_("auditor")  # its creation and login are records too
    total = audit.verify(au.app.state.db).records
    first = au.as_("auditor").get(PAGE, params={"offset": 0})
    assert re.findall(r'<td class="num">(\d+)</td>', first.text)[0] == "1"
    last = au.as_("auditor").get(PAGE, params={"offset": total - 1})
    assert re.findall(r'<td class="num">(\d+)</td>', last.text) == [str(total)]
    assert au.as_("auditor").get(PAGE, params={"offset": -1}).status_code == 422
    assert au.as_("auditor").get(PAGE, params={"page": 2}).status_code == 422


@pytest.mark.parametrize("who", ["coordinator", "planner", "esp_tck"])
def test_other_roles_get_403(au: Web, who: str) -> None:
    assert au.as_(who).get(PAGE).status_code == 403


def test_not_logged_in_goes_to_login(au: Web) -> None:
    r = TestClient(au.app).get(PAGE, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
