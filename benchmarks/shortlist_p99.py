"""Shortlist p99 through a real server, measured by `wrk` (not our code), on both databases.

One command prints one table:

    flock /tmp/matcher-bench.lock .venv/bin/python -m benchmarks.shortlist_p99 \\
        --candidates 20000 --seed 2020 --connections 20 --duration 20

For each database (a fresh SQLite file; a fresh PostgreSQL database on 127.0.0.1:5432):

1. `matcher generate --candidates N --seed S` writes a city (the project's realistic generator;
   the default policy: at 20,000 candidates 19.3 million eligible pairs); its CSV files are
   imported through `POST /v1/imports/csv` into `matcher serve` (one process);
2. `wrk` with a Lua script (benchmarks/wrk_shortlist.lua) sends `POST
   /v1/options/{id}/shortlist` with a JSON body `{"k": 10}`, each request for a random option
   with the API key of that option's service point, over C connections for D seconds;
3. meanwhile a separate client asks `GET /health` every 0.1 s (nothing CPU-heavy may run on the
   event loop: the issue's bar is 50 ms);
4. beside it, the same requests by the project's own client (`benchmarks.api_latency`'s
   threads, httpx) for comparison.

Not a test: it prints numbers (the Server-Timing header is on, rate limits are raised).
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

from benchmarks.api_latency import _cli, _free_port, _measure, generate, wait_for_health

log = logging.getLogger("shortlist_p99")
LUA = Path(__file__).with_name("wrk_shortlist.lua")
PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
#: Service points the options' organisations are spread over (each key acts for a fifth).
SERVICE_POINTS = 5


@contextmanager
def database(kind: str, tmp: Path) -> Iterator[dict[str, str]]:
    """Environment for a fresh database of this kind (dropped afterwards)."""
    if kind == "sqlite":
        yield {"DATABASE_URL": f"sqlite:///{tmp / 'bench.db'}"}
        return
    import psycopg

    name = f"matcher_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield {"DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"}
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class HealthProbe:
    """GET /health every `every` seconds from its own thread while the load runs."""

    def __init__(self, base: str, every: float = 0.1) -> None:
        self.base, self.every = base, every
        self.ms: list[float] = []
        self.failed = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(base_url=self.base, timeout=10) as c:
            while not self._stop.is_set():
                t = time.perf_counter()
                try:
                    c.get("/health").raise_for_status()
                    self.ms.append((time.perf_counter() - t) * 1000)
                except httpx.HTTPError:
                    self.failed += 1
                self._stop.wait(self.every)

    def __enter__(self) -> HealthProbe:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def p99(self) -> float:
        return float(np.percentile(self.ms, 99)) if self.ms else float("nan")


_UNIT = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if m is None:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(m.group(1)) * _UNIT[m.group(2)]


def parse_wrk(out: str) -> dict[str, float]:
    """p50, p99 (ms), requests/s, non-2xx and socket errors from `wrk --latency` output."""
    pct = dict(re.findall(r"^\s+(50|90|99)(?:\.000)?%\s+(\S+)", out, re.M))
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                       out)
    total = re.search(r"(\d+) requests in", out)
    return {"p50": _ms(pct["50"]), "p90": _ms(pct["90"]), "p99": _ms(pct["99"]),
            "rps": float(rate.group(1)) if rate else float("nan"),
            "requests": float(total.group(1)) if total else float("nan"),
            "non2xx": float(non2xx.group(1)) if non2xx else 0.0,
            "errors": float(sum(int(x) for x in errors.groups())) if errors else 0.0}


def _requests_file(tmp: Path, tables: dict[str, pd.DataFrame], keys: list[str],
                   seed: int) -> Path:
    """One line per request for the Lua script: path TAB API key (random options, in order)."""
    opts = tables["options"]
    orgs = tables["organisations"]["organisation_id"].tolist()
    key_of = {o: keys[i % SERVICE_POINTS] for i, o in enumerate(orgs)}
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(opts), 5000)
    path = tmp / "requests.tsv"
    path.write_text("".join(f"/v1/options/{opts['option_id'].iat[i]}/shortlist\t"
                            f"{key_of[opts['organisation_id'].iat[i]]}\n" for i in picks))
    return path


def _files(tables: dict[str, pd.DataFrame]) -> dict[str, tuple[str, bytes, str]]:
    return {t: (f"{t}.csv", df.to_csv(index=False).encode(), "text/csv")
            for t, df in tables.items()}


def measure_database(kind: str, tables: dict[str, pd.DataFrame],
                     args: argparse.Namespace) -> list[dict[str, object]]:
    """Rows of the table for one database: wrk, and the project's own client beside it."""
    tmp = Path(tempfile.mkdtemp(prefix=f"matcher-p99-{kind}-"))
    rows: list[dict[str, object]] = []
    try:
        with database(kind, tmp) as db_env:
            env = dict(os.environ, **db_env, MATCHER_RATE_PER_SECOND="100000",
                       MATCHER_RATE_BURST="100000", MATCHER_SERVER_TIMING="1",
                       MATCHER_SYNC_ROUND_MAX_CANDIDATES="0")
            coord = _cli("apikey", "create", "--role", "coordinator", env=env)
            orgs = tables["organisations"]["organisation_id"].tolist()
            esp = [_cli("apikey", "create", "--role", "employer_service_point",
                        *[a for o in orgs[i::SERVICE_POINTS] for a in ("--organisation", o)],
                        env=env) for i in range(SERVICE_POINTS)]
            port = _free_port()
            server = subprocess.Popen([sys.executable, "-m", "matcher", "serve", "--port",
                                       str(port)], env=env, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL)
            base = f"http://127.0.0.1:{port}"
            try:
                wait_for_health(base, polls=600)
                files = _files(tables)
                t = time.perf_counter()
                httpx.post(f"{base}/v1/imports/csv", files=files, headers={"X-API-Key": coord},
                           timeout=1200).raise_for_status()
                log.info("%s: import and ranking %.1f s", kind, time.perf_counter() - t)
                reqs = _requests_file(tmp, tables, esp, args.seed)
                first_path, first_key = reqs.read_text().split("\n", 1)[0].split("\t")
                httpx.post(base + first_path, json={"k": args.k},
                           headers={"X-API-Key": first_key}, timeout=120).raise_for_status()
                rows.append(_wrk_row(kind, base, reqs, args))
                rows.append(_own_client_row(kind, base, tables, esp, args))
            finally:
                server.terminate()
                server.wait(timeout=60)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return rows


