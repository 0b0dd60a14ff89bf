"""Prometheus metrics (prometheus-client), served at ``/metrics``.

Counters and histograms live in this process's default registry. The queue and round counts
are read from the database at each scrape, so they are the same whichever server process
answers. With several server processes (``matcher serve --workers N``) set
``PROMETHEUS_MULTIPROC_DIR`` to an empty folder shared by them: the processes then write their
samples there and any one of them answers for all.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as _multiprocess
from sqlalchemy import func, select

from api.db import Database
from api.models import Round
from api.store import jobs

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
ROUND_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1200, 3600, 7200)

REQUESTS = Counter("matcher_http_requests", "HTTP requests answered, by route and status",
                   ["method", "route", "status"])
LATENCY = Histogram("matcher_http_request_duration_seconds",
                    "Time from a request's arrival to the end of its answer, by route",
                    ["route"], buckets=LATENCY_BUCKETS)
ROUNDS = Counter("matcher_rounds_finished", "Rounds finished by a worker in this process, by status",
                 ["status"])
ROUND_SECONDS = Histogram("matcher_round_duration_seconds",
                          "Time a worker in this process spent on a round, by how it ended",
                          ["status"], buckets=ROUND_BUCKETS)
SHORTLIST_BATCH = Histogram("matcher_shortlist_batch_size",
                            "Shortlist requests issued together in one transaction",
                            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256))
CONTENT_TYPE = CONTENT_TYPE_LATEST


def _process_metrics() -> bytes:
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not path:
        return generate_latest()
    registry = CollectorRegistry()
    _multiprocess.MultiProcessCollector(registry, path=path)
    return generate_latest(registry)


def _database_metrics(db: Database) -> bytes:
    registry = CollectorRegistry()
    depth = Gauge("matcher_job_queue", "Round jobs in the durable queue, by status", ["status"],
                  registry=registry)
    rounds = Gauge("matcher_rounds", "Rounds stored, by status", ["status"], registry=registry)
    age = Gauge("matcher_worker_last_seen_seconds",
                "Seconds since any job worker was last seen", registry=registry)
    with db.session() as s:
        counts = jobs.queue_depth(s)
        by_status = {st: n for st, n in s.execute(select(Round.status, func.count())
                                                  .group_by(Round.status)).all()}
        seen = jobs.last_seen(s)
    for status in ("queued", "running", "done", "failed", "cancelled"):
        depth.labels(status).set(counts.get(status, 0))
        rounds.labels(status).set(by_status.get(status, 0))
    if seen is not None:
        then = datetime.strptime(seen, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        age.set((datetime.now(UTC) - then).total_seconds())
    return generate_latest(registry)


def exposition(db: Database) -> bytes:
    """The text exposition format: this process's (or all processes') samples, then the
    database's counts."""
    return _process_metrics() + _database_metrics(db)
