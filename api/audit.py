"""The audit trail: append-only, hash-chained records, and the check of the chain.

Each record's ``hash`` is the SHA-256 of its canonical JSON (every field but ``hash``, including
``prev_hash``, the previous record's hash; the first record's ``prev_hash`` is 64 zeros). Editing,
deleting or reordering any record breaks the chain from that record on.

Record versions: records written before migration 0004 have no ``record_version`` (version 1)
and their hash covers `FIELDS`; version 2 records also carry the id of the request that made
them (``request_id``, None for work outside a request) and their hash covers `FIELDS_V2`
(which includes ``record_version`` itself, so a record cannot be passed off as version 1).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from api import requestid
from api.db import Database, utcnow
from api.models import AuditRecord
from matcher.round import versions

GENESIS = "0" * 64
FIELDS = ("seq", "at", "key_id", "action", "target", "input_hash", "output_hash", "policy_hash",
          "versions", "prev_hash")
FIELDS_V2 = (*FIELDS, "record_version", "request_id")
RECORD_VERSION = 2


def content_hash(obj: Any) -> str:
    """SHA-256 of canonical JSON (bytes are hashed as they are)."""
    if isinstance(obj, bytes):
        return hashlib.sha256(obj).hexdigest()
    data = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(data.encode()).hexdigest()


def record_hash(fields: dict[str, Any]) -> str:
    keys = FIELDS if fields.get("record_version") is None else FIELDS_V2
    return content_hash({k: fields[k] for k in keys})


_VERSIONS: str | None = None
_TABLE = AuditRecord.metadata.tables[AuditRecord.__tablename__]
_HEAD = select(_TABLE.c.seq, _TABLE.c.hash).order_by(_TABLE.c.seq.desc()).limit(1)
_INSERT = insert(_TABLE)
#: The PostgreSQL advisory lock (transaction level) every appender takes before reading the head.
LOCK_ID = 727374
_LOCK = text(f"SELECT pg_advisory_xact_lock({LOCK_ID})")


def software_versions() -> str:
    global _VERSIONS
    if _VERSIONS is None:
        v = versions()
        _VERSIONS = json.dumps({k: v[k] for k in ("matcher", "ortools", "python")}, sort_keys=True)
    return _VERSIONS


def append(session: Session, *, key_id: int | None, action: str, target: str, input_hash: str,
           output_hash: str, policy_hash: str = "") -> dict[str, Any]:
    """Append a record inside the caller's write transaction (commits with it); returns its
    fields.

    The head of the chain is read in the same transaction that writes the next record, and
    ``seq`` is the primary key: two appenders that saw the same head cannot both commit, so the
    chain never forks (on PostgreSQL an advisory lock makes them wait instead of fail)."""
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        # Serialise appenders across processes until this transaction ends.
        conn.execute(_LOCK)
    last = conn.execute(_HEAD).first()
    fields = next_record(None if last is None else last.seq, None if last is None else last.hash,
                         key_id=key_id, action=action, target=target, input_hash=input_hash,
                         output_hash=output_hash, policy_hash=policy_hash)
    conn.execute(_INSERT, [fields])
    return fields


def next_record(head_seq: int | None, head_hash: str | None, *, key_id: int | None, action: str,
                target: str, input_hash: str, output_hash: str, policy_hash: str = "",
                at: str | None = None, request_id: str | None = None) -> dict[str, Any]:
    """The record that follows the head (`head_seq`, `head_hash`; None for an empty trail), with
    its hash. The caller must have read the head in the transaction that inserts the record,
    under the audit lock (`LOCK_ID` on PostgreSQL). `request_id`: default the current
    request's."""
    fields: dict[str, Any] = {
        "seq": 1 if head_seq is None else head_seq + 1, "at": at or utcnow(), "key_id": key_id,
        "action": action, "target": target, "input_hash": input_hash,
        "output_hash": output_hash, "policy_hash": policy_hash,
        "versions": software_versions(), "prev_hash": GENESIS if head_hash is None else head_hash,
        "record_version": RECORD_VERSION, "request_id": request_id or requestid.current(),
    }
    fields["hash"] = record_hash(fields)
    return fields


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    records: int
    first_broken: int | None
    problem: str | None


def verify(db: Database, batch: int = 5000) -> ChainReport:
    """Walk the chain in order; report the first record whose link or content is wrong."""
    prev, expected, n = GENESIS, 1, 0
    with db.session() as s:
        after = 0
        while True:
            rows = s.scalars(select(AuditRecord).where(AuditRecord.seq > after)
                             .order_by(AuditRecord.seq).limit(batch)).all()
            if not rows:
                return ChainReport(True, n, None, None)
            for r in rows:
                fields = {k: getattr(r, k) for k in FIELDS_V2}
                if r.seq != expected:
                    return ChainReport(False, n, expected,
                                       f"record {expected} is missing (next is {r.seq})")
                if r.prev_hash != prev:
                    return ChainReport(False, n, r.seq, "prev_hash does not match the record before")
                if record_hash(fields) != r.hash:
                    return ChainReport(False, n, r.seq, "content does not match its hash")
                prev, expected, n = r.hash, expected + 1, n + 1
            after = rows[-1].seq
