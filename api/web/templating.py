"""Jinja2 for the pages: autoescaped templates, every text through the gettext catalogues.

Templates use ``{% trans %}`` blocks and ``_()`` (Babel extracts both, see babel.cfg); the
translations are those of :mod:`matcher.i18n` in the language the request chose (set for the
whole request by :class:`api.web.headers.PageMiddleware`).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from matcher import i18n

TEMPLATES = Path(__file__).parent / "templates"


def _gettext(message: str) -> str:
    return i18n._(message)


def _ngettext(singular: str, plural: str, n: int) -> str:
    return i18n.ngettext(singular, plural, n)


@cache
def environment() -> Environment:
    """The pages' template environment (made on first use, never at import)."""
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(),
                      undefined=StrictUndefined, extensions=["jinja2.ext.i18n"],
                      trim_blocks=True, lstrip_blocks=True)
    env.install_gettext_callables(_gettext, _ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.globals["role_label"] = role_label
    return env


#: Role names as people read them.
ROLE_LABELS = {"coordinator": i18n.N_("coordinator"),
               "employer_service_point": i18n.N_("employer service point"),
               "planner": i18n.N_("planner"), "auditor": i18n.N_("auditor")}


def role_label(role: str) -> str:
    return i18n._(ROLE_LABELS.get(role, role))


def render(request: Request, template: str, context: dict[str, Any] | None = None,
           status_code: int = 200, headers: dict[str, str] | None = None) -> HTMLResponse:
    """The page `template` with the layout's context: the user (or None), the CSRF token of
    its forms, the language and the navigation for the user's role."""
    from api.web import navigation
    from api.web.session import page_context

    ctx = page_context(request) | {"nav": navigation.items(request)} | (context or {})
    html = environment().get_template(template).render(**ctx)
    return HTMLResponse(html, status_code=status_code, headers=headers)
