"""Web page fixtures: one app on a fresh SQLite file, a user per role, a logged-in client each."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

warnings.filterwarnings("ignore", message=".*httpx2.*")

from fastapi.testclient import TestClient  # noqa: E402

from api.app import create_app  # noqa: E402
from api.security import Role  # noqa: E402
from api.settings import Settings, sqlite_url  # noqa: E402
from api.users import create_user  # noqa: E402

PILOT = Path(__file__).resolve().parents[2] / "matcher" / "data" / "pilot"
PASSWORD = "een goed wachtwoord"
USERS: dict[str, tuple[Role, list[str]]] = {
    "coordinator": (Role.coordinator, []),
    "planner": (Role.planner, []),
    "auditor": (Role.auditor, []),
    "esp_tck": (Role.employer_service_point, ["TCK"]),
}
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found is not None, "no CSRF token on the page"
    return found.group(1)


def login(client: TestClient, name: str, password: str = PASSWORD) -> Any:
    page = client.get("/login")
    return client.post("/login", data={"name": name, "password": password,
                                       "csrf_token": csrf_of(page.text), "next": "/"},
                       follow_redirects=False)


@dataclass
class Web:
    app: Any
    anonymous: TestClient
    clients: dict[str, TestClient] = field(default_factory=dict)
    made: set[str] = field(default_factory=set)

    def ensure(self, who: str) -> None:
        """The user `who` (one of USERS) exists (argon2 hashing is slow: made on first use)."""
        if who not in self.made:
            role, orgs = USERS[who]
            create_user(self.app.state.db, who, role, PASSWORD, orgs)
            self.made.add(who)

    def as_(self, who: str) -> TestClient:
        """A client logged in as `who` (one of USERS), made on first use."""
        if who not in self.clients:
            self.ensure(who)
            client = TestClient(self.app)
            r = login(client, who)
            assert r.status_code == 303, r.text
            self.clients[who] = client
        return self.clients[who]

    def csrf(self, who: str, path: str = "/") -> str:
        return csrf_of(self.as_(who).get(path).text)

    def post(self, who: str, path: str, data: dict[str, Any] | None = None, **kw: Any) -> Any:
        """A form POST with the session's CSRF token."""
        body = {"csrf_token": self.csrf(who), **(data or {})}
        return self.as_(who).post(path, data=body, follow_redirects=False, **kw)


def make_web(tmp_path: Path, **settings: Any) -> Iterator[Web]:
    opts: dict[str, Any] = {"rate_per_second": 1000.0, "rate_burst": 1000} | settings
    app = create_app(Settings(database_url=sqlite_url(tmp_path / "matcher.db"), **opts))
    with TestClient(app) as client:
        web = Web(app, client)
        web.ensure("coordinator")
        yield web


@pytest.fixture(autouse=True)
def pages_default_language(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MATCHER_LANG", raising=False)  # the pages' own default: Dutch


@pytest.fixture
def web(tmp_path: Path) -> Iterator[Web]:
    yield from make_web(tmp_path)
