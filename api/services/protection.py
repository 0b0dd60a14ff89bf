"""Data protection: retention purges and the erasure of one person, each an audit record.

The audit chain covers hashes, not personal data, so removing personal data leaves it
verifying. A purge replaces a finished round's snapshot of inputs by an empty one (its proposal,
hashes and audit records stay) and deletes the candidates listed on old shortlists (the
shortlist itself, and its audit record with the hash of what was listed, stay).

An erasure replaces one person everywhere by a tombstone (``erased-`` and a random token, the
same for all their rows, never derived from their id): current data and protected attributes
are deleted, decisions, round results and shortlist entries name the tombstone, and their rows
are removed from every stored round snapshot. A round changed so is verifiable except for the
erased rows: its ``input_hash`` is of the snapshot as it was. The audit record names neither the
person nor the tombstone; it counts the rows.
"""

from __future__ import annotations

import gzip
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import case, delete, select, update
from sqlalchemy.orm import Session

from api.audit import append, content_hash
from api.db import Database, utcnow
from api.models import (
    DecisionEvent,
    Import,
    Outcome,
    Protected,
    Record,
    Round,
    RoundAssignment,
    RoundUnmatched,
    Shortlist,
    ShortlistEntry,
    ShortlistFeedback,
    WhatIfRun,
)
from api.rounding import TOMBSTONE, pack, unpack
from api.store.jobs import FINAL


