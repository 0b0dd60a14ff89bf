"""The web pages, on the same FastAPI app as the JSON API (``matcher serve``).

Server-rendered (Jinja2) pages in Dutch by default (English at ``/taal/en``), over the same
services as the API. Each module in :mod:`api.web.pages` is one page group with a ``router``
(and optionally ``NAV``, its menu entries); :func:`install` includes them all, in name order, so
a new page group is a new module and nothing else. Static files (the app's own CSS and
JavaScript; no CDN) are served at ``/static``.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.settings import Settings
from api.web import pages
from api.web.headers import PageMiddleware
from api.web.navigation import NavItem
from api.web.session import LoginNeeded, PageError

STATIC = Path(__file__).parent / "static"


def page_modules() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(pages.__path__))


def _wants_html(request: Request) -> bool:
    path = request.url.path
    api_path = path.startswith(("/v1", "/health", "/ready", "/metrics", "/openapi.json"))
    return not api_path and "text/html" in request.headers.get("accept", "")


async def _login_needed(request: Request, exc: Exception) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.method not in ("GET", "HEAD"):
        target = "/"
    return RedirectResponse(f"/login?next={quote(target, safe='/')}", status_code=303)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if isinstance(exc, PageError) or _wants_html(request):
        from api.web.templating import render
        from matcher.i18n import _
        message = exc.message if isinstance(exc, PageError) else {
            404: _("This page does not exist, or it is not yours to see."),
            405: _("This address cannot be used like this."),
        }.get(exc.status_code, _("Something went wrong."))
        return render(request, "error.html", {"status": exc.status_code, "message": message},
                      status_code=exc.status_code,
                      headers=dict(exc.headers) if exc.headers else None)
    return await http_exception_handler(request, exc)


def install(app: FastAPI, settings: Settings) -> None:
    """Add the pages, their static files, error pages and headers to `app`."""
    from api.app import limiter_for

    app.state.login_limiter = limiter_for(settings, settings.login_attempts_per_minute / 60,
                                          settings.login_burst, scope="login")
    nav: list[NavItem] = []
    for name in page_modules():
        module = importlib.import_module(f"{pages.__name__}.{name}")
        app.include_router(module.router, include_in_schema=False)
        nav += getattr(module, "NAV", [])
    app.state.nav = nav
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_exception_handler(LoginNeeded, _login_needed)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_middleware(PageMiddleware)
