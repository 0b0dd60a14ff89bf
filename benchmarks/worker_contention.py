"""SQLite: what a separate job worker does to the shortlist p99 (one writer lock shared).

Starts `matcher serve` (no in-process worker) on a fresh SQLite file with N candidates
(`benchmarks.api_latency`'s generator), then measures shortlist latency with C clients in
three phases of the same length, one run:

1. no worker running (baseline);
2. a `matcher worker` process idle beside the server (polls; heartbeats as writes);
3. the same worker running a round of all N candidates (scoring and solving on the other
   core, lease renewals every heartbeat, then the round's result written in one transaction);
4. what a user has instead (the default): the server restarted with its in-process worker,
   running the same round.

    flock /tmp/matcher-bench.lock .venv/bin/python -m benchmarks.worker_contention \\
        --candidates 5000 --clients 4 --seconds 20

Not a test: it prints one table.
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

from benchmarks.api_latency import _cli, _free_port, generate, wait_for_health

log = logging.getLogger("worker_contention")


def _clients(base: str, n: int, seconds: float, options: list[str], key: str,
             until: threading.Event | None = None) -> np.ndarray:
    """Shortlist latencies (ms) of `n` clients for `seconds` (or until `until` is set)."""
    lat: list[float] = []
    errors: list[str] = []
    end = time.monotonic() + seconds

    def client(i: int) -> None:
        rng = np.random.default_rng(i)
        with httpx.Client(base_url=base, timeout=60, headers={"X-API-Key": key}) as c:
            while time.monotonic() < end and not (until is not None and until.is_set()):
                t0 = time.perf_counter()
                r = c.post(f"/v1/options/{options[rng.integers(len(options))]}/shortlist")
                lat.append((time.perf_counter() - t0) * 1000)
                if r.status_code != 201:
                    errors.append(f"{r.status_code} {r.text[:100]}")

    threads = [threading.Thread(target=client, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        log.warning("%d errors, first: %s", len(errors), errors[0])
    return np.array(lat)


def _row(name: str, ms: np.ndarray, seconds: float) -> str:
    return (f"| {name} | {len(ms)} | {len(ms) / seconds:.0f} | {np.percentile(ms, 50):.1f} | "
            f"{np.percentile(ms, 99):.1f} | {ms.max():.1f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--candidates", type=int, default=5000)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=20.0)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    tmp = Path(tempfile.mkdtemp(prefix="matcher-contention-"))
    db = tmp / "bench.db"
    env = dict(os.environ, MATCHER_RATE_PER_SECOND="100000", MATCHER_RATE_BURST="100000",
               MATCHER_SYNC_ROUND_MAX_CANDIDATES="0", MATCHER_IN_PROCESS_WORKER="false",
               MATCHER_ACCESS_LOG="false", MATCHER_LOG_LEVEL="warning",
               DATABASE_URL=f"sqlite:///{db}")
    tables = generate(args.candidates)
    coord = _cli("apikey", "create", "--role", "coordinator", env=env)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, "-m", "matcher", "serve", "--port", str(port)],
                              env=env)
    worker: subprocess.Popen[bytes] | None = None
    try:
        wait_for_health(base)
        files = {}
        for name, df in tables.items():
            buf = io.StringIO()
            df.to_csv(buf, index=False)
            files[name] = (f"{name}.csv", buf.getvalue().encode(), "text/csv")
        httpx.post(f"{base}/v1/imports/csv", files=files, headers={"X-API-Key": coord},
                   timeout=600).raise_for_status()
        options = tables["options"]["option_id"].tolist()
        _clients(base, 1, 2, options, coord)  # warm-up
        rows = [_row("no worker", base_ms := _clients(base, args.clients, args.seconds, options,
                                                      coord), args.seconds)]
        del base_ms
        worker = subprocess.Popen([sys.executable, "-m", "matcher", "worker"], env=env)
        time.sleep(8)  # the worker's start (imports)
        rows.append(_row("worker idle", _clients(base, args.clients, args.seconds, options,
                                                 coord), args.seconds))
        rows.append(_round_phase(base, coord, options, args,
                                 "separate worker running a {n}-candidate round ({took:.0f} s)"))
        # What a user would have instead: the in-process worker of `matcher serve` (the
        # default), which takes the server's own writer lock rather than SQLite's file lock.
        worker.terminate()
        worker.wait(timeout=60)
        worker = None
        server.terminate()
        server.wait(timeout=60)
        server = subprocess.Popen([sys.executable, "-m", "matcher", "serve", "--port", str(port)],
                                  env=env | {"MATCHER_IN_PROCESS_WORKER": "true"})
        wait_for_health(base)
        _clients(base, 1, 2, options, coord)  # warm-up (the new process ranks the data)
        rows.append(_round_phase(base, coord, options, args,
                                 "in-process worker running a {n}-candidate round ({took:.0f} s)"))
        load = os.getloadavg()
        print(f"\nSQLite, {args.candidates} candidates, {args.clients} clients, shortlists "
              "(POST) on one server process; load average (1, 5, 15 min) at the end "
              f"{load[0]:.1f} {load[1]:.1f} {load[2]:.1f} on {os.cpu_count()} cores\n")
        print("| phase | requests | requests/s | p50 ms | p99 ms | max ms |")
        print("|---|---|---|---|---|---|")
        print("\n".join(rows))
    finally:
        for p in (worker, server):
            if p is not None:
                p.terminate()
                p.wait(timeout=30)


def _round_phase(base: str, coord: str, options: list[str], args: argparse.Namespace,
                 label: str) -> str:
    """Shortlist latencies while a round of every candidate is queued and run to its end."""
    rid = httpx.post(f"{base}/v1/rounds", json={}, headers={"X-API-Key": coord},
                     timeout=60).json()["id"]
    done = threading.Event()
    t0 = time.monotonic()
    watcher = threading.Thread(target=_watch, args=(base, rid, coord, done))
    watcher.start()
    busy = _clients(base, args.clients, 3600, options, coord, until=done)
    took = time.monotonic() - t0
    watcher.join()
    return _row(label.format(n=args.candidates, took=took), busy, took)


def _watch(base: str, rid: int, key: str, done: threading.Event) -> None:
    while True:
        r = httpx.get(f"{base}/v1/rounds/{rid}", headers={"X-API-Key": key}, timeout=60).json()
        if r["status"] in ("done", "failed", "cancelled"):
            log.info("round %s: %s (%s)", rid, r["status"], r["job"])
            done.set()
            return
        time.sleep(0.5)


if __name__ == "__main__":
    main()
