"""Engine, sessions and migrations (Alembic scripts shipped in ``api/migrations``)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).parent / "migrations"
log = logging.getLogger(__name__)


def utcnow() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def make_engine(url: str, auto_checkpoint: bool = True) -> Engine:
    """`auto_checkpoint=False` (SQLite): commits never checkpoint the WAL; the caller must run
    checkpoints itself (see `Checkpointer`)."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            if not auto_checkpoint:
                cur.execute("PRAGMA wal_autocheckpoint=0")
            cur.close()

        return engine
    return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(engine: Engine) -> None:
    """Bring the database to the newest schema (creates a fresh SQLite file if needed)."""
    url = engine.url.render_as_string(hide_password=False)
    if engine.url.get_backend_name() == "sqlite" and engine.url.database:
        Path(engine.url.database).parent.mkdir(parents=True, exist_ok=True)
    cfg = alembic_config(url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


class Checkpointer:
    """Checkpoints a SQLite file's WAL from a background thread, every `interval` seconds.

    By default SQLite checkpoints inside the commit that crosses 1000 WAL pages, with an fsync of
    the database file: about 10 ms (sometimes far more) in the middle of a request, during which
    a server's event loop serves nobody. A PASSIVE checkpoint from another connection runs beside
    the writers (the sqlite3 module releases the GIL while it works)."""

    def __init__(self, engine: Engine, interval: float = 0.5) -> None:
        self.engine, self.interval = engine, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.checkpoint("PASSIVE")

    def checkpoint(self, mode: str = "PASSIVE") -> None:
        try:
            with self.engine.connect() as conn:
                conn.exec_driver_sql(f"PRAGMA wal_checkpoint({mode})")
        except Exception:  # never let the checkpointer die; the next round retries
            log.warning("WAL checkpoint failed", exc_info=True)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        self.checkpoint("TRUNCATE")


class Database:
    """The engine, a session factory and the lock that serialises writers in this process.

    `background_checkpoint=True` (servers on SQLite): WAL checkpoints run in a background thread
    instead of inside some request's commit; call `dispose` to stop it."""

    def __init__(self, url: str, background_checkpoint: bool = False) -> None:
        self.url = url
        sqlite = url.startswith("sqlite")
        self.engine = make_engine(url, auto_checkpoint=not (background_checkpoint and sqlite))
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.write_lock = threading.Lock()
        self.checkpointer = Checkpointer(self.engine) if background_checkpoint and sqlite else None

    @property
    def is_postgres(self) -> bool:
        return self.engine.url.get_backend_name() == "postgresql"

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self.sessions() as s:
            yield s

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One write transaction, all or nothing; writers in this process take turns."""
        with self.write_lock, self.sessions() as s, s.begin():
            yield s

    def dispose(self) -> None:
        if self.checkpointer is not None:
            self.checkpointer.stop()
        self.engine.dispose()
