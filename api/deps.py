"""Dependencies: the database, the caller (API key -> role), role checks and the rate limit."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import APIKeyHeader

from api.db import Database
from api.security import Caller, RateLimiter, Role, lookup
from api.state import DataCache
from matcher.policy import Policy

api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False,
                              description="An API key made with `matcher apikey create`.")


async def get_db(request: Request) -> Database:
    return request.app.state.db


async def get_cache(request: Request) -> DataCache:
    return request.app.state.cache


async def get_policy(request: Request) -> Policy:
    return request.app.state.policy


DB = Annotated[Database, Depends(get_db)]
Cache = Annotated[DataCache, Depends(get_cache)]
ServerPolicy = Annotated[Policy, Depends(get_policy)]


async def authenticate(request: Request, db: DB,
                 key: Annotated[str | None, Security(api_key_header)] = None) -> Caller:
    """401 without a valid key; 429 when the key's token bucket is empty.

    Async (no thread hand-off per request): known keys are answered from memory; an unknown one
    costs one indexed query, once."""
    if not key:
        raise HTTPException(401, "missing API key (header X-API-Key)",
                            headers={"WWW-Authenticate": "ApiKey"})
    keys: dict[str, Caller] = request.app.state.key_cache
    caller = keys.get(key)
    if caller is None:
        with db.session() as s:
            caller = lookup(s, key)
        if caller is None:
            raise HTTPException(401, "unknown or revoked API key",
                                headers={"WWW-Authenticate": "ApiKey"})
        keys[key] = caller
    limiter: RateLimiter = request.app.state.limiter
    wait = limiter.allow(caller.key_id)
    if wait > 0:
        raise HTTPException(429, "rate limit exceeded for this API key",
                            headers={"Retry-After": str(max(1, round(wait + 0.5)))})
    return caller


def require(*roles: Role) -> Callable[..., Awaitable[Caller]]:
    allowed = frozenset(roles)

    async def check(caller: Annotated[Caller, Depends(authenticate)]) -> Caller:
        if caller.role not in allowed:
            raise HTTPException(403, f"role {caller.role.value} may not do this "
                                     f"(needs {' or '.join(sorted(r.value for r in allowed))})")
        return caller

    return check


AnyRole = Annotated[Caller, Depends(authenticate)]
Coordinator = Annotated[Caller, Depends(require(Role.coordinator))]
RoundWriter = Annotated[Caller, Depends(require(Role.coordinator, Role.planner))]
Reader = Annotated[Caller, Depends(require(Role.coordinator, Role.planner, Role.auditor))]
DataReader = Annotated[Caller, Depends(require(Role.coordinator, Role.planner))]
ShortlistCaller = Annotated[Caller, Depends(require(Role.coordinator, Role.employer_service_point))]
OptionReader = Annotated[Caller, Depends(require(Role.coordinator, Role.planner,
                                                 Role.employer_service_point))]
Auditor = Annotated[Caller, Depends(require(Role.auditor))]
