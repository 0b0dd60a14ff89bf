"""Request ids (into the logs and the audit trail), /health, /ready and /metrics."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from sqlalchemy import insert, update

from api.audit import FIELDS, GENESIS, content_hash, verify
from api.models import AuditRecord
from api.observe import JsonFormatter
from tests.api.conftest import Api, make_api


def test_request_ids_reach_the_audit_trail_and_old_records_still_verify(api: Api) -> None:
    db = api.app.state.db
    # A record as written before request ids (version 1): its hash covers the old fields only.
    with db.write() as s:
        old = {"seq": 1, "at": "2026-01-01T00:00:00.000000Z", "key_id": None, "action": "import",
               "target": "import/0", "input_hash": "x", "output_hash": "y", "policy_hash": "",
               "versions": "{}", "prev_hash": GENESIS}
        old["hash"] = content_hash({k: old[k] for k in FIELDS})
        s.execute(insert(AuditRecord), [old])
    r = api.client.post("/v1/imports/csv", files=_pilot(), headers={
        **api.h("coordinator"), "X-Request-ID": "proxy-42.a"})
    assert r.status_code == 201 and r.headers["x-request-id"] == "proxy-42.a"
    r2 = api.post("/v1/rounds", json={})
    made = r2.headers["x-request-id"]
    assert len(made) == 32 and made != "proxy-42.a"
    records = api.all_items("/v1/audit/records", "auditor")
    assert records[0]["record_version"] is None and records[0]["request_id"] is None
    assert records[1]["action"] == "import" and records[1]["request_id"] == "proxy-42.a"
    assert records[1]["record_version"] == 2
    assert {r["request_id"] for r in records[2:]} == {made}
    assert verify(db).ok
    # The request id is covered by the hash.
    with db.write() as s:
        s.execute(update(AuditRecord).where(AuditRecord.seq == 2).values(request_id="other"))
    report = verify(db)
    assert not report.ok and report.first_broken == 2
    # A header that is not a plain short token is replaced, not logged or stored.
    r = api.client.get("/v1/rounds", headers={**api.h("coordinator"),
                                              "X-Request-ID": "a-b;c" * 20})
    assert r.headers["x-request-id"] != "a-b;c" * 20 and len(r.headers["x-request-id"]) == 32


def _pilot() -> dict[str, tuple[str, bytes, str]]:
    from tests.api.conftest import PILOT, TABLES
    return {t: (f"{t}.csv", (PILOT / f"{t}.csv").read_bytes(), "text/csv") for t in TABLES}


def test_access_lines_are_json_with_route_status_and_request_id(sqlite_api: Api) -> None:
    api = sqlite_api
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(JsonFormatter().format(record))

    logger = logging.getLogger("matcher.access")
    handler, level = Keep(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        api.client.get("/v1/rounds/7", headers={**api.h("coordinator"), "X-Request-ID": "r-1"})
        api.client.get("/nowhere")
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    first, second = (json.loads(x) for x in lines)
    assert first["request_id"] == "r-1" and first["status"] == 404
    assert first["route"] == "/v1/rounds/{round_id}" and first["path"] == "/v1/rounds/7"
    assert first["level"] == "info" and first["logger"] == "matcher.access" and first["ms"] >= 0
    assert second["route"] == "unmatched" and len(second["request_id"]) == 32


def test_health_ready_and_metrics(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    for api in make_api(url, in_process_worker=False):
        assert api.client.get("/health").json()["status"] == "ok"
        r = api.client.get("/ready")
        assert r.status_code == 503
        assert r.json()["checks"]["database"] == "ok" and r.json()["checks"]["migrations"] == "ok"
        assert "no job worker" in r.json()["checks"]["worker"]
    for api in make_api(url, job_poll_seconds=0.05, sync_round_max_candidates=10):
        for _ in range(100):
            if api.client.get("/ready").status_code == 200:
                break
            time.sleep(0.05)
        assert api.client.get("/ready").json() == {
            "status": "ready", "checks": {"database": "ok", "migrations": "ok", "worker": "ok"}}
        api.import_pilot()
        rid = api.post("/v1/rounds", json={}).json()["id"]
        for _ in range(600):
            if api.get(f"/v1/rounds/{rid}").json()["status"] == "done":
                break
            time.sleep(0.05)
        assert api.post("/v1/options/TCK-KEUKEN/shortlist", "esp_tck").status_code == 201
        text = api.client.get("/metrics").text
        assert ('matcher_http_requests_total{method="GET",route="/v1/rounds/{round_id}",'
                'status="200"}') in text
        assert 'matcher_http_request_duration_seconds_bucket{le="0.005",route="/ready"}' in text
        assert 'matcher_job_queue{status="done"} 1.0' in text
        assert 'matcher_rounds{status="done"} 1.0' in text
        assert 'matcher_rounds_finished_total{status="done"}' in text
        assert "matcher_shortlist_batch_size_count" in text
        assert "matcher_worker_last_seen_seconds" in text


def test_rate_limits_shared_through_redis_are_not_multiplied_by_processes() -> None:
    """Two limiters (as two server processes would have) on one Redis: the burst is shared."""
    import uuid

    import redis

    from api.security import RateLimiter
    from api.shared_limits import SharedRateLimiter
    try:
        redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        import pytest
        pytest.fail(f"Redis on 127.0.0.1:6379 is not reachable ({exc})", pytrace=False)
    prefix = f"matcher-test-{uuid.uuid4().hex[:8]}"
    a, b = (SharedRateLimiter(0.01, 3, "redis://127.0.0.1:6379/0", prefix) for _ in range(2))
    answers = [a.allow(1), b.allow(1), a.allow(1), b.allow(1), a.allow(1)]
    assert answers[:3] == [0.0, 0.0, 0.0] and min(answers[3:]) > 0
    assert a.allow(2) == 0.0  # per key
    local = [RateLimiter(0.01, 3) for _ in range(2)]  # in-process: each counts alone
    assert [x.allow(1) for x in local for _ in range(3)] == [0.0] * 6
    down = SharedRateLimiter(1, 1, "redis://127.0.0.1:1/0", prefix)
    assert down.allow(1) == 0.0  # storage away: let through (logged), never take the service down


def test_the_app_counts_in_redis_when_storage_is_set(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    for api in make_api(url, rate_per_second=0.01, rate_burst=3,
                        rate_limit_storage="redis://127.0.0.1:6379/0"):
        codes = [api.get("/v1/rounds").status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        assert int(api.get("/v1/rounds").headers["Retry-After"]) >= 1
