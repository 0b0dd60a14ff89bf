"""The coordinator's whole workflow in Chromium, by the labels a person reads: log in, upload the
pilot workbook, start a round and watch it, accept one proposal and reject another with reasons,
run the next round and see both decisions respected and the diff, download the .xlsx."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pytest
from playwright.sync_api import Page, expect

from matcher.xlsxio import folder_workbook
from tests.browser.harness import Server, Tab, assert_no_serious_axe_violations, log_in, screenshot

PILOT = Path(__file__).resolve().parents[2] / "matcher" / "data" / "pilot"
TABLES = ("organisations", "options", "candidates", "protected", "decisions")
ROUND_SECONDS = 120


@pytest.fixture(scope="module")
def coordinator(server: Server) -> Iterator[str]:
    server.user("coordinator", "coordinator")
    yield "coordinator"


@pytest.fixture(scope="module")
def workbook(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("upload") / "pilot.xlsx"
    path.write_bytes(folder_workbook(PILOT, TABLES))
    return path


@dataclass(frozen=True)
class Proposal:
    person: str
    option: str  # the option's name as the round page shows it


def check(tab: Tab, name: str) -> None:
    """What every page of the flow must pass: nothing from another origin, no console error,
    no serious axe-core violation; its screenshot when asked for."""
    tab.assert_clean()
    assert_no_serious_axe_violations(tab.page)
    screenshot(tab.page, name)


def menu(page: Page, name: str) -> None:
    page.get_by_role("navigation", name="Hoofdmenu").get_by_role("link", name=name).click()


def upload(page: Page, path: Path) -> None:
    menu(page, "Gegevens")
    page.get_by_label("Werkmap of CSV-bestanden").set_input_files(str(path))
    page.get_by_role("button", name="Uploaden").click()


def start_round_and_watch(tab: Tab) -> int:
    """Starts a round from the rounds page and follows its page until it has finished; the
    progress is followed by the page's own script (its polls are counted)."""
    page = tab.page
    polls: list[str] = []
    page.on("request", lambda r: polls.append(r.url) if r.url.endswith("/status.json") else None)
    menu(page, "Rondes")
    page.get_by_role("button", name="Een ronde starten").click()
    page.wait_for_url(re.compile(r"/rounds/\d+$"))
    round_id = int(page.url.rstrip("/").rsplit("/", 1)[1])
    heading = page.get_by_role("heading", name="Samenvatting")
    if not heading.is_visible():  # still running: the page's script follows it
        expect(page.locator("#status-text")).not_to_be_empty()
        expect(heading).to_be_visible(timeout=ROUND_SECONDS * 1000)
        assert polls, "the round page did not poll its status"
    expect(page.locator("#status-text")).to_have_text("Klaar")
    return round_id


def proposals(page: Page) -> list[Proposal]:
    """The people with a place, as the round page lists them."""
    rows = page.locator("table", has_text="Voorstel").locator("tbody tr")
    found = []
    for i in range(rows.count()):
        person = rows.nth(i).locator("th").inner_text().strip()
        option = rows.nth(i).locator("td").first.inner_text().strip()
        if not option.startswith("Geen plek"):
            found.append(Proposal(person, option))
    return found


def decide(tab: Tab, round_id: int, person: str, kind: str, reason: str) -> None:
    page = tab.page
    page.get_by_role("link", name=person, exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"{person} in ronde {round_id}")
    expect(page.get_by_role("heading", name="Uitleg in gewone woorden")).to_be_visible()
    page.get_by_label(kind).check()
    page.get_by_label("Reden (altijd nodig").fill(reason)
    page.get_by_role("button", name="Beslissing opslaan").click()
    expect(page.get_by_role("status")).to_contain_text("De beslissing is opgeslagen")
    expect(page.locator("table", has_text="Reden")).to_contain_text(reason)
    page.get_by_role("link", name=f"Terug naar ronde {round_id}").click()


def test_coordinator_whole_workflow(tab: Tab, coordinator: str, workbook: Path,
                                    tmp_path: Path) -> None:
    page = tab.page
    log_in(tab, coordinator)
    upload(page, workbook)
    expect(page.get_by_role("status")).to_contain_text("Import 1 is opgeslagen")
    check(tab, "data-import")

    first = start_round_and_watch(tab)
    check(tab, "round")
    placed = proposals(page)
    assert len(placed) >= 2, placed
    accepted, rejected = placed[0], placed[1]
    decide(tab, first, accepted.person, "Voorstel accepteren", "Past goed, gesprek gehad")
    decide(tab, first, rejected.person, "Voorstel afwijzen", "Te ver reizen")
    page.get_by_role("link", name=accepted.person, exact=True).click()
    check(tab, "person")
    page.go_back()

    second = start_round_and_watch(tab)
    now = {p.person: p.option for p in proposals(page)}
    assert now.get(accepted.person, "").startswith(accepted.option), now  # accepted: kept
    assert now.get(rejected.person) != rejected.option, now  # rejected: not proposed again
    page.get_by_role("link", name=f"Wat veranderde sinds ronde {first}").click()
    row = page.locator("tbody tr", has=page.get_by_role("rowheader", name=rejected.person))
    expect(row).to_contain_text(rejected.option)
    expect(row).to_contain_text("beslissing van een coördinator")
    check(tab, "compare")

    page.goto(f"/rounds/{second}")
    with page.expect_download() as info:
        page.get_by_role("link", name="Voorstel downloaden (.xlsx)").click()
    target = tmp_path / info.value.suggested_filename
    info.value.save_as(target)
    assert target.suffix == ".xlsx"
    ws = openpyxl.load_workbook(io.BytesIO(target.read_bytes())).active
    header = [c.value for c in ws[1]]
    assert header[:4] == ["persoon", "status", "optie-id", "optie"], header
    rows = {r[0]: r for r in ws.iter_rows(min_row=2, values_only=True)}
    assert len(rows) == 25
    assert str(rows[accepted.person][3]) in accepted.option  # the name, beside the id
