"""`/docs` in Chromium with every other origin cut off: Swagger UI renders the API from this
server's own files, calls the API from the page, with no console error and no serious
axe-core violation."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.harness import Tab, assert_no_serious_axe_violations, screenshot


def test_docs_renders_offline(tab: Tab) -> None:
    page = tab.page
    page.goto("/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("matcher")
    # the operations are listed from /openapi.json
    expect(page.locator(".opblock-summary-path", has_text="/v1/rounds").first).to_be_visible()
    health = page.locator("#operations-meta-health_health_get")
    health.locator(".opblock-summary-control").click()
    # try it out: the page calls the API on its own origin (connect-src 'self')
    health.locator(".try-out__btn").click()
    health.locator(".execute").click()
    response = health.locator(".responses-table.live-responses-table")
    expect(response.locator("tr.response .response-col_status").first).to_have_text("200")
    expect(response.locator(".microlight").first).to_contain_text('"status": "ok"')
    screenshot(page, "api-docs")
    tab.assert_clean()
    assert_no_serious_axe_violations(page)