def _before(days: int | None, now: datetime) -> str | None:
    if days is None:
        return None
    return (now - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class Purged:
    rounds: list[int]
    shortlist_entries: int
    rounds_before: str | None
    shortlists_before: str | None
    outcomes: int = 0
    outcomes_before: str | None = None
    #: what-ifs finished before `rounds_before`: their inputs, report and plots
    whatifs: list[int] = field(default_factory=list)


def purge(db: Database, round_days: int | None, shortlist_days: int | None,
          key_id: int | None = None, dry_run: bool = False, outcome_days: int | None = None
          ) -> Purged:
    """Purge what is older than the retention periods (None: kept); one audit record.
    Shortlists: their listed candidates (entries, the stored answer) and feedback on them;
    outcomes: recorded before their own period."""
    now = datetime.now(UTC)
    r_before, s_before = _before(round_days, now), _before(shortlist_days, now)
    o_before = _before(outcome_days, now)
    with db.write() as s:
        rounds: list[int] = []
        whatifs: list[int] = []
        if r_before is not None:
            rounds, whatifs = (list(s.scalars(select(t.id).where(
                t.purged_at.is_(None), t.status.in_(FINAL),
                t.finished_at < r_before).order_by(t.id))) for t in (Round, WhatIfRun))
        entries = 0
        old = select(Shortlist.id).where(Shortlist.issued_at < (s_before or ""))
        if s_before is not None:
            entries = len(s.scalars(select(ShortlistEntry.id)
                                    .where(ShortlistEntry.shortlist_id.in_(old))).all())
        outcomes = 0 if o_before is None else len(s.scalars(
            select(Outcome.id).where(Outcome.at < o_before)).all())
        done = Purged(rounds, entries, r_before, s_before, outcomes, o_before, whatifs)
        if dry_run or not (rounds or entries or outcomes or whatifs):
            return done
        if rounds:
            s.execute(update(Round).where(Round.id.in_(rounds)).values(
                inputs=pack({}), purged_at=utcnow()))
        if whatifs:  # a what-if's report lists who moves: it goes with the inputs
            s.execute(update(WhatIfRun).where(WhatIfRun.id.in_(whatifs)).values(
                inputs=pack({}), report=None, plots=None, purged_at=utcnow()))
        if entries:
            s.execute(delete(ShortlistEntry).where(ShortlistEntry.shortlist_id.in_(old)))
            s.execute(delete(ShortlistFeedback).where(ShortlistFeedback.shortlist_id.in_(old)))
            s.execute(update(Shortlist).where(Shortlist.id.in_(old)).values(body=None))
        if outcomes:
            s.execute(delete(Outcome).where(Outcome.at < o_before))
        cut = {"rounds_before": r_before, "shortlists_before": s_before}
        gone: dict[str, Any] = {"rounds": rounds, "shortlist_entries": entries}
        if whatifs:
            gone["whatifs"] = whatifs
        if o_before is not None:
            cut["outcomes_before"], gone["outcomes"] = o_before, outcomes
        append(s, key_id=key_id, action="purge", target="retention",
               input_hash=content_hash(cut), output_hash=content_hash(gone))
    return done


def erase(db: Database, candidate_id: str, key_id: int | None = None) -> dict[str, int]:
    """Replace one person by a tombstone everywhere; rows changed per table. LookupError when
    the id is nowhere."""
    tomb = TOMBSTONE + uuid.uuid4().hex[:16]
    with db.write() as s:
        counts = _erase_rows(s, candidate_id, tomb)
        counts["round_snapshots"] = _erase_snapshots(s, candidate_id)
        counts["whatifs"] = _erase_whatifs(s, candidate_id, tomb)
        if not any(counts.values()):
            raise LookupError(f"candidate {candidate_id!r} is not in the data, any round or any "
                              "shortlist")
        # A new data version: every server's in-memory data is rebuilt without them.
        imp = Import(at=utcnow(), key_id=key_id, mode="erase", counts={"erased": counts},
                     content_hash=content_hash(counts))
        s.add(imp)
        s.flush()
        append(s, key_id=key_id, action="erase", target=f"import/{imp.id}", input_hash="",
               output_hash=content_hash(counts))
    return counts


def _erase_rows(s: Session, cid: str, tomb: str) -> dict[str, int]:
    def n(result: Any) -> int:
        return int(result.rowcount or 0)

    return {
        "candidates": n(s.execute(delete(Record).where(Record.kind == "candidates",
                                                       Record.entity_id == cid))),
        "protected": n(s.execute(delete(Protected).where(Protected.candidate_id == cid))),
        "decisions": n(s.execute(update(DecisionEvent).where(DecisionEvent.candidate_id == cid)
                                 .values(candidate_id=tomb, reason="erased"))),
        "round_assignments": n(s.execute(
            update(RoundAssignment).where(RoundAssignment.candidate_id == cid)
            .values(candidate_id=tomb, main_reason="erased", reasons="erased"))),
        "round_unmatched": n(s.execute(
            update(RoundUnmatched).where(RoundUnmatched.candidate_id == cid)
            .values(candidate_id=tomb, detail="erased"))),
        "shortlist_entries": n(s.execute(
            update(ShortlistEntry).where(ShortlistEntry.candidate_id == cid)
            .values(candidate_id=tomb))),
        "shortlist_answers": _erase_answers(s, cid, tomb),
        "shortlist_feedback": n(s.execute(
            update(ShortlistFeedback).where(ShortlistFeedback.candidate_id == cid)
            .values(candidate_id=tomb, note="erased", resolution_reason=case(
                (ShortlistFeedback.resolution_reason.is_(None), None), else_="erased")))),
        "outcomes": n(s.execute(update(Outcome).where(Outcome.candidate_id == cid)
                                .values(candidate_id=tomb, reason="erased"))),
    }


def _erase_answers(s: Session, cid: str, tomb: str) -> int:
    """Stored shortlist answers (replayed for an Idempotency-Key) naming the person."""
    changed = 0
    quoted = json.dumps(cid)
    for sl in s.scalars(select(Shortlist).where(Shortlist.body.contains(quoted))):
        sl.body = json.dumps(_replace(json.loads(sl.body or "null"), cid, tomb))
        changed += 1
    return changed


def _replace(value: Any, cid: str, tomb: str) -> Any:
    if isinstance(value, dict):
        return {k: _replace(v, cid, tomb) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace(v, cid, tomb) for v in value]
    return tomb if value == cid else value


def _without(blob: bytes, cid: str) -> bytes | None:
    """A snapshot without the person's rows, or None when it has none."""
    if cid.encode() not in gzip.decompress(blob):
        return None
    tables = unpack(blob)
    removed = 0
    for name, df in tables.items():
        if "candidate_id" in df.columns:
            keep = df["candidate_id"] != cid
            removed += int((~keep).sum())
            tables[name] = df[keep]
    return pack(tables) if removed else None


def _erase_whatifs(s: Session, cid: str, tomb: str) -> int:
    """What-ifs whose snapshot or report names the person: their rows removed from the
    snapshot, the report naming the tombstone."""
    changed = 0
    for run in s.scalars(select(WhatIfRun).where(WhatIfRun.purged_at.is_(None))):
        blob = _without(run.inputs, cid)
        report = None if run.report is None else _replace(run.report, cid, tomb)
        if blob is None and report == run.report:
            continue
        run.inputs, run.report = blob or run.inputs, report
        changed += 1
    return changed


def _erase_snapshots(s: Session, cid: str) -> int:
    """Remove the person's rows from every stored round snapshot that has them."""
    changed = 0
    for rid, old in s.execute(select(Round.id, Round.inputs).where(Round.purged_at.is_(None))):
        blob = _without(old, cid)
        if blob is None:
            continue
        rnd = s.get(Round, rid)
        assert rnd is not None
        rnd.inputs = blob
        rnd.summary = {**(rnd.summary or {}), "erased": int((rnd.summary or {})
                                                            .get("erased", 0)) + 1}
        changed += 1
    return changed
