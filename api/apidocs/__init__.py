"""Swagger UI for `/docs`, served from the `swagger-ui-bundle-v2` package's files (Swagger UI 5,
Apache-2.0, its licence beside the files) so the page works without internet.

The page's start-up script is a file of ours (`init.js`), not inline, and the page carries a
Content-Security-Policy that allows the app's own origin only."""

from __future__ import annotations

from html import escape
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

from fastapi import APIRouter, FastAPI, HTTPException
from fastapi.responses import FileResponse, HTMLResponse, Response
from swagger_ui_bundle import swagger_ui_path

#: The page allows its own origin only: no CDN, no inline script or style element, no frame.
#: `data:` images are Swagger UI's own icons inlined in its stylesheet.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'")
HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
           "Referrer-Policy": "no-referrer"}

HERE: Traversable = files(__package__ or "api.apidocs")
#: The files the page loads, by the name it asks for: from the Swagger UI package, or ours.
VENDOR = {"swagger-ui-bundle.js": "swagger-ui-bundle.js", "swagger-ui.css": "swagger-ui.css",
          "favicon-32x32.png": "favicon-32x32.png"}
OWN = {"init.js": "init.js", "docs.css": "docs.css"}
MEDIA = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
         ".png": "image/png"}


def page_html(openapi_url: str, title: str) -> str:
    """The `/docs` page: the assets by path on this server, the schema's path in a data
    attribute that `init.js` reads."""
    template = HERE.joinpath("page.html").read_text(encoding="utf-8")
    return (template.replace("{title}", escape(title))
            .replace("{openapi_url}", escape(openapi_url, quote=True)))


def _asset_path(name: str) -> Path:
    if name in VENDOR:
        return Path(str(swagger_ui_path)) / VENDOR[name]
    if name in OWN:
        return Path(str(HERE.joinpath(OWN[name])))
    raise HTTPException(status_code=404, detail="not found")


def router(openapi_url: str, title: str) -> APIRouter:
    r = APIRouter(include_in_schema=False)

    @r.get("/docs")
    def docs() -> HTMLResponse:
        return HTMLResponse(page_html(openapi_url, title), headers=HEADERS)

    @r.get("/docs/assets/{name}")
    def asset(name: str) -> Response:
        path = _asset_path(name)
        return FileResponse(path, media_type=MEDIA[path.suffix],
                            headers={**HEADERS, "Cache-Control": "public, max-age=3600"})

    return r


def install(app: FastAPI) -> None:
    """Serve `/docs` from local files (create the app with `docs_url=None`)."""
    app.include_router(router(app.openapi_url or "/openapi.json", app.title))
