"""`/docs` works offline: its page names no other origin, its assets come from this server, its
start-up script is a file, and its Content-Security-Policy allows this origin only."""

from __future__ import annotations

import re

from api.apidocs import CSP
from tests.api.conftest import Api

# Any absolute or protocol-relative URL in an attribute (src, href, data-*) or a CSS url().
EXTERNAL = re.compile(r"""(?:src|href|url|action|data-[a-z-]+)\s*[=(]\s*["']?\s*(?:[a-z]+:)?//""",
                      re.IGNORECASE)


def _csp(value: str) -> dict[str, list[str]]:
    out = {}
    for part in value.split(";"):
        name, *sources = part.split()
        out[name] = sources
    return out


def test_docs_page_names_no_external_origin(sqlite_api: Api) -> None:
    r = sqlite_api.client.get("/docs")
    assert r.status_code == 200
    html = r.text
    assert not EXTERNAL.search(html), html
    assert "cdn" not in html.lower()
    # the start-up script is a file: no inline <script> body, no inline handlers
    assert re.findall(r"<script\b[^>]*>\s*[^<\s]", html) == []
    assert re.findall(r"<script\b(?![^>]*\bsrc=)", html) == []
    assert not re.search(r"\son[a-z]+\s*=", html, re.IGNORECASE)
    srcs = re.findall(r"""(?:src|href)="([^"]+)\"""", html)
    assert srcs and all(s.startswith("/docs/assets/") for s in srcs), srcs
    assert 'data-openapi-url="/openapi.json"' in html


def test_docs_csp_allows_own_origin_only(sqlite_api: Api) -> None:
    r = sqlite_api.client.get("/docs")
    assert r.headers["content-security-policy"] == CSP
    policy = _csp(CSP)
    for directive in ("default-src", "script-src", "style-src", "connect-src", "font-src"):
        assert policy[directive] == ["'self'"], directive
    assert policy["img-src"] == ["'self'", "data:"]
    assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]


def test_every_asset_the_page_loads_is_served(sqlite_api: Api) -> None:
    html = sqlite_api.client.get("/docs").text
    kinds = {}
    for src in re.findall(r"""(?:src|href)="([^"]+)\"""", html):
        r = sqlite_api.client.get(src)
        assert r.status_code == 200, src
        assert r.content, src
        assert r.headers["content-security-policy"] == CSP
        kinds[src.rsplit(".", 1)[-1]] = r.headers["content-type"]
    assert kinds["js"].startswith("text/javascript") and kinds["css"].startswith("text/css")
    bundle = sqlite_api.client.get("/docs/assets/swagger-ui-bundle.js").text
    assert "SwaggerUIBundle" in bundle and len(bundle) > 500_000
    assert "SwaggerUIBundle(" in sqlite_api.client.get("/docs/assets/init.js").text


def test_only_the_listed_assets_are_served(sqlite_api: Api) -> None:
    for name in ("index.html", "swagger-initializer.js", "..%2F__init__.py", "page.html",
                 "oauth2-redirect.html"):
        assert sqlite_api.client.get(f"/docs/assets/{name}").status_code == 404, name


def test_cdn_pages_are_gone_and_the_schema_stays(sqlite_api: Api) -> None:
    assert sqlite_api.client.get("/redoc").status_code == 404
    assert sqlite_api.client.get("/docs/oauth2-redirect").status_code == 404
    schema = sqlite_api.client.get("/openapi.json").json()
    assert schema["openapi"].startswith("3.1")
    assert not any(p.startswith("/docs") for p in schema["paths"])
