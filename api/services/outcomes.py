"""Outcomes after a placement (started, dropped out, still in work at 3 and 6 months): recorded
one at a time or as an outcomes.csv file, listed, and audited. `matcher evaluate` and
`GET /v1/evaluation` judge the score by them.

A service point records and reads outcomes for its organisations' options only (another
organisation's option answers exactly as a missing one)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from fastapi import HTTPException
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from api.audit import append, content_hash
from api.db import Database, utcnow
from api.models import Outcome, Record
from api.schemas import OutcomeCreate
from api.security import Caller, Role
from matcher.audit.evaluate import OUTCOMES_FILE, load_outcomes
from matcher.errors import InputError, Problem

COLUMNS = ("id", "candidate_id", "option_id", "event", "date", "reason", "at", "source")


def public(o: Outcome) -> dict[str, Any]:
    return {c: getattr(o, c) for c in COLUMNS}


def _orgs(caller: Caller) -> frozenset[str] | None:
    return caller.organisations if caller.role is Role.employer_service_point else None


def _option_orgs(s: Session, option_ids: set[str]) -> dict[str, str]:
    rows = s.execute(select(Record.entity_id, Record.organisation_id).where(
        Record.kind == "options", Record.entity_id.in_(sorted(option_ids))))
    return {o: org or "" for o, org in rows}


def _known_candidates(s: Session, ids: set[str]) -> set[str]:
    return set(s.scalars(select(Record.entity_id).where(
        Record.kind == "candidates", Record.entity_id.in_(sorted(ids)))))


def _recorded(s: Session, keys: set[tuple[str, str, str]]) -> set[tuple[str, str, str]]:
    cands = sorted({k[0] for k in keys})
    rows = s.execute(select(Outcome.candidate_id, Outcome.option_id, Outcome.event)
                     .where(Outcome.candidate_id.in_(cands)))
    return {(c, o, e) for c, o, e in rows} & keys


def _problems(s: Session, caller: Caller, rows: list[dict[str, Any]]) -> list[Problem]:
    """Per row: an unknown (or another organisation's) option, an unknown candidate, an event
    already recorded."""
    orgs, mine = _option_orgs(s, {r["option_id"] for r in rows}), _orgs(caller)
    known = _known_candidates(s, {r["candidate_id"] for r in rows})
    done = _recorded(s, {(r["candidate_id"], r["option_id"], r["event"]) for r in rows})
    out = []
    for r in rows:
        row = r.get("_row")
        org = orgs.get(r["option_id"])
        if org is None or (mine is not None and org not in mine):
            out.append(Problem(OUTCOMES_FILE, row, "option_id",
                               f"unknown option {r['option_id']!r}"))
        if r["candidate_id"] not in known:
            out.append(Problem(OUTCOMES_FILE, row, "candidate_id",
                               f"unknown candidate {r['candidate_id']!r}"))
        if (r["candidate_id"], r["option_id"], r["event"]) in done:
            out.append(Problem(OUTCOMES_FILE, row, "event",
                               f"{r['event']} is already recorded for this candidate and option"))
    return out


def _add(s: Session, caller: Caller, rows: list[dict[str, Any]], source: str) -> list[Outcome]:
    at = utcnow()
    added = [Outcome(candidate_id=r["candidate_id"], option_id=r["option_id"], event=r["event"],
                     date=r["date"], reason=r.get("reason") or "", at=at, key_id=caller.key_id,
                     source=source) for r in rows]
    s.add_all(added)
    s.flush()
    return added


def record_outcome(db: Database, caller: Caller, body: OutcomeCreate) -> dict[str, Any]:
    """One outcome: 404 for an unknown (or another organisation's) option or an unknown
    candidate, 409 when the event is already recorded for the pair; audited."""
    row = body.model_dump(mode="json")
    with db.write() as s:
        for p in _problems(s, caller, [row]):
            code = 409 if p.column == "event" else 404
            raise HTTPException(code, f"{p.column}: {p.message}")
        (o,) = _add(s, caller, [row], "api")
        out = public(o)
        append(s, key_id=caller.key_id, action=f"outcome.{o.event}", target=f"outcome/{o.id}",
               input_hash=content_hash(row), output_hash=content_hash(out))
    return out


def import_outcomes(db: Database, caller: Caller, content: bytes) -> int:
    """An outcomes.csv file, validated whole (InputError naming every bad row; nothing stored)
    then stored in one transaction with one audit record. Returns how many were recorded."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / OUTCOMES_FILE
        path.write_bytes(content)
        df = load_outcomes(path)
    rows = [{k: (int(v) if k == "_row" else v) for k, v in r.items()}
            for r in df.to_dict("records")]
    with db.write() as s:
        problems = _problems(s, caller, rows)
        if problems:
            raise InputError(problems)
        added = _add(s, caller, rows, "csv")
        append(s, key_id=caller.key_id, action="outcome.import", target="outcomes",
               input_hash=content_hash(content.decode("utf-8", "replace")),
               output_hash=content_hash([public(o) for o in added]))
    return len(added)


def list_outcomes(db: Database, caller: Caller, candidate_id: str | None, option_id: str | None,
                  offset: int, limit: int) -> dict[str, Any]:
    where: list[ColumnElement[bool]] = []
    mine = _orgs(caller)
    if mine is not None:
        where.append(Outcome.option_id.in_(select(Record.entity_id).where(
            Record.kind == "options", Record.organisation_id.in_(sorted(mine)))))
    if candidate_id is not None:
        where.append(Outcome.candidate_id == candidate_id)
    if option_id is not None:
        where.append(Outcome.option_id == option_id)
    with db.session() as s:
        total = s.scalar(select(func.count()).select_from(Outcome).where(*where)) or 0
        rows = s.scalars(select(Outcome).where(*where).order_by(Outcome.id)
                         .offset(offset).limit(limit)).all()
        items = [public(o) for o in rows]
    return {"total": total, "offset": offset, "limit": limit, "items": items}
