"""Unknown query parameters are refused (422, naming them), on every route.

FastAPI ignores query parameters a route does not declare; a user who writes
``?sector=hospitality&max_km=5`` to a route without them would never learn that they did
nothing. `refuse_unknown_query` runs before every route (an application dependency) and
compares the request's parameter names with those the route and its dependencies declare."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.dependencies.utils import get_flat_params
from fastapi.exceptions import RequestValidationError

_KNOWN: dict[int, frozenset[str]] = {}


def _known(route: Any) -> frozenset[str] | None:
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return None
    names = _KNOWN.get(id(route))
    if names is None:
        query = {id(f) for f in dependant.query_params}
        flat = get_flat_params(dependant)
        names = frozenset(f.alias for f in flat if id(f) in query or _is_query(f))
        _KNOWN[id(route)] = names
    return names


def _is_query(field: Any) -> bool:
    return type(field.field_info).__name__ == "Query"


async def refuse_unknown_query(request: Request) -> None:
    """422 naming every query parameter the route does not know."""
    known = _known(request.scope.get("route"))
    if known is None:
        return
    unknown = sorted({name for name in request.query_params if name not in known})
    if unknown:
        raise RequestValidationError([
            {"type": "extra_forbidden", "loc": ["query", name],
             "msg": f"unknown query parameter {name!r}", "input": request.query_params[name]}
            for name in unknown])
