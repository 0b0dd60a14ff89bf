"""The start page: what the logged-in user's role can do here."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from api.web.session import current
from api.web.templating import render

router = APIRouter(tags=["pages"])


@router.get("/")
def home(request: Request) -> Response:
    if current(request) is None:
        return RedirectResponse("/login", status_code=303)
    return render(request, "home.html")
