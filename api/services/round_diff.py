"""Two rounds side by side: who moved, from what to what, and why (as far as the rounds'
snapshots tell): a decision in force in the later round, the person's own data changed, the
option they had changed or went, they are new or gone, or else the rest of the round changed
(seats and job coaches are shared, so one person's change can move others)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sqlalchemy import select

from api.db import Database
from api.models import Round, RoundAssignment
from api.rounding import unpack
from api.store.data import ID


@dataclass(frozen=True)
class Why:
    code: str  # decision, own_data, option_changed, option_gone, new_person, left, shared
    params: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Move:
    candidate_id: str
    before: str | None  # option id, None: no match
    after: str | None
    why: list[Why]


@dataclass(frozen=True)
class RoundDiff:
    first: int
    second: int
    moves: list[Move]
    same: int  # people with the same proposal in both
    compared_inputs: bool  # False when a round's inputs were purged (no reasons from data)


def _proposals(db: Database, round_id: int) -> dict[str, str]:
    with db.session() as s:
        rows = s.execute(select(RoundAssignment.candidate_id, RoundAssignment.option_id)
                         .where(RoundAssignment.round_id == round_id)).all()
    return {c: o for c, o in rows}


def _snapshot(db: Database, round_id: int) -> tuple[dict[str, pd.DataFrame], bool]:
    with db.session() as s:
        rnd = s.get(Round, round_id)
        if rnd is None:
            raise LookupError(round_id)
        return unpack(rnd.inputs), rnd.purged_at is None


def _rows(tables: dict[str, pd.DataFrame], table: str) -> dict[str, dict[str, Any]]:
    df = tables.get(table)
    if df is None or df.empty:
        return {}
    return {str(r[ID[table]]): r for r in df.to_dict("records")}


def _decisions(tables: dict[str, pd.DataFrame]) -> dict[str, list[Why]]:
    out: dict[str, list[Why]] = {}
    df = tables.get("decisions")
    if df is None or df.empty:
        return out
    for r in df.to_dict("records"):
        out.setdefault(str(r["candidate_id"]), []).append(Why("decision", {
            "decision": str(r["decision"]), "option": str(r["option_id"]),
            "reason": str(r["reason"])}))
    return out


def _why(cid: str, before: str | None, after: str | None, a: dict[str, pd.DataFrame],
         b: dict[str, pd.DataFrame], decided: dict[str, list[Why]]) -> list[Why]:
    why = list(decided.get(cid, []))
    ca, cb = _rows(a, "candidates"), _rows(b, "candidates")
    if cid not in ca:
        why.append(Why("new_person"))
    elif cid not in cb:
        why.append(Why("left"))
    elif ca[cid] != cb[cid]:
        why.append(Why("own_data"))
    oa, ob = _rows(a, "options"), _rows(b, "options")
    if before is not None and before not in ob:
        why.append(Why("option_gone", {"option": before}))
    elif before is not None and oa.get(before) != ob.get(before):
        why.append(Why("option_changed", {"option": before}))
    if not why:
        why.append(Why("shared"))
    return why


def round_diff(db: Database, first: int, second: int) -> RoundDiff:
    """Everyone whose proposal differs between the two rounds (raises LookupError for an
    unknown round)."""
    pa, pb = _proposals(db, first), _proposals(db, second)
    a, a_ok = _snapshot(db, first)
    b, b_ok = _snapshot(db, second)
    compared = a_ok and b_ok
    people = set(pa) | set(pb) | set(_rows(a, "candidates")) | set(_rows(b, "candidates"))
    decided = _decisions(b) if b_ok else {}
    moves, same = [], 0
    for cid in sorted(people):
        before, after = pa.get(cid), pb.get(cid)
        if before == after:
            same += 1
            continue
        why = _why(cid, before, after, a, b, decided) if compared else []
        moves.append(Move(cid, before, after, why))
    return RoundDiff(first, second, moves, same, compared)
