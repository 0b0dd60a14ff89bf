"""Browser test fixtures: one `matcher serve` per test module, one Chromium per session, one
fresh browser context (cookies, storage) per test. Every test here is marked `browser`."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.browser.harness import Server, Tab, launch, serve

HERE = Path(__file__).parent
BUDGET_SECONDS = 180
_spent: list[float] = []


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Iterator[None]:
    t0 = time.monotonic()
    yield
    if HERE in Path(str(item.path)).parents:
        _spent.append(time.monotonic() - t0)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _spent:
        terminalreporter.write_line(
            f"browser tests: {len(_spent)} in {sum(_spent):.0f} s (CI budget {BUDGET_SECONDS} s)")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serve(tmp_path_factory.mktemp("serve")) as s:
        yield s


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    with sync_playwright() as p:
        browser = launch(p)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def tab(chromium: Browser, server: Server) -> Iterator[Tab]:
    context = chromium.new_context(base_url=server.url, locale="nl-NL",
                                   viewport={"width": 1280, "height": 900})
    context.set_default_timeout(20_000)
    try:
        yield Tab(context.new_page(), server.url).watch()
    finally:
        context.close()
