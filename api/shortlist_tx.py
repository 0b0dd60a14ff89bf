"""The database side of issuing shortlists, in as few round trips as each database allows.

Shortlists asked for at about the same moment are issued together (`api.shortlisting`), in one
transaction that no other shortlist or audit append can interleave with. It reads the versions,
which of the callers' keys are valid, the audit head, the next shortlist ids and the open
shortlists of the candidates each will look at first, then writes the shortlists, their
entries and one audit record each:

- PostgreSQL: two round trips, awaited (psycopg's asynchronous connection), so that the server's
  event loop reads and answers other requests while the database works and the commit is
  flushed. The first begins the transaction, takes the audit advisory lock
  (which every audit appender takes, so shortlists also take turns across server processes)
  and reads the versions and keys, then, in statements of their own so that their snapshot is
  taken after the lock is held, the head, the ids and the open shortlists. The second writes
  everything in one statement and commits. Candidates beyond the first chunk, or decisions
  changed since the last request, cost one more round trip each.
- SQLite: ``BEGIN IMMEDIATE`` (no other connection writes until commit; writers in this process
  take turns on `Database.write_lock` first), three reads, three inserts, commit. No round
  trips (the methods are coroutines only to share the interface: they never wait), but each
  statement on the raw ``sqlite3`` connection costs far less than through SQLAlchemy.

Each process keeps one connection for this (made with the engine's connect arguments) and runs
one transaction at a time on it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import Integer

from api.audit import LOCK_ID
from api.db import Database
from api.models import AuditRecord, Base, IdempotencyKey, Shortlist, ShortlistEntry

log = logging.getLogger(__name__)

EVENT_COLUMNS = ["candidate_id", "option_id", "kind", "reason"]
_EVENTS = "SELECT candidate_id, option_id, kind, reason FROM decisions ORDER BY id"


@dataclass(frozen=True)
class Begun:
    """What the first round trip read, under the lock."""

    data_version: int
    decisions_version: int
    valid_keys: frozenset[int]  # of the key ids asked about: those that exist, not revoked
    head_seq: int | None
    head_hash: str | None
    shortlist_ids: list[int]  # as many as asked for, ascending
    open_options: dict[str, set[str]]  # candidate id -> options of its open shortlists


@dataclass(frozen=True)
class Replay:
    """A shortlist found under an Idempotency-Key."""

    request_hash: str
    shortlist_id: int
    body: str | None
    closed_at: str | None


class Tx:
    """One transaction (from `ShortlistStore.transaction`)."""

    def __init__(self) -> None:
        self.db_seconds = 0.0  # time spent waiting on the database

    async def begin(self, key_ids: Sequence[int], n_shortlists: int, since: str,
                    cand_ids: Sequence[str]) -> Begun:
        """Lock, then read; `cand_ids`: candidates whose open shortlists (issued at or after
        `since`, not closed) to read now."""
        raise NotImplementedError

    async def open_options(self, since: str, cand_ids: Sequence[str]) -> dict[str, set[str]]:
        raise NotImplementedError

    async def decision_events(self) -> pd.DataFrame:
        raise NotImplementedError

    async def idempotent(self, pairs: Sequence[tuple[int, str]], since: str
                         ) -> dict[tuple[int, str], Replay]:
        """The shortlists first issued (at or after `since`) under these (key id,
        Idempotency-Key) pairs."""
        raise NotImplementedError

    async def write(self, shortlists: list[dict[str, Any]], entries: list[dict[str, Any]],
                    audits: list[dict[str, Any]], keys: list[dict[str, Any]]) -> None:
        """Insert the shortlists, their entries, the audit records and the idempotency keys
        (replacing expired ones), and commit."""
        raise NotImplementedError

    def _timed(self, started: float) -> None:
        self.db_seconds += time.perf_counter() - started


def _by_candidate(pairs: Iterable[tuple[str, str]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for cand, opt in pairs:
        out.setdefault(cand, set()).add(opt)
    return out


class ShortlistStore:
    """The per-process connection for shortlists and the transactions on it."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        """A transaction: committed by `Tx.write`, rolled back if the block ends otherwise.
        One at a time per process."""
        raise NotImplementedError
        yield

    def close(self) -> None:
        raise NotImplementedError


def store_for(db: Database) -> ShortlistStore:
    return PostgresShortlists(db) if db.is_postgres else SqliteShortlists(db)


# ----------------------------------------------------------------------------------- PostgreSQL

def _written(table: type[Base], leave_out: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The columns of an ORM table that issuing writes, in the table's order."""
    return tuple(c.name for c in table.__table__.columns if c.name not in leave_out)


