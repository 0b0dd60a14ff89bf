"""Shortlist latency of the running API: N candidates, C concurrent clients, p50/p99.

Generates a city with `matcher generate --candidates N --seed S` (default seed 2020), starts
`matcher serve` on 127.0.0.1 with a fresh SQLite file (or $DATABASE_URL), creates keys,
imports the CSV files, then C client threads each issue shortlist requests for random options.

    PYTHONPATH=$PWD /work/venv/bin/python -m benchmarks.api_latency --candidates 20000 --clients 20

Not a test: it prints numbers. Rate limits are raised for the run (MATCHER_RATE_PER_SECOND).
"""

from __future__ import annotations

import argparse
import http.client
import io
import logging
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

log = logging.getLogger("api_latency")
#: The tables imported (matcher generate also writes protected.csv unless told not to).
TABLES = ("organisations", "options", "candidates", "decisions")


def generate(n_cand: int, seed: int = 2020) -> dict[str, pd.DataFrame]:
    """A city from `matcher generate --candidates N --seed S` (the project's realistic
    generator, run through its command line), as the text tables it wrote."""
    with tempfile.TemporaryDirectory(prefix="matcher-bench-city-") as tmp:
        out = Path(tmp) / "city"
        subprocess.run([sys.executable, "-m", "matcher", "generate", "--candidates",
                        str(n_cand), "--seed", str(seed), "--out", str(out), "--no-protected"],
                       check=True, capture_output=True)
        return {t: pd.read_csv(out / f"{t}.csv", dtype=str, keep_default_na=False)
                for t in TABLES if (out / f"{t}.csv").is_file()}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_health(base: str, polls: int = 600) -> None:
    """Wait until the server at base answers /health (0.1 s between polls)."""
    for _ in range(polls):
        try:
            httpx.get(f"{base}/health", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError("the server did not start")


def _cli(*args: str, env: dict[str, str]) -> str:
    out = subprocess.run([sys.executable, "-m", "matcher", *args], env=env, check=True,
                         capture_output=True, text=True)
    return out.stdout.strip()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--candidates", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=2020, help="matcher generate --seed")
    ap.add_argument("--clients", default="20",
                    help="concurrent clients; a comma list runs each in turn, e.g. 1,20")
    ap.add_argument("--skip-round", action="store_true", help="do not time a round at the end")
    ap.add_argument("--requests", type=int, default=100, help="per client")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--client", choices=["httpx", "http.client"], default="httpx",
                    help="HTTP client of the client threads (http.client costs less CPU)")
    ap.add_argument("--workers", type=int, default=1,
                    help="server processes (matcher serve --workers; PostgreSQL only)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    tmp = Path(tempfile.mkdtemp(prefix="matcher-bench-"))
    env = dict(os.environ, MATCHER_RATE_PER_SECOND="100000", MATCHER_RATE_BURST="100000",
               MATCHER_SYNC_ROUND_MAX_CANDIDATES="0", MATCHER_SERVER_TIMING="1")
    db_args = [] if "DATABASE_URL" in os.environ else ["--db", str(tmp / "bench.db")]
    t = time.perf_counter()
    tables = generate(args.candidates, args.seed)
    log.info("generated %d candidates, %d options, %d organisations in %.1f s", args.candidates,
             len(tables["options"]), len(tables["organisations"]), time.perf_counter() - t)
    coord = _cli("apikey", "create", "--role", "coordinator", *db_args, env=env)
    orgs = tables["organisations"]["organisation_id"].tolist()
    esp = [_cli("apikey", "create", "--role", "employer_service_point", *db_args,
                *[a for o in orgs[i::5] for a in ("--organisation", o)], env=env) for i in range(5)]
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "matcher", "serve", "--port", str(port),
                               "--workers", str(args.workers), *db_args], env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(base, polls=200)
        files = {}
        for name, df in tables.items():
            buf = io.StringIO()
            df.to_csv(buf, index=False)
            files[name] = (f"{name}.csv", buf.getvalue().encode(), "text/csv")
        t = time.perf_counter()
        r = httpx.post(f"{base}/v1/imports/csv", files=files, headers={"X-API-Key": coord},
                       timeout=600)
        r.raise_for_status()
        log.info("import (validate, store, rank every option): %.1f s", time.perf_counter() - t)
        if args.workers > 1:
            t = time.perf_counter()
            _wait_for_ranking(base, r.json()["id"])
            log.info("every worker ranks the import after another %.1f s",
                     time.perf_counter() - t)
        opts = tables["options"]
        owner = dict(zip(opts["option_id"], opts["organisation_id"], strict=True))
        key_of = {o: esp[i % 5] for i, o in enumerate(orgs)}
        rng = np.random.default_rng(1)
        first = opts["option_id"].iat[0]
        # one warm-up request (the ranking is built at import; this warms the decision cache)
        httpx.post(f"{base}/v1/options/{first}/shortlist", params={"k": args.k},
                  headers={"X-API-Key": key_of[owner[first]]}, timeout=60).raise_for_status()
        for n_clients in [int(x) for x in args.clients.split(",")]:
            _measure(base, n_clients, args.requests, args.k, rng, opts, owner, key_of, server.pid,
                     light=args.client == "http.client")
        if not args.skip_round:
            _round(base, coord)
    finally:
        server.terminate()
        server.wait(timeout=30)


