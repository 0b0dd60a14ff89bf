"""API test fixtures: one app per test, on a fresh SQLite file or a fresh PostgreSQL schema."""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

warnings.filterwarnings("ignore", message=".*httpx2.*")

from fastapi.testclient import TestClient  # noqa: E402

from api.app import create_app  # noqa: E402
from api.security import Role, create_key  # noqa: E402
from api.settings import Settings, sqlite_url  # noqa: E402

PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PILOT = Path(__file__).resolve().parents[2] / "matcher" / "data" / "pilot"
TABLES = ("organisations", "options", "candidates", "protected", "decisions")


def _pg_schema() -> Iterator[str]:
    import psycopg
    try:
        conn = psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=test",
                               autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL on 127.0.0.1:5432 is not reachable ({exc}); start it "
                    "(the lead's .ci/run does) or deselect with -m 'not postgres'", pytrace=False)
    schema = f"matcher_test_{uuid.uuid4().hex[:12]}"
    conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{PG_SERVER}?options=-csearch_path%3D{schema}"
    finally:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        conn.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield sqlite_url(tmp_path / "matcher.db")
    else:
        yield from _pg_schema()


@dataclass
class Api:
    client: TestClient
    keys: dict[str, str]
    app: Any

    def h(self, who: str) -> dict[str, str]:
        return {"X-API-Key": self.keys[who]} if who in self.keys else {}

    def get(self, path: str, who: str = "coordinator", **kw: Any) -> Any:
        return self.client.get(path, headers=self.h(who), **kw)

    def post(self, path: str, who: str = "coordinator", **kw: Any) -> Any:
        return self.client.post(path, headers=self.h(who), **kw)

    def import_pilot(self, tables: tuple[str, ...] = TABLES) -> Any:
        files = {t: (f"{t}.csv", (PILOT / f"{t}.csv").read_bytes(), "text/csv") for t in tables}
        r = self.post("/v1/imports/csv", files=files)
        assert r.status_code == 201, r.text
        return r.json()

    def round(self, who: str = "coordinator", **body: Any) -> dict[str, Any]:
        r = self.post("/v1/rounds", who, json=body)
        assert r.status_code in (201, 202), r.text
        return r.json()

    def all_items(self, path: str, who: str = "coordinator") -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        while True:
            r = self.get(path, who, params={"offset": len(items), "limit": 1000})
            assert r.status_code == 200, r.text
            page = r.json()
            items += page["items"]
            if len(items) >= page["total"] or not page["items"]:
                return items


def make_api(url: str, **settings: Any) -> Iterator[Api]:
    opts: dict[str, Any] = {"rate_per_second": 1000.0, "rate_burst": 1000,
                            "bad_key_limit": 1000} | settings
    app = create_app(Settings(database_url=url, **opts))
    with TestClient(app) as client:
        db = app.state.db
        keys = {
            "coordinator": create_key(db, Role.coordinator)[1],
            "planner": create_key(db, Role.planner)[1],
            "auditor": create_key(db, Role.auditor)[1],
            "esp_tck": create_key(db, Role.employer_service_point, ["TCK"])[1],
            "esp_idid": create_key(db, Role.employer_service_point, ["IDID", "SPEC"])[1],
        }
        yield Api(client, keys, app)


@pytest.fixture
def api(database_url: str) -> Iterator[Api]:
    yield from make_api(database_url)


@pytest.fixture
def sqlite_api(tmp_path: Path) -> Iterator[Api]:
    yield from make_api(sqlite_url(tmp_path / "matcher.db"))