# Column lists from the ORM tables (api.models), so a new column cannot be forgotten here.
_AUDIT_COLUMNS = _written(AuditRecord)
_SHORTLIST_COLUMNS = _written(Shortlist, ("closed_at",))  # open when issued
_ENTRY_COLUMNS = _written(ShortlistEntry, ("id", "closed"))  # closed: written as false
_KEY_COLUMNS = _written(IdempotencyKey)
_WRITTEN = (AuditRecord, Shortlist, ShortlistEntry, IdempotencyKey)
#: PostgreSQL array types of the written columns: int for integer columns, else text.
_PG_TYPES = {c.name: "int" for t in _WRITTEN for c in t.__table__.columns
             if isinstance(c.type, Integer)}
_S, _E, _K = len(_SHORTLIST_COLUMNS), len(_ENTRY_COLUMNS), len(_KEY_COLUMNS)
_UPSERT_KEY = (" ON CONFLICT (key_id, idem_key) DO UPDATE SET request_hash = "
               "excluded.request_hash, shortlist_id = excluded.shortlist_id, "
               "created_at = excluded.created_at")
#: Candidates (of `cands`) with a reported hire no coordinator has resolved: as an open
#: shortlist of the option HIRED, which holds them back from every other shortlist.
HIRED = ""
_HIRED = ("SELECT f.candidate_id, '' FROM shortlist_feedback f WHERE f.candidate_id {cands} "
          "AND f.kind = 'hired' AND f.resolution IS NULL")
_REPLAY = ("SELECT i.request_hash, s.id, s.body, s.closed_at FROM idempotency_keys i "
           "JOIN shortlists s ON s.id = i.shortlist_id ")


def _unnest(columns: Sequence[str], first: int) -> str:
    """unnest($first, ...) over one array argument per column."""
    return f"unnest({', '.join(f'${first + i}' for i in range(len(columns)))})"


#: Prepared once per connection (planned once, not in every request) and run with EXECUTE,
#: whose arguments are bound client-side. Signature -> statement.
_PG_PREPARED = {
    # key ids -> lock, seq scans off, data version, decisions version, the valid key ids
    "matcher_sl_begin(int[])": (
        f"SELECT pg_advisory_xact_lock({LOCK_ID}), set_config('enable_seqscan', 'off', true), "
        "(SELECT coalesce(max(id), 0) FROM imports), "
        "(SELECT coalesce(max(id), 0) FROM decisions), "
        "ARRAY(SELECT id FROM api_keys WHERE id = ANY($1) AND NOT revoked)"),
    # (how many ids: unused) -> audit head seq and hash, the last shortlist id. Ids are taken
    # as max(id) + 1... under the lock, as on SQLite, not from the sequence: a request refused
    # in the transaction (a revoked key, a replay) or a batch rolled back uses up no id.
    "matcher_sl_head(int)": (
        "SELECT h.seq, h.hash, (SELECT coalesce(max(id), 0) FROM shortlists) "
        "FROM (SELECT 1 + 0 * $1) AS one LEFT JOIN LATERAL "
        "(SELECT seq, hash FROM audit_records ORDER BY seq DESC LIMIT 1) AS h ON true"),
    # since, candidate ids -> (candidate, option) of open shortlists, by the (candidate_id,
    # issued_at) index (seq scans are off in this transaction: the planner chose a full scan
    # of a table without statistics)
    "matcher_sl_open(text, text[])": (
        "SELECT e.candidate_id, e.option_id FROM shortlist_entries e "
        "WHERE e.candidate_id = ANY($2) AND e.issued_at >= $1 AND NOT e.closed "
        f"UNION {_HIRED.format(cands='= ANY($2)')}"),
    # key id, Idempotency-Key, since -> the shortlists first issued under them
    "matcher_sl_idem(int, text, text)": (
        f"{_REPLAY}WHERE i.key_id = $1 AND i.idem_key = $2 AND i.created_at >= $3"),
    # one array per column of shortlists, entries, idempotency keys and audit records
    "matcher_sl_write({})".format(", ".join(
        f"{_PG_TYPES.get(c, 'text')}[]"
        for c in (*_SHORTLIST_COLUMNS, *_ENTRY_COLUMNS, *_KEY_COLUMNS, *_AUDIT_COLUMNS))): (
        f"WITH s AS (INSERT INTO shortlists ({', '.join(_SHORTLIST_COLUMNS)}) "
        f"SELECT * FROM {_unnest(_SHORTLIST_COLUMNS, 1)}), "
        f"e AS (INSERT INTO shortlist_entries ({', '.join(_ENTRY_COLUMNS)}, closed) "
        f"SELECT *, false FROM {_unnest(_ENTRY_COLUMNS, 1 + _S)}), "
        f"k AS (INSERT INTO idempotency_keys ({', '.join(_KEY_COLUMNS)}) "
        f"SELECT * FROM {_unnest(_KEY_COLUMNS, 1 + _S + _E)}{_UPSERT_KEY}) "
        f"INSERT INTO audit_records ({', '.join(_AUDIT_COLUMNS)}) "
        f"SELECT * FROM {_unnest(_AUDIT_COLUMNS, 1 + _S + _E + _K)}"),
}
_PG_ARGS = {sig.split("(")[0]: sig.count(",") + 1 for sig in _PG_PREPARED}