def _wait_for_ranking(base: str, data_version: int, polls: int = 40) -> None:
    """Until `polls` health checks in a row (answered by whichever worker) report the import's
    data version: the other workers rank it in the background after the import."""
    in_a_row = 0
    while in_a_row < polls:
        r = httpx.get(f"{base}/health", timeout=10)
        in_a_row = in_a_row + 1 if r.json()["data_version"] == data_version else 0
        time.sleep(0.05 if in_a_row else 0.5)


def _cpu_seconds(pid: int) -> tuple[float, float] | None:
    """CPU time (user + system) of a process and its children (uvicorn workers), and of the
    processes named ``postgres`` (a local PostgreSQL server: its backends, WAL writer, ...,
    including those serving others); Linux only."""
    try:
        parent: dict[int, int] = {}
        ticks: dict[int, int] = {}
        postgres = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                text = stat.read_text()
            except OSError:
                continue
            name, rest = text.split("(", 1)[1].rsplit(")", 1)
            fields = rest.split()
            p = int(stat.parent.name)
            parent[p], ticks[p] = int(fields[1]), int(fields[11]) + int(fields[12])
            if name == "postgres":
                postgres += ticks[p]
        tree, todo = set(), [pid]
        while todo:
            p = todo.pop()
            tree.add(p)
            todo += [c for c, pp in parent.items() if pp == p and c not in tree]
        hz = os.sysconf("SC_CLK_TCK")
        return sum(ticks.get(p, 0) for p in tree) / hz, postgres / hz
    except (OSError, ValueError, IndexError):
        return None


