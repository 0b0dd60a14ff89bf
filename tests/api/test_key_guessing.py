"""Guessing API keys: invalid keys are throttled per client (429 with Retry-After, valid keys
included, so the answer tells nothing), counted in the shared `limits` storage when it is set;
a refused revoked-key shortlist uses up no shortlist id (issue #33, case 8)."""

from __future__ import annotations

import secrets
from pathlib import Path

from starlette.testclient import TestClient

from api.security import list_keys, revoke_key
from api.settings import sqlite_url
from tests.api.conftest import Api, make_api


def _guess(client: TestClient) -> int:
    return client.get("/v1/rounds", headers={"X-API-Key": "mk_" + secrets.token_urlsafe(32)}
                      ).status_code


def test_invalid_keys_from_one_client_are_throttled(tmp_path: Path) -> None:
    for api in make_api(sqlite_url(tmp_path / "m.db"), bad_key_limit=5,
                        bad_key_window_seconds=60):
        assert [_guess(api.client) for _ in range(5)] == [401] * 5
        r = api.client.get("/v1/rounds", headers={"X-API-Key": "mk_" + "x" * 43})
        assert r.status_code == 429 and 1 <= int(r.headers["Retry-After"]) <= 60
        assert "too many unknown or revoked API keys" in r.json()["detail"]
        # a valid key from that client gets the same answer: guessing learns nothing
        assert api.get("/v1/rounds").status_code == 429
        assert api.post("/v1/options/TCK-KEUKEN/shortlist", "esp_tck").status_code == 429
        # another client is not held up, and no key at all is a 401 as before
        other = TestClient(api.app, client=("192.0.2.7", 40000))
        assert other.get("/v1/rounds", headers=api.h("coordinator")).status_code == 200
        assert other.get("/v1/rounds").status_code == 401


def test_a_revoked_key_counts_as_a_bad_key(tmp_path: Path) -> None:
    for api in make_api(sqlite_url(tmp_path / "m.db"), bad_key_limit=3):
        db = api.app.state.db
        revoke_key(db, next(k.id for k in list_keys(db) if k.role == "planner"))
        assert [api.get("/v1/rounds", "planner").status_code for _ in range(4)] == [
            401, 401, 401, 429]


def test_the_count_is_shared_through_redis(tmp_path: Path) -> None:
    """Two server processes (two apps) on one Redis: their invalid keys count together."""
    url = sqlite_url(tmp_path / "m.db")
    settings = {"bad_key_limit": 4, "rate_limit_storage": "redis://127.0.0.1:6379/0"}
    # a fresh database path each run: the Redis prefix is per database
    for a in make_api(url, **settings):
        for b in make_api(url, **settings):
            assert [_guess(c) for c in (a.client, b.client, a.client, b.client)] == [401] * 4
            assert _guess(a.client) == 429 and _guess(b.client) == 429


def test_a_refused_revoked_key_shortlist_uses_up_no_id(api: Api) -> None:
    api.import_pilot()
    db = api.app.state.db
    first = api.post("/v1/options/TCK-KEUKEN/shortlist", "esp_tck").json()["id"]
    # remembered by the fast path, then revoked: refused inside the shortlist transaction
    assert api.post("/v1/options/IDID-PRODUCTIE/shortlist", "esp_idid").status_code == 201
    revoke_key(db, next(k.id for k in list_keys(db) if "IDID" in k.organisations))
    for _ in range(3):
        assert api.post("/v1/options/IDID-PRODUCTIE/shortlist", "esp_idid").status_code == 401
    # a replay (same Idempotency-Key) uses none either
    idem = {**api.h("esp_tck"), "Idempotency-Key": "once"}
    once = api.client.post("/v1/options/TCK-KEUKEN/shortlist", headers=idem).json()["id"]
    assert api.client.post("/v1/options/TCK-KEUKEN/shortlist", headers=idem).status_code == 200
    after = api.post("/v1/options/TCK-KEUKEN/shortlist", "esp_tck").json()["id"]
    assert (once, after) == (first + 2, first + 3)  # no gap
    listed = sorted(s["id"] for s in api.all_items("/v1/shortlists"))
    assert listed == list(range(first, first + 4))
