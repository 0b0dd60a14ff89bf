"""The wrk benchmark reads wrk's own report correctly (benchmarks.shortlist_p99)."""

from __future__ import annotations

import pytest

from benchmarks.shortlist_p99 import parse_wrk

WRK = """Running 20s test @ http://127.0.0.1:40111
  2 threads and 20 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    41.52ms   20.10ms 312.00ms   80.00%
    Req/Sec   245.10     40.20   350.00     70.00%
  Latency Distribution
     50%   38.20ms
     75%   50.00ms
     90%   66.10ms
     99%    1.20s
  9803 requests in 20.02s, 38.10MB read
  Socket errors: connect 0, read 1, write 0, timeout 2
  Non-2xx or 3xx responses: 4
Requests/sec:    489.66
Transfer/sec:      1.90MB
"""


def test_parse_wrk_reads_percentiles_rate_and_errors() -> None:
    got = parse_wrk(WRK)
    assert got["p50"] == pytest.approx(38.2) and got["p90"] == pytest.approx(66.1)
    assert got["p99"] == pytest.approx(1200.0)  # seconds are converted
    assert got["rps"] == pytest.approx(489.66) and got["requests"] == 9803
    assert got["non2xx"] == 4 and got["errors"] == 3


def test_parse_wrk_without_errors_and_in_microseconds() -> None:
    text = WRK.replace("  Socket errors: connect 0, read 1, write 0, timeout 2\n", "").replace(
        "  Non-2xx or 3xx responses: 4\n", "").replace("38.20ms", "900.00us")
    got = parse_wrk(text)
    assert got["p50"] == pytest.approx(0.9) and got["non2xx"] == 0 and got["errors"] == 0
