"""The coordinator's workflow through the pages: upload, round, review, decide, compare, audit,
download; each step through the same services as the API."""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from sqlalchemy import select

from api.models import AuditRecord, DecisionEvent, RoundAssignment
from matcher.xlsxio import folder_workbook
from tests.web.conftest import PILOT, Web, csrf_of

TABLES = ("organisations", "options", "candidates", "protected", "decisions")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def upload(web: Web, files: list[tuple[str, bytes]], mode: str = "merge") -> Any:
    c = web.as_("coordinator")
    token = csrf_of(c.get("/data").text)
    return c.post("/data", data={"csrf_token": token, "mode": mode},
                  files=[("files", (name, data, "application/octet-stream"))
                         for name, data in files])


def pilot_workbook() -> bytes:
    return folder_workbook(PILOT, TABLES)


def wait_done(web: Web, round_id: int) -> dict[str, Any]:
    c = web.as_("coordinator")
    for _ in range(600):
        s = c.get(f"/rounds/{round_id}/status.json").json()
        if s["finished"]:
            return s
        time.sleep(0.2)
    raise AssertionError(f"round {round_id} did not finish: {s}")


def start_round(web: Web) -> int:
    r = web.post("coordinator", "/rounds")
    assert r.status_code == 303, r.text
    round_id = int(r.headers["location"].rsplit("/", 1)[1])
    assert wait_done(web, round_id)["status"] == "done"
    return round_id


def proposals(web: Web, round_id: int) -> dict[str, str]:
    with web.app.state.db.session() as s:
        return {a.candidate_id: a.option_id for a in s.scalars(
            select(RoundAssignment).where(RoundAssignment.round_id == round_id))}


@pytest.fixture
def loaded(web: Web) -> Web:
    r = upload(web, [("pilot.xlsx", pilot_workbook())])
    assert r.status_code == 201, r.text
    return web


def test_upload_workbook_shows_what_changed(web: Web) -> None:
    r = upload(web, [("pilot.xlsx", pilot_workbook())])
    assert r.status_code == 201
    assert "Import 1 is opgeslagen" in r.text
    assert "Compass Catering" in r.text or "COMPASS" in r.text  # options by name
    r = upload(web, [("candidates.csv", (PILOT / "candidates.csv").read_bytes()
                      .replace(b"P-001,cooking:2", b"P-001,cooking:3"))])
    assert r.status_code == 201
    assert "1: P-001" in r.text  # changed: one person, named


def test_upload_errors_in_dutch_with_sheet_row_column(web: Web) -> None:
    wb = openpyxl.load_workbook(io.BytesIO(pilot_workbook()))
    wb["options"]["F2"] = "veel"  # capacity
    buf = io.BytesIO()
    wb.save(buf)
    r = upload(web, [("pilot.xlsx", buf.getvalue())])
    assert r.status_code == 422
    html = r.text
    assert "niets opgeslagen" in html
    assert "<td>pilot.xlsx</td><td>options</td><td class=\"num\">2</td><td>capacity</td>" in html
    assert "verwacht een heel getal" in html
    assert upload(web, [("kandidaten.csv", b"x\n1\n")]).status_code == 422
    both = upload(web, [("pilot.xlsx", pilot_workbook()),
                        ("candidates.csv", (PILOT / "candidates.csv").read_bytes())])
    assert both.status_code == 422 and "niet allebei" in both.text
    assert "Nog geen gegevens" in web.as_("coordinator").get("/data").text


def test_round_review_decide_next_round_compare(loaded: Web) -> None:
    web = loaded
    first = start_round(web)
    page = web.as_("coordinator").get(f"/rounds/{first}")
    assert page.status_code == 200 and "Voorstellen" in page.text
    got = proposals(web, first)
    person, option = sorted(got.items())[0]
    other_person, other_option = sorted(got.items())[1]
    p = web.as_("coordinator").get(f"/rounds/{first}/people/{person}")
    assert p.status_code == 200 and "Uitleg in gewone woorden" in p.text
    assert f'value="{option}"' in p.text
    # a reason is always needed
    r = web.post("coordinator", f"/rounds/{first}/people/{person}",
                 {"kind": "accept", "option_id": option, "reason": " "})
    assert r.status_code == 422 and "Geef een reden" in r.text
    r = web.post("coordinator", f"/rounds/{first}/people/{person}",
                 {"kind": "accept", "option_id": option, "reason": "Past goed, gesprek gehad"})
    assert r.status_code == 303
    r = web.post("coordinator", f"/rounds/{first}/people/{other_person}",
                 {"kind": "reject", "option_id": other_option, "reason": "Te ver reizen"})
    assert r.status_code == 303
    # the API's rule: accepting a pair the round did not propose is refused, in Dutch
    r = web.post("coordinator", f"/rounds/{first}/people/{person}",
                 {"kind": "accept", "option_id": other_option, "reason": "x"})
    assert r.status_code == 422, r.text
    with web.app.state.db.session() as s:
        events = s.scalars(select(DecisionEvent).where(DecisionEvent.source == "web")).all()
        actions = set(s.scalars(select(AuditRecord.action)))
    assert [(e.candidate_id, e.kind) for e in events] == [(person, "accept"),
                                                          (other_person, "reject")]
    assert {"decision.accept", "decision.reject"} <= actions
    second = start_round(web)
    now = proposals(web, second)
    assert now[person] == option  # accepted: kept
    assert now.get(other_person) != other_option  # rejected: not proposed again
    diff = web.as_("coordinator").get(f"/rounds/compare?first={first}&second={second}")
    assert diff.status_code == 200
    assert other_person in diff.text and "beslissing van een coördinator" in diff.text


def test_audit_and_downloads(loaded: Web) -> None:
    web = loaded
    rid = start_round(web)
    c = web.as_("coordinator")
    audit = c.get(f"/rounds/{rid}/audit")
    assert audit.status_code == 200 and "Gelijke kansen" in audit.text
    x = c.get(f"/rounds/{rid}/proposal.xlsx")
    assert x.status_code == 200 and x.headers["content-type"] == XLSX
    ws = openpyxl.load_workbook(io.BytesIO(x.content)).active
    header = [cell.value for cell in ws[1]]
    assert header[:4] == ["persoon", "status", "optie-id", "optie"]
    assert ws.max_row == 26  # 25 people
    csv = c.get(f"/rounds/{rid}/proposal.csv")
    assert csv.content.startswith(b"\xef\xbb\xbfpersoon;status;")
    placed = [line for line in csv.content.decode("utf-8-sig").splitlines()[1:]
              if ";voorstel;" in line]
    assert placed and all("," in line.split(";")[6] for line in placed)  # decimal comma


def test_progress_without_and_with_script(loaded: Web, tmp_path: Path) -> None:
    web = loaded
    rid = start_round(web)
    page = web.as_("coordinator").get(f"/rounds/{rid}")
    assert "round-progress.js" not in page.text  # finished: nothing to follow
    js = web.as_("coordinator").get("/static/round-progress.js")
    assert js.status_code == 200 and "status.json" not in js.text and "fetch(" in js.text