def _execute(name: str) -> str:
    """EXECUTE of a prepared statement, with %s for each of its arguments."""
    return f"EXECUTE {name}({', '.join(['%s'] * _PG_ARGS[name])})"


def _columns(rows: list[dict[str, Any]], columns: Sequence[str]) -> list[list[Any]]:
    return [[r[c] for r in rows] for c in columns]


class _PgTx(Tx):
    def __init__(self, conn: Any) -> None:
        super().__init__()
        self.cur = conn.cursor()

    async def _run(self, sql: str, params: Sequence[Any]) -> list[list[Any]]:
        """One round trip: the statements of `sql` (bound client-side, sent as one message);
        the rows of each statement that returns rows."""
        t = time.perf_counter()
        cur = self.cur
        await cur.execute(sql, params)
        results = []
        while True:
            if cur.description is not None:
                results.append(await cur.fetchall())
            if not cur.nextset():
                break
        self._timed(t)
        return results

    async def begin(self, key_ids: Sequence[int], n_shortlists: int, since: str,
                    cand_ids: Sequence[str]) -> Begun:
        first, second, third = await self._run(
            f"BEGIN; {_execute('matcher_sl_begin')}; {_execute('matcher_sl_head')}; "
            f"{_execute('matcher_sl_open')}",
            (list(key_ids), n_shortlists, since, list(cand_ids)))
        _, _, data_v, dec_v, valid = first[0]
        seq, head, last_id = second[0]
        ids = list(range(last_id + 1, last_id + 1 + n_shortlists))
        return Begun(int(data_v), int(dec_v), frozenset(valid), seq, head, ids,
                     _by_candidate(third))

    async def open_options(self, since: str, cand_ids: Sequence[str]) -> dict[str, set[str]]:
        (rows,) = await self._run(_execute("matcher_sl_open"), (since, list(cand_ids)))
        return _by_candidate(rows)

    async def decision_events(self) -> pd.DataFrame:
        (rows,) = await self._run(_EVENTS, ())
        return pd.DataFrame(rows, columns=EVENT_COLUMNS)

    async def idempotent(self, pairs: Sequence[tuple[int, str]], since: str
                         ) -> dict[tuple[int, str], Replay]:
        if not pairs:
            return {}
        sql = "; ".join([_execute("matcher_sl_idem")] * len(pairs))
        found = await self._run(sql, [v for key_id, idem in pairs for v in (key_id, idem, since)])
        return {pair: Replay(*rows[0]) for pair, rows in zip(pairs, found, strict=True) if rows}

    async def write(self, shortlists: list[dict[str, Any]], entries: list[dict[str, Any]],
                    audits: list[dict[str, Any]], keys: list[dict[str, Any]]) -> None:
        # the table's sequence kept in step with the ids taken (for anything else inserting)
        await self._run(f"{_execute('matcher_sl_write')}; SELECT setval("
                        "pg_get_serial_sequence('shortlists', 'id'), %s); COMMIT", (
            *_columns(shortlists, _SHORTLIST_COLUMNS), *_columns(entries, _ENTRY_COLUMNS),
            *_columns(keys, _KEY_COLUMNS), *_columns(audits, _AUDIT_COLUMNS),
            max(r["id"] for r in shortlists)))