def _measure(base: str, n_clients: int, requests: int, k: int, rng: np.random.Generator,
             opts: pd.DataFrame, owner: dict[str, str], key_of: dict[str, str],
             server_pid: int | None = None, light: bool = False) -> None:
    picks = rng.choice(opts["option_id"].to_numpy(), size=(n_clients, requests))
    lat: list[list[float]] = [[] for _ in range(n_clients)]
    timings: list[list[dict[str, float]]] = [[] for _ in range(n_clients)]
    errors: list[str] = []

    def client(i: int) -> None:
        with httpx.Client(base_url=base, timeout=30) as c:
            for option in picks[i]:
                t0 = time.perf_counter()
                resp = c.post(f"/v1/options/{option}/shortlist", params={"k": k},
                             headers={"X-API-Key": key_of[owner[option]]})
                lat[i].append(time.perf_counter() - t0)
                timings[i].append(_server_timing(resp.headers.get("server-timing")))
                if resp.status_code != 201:
                    errors.append(f"{resp.status_code} {resp.text[:200]}")

    def light_client(i: int) -> None:
        # The same requests over one keep-alive http.client connection: far less client CPU
        # than httpx, which matters when clients and server share two cores.
        host, port = base.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        try:
            for option in picks[i]:
                t0 = time.perf_counter()
                conn.request("POST", f"/v1/options/{option}/shortlist?k={k}",
                             headers={"X-API-Key": key_of[owner[option]]})
                resp = conn.getresponse()
                body = resp.read()
                lat[i].append(time.perf_counter() - t0)
                timings[i].append(_server_timing(resp.getheader("server-timing")))
                if resp.status != 201:
                    errors.append(f"{resp.status} {body[:200]!r}")
        finally:
            conn.close()

    run = light_client if light else client
    threads = [threading.Thread(target=run, args=(i,)) for i in range(n_clients)]
    load0 = os.getloadavg()[0]
    cpu0 = None if server_pid is None else _cpu_seconds(server_pid)
    own0 = time.process_time()
    t = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wall = time.perf_counter() - t
    cpu1 = None if server_pid is None else _cpu_seconds(server_pid)
    own = time.process_time() - own0
    ms = np.concatenate([np.array(x) for x in lat]) * 1000
    log.info("shortlists (%s): %d requests, %d clients, k=%d: p50 %.1f ms, p90 %.1f ms, "
             "p99 %.1f ms, max %.1f ms; %.0f requests/s; %d errors",
             "http.client" if light else "httpx", len(ms), n_clients,
             k, np.percentile(ms, 50), np.percentile(ms, 90), np.percentile(ms, 99),
             ms.max(), len(ms) / wall, len(errors))
    if cpu0 is not None and cpu1 is not None:
        log.info("CPU per request: server %.2f ms (all its processes), clients %.2f ms, "
                 "local postgres processes %.2f ms", (cpu1[0] - cpu0[0]) * 1000 / len(ms),
                 own * 1000 / len(ms), (cpu1[1] - cpu0[1]) * 1000 / len(ms))
    # Where the time goes (the server's Server-Timing header): "app" is from the app's first
    # look at the request to the start of its answer, "handler" the shortlist handler, "db" its
    # waits on the database; "outside app" (latency - app) is queueing for the server's event
    # loop, HTTP parsing and the client's own time.
    flat = [t for per in timings for t in per]
    if flat and all("app" in t for t in flat):
        parts = {name: np.array([t.get(name, np.nan) for t in flat]) for name in
                 ("app", "handler", "db")}
        parts["outside app"] = ms - parts["app"]
        log.info("server timing: %s", "; ".join(
            f"{name} p50 {np.nanpercentile(v, 50):.1f} / p99 {np.nanpercentile(v, 99):.1f} ms"
            for name, v in parts.items() if not np.isnan(v).all()))
    log.info("load average (1 min): %.2f before, %.2f after", load0, os.getloadavg()[0])
    for e in errors[:5]:
        log.info("error: %s", e)


def _server_timing(header: str | None) -> dict[str, float]:
    """{"app": ms, "handler": ms, ...} from a Server-Timing header (empty without one)."""
    out: dict[str, float] = {}
    for part in (header or "").split(","):
        name, _, dur = part.strip().partition(";dur=")
        if dur:
            out[name] = float(dur)
    return out


def _round(base: str, coord: str) -> None:
    t = time.perf_counter()
    r = httpx.post(f"{base}/v1/rounds", json={}, headers={"X-API-Key": coord}, timeout=60)
    rid = r.json()["id"]
    while r.json()["status"] in ("queued", "running"):
        time.sleep(1)
        r = httpx.get(f"{base}/v1/rounds/{rid}", headers={"X-API-Key": coord}, timeout=60)
    body = r.json()
    log.info("round (background job) %s in %.1f s: %s, method %s, gap %s, matched %s",
             body["status"], time.perf_counter() - t, body["solver_status"], body["method"],
             body["gap"], (body["counts"] or {}).get("matched"))


if __name__ == "__main__":
    main()