def _wrk_row(kind: str, base: str, reqs: Path, args: argparse.Namespace) -> dict[str, object]:
    env = dict(os.environ, SHORTLIST_REQUESTS=str(reqs), SHORTLIST_K=str(args.k))
    with HealthProbe(base) as probe:
        out = subprocess.run(["wrk", "-t", "2", "-c", str(args.connections), "-d",
                              f"{args.duration}s", "--timeout", "10s", "--latency", "-s", str(LUA),
                              base], env=env, capture_output=True, text=True, check=True).stdout
    log.debug("%s", out)
    w = parse_wrk(out)
    return {"database": kind, "client": f"wrk -c {args.connections}", **w,
            "health_p99": probe.p99(), "health_failed": probe.failed}


def _own_client_row(kind: str, base: str, tables: dict[str, pd.DataFrame], esp: list[str],
                    args: argparse.Namespace) -> dict[str, object]:
    """The same kind of load by benchmarks.api_latency's client threads (http.client)."""
    opts = tables["options"]
    orgs = tables["organisations"]["organisation_id"].tolist()
    key_of = {o: esp[i % SERVICE_POINTS] for i, o in enumerate(orgs)}
    owner = dict(zip(opts["option_id"], opts["organisation_id"], strict=True))
    found: dict[str, float] = {}
    handler = _Capture(found)
    logging.getLogger("api_latency").addHandler(handler)
    try:
        with HealthProbe(base) as probe:
            _measure(base, args.connections, args.own_requests, args.k,
                     np.random.default_rng(args.seed), opts, owner, key_of, light=True)
    finally:
        logging.getLogger("api_latency").removeHandler(handler)
    return {"database": kind, "client": f"own http.client x{args.connections}", **found,
            "health_p99": probe.p99(), "health_failed": probe.failed}


class _Capture(logging.Handler):
    """Takes p50/p99, requests/s and errors from `_measure`'s summary line."""

    def __init__(self, found: dict[str, float]) -> None:
        super().__init__()
        self.found = found

    def emit(self, record: logging.LogRecord) -> None:
        m = re.search(r"(\d+) requests, .*p50 ([\d.]+) ms, p90 ([\d.]+) ms, p99 ([\d.]+) ms, .*"
                      r" ([\d.]+) requests/s; (\d+) errors", record.getMessage())
        if m:
            n, p50, p90, p99, rps, err = m.groups()
            self.found.update(requests=float(n), p50=float(p50), p90=float(p90), p99=float(p99),
                              rps=float(rps), non2xx=float(err), errors=0.0)


def table(rows: list[dict[str, object]]) -> str:
    head = ("| database | client | requests | req/s | p50 ms | p90 ms | p99 ms | non-2xx | "
            "socket errors | /health p99 ms |")
    lines = [head, "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['database']} | {r['client']} | {r.get('requests', 0):.0f} | "
                     f"{r.get('rps', 0):.0f} | {r.get('p50', 0):.1f} | {r.get('p90', 0):.1f} | "
                     f"{r.get('p99', 0):.1f} | {r.get('non2xx', 0):.0f} | "
                     f"{r.get('errors', 0):.0f} | {r['health_p99']:.1f} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--candidates", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=2020)
    ap.add_argument("--connections", type=int, default=20)
    ap.add_argument("--duration", type=int, default=20, help="seconds of wrk load")
    ap.add_argument("--own-requests", type=int, default=50, help="per client thread")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--databases", default="sqlite,postgres")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (apt-get install -y wrk)")
    t = time.perf_counter()
    tables = generate(args.candidates, args.seed)
    log.info("matcher generate --candidates %d --seed %d: %d options, %.1f s",
             args.candidates, args.seed, len(tables["options"]), time.perf_counter() - t)
    rows = [row for kind in args.databases.split(",")
            for row in measure_database(kind, tables, args)]
    print(f"\nShortlist POST, k={args.k}, {args.candidates} candidates (matcher generate --seed "
          f"{args.seed}, default policy), one server process, load {os.getloadavg()[0]:.1f}\n")
    print(table(rows))


if __name__ == "__main__":
    main()