class PostgresShortlists(ShortlistStore):
    """Two round trips per transaction: ``BEGIN; lock, versions and keys; head and ids; open
    shortlists`` in one message, ``insert everything; COMMIT`` in another. Only the simple
    query protocol takes several statements in one message, so the arguments are bound
    client-side (psycopg's AsyncClientCursor, which quotes them) into EXECUTEs of statements
    prepared once per connection.
    Each statement still gets its own snapshot, so the reads after the lock see every
    transaction that held it before.

    The connection is psycopg's asynchronous one, made with the engine's connect arguments and
    used from one event loop (another loop, as in tests that run several, gets a new one)."""

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self._conn: Any = None  # psycopg.AsyncConnection
        self._loop: asyncio.AbstractEventLoop | None = None  # the one it was made on
        self._lock: asyncio.Lock | None = None
        self._lock_loop: asyncio.AbstractEventLoop | None = None

    async def _connection(self) -> Any:
        import psycopg

        loop = asyncio.get_running_loop()
        conn = self._conn
        if conn is not None and (self._loop is not loop or conn.broken or conn.closed):
            self.close()
            conn = None
        if conn is None:
            engine = self.db.engine
            cargs, cparams = engine.dialect.create_connect_args(engine.url)
            cparams.pop("context", None)  # SQLAlchemy's adapters, for its own connections
            conn = await psycopg.AsyncConnection.connect(
                *cargs, **cparams, autocommit=True,  # begun and committed in the messages
                cursor_factory=psycopg.AsyncClientCursor)
            for signature, sql in _PG_PREPARED.items():
                await conn.execute(f"PREPARE {signature} AS {sql}")
            self._conn, self._loop = conn, loop
        return conn

    def _turns(self) -> asyncio.Lock:
        """The lock that makes transactions take turns (one per event loop)."""
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock_loop is not loop:
            self._lock, self._lock_loop = asyncio.Lock(), loop
        return self._lock

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        async with self._turns():
            conn = await self._connection()
            try:
                yield _PgTx(conn)
            finally:
                # Committed by write(); anything else (an error, a 404 or 401 raised half-way,
                # a cancellation) ends here, and the advisory lock with the transaction.
                try:
                    if not conn.closed:
                        await conn.rollback()
                except BaseException:
                    log.warning("rollback of a shortlist transaction failed", exc_info=True)
                    self.close()  # in an unknown state: never reused
                if conn.broken or conn.closed:
                    self.close()

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.pgconn.finish()  # no round trip: the server ends the session and its locks
            except Exception:
                log.debug("closing the shortlist connection failed", exc_info=True)


# --------------------------------------------------------------------------------------- SQLite

_SQ_BEGIN = (
    "SELECT (SELECT coalesce(max(id), 0) FROM imports), "
    "(SELECT coalesce(max(id), 0) FROM decisions), "
    "(SELECT seq FROM audit_records ORDER BY seq DESC LIMIT 1), "
    "(SELECT hash FROM audit_records ORDER BY seq DESC LIMIT 1), "
    "(SELECT coalesce(max(id), 0) FROM shortlists)")
# Lists of ids are passed as one JSON array: one statement text (prepared once by sqlite3's
# statement cache) for any number of them.
_SQ_KEYS = "SELECT id FROM api_keys WHERE NOT revoked AND id IN (SELECT value FROM json_each(?))"
_SQ_OPEN = ("SELECT e.candidate_id, e.option_id FROM shortlist_entries e "
            "WHERE e.candidate_id IN (SELECT value FROM json_each(?1)) AND e.issued_at >= ?2 "
            "AND e.closed = 0 "
            f"UNION {_HIRED.format(cands='IN (SELECT value FROM json_each(?1))')}")


