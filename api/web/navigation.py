"""The menu: each page module may declare ``NAV``, a list of :class:`NavItem`; the menu shows
the items of the logged-in user's role, in the modules' order."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from api.security import Role
from matcher.i18n import _


@dataclass(frozen=True)
class NavItem:
    path: str
    label: str  # an English message marked with N_(), translated when shown
    roles: frozenset[Role]
    order: int = 100


def items(request: Request) -> list[dict[str, object]]:
    """The menu entries for this request's user: label (translated), path, current or not."""
    from api.web.session import current

    user = current(request)
    if user is None:
        return []
    registered: list[NavItem] = getattr(request.app.state, "nav", [])
    path = request.url.path
    shown = [n for n in registered if user.caller.role in n.roles]
    return [{"path": n.path, "label": _(n.label),
             "current": path == n.path or (n.path != "/" and path.startswith(n.path + "/"))}
            for n in sorted(shown, key=lambda n: n.order)]
