"""The harness's checks can fail: axe-core finds a known violation, a request to another origin
and a console error are recorded."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.harness import Tab, serious_axe_violations


def test_axe_finds_serious_violations(tab: Tab) -> None:
    page = tab.page
    page.goto("/health")
    page.set_content('<html><body><img src="/docs/assets/favicon-32x32.png">'
                     '<button></button><input type="text"></body></html>')
    ids = {v["id"] for v in serious_axe_violations(page)}
    assert {"image-alt", "button-name", "html-has-lang"} <= ids, ids


def test_other_origins_and_console_errors_are_recorded(tab: Tab) -> None:
    page = tab.page
    page.goto("/health")
    page.set_content('<html lang="en"><head><title>t</title>'
                     '<link rel="stylesheet" href="http://example.invalid/x.css"></head>'
                     '<body><main><h1 id="h">ok</h1></main></body></html>')
    page.evaluate("console.error('boom')")
    expect(page.locator("#h")).to_have_text("ok")
    assert any("example.invalid" in u for u in tab.external_requests), tab.external_requests
    assert any("boom" in e for e in tab.console_errors), tab.console_errors
