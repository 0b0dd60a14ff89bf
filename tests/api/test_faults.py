"""Faults: processes killed with SIGKILL, the database cut off, two claimers, a full disk.

After each: the audit chain verifies and nothing half-written is visible. Budget (with the Dask
tests): 4 minutes of CI in all; each case says what it tried in /work/notes/ops.md terms.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

import pytest

from api.audit import verify
from tests.api.conftest import _pg_schema, make_api

pytestmark = pytest.mark.faults


class Cut:
    """A TCP forwarder to PostgreSQL that can be cut (every connection dropped, new ones
    refused) and restored: the database going away and coming back, as the app sees it."""

    def __init__(self, target: tuple[str, int] = ("127.0.0.1", 5432)) -> None:
        self.target = target
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.listener.listen(64)
        self.up = True
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up:
                client.close()
                continue
            server = socket.create_connection(self.target)
            self.conns += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                with contextlib.suppress(OSError):
                    s.close()

    def cut(self) -> None:
        self.up = False
        for c in self.conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
                c.close()
            except OSError:
                pass
        self.conns = []

    def restore(self) -> None:
        self.up = True

    def close(self) -> None:
        self.cut()
        self.listener.close()


@pytest.fixture
def cut_pg() -> Iterator[tuple[Cut, str]]:
    cut = Cut()
    for url in _pg_schema():
        yield cut, url.replace("127.0.0.1:5432", f"127.0.0.1:{cut.port}")
    cut.close()


@pytest.mark.postgres
def test_database_unreachable_is_503_with_a_clear_message_then_recovers(
        cut_pg: tuple[Cut, str]) -> None:
    cut, url = cut_pg
    for api in make_api(url, job_poll_seconds=0.2):
        api.import_pilot()
        assert api.get("/v1/rounds").status_code == 200
        cut.cut()
        r = api.get("/v1/rounds")
        assert r.status_code == 503, r.text
        assert "database is unreachable" in r.json()["detail"] and r.headers["Retry-After"]
        r = api.post("/v1/rounds", json={})
        assert r.status_code == 503
        ready = api.client.get("/ready")
        assert ready.status_code == 503 and "unreachable" in ready.json()["checks"]["database"]
        assert api.client.get("/health").status_code == 200  # alive, not ready
        cut.restore()
        assert api.get("/v1/rounds").json()["total"] == 0  # nothing half-made while it was away
        assert api.post("/v1/rounds", json={}).status_code == 201
        assert verify(api.app.state.db).ok