def _insert(table: str, columns: Sequence[str], extra: str = "", value: str = "") -> str:
    return (f"INSERT INTO {table} ({', '.join(columns)}{extra}) "
            f"VALUES ({', '.join(':' + c for c in columns)}{value})")


_SQ_SHORTLIST = _insert("shortlists", _SHORTLIST_COLUMNS)
_SQ_KEY = _insert("idempotency_keys", _KEY_COLUMNS) + _UPSERT_KEY
_SQ_IDEM = f"{_REPLAY}WHERE i.key_id = ? AND i.idem_key = ? AND i.created_at >= ?"
_SQ_ENTRY = _insert("shortlist_entries", _ENTRY_COLUMNS, ", closed", ", 0")
_SQ_AUDIT = _insert("audit_records", _AUDIT_COLUMNS)


class _SqliteTx(Tx):
    def __init__(self, conn: Any) -> None:
        super().__init__()
        self.conn = conn

    async def begin(self, key_ids: Sequence[int], n_shortlists: int, since: str,
                    cand_ids: Sequence[str]) -> Begun:
        t = time.perf_counter()
        c = self.conn
        c.execute("BEGIN IMMEDIATE")
        data_v, dec_v, seq, head, last_id = c.execute(_SQ_BEGIN).fetchone()
        valid = frozenset(r[0] for r in c.execute(_SQ_KEYS, (json.dumps(list(key_ids)),)))
        self._timed(t)
        # Without AUTOINCREMENT SQLite gives a new row max(id) + 1: the same ids, taken here
        # because the audit records name them.
        ids = list(range(last_id + 1, last_id + 1 + n_shortlists))
        return Begun(int(data_v), int(dec_v), valid, seq, head, ids,
                     await self.open_options(since, cand_ids))

    async def open_options(self, since: str, cand_ids: Sequence[str]) -> dict[str, set[str]]:
        t = time.perf_counter()
        rows = self.conn.execute(_SQ_OPEN, (json.dumps(list(cand_ids)), since)).fetchall()
        self._timed(t)
        return _by_candidate(rows)

    async def decision_events(self) -> pd.DataFrame:
        return pd.DataFrame(self.conn.execute(_EVENTS).fetchall(), columns=EVENT_COLUMNS)

    async def idempotent(self, pairs: Sequence[tuple[int, str]], since: str
                         ) -> dict[tuple[int, str], Replay]:
        t = time.perf_counter()
        out = {}
        for key_id, idem in pairs:
            row = self.conn.execute(_SQ_IDEM, (key_id, idem, since)).fetchone()
            if row is not None:
                out[(key_id, idem)] = Replay(*row)
        self._timed(t)
        return out

    async def write(self, shortlists: list[dict[str, Any]], entries: list[dict[str, Any]],
                    audits: list[dict[str, Any]], keys: list[dict[str, Any]]) -> None:
        t = time.perf_counter()
        c = self.conn
        c.executemany(_SQ_SHORTLIST, shortlists)
        c.executemany(_SQ_ENTRY, entries)
        c.executemany(_SQ_KEY, keys)
        c.executemany(_SQ_AUDIT, audits)
        c.execute("COMMIT")
        self._timed(t)


class SqliteShortlists(ShortlistStore):
    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self._lock = threading.Lock()
        self._raw: Any = None  # SQLAlchemy's proxy of the DBAPI connection, detached from the pool
        self._conn: Any = None  # the sqlite3 connection

    def _connection(self) -> Any:
        if self._conn is None:
            raw = self.db.engine.raw_connection()
            conn: Any = raw.driver_connection
            raw.detach()  # ours for the process's lifetime, with the engine's connect settings
            conn.isolation_level = None  # transactions are begun and ended here, explicitly
            self._raw, self._conn = raw, conn
        return self._conn

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        with self.db.write_lock, self._lock:
            conn = self._connection()
            try:
                yield _SqliteTx(conn)
            finally:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")

    def close(self) -> None:
        with self._lock:
            raw, self._raw, self._conn = self._raw, None, None
            if raw is not None:
                try:
                    raw.close()
                except Exception:
                    log.debug("closing the shortlist connection failed", exc_info=True)
