"""Who is logged in: the session cookie, role checks and CSRF tokens of the pages.

A page user acts through the hidden API-key row of its account (:mod:`api.users`): page code
gets the same :class:`~api.security.Caller` an API call with that key would, so the services'
role and owner checks and the audit trail treat both alike.

- The session cookie holds a random token (only its hash is stored); HttpOnly, SameSite=Lax,
  Secure when the request came over HTTPS (or ``MATCHER_SESSION_COOKIE_SECURE``); it ends after
  ``MATCHER_SESSION_HOURS``, at logout, and when the user is disabled or gets a new password.
- Every POST of a page carries the session's CSRF token (form field ``csrf_token`` or header
  ``X-CSRF-Token``); without it the request is refused (403). The login form, before there is
  a session, uses a random token held in a cookie and repeated in the form (double submit).
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.responses import Response

from api.security import Role
from api.users import SessionUser, csrf_ok, session_user
from matcher.i18n import current_language

SESSION_COOKIE = "matcher_session"
LOGIN_CSRF_COOKIE = "matcher_login_csrf"
LANG_COOKIE = "matcher_lang"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


class LoginNeeded(Exception):
    """No valid session: the page answers with the login form's address."""


class PageError(HTTPException):
    """An error shown as a page; `message` is already in the reader's language."""

    def __init__(self, status_code: int, message: str, headers: dict[str, str] | None = None
                 ) -> None:
        super().__init__(status_code, message, headers)
        self.message = message


def current(request: Request) -> SessionUser | None:
    """The user of this request's session cookie (looked up once per request)."""
    if not hasattr(request.state, "page_user"):
        token = request.cookies.get(SESSION_COOKIE)
        request.state.page_user = session_user(request.app.state.db, token) if token else None
    user: SessionUser | None = request.state.page_user
    return user


def login_csrf(request: Request) -> str:
    """The login form's token: the cookie's, or a new one (set on the response by the page)."""
    token = request.cookies.get(LOGIN_CSRF_COOKIE)
    if not token:
        if not hasattr(request.state, "new_login_csrf"):
            request.state.new_login_csrf = secrets.token_urlsafe(32)
        token = request.state.new_login_csrf
    return str(token)


def page_context(request: Request) -> dict[str, Any]:
    user = current(request)
    return {"user": None if user is None else user.user,
            "csrf_token": login_csrf(request) if user is None else user.csrf,
            "lang": current_language(), "path": request.url.path,
            "request": request}


async def _form_token(request: Request) -> str | None:
    given = request.headers.get(CSRF_HEADER)
    if given:
        return given
    ctype = request.headers.get("content-type", "")
    if ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        value = (await request.form()).get(CSRF_FIELD)
        return value if isinstance(value, str) else None
    return None


def csrf_refused() -> PageError:
    from matcher.i18n import _
    return PageError(403, _("This form has expired or did not come from this site. Go back, "
                            "reload the page and try again."))


def require_page(*roles: Role) -> Callable[..., Awaitable[SessionUser]]:
    """A page for `roles` (none given: any logged-in user). Not logged in: to the login form;
    another role: 403; a POST without the session's CSRF token: 403."""
    allowed = frozenset(roles)

    async def check(request: Request) -> SessionUser:
        user = current(request)
        if user is None:
            raise LoginNeeded()
        if request.method not in ("GET", "HEAD") and not csrf_ok(user.csrf,
                                                                 await _form_token(request)):
            raise csrf_refused()
        if allowed and user.caller.role not in allowed:
            from matcher.i18n import _
            raise PageError(403, _("Your role may not open this page."))
        return user

    return check


async def check_login_csrf(request: Request) -> None:
    """The login form's double-submit token (403 when the form's and the cookie's differ)."""
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE)
    if not cookie or not csrf_ok(cookie, await _form_token(request)):
        raise csrf_refused()


def secure_cookies(request: Request) -> bool:
    forced: bool | None = request.app.state.settings.session_cookie_secure
    return forced if forced is not None else request.url.scheme == "https"


def set_cookie(request: Request, response: Response, name: str, value: str,
               max_age: int | None) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/", httponly=True, samesite="lax",
                        secure=secure_cookies(request))


def session_lifetime(request: Request) -> timedelta:
    return timedelta(hours=request.app.state.settings.session_hours)


def safe_next(target: str | None) -> str:
    """A local path to go on to after a login or a language switch (never another site)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


AnyUser = Annotated[SessionUser, Depends(require_page())]
CoordinatorUser = Annotated[SessionUser, Depends(require_page(Role.coordinator))]
#: Reading rounds, their proposals and audits: as the API's readers.
ReaderUser = Annotated[SessionUser, Depends(require_page(Role.coordinator, Role.planner,
                                                        Role.auditor))]
