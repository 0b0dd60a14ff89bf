"""The pages' request language and security headers (plain ASGI middleware).

- The language of a request is the reader's choice (the ``matcher_lang`` cookie, set by
  ``/taal/{lang}``), else ``MATCHER_LANG``, else Dutch; it is set for the whole request, so
  templates, problems and explanations are all in it.
- Every HTML answer gets a Content-Security-Policy that allows only the app's own origin (no
  CDN, no inline script or style), and no framing, sniffing or referrer to other sites.
  Swagger's ``/docs`` and ``/redoc`` set their own (see docs/api.md).
"""

from __future__ import annotations

from http.cookies import CookieError, SimpleCookie

from starlette.types import Receive, Scope, Send

from api.asgi import Headers, HttpMiddleware, editing_headers
from matcher.i18n import LANGUAGES, reset_language, set_language

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
]
#: Paths whose HTML brings its own policy (Swagger UI and ReDoc).
OWN_POLICY = ("/docs", "/redoc")


def cookie_language(scope: Scope) -> str | None:
    from api.web.session import LANG_COOKIE
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            try:
                jar = SimpleCookie(value.decode("latin-1"))
            except CookieError:
                return None
            morsel = jar.get(LANG_COOKIE)
            if morsel is not None and morsel.value in LANGUAGES:
                return morsel.value
    return None


class PageMiddleware(HttpMiddleware):
    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        own = path.startswith(OWN_POLICY)

        def secured(headers: Headers) -> Headers:
            html = any(k == b"content-type" and v.startswith(b"text/html") for k, v in headers)
            if own or not html or any(k == b"content-security-policy" for k, _ in headers):
                return headers
            return [*headers, *HEADERS]

        token = set_language(cookie_language(scope))
        try:
            await self.app(scope, receive, editing_headers(send, secured))
        finally:
            reset_language(token)
