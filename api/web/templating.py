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
    env.globals["status_word"] = status_word
    env.globals["decision_word"] = decision_word
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


STATUS_WORDS = {"queued": i18n.N_("waiting"), "running": i18n.N_("running"),
                "done": i18n.N_("finished"), "failed": i18n.N_("failed"),
                "cancelled": i18n.N_("cancelled")}


def status_word(status: str) -> str:
    return i18n._(STATUS_WORDS.get(status, status))


DECISION_WORDS = {"accept": i18n.N_("accepted"), "reject": i18n.N_("rejected"),
                  "lock": i18n.N_("locked"), "forbid": i18n.N_("forbidden"),
                  "release": i18n.N_("released")}


def decision_word(kind: str) -> str:
    return i18n._(DECISION_WORDS.get(kind, kind))
