"""The database side of issuing a shortlist, in as few round trips as each database allows.

A shortlist reads the versions, the caller's key, the open-shortlist counts of its first
candidates and the audit head, then writes the shortlist, its entries and the audit record, all
in one transaction that no other shortlist or audit append can interleave with:

- PostgreSQL: two round trips. The first begins the transaction, takes the audit advisory lock
  (which every audit appender takes, so shortlists also take turns across server processes)
  and reads the versions and the key's revocation, then, in a statement of its own so that its
  snapshot is taken after the lock is held, the audit head, the next shortlist id and the
  counts. The second writes everything in one statement and commits. Counts beyond the first
  chunk, or decisions changed since the last request, cost one more round trip each.
- SQLite: ``BEGIN IMMEDIATE`` (no other connection writes until commit; writers in this process
  take turns on `Database.write_lock` first), one statement for the versions, key, head and
  next id, one for the counts, three inserts, commit. No round trips, but each statement on the
  raw ``sqlite3`` connection costs far less than through SQLAlchemy.

Each process keeps one connection for this (taken from the engine, so it has the engine's
settings) and serves one shortlist at a time on it.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pandas as pd

from api.audit import LOCK_ID
from api.db import Database

log = logging.getLogger(__name__)

EVENT_COLUMNS = ["candidate_id", "option_id", "kind", "reason"]
_EVENTS = "SELECT candidate_id, option_id, kind, reason FROM decisions ORDER BY id"
_REVOKED = "SELECT revoked FROM api_keys WHERE id = {p}"


@dataclass(frozen=True)
class Begun:
    """What the first round trip read, under the lock."""

    data_version: int
    decisions_version: int
    revoked: bool  # True also for a key that no longer exists
    head_seq: int | None
    head_hash: str | None
    shortlist_id: int
    counts: list[int]  # other options' open shortlists of the candidates asked for


class Tx:
    """One shortlist's transaction (from `ShortlistStore.transaction`)."""

    def __init__(self) -> None:
        self.db_seconds = 0.0  # time spent waiting on the database

    def begin(self, key_id: int, option_id: str, since: str, cand_ids: Sequence[str]) -> Begun:
        raise NotImplementedError

    def counts(self, option_id: str, since: str, cand_ids: Sequence[str]) -> list[int]:
        raise NotImplementedError

    def decision_events(self) -> pd.DataFrame:
        raise NotImplementedError

    def write(self, shortlist: dict[str, Any], entries: list[dict[str, Any]],
              audit: dict[str, Any]) -> None:
        """Insert the shortlist, its entries and the audit record, and commit."""
        raise NotImplementedError


