"""The database side of issuing shortlists, in as few round trips as each database allows.

Shortlists asked for at about the same moment are issued together (`api.shortlisting`), in one
transaction that no other shortlist or audit append can interleave with. It reads the versions,
which of the callers' keys are valid, the audit head, the next shortlist ids and the open
shortlists of the candidates each will look at first, then writes the shortlists, their
entries and one audit record each:

- PostgreSQL: two round trips. The first begins the transaction, takes the audit advisory lock
  (which every audit appender takes, so shortlists also take turns across server processes)
  and reads the versions and keys, then, in statements of their own so that their snapshot is
  taken after the lock is held, the head, the ids and the open shortlists. The second writes
  everything in one statement and commits. Candidates beyond the first chunk, or decisions
  changed since the last request, cost one more round trip each.
- SQLite: ``BEGIN IMMEDIATE`` (no other connection writes until commit; writers in this process
  take turns on `Database.write_lock` first), three reads, three inserts, commit. No round
  trips, but each statement on the raw ``sqlite3`` connection costs far less than through
  SQLAlchemy.

Each process keeps one connection for this (taken from the engine, so it has the engine's
settings) and runs one transaction at a time on it.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pandas as pd

from api.audit import LOCK_ID
from api.db import Database

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


class Tx:
    """One transaction (from `ShortlistStore.transaction`)."""

    def __init__(self) -> None:
        self.db_seconds = 0.0  # time spent waiting on the database

    def begin(self, key_ids: Sequence[int], n_shortlists: int, since: str,
              cand_ids: Sequence[str]) -> Begun:
        """Lock, then read; `cand_ids`: candidates whose open shortlists (issued at or after
        `since`, not closed) to read now."""
        raise NotImplementedError

    def open_options(self, since: str, cand_ids: Sequence[str]) -> dict[str, set[str]]:
        raise NotImplementedError

    def decision_events(self) -> pd.DataFrame:
        raise NotImplementedError

    def write(self, shortlists: list[dict[str, Any]], entries: list[dict[str, Any]],
              audits: list[dict[str, Any]]) -> None:
        """Insert the shortlists, their entries and the audit records, and commit."""
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

    def close(self) -> None:
        with self._lock:
            self._discard()


def store_for(db: Database) -> ShortlistStore:
    return PostgresShortlists(db) if db.is_postgres else SqliteShortlists(db)


# ----------------------------------------------------------------------------------- PostgreSQL

_AUDIT_COLUMNS = ("seq", "at", "key_id", "action", "target", "input_hash", "output_hash",
                  "policy_hash", "versions", "prev_hash", "hash")
_SHORTLIST_COLUMNS = ("id", "option_id", "organisation_id", "key_id", "issued_at", "k")
_ENTRY_COLUMNS = ("shortlist_id", "option_id", "candidate_id", "rank", "issued_at")
_PG_TYPES = {"id": "int", "key_id": "int", "k": "int", "seq": "int", "shortlist_id": "int",
             "rank": "int"}


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
    # how many ids -> audit head seq and hash, the next shortlist ids
    "matcher_sl_head(int)": (
        "SELECT h.seq, h.hash, ARRAY(SELECT nextval(pg_get_serial_sequence('shortlists', 'id')) "
        "FROM generate_series(1, $1)) FROM (SELECT 1) AS one LEFT JOIN LATERAL "
        "(SELECT seq, hash FROM audit_records ORDER BY seq DESC LIMIT 1) AS h ON true"),
    # since, candidate ids -> (candidate, option) of open shortlists, by the (candidate_id,
    # issued_at) index (seq scans are off in this transaction: the planner chose a full scan
    # of a table without statistics)
    "matcher_sl_open(text, text[])": (
        "SELECT DISTINCT e.candidate_id, e.option_id FROM shortlist_entries e "
        "WHERE e.candidate_id = ANY($2) AND e.issued_at >= $1 AND NOT e.closed"),
    # one array per column of shortlists (6), entries (5) and audit records (11)
    "matcher_sl_write({})".format(", ".join(
        f"{_PG_TYPES.get(c, 'text')}[]"
        for c in (*_SHORTLIST_COLUMNS, *_ENTRY_COLUMNS, *_AUDIT_COLUMNS))): (
        f"WITH s AS (INSERT INTO shortlists ({', '.join(_SHORTLIST_COLUMNS)}) "
        f"SELECT * FROM {_unnest(_SHORTLIST_COLUMNS, 1)}), "
        f"e AS (INSERT INTO shortlist_entries ({', '.join(_ENTRY_COLUMNS)}, closed) "
        f"SELECT *, false FROM {_unnest(_ENTRY_COLUMNS, 7)}) "
        f"INSERT INTO audit_records ({', '.join(_AUDIT_COLUMNS)}) "
        f"SELECT * FROM {_unnest(_AUDIT_COLUMNS, 12)}"),
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

    def _run(self, sql: str, params: Sequence[Any]) -> list[list[Any]]:
        """One round trip: the statements of `sql` (bound client-side, sent as one message);
        the rows of each statement that returns rows."""
        t = time.perf_counter()
        cur = self.cur
        cur.execute(sql, params)
        results = []
        while True:
            if cur.description is not None:
                results.append(cur.fetchall())
            if not cur.nextset():
                break
        self._timed(t)
        return results

    def begin(self, key_ids: Sequence[int], n_shortlists: int, since: str,
              cand_ids: Sequence[str]) -> Begun:
        first, second, third = self._run(
            f"BEGIN; {_execute('matcher_sl_begin')}; {_execute('matcher_sl_head')}; "
            f"{_execute('matcher_sl_open')}",
            (list(key_ids), n_shortlists, since, list(cand_ids)))
        _, _, data_v, dec_v, valid = first[0]
        seq, head, ids = second[0]
        return Begun(int(data_v), int(dec_v), frozenset(valid), seq, head, list(ids),
                     _by_candidate(third))

    def open_options(self, since: str, cand_ids: Sequence[str]) -> dict[str, set[str]]:
        (rows,) = self._run(_execute("matcher_sl_open"), (since, list(cand_ids)))
        return _by_candidate(rows)

    def decision_events(self) -> pd.DataFrame:
        (rows,) = self._run(_EVENTS, ())
        return pd.DataFrame(rows, columns=EVENT_COLUMNS)

    def write(self, shortlists: list[dict[str, Any]], entries: list[dict[str, Any]],
              audits: list[dict[str, Any]]) -> None:
        self._run(f"{_execute('matcher_sl_write')}; COMMIT", (
            *_columns(shortlists, _SHORTLIST_COLUMNS), *_columns(entries, _ENTRY_COLUMNS),
            *_columns(audits, _AUDIT_COLUMNS)))


class PostgresShortlists(ShortlistStore):
    """Two round trips per transaction: ``BEGIN; lock, versions and keys; head and ids; open
    shortlists`` in one message, ``insert everything; COMMIT`` in another. Only the simple
    query protocol takes several statements in one message, so the arguments are bound
    client-side (psycopg's ClientCursor, which quotes them) into EXECUTEs of statements
    prepared once per connection.
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
_SQ_OPEN = ("SELECT DISTINCT e.candidate_id, e.option_id FROM shortlist_entries e "
            "WHERE e.candidate_id IN (SELECT value FROM json_each(?)) AND e.issued_at >= ? "
            "AND e.closed = 0")


def _insert(table: str, columns: Sequence[str], extra: str = "", value: str = "") -> str:
    return (f"INSERT INTO {table} ({', '.join(columns)}{extra}) "
            f"VALUES ({', '.join(':' + c for c in columns)}{value})")


_SQ_SHORTLIST = _insert("shortlists", _SHORTLIST_COLUMNS)
_SQ_ENTRY = _insert("shortlist_entries", _ENTRY_COLUMNS, ", closed", ", 0")
_SQ_AUDIT = _insert("audit_records", _AUDIT_COLUMNS)


class _SqliteTx(Tx):
    def __init__(self, conn: Any) -> None:
        super().__init__()
        self.conn = conn

    def begin(self, key_ids: Sequence[int], n_shortlists: int, since: str,
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
                     self.open_options(since, cand_ids))

    def open_options(self, since: str, cand_ids: Sequence[str]) -> dict[str, set[str]]:
        t = time.perf_counter()
        rows = self.conn.execute(_SQ_OPEN, (json.dumps(list(cand_ids)), since)).fetchall()
        self._timed(t)
        return _by_candidate(rows)

    def decision_events(self) -> pd.DataFrame:
        return pd.DataFrame(self.conn.execute(_EVENTS).fetchall(), columns=EVENT_COLUMNS)

    def write(self, shortlists: list[dict[str, Any]], entries: list[dict[str, Any]],
              audits: list[dict[str, Any]]) -> None:
        t = time.perf_counter()
        c = self.conn
        c.executemany(_SQ_SHORTLIST, shortlists)
        c.executemany(_SQ_ENTRY, entries)
        c.executemany(_SQ_AUDIT, audits)
        c.execute("COMMIT")
        self._timed(t)


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

