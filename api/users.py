"""People who log in to the web pages: argon2-hashed passwords, roles as for API keys, and
browser sessions (a random cookie token stored as its SHA-256 hash, with a CSRF token and an
expiry).

Each user acts through its own API-key row whose secret is discarded at once: the services,
decisions, rounds and the audit trail see a :class:`~api.security.Caller` with that key's id,
exactly as for an API call, and the key can never be used over the JSON API.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from api.audit import append, content_hash
from api.db import Database, utcnow
from api.models import ApiKey, User, WebSession
from api.security import KEY_PREFIX, Caller, Role, hash_key

_HASHER = PasswordHasher()
#: The hash a login checks against when the name is unknown, so both take the same time.
_DUMMY = _HASHER.hash("not a password of anyone")
MIN_PASSWORD = 8
MAX_NAME = 200


class UserError(ValueError):
    """A user command that cannot be done (exit 2 on the command line)."""


@dataclass(frozen=True)
class UserInfo:
    """What may be shown about a user: never the password or its hash."""

    id: int
    name: str
    role: str
    organisations: list[str]
    created_at: str
    disabled: bool


@dataclass(frozen=True)
class SessionUser:
    """The user behind a valid session cookie."""

    user: UserInfo
    caller: Caller
    csrf: str
    session_id: int


def _info(row: User) -> UserInfo:
    return UserInfo(row.id, row.name, row.role, list(row.organisations or []), row.created_at,
                    row.disabled)


def _check_password(password: str) -> str:
    password = password.rstrip("\r\n")
    if len(password) < MIN_PASSWORD:
        raise UserError(f"the password needs at least {MIN_PASSWORD} characters")
    return password


def _audit(s: Session, key_id: int | None, action: str, name: str, extra: dict[str, object]) -> None:
    append(s, key_id=key_id, action=action, target=f"user/{name}",
           input_hash=content_hash({"name": name, **extra}), output_hash=content_hash(extra))


def create_user(db: Database, name: str, role: Role, password: str,
                organisations: list[str] | None = None) -> int:
    """Store a new user (argon2 hash of the password) and its API-key row; returns the id."""
    name = name.strip()
    if not name or len(name) > MAX_NAME or any(c.isspace() for c in name):
        raise UserError("the name must be 1 to 200 characters without spaces")
    orgs = sorted(set(organisations or []))
    if role is Role.employer_service_point and not orgs:
        raise UserError("an employer_service_point user needs at least one --organisation")
    digest = _HASHER.hash(_check_password(password))
    with db.write() as s:
        if s.scalar(select(User.id).where(User.name == name)) is not None:
            raise UserError(f"a user named {name!r} exists already")
        key = ApiKey(key_hash=hash_key(KEY_PREFIX + secrets.token_urlsafe(32)), role=role.value,
                     organisations=orgs, created_at=utcnow(), revoked=False)
        s.add(key)
        s.flush()
        row = User(name=name, password_hash=digest, role=role.value, organisations=orgs,
                   key_id=key.id, created_at=utcnow(), disabled=False)
        s.add(row)
        s.flush()
        _audit(s, None, "user.create", name, {"role": role.value, "organisations": orgs})
        return row.id


def list_users(db: Database) -> list[UserInfo]:
    with db.session() as s:
        return [_info(r) for r in s.scalars(select(User).order_by(User.id))]


def user_key_ids(db: Database) -> set[int]:
    """The API-key rows that belong to users (not keys anyone holds)."""
    with db.session() as s:
        return set(s.scalars(select(User.key_id)))


def _get(s: Session, name: str) -> User:
    row = s.scalar(select(User).where(User.name == name))
    if row is None:
        raise UserError(f"no user named {name!r} (see matcher user list)")
    return row


def set_disabled(db: Database, name: str, disabled: bool) -> UserInfo:
    """Disable (log out everywhere, refuse logins) or enable a user; audited."""
    with db.write() as s:
        row = _get(s, name)
        row.disabled = disabled
        if disabled:
            s.execute(delete(WebSession).where(WebSession.user_id == row.id))
        s.flush()
        _audit(s, None, "user.disable" if disabled else "user.enable", name, {})
        return _info(row)


def set_password(db: Database, name: str, password: str) -> UserInfo:
    """A new password; the user's sessions end. Audited (never the password)."""
    digest = _HASHER.hash(_check_password(password))
    with db.write() as s:
        row = _get(s, name)
        row.password_hash = digest
        s.execute(delete(WebSession).where(WebSession.user_id == row.id))
        s.flush()
        _audit(s, None, "user.set_password", name, {})
        return _info(row)


def _caller(row: User) -> Caller:
    return Caller(row.key_id, Role(row.role), frozenset(row.organisations or []))


def verify_login(db: Database, name: str, password: str) -> UserInfo | None:
    """The user when the name and password match and the user is enabled; else None (the
    same work either way, so timing does not tell which names exist)."""
    with db.session() as s:
        row = s.scalar(select(User).where(User.name == name.strip()))
    try:
        _HASHER.verify(row.password_hash if row is not None else _DUMMY, password)
    except (VerificationError, InvalidHashError):
        return None
    if row is None or row.disabled:
        return None
    return _info(row)


def _hash(token: str) -> str:
    return hash_key(token)


def _at(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def start_session(db: Database, user_id: int, lifetime: timedelta) -> str:
    """A new session for the user; returns the cookie token (only its hash is stored)."""
    token = secrets.token_urlsafe(32)
    with db.write() as s:
        s.execute(delete(WebSession).where(WebSession.expires_at < utcnow()))
        s.add(WebSession(token_hash=_hash(token), user_id=user_id, csrf=secrets.token_urlsafe(32),
                         created_at=utcnow(), expires_at=_at(lifetime)))
    return token


def session_user(db: Database, token: str | None) -> SessionUser | None:
    """The enabled user of an unexpired session, or None."""
    if not token:
        return None
    with db.session() as s:
        ws = s.scalar(select(WebSession).where(WebSession.token_hash == _hash(token)))
        if ws is None or ws.expires_at < utcnow():
            return None
        row = s.get(User, ws.user_id)
        if row is None or row.disabled:
            return None
        return SessionUser(_info(row), _caller(row), ws.csrf, ws.id)


def end_session(db: Database, token: str | None) -> None:
    if token:
        with db.write() as s:
            s.execute(delete(WebSession).where(WebSession.token_hash == _hash(token)))


def csrf_ok(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected, given or "")