class ShortlistStore:
    """The per-process connection for shortlists and the transactions on it."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._lock = threading.Lock()
        self._raw: Any = None  # SQLAlchemy's proxy of the DBAPI connection, detached from the pool
        self._conn: Any = None  # the driver's connection (sqlite3 or psycopg)

    def _connection(self) -> Any:
        if self._conn is None:
            raw = self.db.engine.raw_connection()
            conn = raw.driver_connection
            raw.detach()  # ours for the process's lifetime, with the engine's connect settings
            self._setup(conn)
            self._raw, self._conn = raw, conn
        return self._conn

    def _setup(self, conn: Any) -> None:
        pass

    def _discard(self) -> None:
        raw, self._raw, self._conn = self._raw, None, None
        if raw is not None:
            try:
                raw.close()
            except Exception:
                log.debug("closing a broken shortlist connection failed", exc_info=True)

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """A transaction: committed by `Tx.write`, rolled back if the block ends otherwise."""
        raise NotImplementedError
        yield

    def key_revoked(self, key_id: int) -> bool:
        """Whether a key is revoked (or gone), outside any shortlist transaction."""
        raise NotImplementedError

    def close(self) -> None:
        with self._lock:
            self._discard()


def store_for(db: Database) -> ShortlistStore:
    return PostgresShortlists(db) if db.is_postgres else SqliteShortlists(db)


# ----------------------------------------------------------------------------------- PostgreSQL

_AUDIT_COLUMNS = ("seq", "at", "key_id", "action", "target", "input_hash", "output_hash",
                  "policy_hash", "versions", "prev_hash", "hash")
# The counts go by the (candidate_id, issued_at) index (seq scans are off for this transaction:
# the planner chose a full scan of a table without statistics), in the order asked for.
# $1 option id, $2 since, $3 candidate ids.
_PG_COUNTS = (
    "ARRAY(SELECT (SELECT count(DISTINCT e.option_id) FROM shortlist_entries e "
    "WHERE e.candidate_id = u.cid AND e.option_id <> $1 AND NOT e.closed "
    "AND e.issued_at >= $2) FROM unnest($3) WITH ORDINALITY AS u(cid, n) ORDER BY u.n)")
#: Prepared once per connection (planned once, not in every request); run with EXECUTE, whose
#: arguments are bound client-side.
_PG_PREPARED = {
    # key id -> lock, seq scans off, data version, decisions version, key revoked (or gone)
    "matcher_sl_begin(int)": (
        f"SELECT pg_advisory_xact_lock({LOCK_ID}), set_config('enable_seqscan', 'off', true), "
        "(SELECT coalesce(max(id), 0) FROM imports), "
        "(SELECT coalesce(max(id), 0) FROM decisions), "
        "coalesce((SELECT revoked FROM api_keys WHERE id = $1), true)"),
    # -> audit head seq and hash, the next shortlist id, the counts
    "matcher_sl_read(text, text, text[])": (
        "SELECT h.seq, h.hash, nextval(pg_get_serial_sequence('shortlists', 'id')), "
        f"{_PG_COUNTS} FROM (SELECT 1) AS one LEFT JOIN LATERAL "
        "(SELECT seq, hash FROM audit_records ORDER BY seq DESC LIMIT 1) AS h ON true"),
    "matcher_sl_counts(text, text, text[])": f"SELECT {_PG_COUNTS}",
    # shortlist (6), entries' candidates and ranks, audit record (11 columns)
    "matcher_sl_write(int, text, text, int, text, int, text[], int[], "
    "int, text, int, text, text, text, text, text, text, text, text)": (
        "WITH s AS (INSERT INTO shortlists (id, option_id, organisation_id, key_id, issued_at, "
        "k) VALUES ($1, $2, $3, $4, $5, $6)), "
        "e AS (INSERT INTO shortlist_entries "
        "(shortlist_id, option_id, candidate_id, rank, issued_at, closed) "
        "SELECT $1, $2, u.cid, u.rank, $5, false FROM unnest($7, $8) AS u(cid, rank)) "
        f"INSERT INTO audit_records ({', '.join(_AUDIT_COLUMNS)}) "
        "VALUES ($9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)"),
}
_SHORTLIST_COLUMNS = ("id", "option_id", "organisation_id", "key_id", "issued_at", "k")


def _execute(name: str) -> str:
    """EXECUTE of a prepared statement, with %s for each of its arguments."""
    n_args = _PG_PREPARED_ARGS[name]
    return f"EXECUTE {name}({', '.join(['%s'] * n_args)})"


_PG_PREPARED_ARGS = {sig.split("(")[0]: sig.count(",") + 1 for sig in _PG_PREPARED}


class _PgTx(Tx):
    def __init__(self, conn: Any) -> None:
        super().__init__()
        self.cur = conn.cursor()

    def _run(self, sql: str, params: Sequence[Any]) -> list[Any]:
        """One round trip: the statements of `sql` (bound client-side, sent as one message);
        the first row of each statement that returns rows."""
        t = time.perf_counter()
        cur = self.cur
        cur.execute(sql, params)
        rows = []
        while True:
            if cur.description is not None:
                rows.append(cur.fetchone())
            if not cur.nextset():
                break
        self.db_seconds += time.perf_counter() - t
        return rows

    def begin(self, key_id: int, option_id: str, since: str, cand_ids: Sequence[str]) -> Begun:
        first, second = self._run(
            f"BEGIN; {_execute('matcher_sl_begin')}; {_execute('matcher_sl_read')}",
            (key_id, option_id, since, list(cand_ids)))
        _, _, data_v, dec_v, revoked = first
        seq, head, sl_id, counts = second
        return Begun(int(data_v), int(dec_v), bool(revoked), seq, head, int(sl_id), counts)

    def counts(self, option_id: str, since: str, cand_ids: Sequence[str]) -> list[int]:
        (row,) = self._run(_execute("matcher_sl_counts"), (option_id, since, list(cand_ids)))
        return list(row[0])

    def decision_events(self) -> pd.DataFrame:
        t = time.perf_counter()
        self.cur.execute(_EVENTS)
        rows = self.cur.fetchall()
        self.db_seconds += time.perf_counter() - t
        return pd.DataFrame(rows, columns=EVENT_COLUMNS)

    def write(self, shortlist: dict[str, Any], entries: list[dict[str, Any]],
              audit: dict[str, Any]) -> None:
        self._run(f"{_execute('matcher_sl_write')}; COMMIT", (
            *(shortlist[c] for c in _SHORTLIST_COLUMNS), [e["candidate_id"] for e in entries],
            [e["rank"] for e in entries], *(audit[c] for c in _AUDIT_COLUMNS)))


class PostgresShortlists(ShortlistStore):
    """Two round trips per shortlist: ``BEGIN; lock and versions; head, id and counts`` in one
    message, ``insert everything; COMMIT`` in another. Only the simple query protocol takes
    several statements in one message, so the arguments are bound client-side (psycopg's
    ClientCursor, which quotes them) into EXECUTEs of statements prepared once per connection.
    Each statement still gets its own snapshot, so the reads after the lock see every
    transaction that held it before."""

    def _setup(self, conn: Any) -> None:
        import psycopg

        conn.autocommit = True  # the transaction is begun and committed in the messages
        conn.cursor_factory = psycopg.ClientCursor
        for signature, sql in _PG_PREPARED.items():
            conn.execute(f"PREPARE {signature} AS {sql}")

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        with self._lock:
            conn = self._connection()
            if conn.broken or conn.closed:
                self._discard()
                conn = self._connection()
            try:
                yield _PgTx(conn)
            finally:
                # Committed by write(); anything else (an error, a 404 or 401 raised half-way)
                # ends here, and the advisory lock with the transaction.
                try:
                    if not conn.closed:
                        conn.rollback()
                except Exception:
                    log.warning("rollback of a shortlist transaction failed", exc_info=True)
                if conn.broken or conn.closed:
                    self._discard()

    def key_revoked(self, key_id: int) -> bool:
        with self._lock:
            row = self._connection().execute(_REVOKED.format(p="%s"), (key_id,)).fetchone()
        return row is None or bool(row[0])


# --------------------------------------------------------------------------------------- SQLite

_SQ_BEGIN = (
    "SELECT (SELECT coalesce(max(id), 0) FROM imports), "
    "(SELECT coalesce(max(id), 0) FROM decisions), "
    "coalesce((SELECT revoked FROM api_keys WHERE id = ?), 1), "
    "(SELECT seq FROM audit_records ORDER BY seq DESC LIMIT 1), "
    "(SELECT hash FROM audit_records ORDER BY seq DESC LIMIT 1), "
    "(SELECT coalesce(max(id), 0) + 1 FROM shortlists)")
# One statement text for any number of ids (a JSON array), answered in the order asked for.
_SQ_COUNTS = (
    "SELECT (SELECT count(DISTINCT e.option_id) FROM shortlist_entries e "
    "WHERE e.candidate_id = j.value AND e.option_id <> ? AND e.closed = 0 "
    "AND e.issued_at >= ?) FROM json_each(?) AS j ORDER BY j.key")
_SQ_SHORTLIST = ("INSERT INTO shortlists (id, option_id, organisation_id, key_id, issued_at, k) "
                 "VALUES (:id, :option_id, :organisation_id, :key_id, :issued_at, :k)")
_SQ_ENTRY = ("INSERT INTO shortlist_entries "
             "(shortlist_id, option_id, candidate_id, rank, issued_at, closed) "
             "VALUES (?, ?, ?, ?, ?, 0)")
_SQ_AUDIT = (f"INSERT INTO audit_records ({', '.join(_AUDIT_COLUMNS)}) "
             f"VALUES ({', '.join(':' + c for c in _AUDIT_COLUMNS)})")


class _SqliteTx(Tx):
    def __init__(self, conn: Any) -> None:
        super().__init__()
        self.conn = conn

    def begin(self, key_id: int, option_id: str, since: str, cand_ids: Sequence[str]) -> Begun:
        t = time.perf_counter()
        self.conn.execute("BEGIN IMMEDIATE")
        data_v, dec_v, revoked, seq, head, sl_id = self.conn.execute(_SQ_BEGIN, (key_id,)).fetchone()
        self.db_seconds += time.perf_counter() - t
        counts = self.counts(option_id, since, cand_ids)
        return Begun(int(data_v), int(dec_v), bool(revoked), seq, head, int(sl_id), counts)

    def counts(self, option_id: str, since: str, cand_ids: Sequence[str]) -> list[int]:
        t = time.perf_counter()
        rows = self.conn.execute(_SQ_COUNTS, (option_id, since, json.dumps(list(cand_ids))))
        out = [r[0] for r in rows]
        self.db_seconds += time.perf_counter() - t
        return out

    def decision_events(self) -> pd.DataFrame:
        return pd.DataFrame(self.conn.execute(_EVENTS).fetchall(), columns=EVENT_COLUMNS)

    def write(self, shortlist: dict[str, Any], entries: list[dict[str, Any]],
              audit: dict[str, Any]) -> None:
        t = time.perf_counter()
        c = self.conn
        c.execute(_SQ_SHORTLIST, shortlist)
        sl, opt, at = shortlist["id"], shortlist["option_id"], shortlist["issued_at"]
        c.executemany(_SQ_ENTRY, [(sl, opt, e["candidate_id"], e["rank"], at) for e in entries])
        c.execute(_SQ_AUDIT, audit)
        c.execute("COMMIT")
        self.db_seconds += time.perf_counter() - t


class SqliteShortlists(ShortlistStore):
    def _setup(self, conn: Any) -> None:
        conn.isolation_level = None  # transactions are begun and ended here, explicitly

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        with self.db.write_lock, self._lock:
            conn = self._connection()
            try:
                yield _SqliteTx(conn)
            finally:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")

    def key_revoked(self, key_id: int) -> bool:
        with self._lock:
            row = self._connection().execute(_REVOKED.format(p="?"), (key_id,)).fetchone()
        return row is None or bool(row[0])

