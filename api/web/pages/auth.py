"""Logging in and out, and the language switch."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from api.users import end_session, start_session, verify_login
from api.web.session import (
    LANG_COOKIE,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    AnyUser,
    PageError,
    check_login_csrf,
    current,
    login_csrf,
    safe_next,
    session_lifetime,
    set_cookie,
)
from api.web.templating import render
from matcher.i18n import LANGUAGES, _

router = APIRouter(tags=["pages"])
Next = Annotated[str | None, Query(max_length=2000)]


def _login_form(request: Request, next_: str | None, error: str | None = None,
                status_code: int = 200, name: str = "") -> Response:
    response = render(request, "login.html", {"next": safe_next(next_), "error": error,
                                              "name": name}, status_code=status_code)
    if not request.cookies.get(LOGIN_CSRF_COOKIE):
        set_cookie(request, response, LOGIN_CSRF_COOKIE, login_csrf(request), max_age=None)
    return response


@router.get("/login")
def login_page(request: Request, next: Next = None) -> Response:
    if current(request) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _login_form(request, next)


def _rate_limited(request: Request, name: str) -> float:
    limiter = request.app.state.login_limiter
    host = request.client.host if request.client else "unknown"
    return max(limiter.allow(f"address:{host}"), limiter.allow(f"name:{name.strip().lower()}"))


@router.post("/login", dependencies=[Depends(check_login_csrf)])
def login(request: Request, name: Annotated[str, Form(max_length=200)],
          password: Annotated[str, Form(max_length=1000)],
          csrf_token: Annotated[str, Form()],
          next: Annotated[str, Form(max_length=2000)] = "/") -> Response:
    wait = _rate_limited(request, name)
    if wait > 0:
        seconds = max(1, round(wait + 0.5))
        raise PageError(429, _("Too many login attempts. Try again in {seconds} seconds.")
                        .format(seconds=seconds), headers={"Retry-After": str(seconds)})
    db = request.app.state.db
    user = verify_login(db, name, password)
    if user is None:
        return _login_form(request, next, _("The name or the password is not right."), 401,
                           name=name)
    token = start_session(db, user.id, session_lifetime(request))
    response = RedirectResponse(safe_next(next), status_code=303)
    set_cookie(request, response, SESSION_COOKIE, token,
               max_age=int(session_lifetime(request).total_seconds()))
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


@router.post("/logout")
def logout(request: Request, user: AnyUser) -> Response:
    end_session(request.app.state.db, request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/taal/{lang}")
def choose_language(request: Request, lang: str, next: Next = None) -> Response:
    """Reading language of the pages (a cookie for a year); back to the page it came from."""
    if lang not in LANGUAGES:
        raise PageError(404, _("This page does not exist, or it is not yours to see."))
    response = RedirectResponse(safe_next(next), status_code=303)
    set_cookie(request, response, LANG_COOKIE, lang, max_age=365 * 24 * 3600)
    return response
