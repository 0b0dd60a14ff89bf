"""Dependencies: the database, the caller (API key -> role), role checks and the rate limit."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import APIKeyHeader

from api.appstate import app_state
from api.db import Database
from api.security import Caller, Role, lookup
from api.state import DataCache
from matcher.policy import Policy

api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False,
                              description="An API key made with `matcher apikey create`.")


async def get_db(request: Request) -> Database:
    return app_state(request).db


async def get_cache(request: Request) -> DataCache:
    return app_state(request).cache


async def get_policy(request: Request) -> Policy:
    return app_state(request).policy


DB = Annotated[Database, Depends(get_db)]
Cache = Annotated[DataCache, Depends(get_cache)]
ServerPolicy = Annotated[Policy, Depends(get_policy)]


UNKNOWN_KEY = "unknown or revoked API key"


def _unauthorized(detail: str = UNKNOWN_KEY) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": "ApiKey"})


def _rate(request: Request, caller: Caller) -> None:
    limiter = app_state(request).limiter
    wait = limiter.allow(caller.key_id)
    if wait > 0:
        raise HTTPException(429, "rate limit exceeded for this API key",
                            headers={"Retry-After": str(max(1, round(wait + 0.5)))})


def _client(request: Request) -> str:
    return request.client.host if request.client is not None else "-"


def _lookup(request: Request, key: str) -> Caller:
    """The key's caller; 401 for an unknown or revoked key, 429 for a client that tried too
    many of those lately (before the lookup, whatever key it gives now)."""
    state = app_state(request)
    throttle = state.bad_keys
    client = _client(request)
    wait = throttle.wait(client)
    if wait > 0:
        raise HTTPException(429, "too many unknown or revoked API keys from this client; wait",
                            headers={"Retry-After": str(max(1, round(wait + 0.5)))})
    with state.db.session() as s:
        caller = lookup(s, key)
    if caller is None:
        state.key_cache.pop(key, None)
        throttle.failed(client)
        raise _unauthorized()
    return caller


async def authenticate(request: Request,
                       key: Annotated[str | None, Security(api_key_header)] = None) -> Caller:
    """401 without a valid key; 429 when the key's token bucket is empty.

    The key is looked up on every request (one indexed query), so a revoked key is refused at
    once by every server process."""
    if not key:
        raise _unauthorized("missing API key (header X-API-Key)")
    caller = _lookup(request, key)
    _rate(request, caller)
    return caller


def _check_role(caller: Caller, allowed: frozenset[Role]) -> None:
    if caller.role not in allowed:
        raise HTTPException(403, f"role {caller.role.value} may not do this "
                                 f"(needs {' or '.join(sorted(r.value for r in allowed))})")


def require(*roles: Role) -> Callable[..., Awaitable[Caller]]:
    allowed = frozenset(roles)

    async def check(caller: Annotated[Caller, Depends(authenticate)]) -> Caller:
        _check_role(caller, allowed)
        return caller

    return check


def require_remembered(*roles: Role) -> Callable[..., Awaitable[Caller]]:
    """As `require`, for the shortlist handler: a key allowed before is answered from memory
    (no query); the handler itself checks that the key is not revoked, in its transaction, and
    answers 401 (and forgets the key) if it is."""
    allowed = frozenset(roles)

    async def check(request: Request,
                    key: Annotated[str | None, Security(api_key_header)] = None) -> Caller:
        if not key:
            raise _unauthorized("missing API key (header X-API-Key)")
        keys = app_state(request).key_cache
        caller = keys.get(key)
        if caller is None:
            caller = _lookup(request, key)
            if caller.role in allowed:
                keys[key] = caller
        _rate(request, caller)
        _check_role(caller, allowed)
        return caller

    return check


AnyRole = Annotated[Caller, Depends(authenticate)]
Coordinator = Annotated[Caller, Depends(require(Role.coordinator))]
RoundWriter = Annotated[Caller, Depends(require(Role.coordinator, Role.planner))]
Reader = Annotated[Caller, Depends(require(Role.coordinator, Role.planner, Role.auditor))]
DataReader = Annotated[Caller, Depends(require(Role.coordinator, Role.planner))]
ShortlistCaller = Annotated[Caller, Depends(require(Role.coordinator, Role.employer_service_point))]
SHORTLIST_ROLES = (Role.coordinator, Role.employer_service_point)
ShortlistIssuer = Annotated[Caller, Depends(require_remembered(*SHORTLIST_ROLES))]
OptionReader = Annotated[Caller, Depends(require(Role.coordinator, Role.planner,
                                                 Role.employer_service_point))]
Auditor = Annotated[Caller, Depends(require(Role.auditor))]
