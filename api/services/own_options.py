"""Options as the pages show them: with their organisation's name, and for an employer service
point only its own organisations' (another's is exactly as if it did not exist)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from api.db import Database
from api.models import Record
from api.security import Caller, Role


def _names(s: Any, organisation_ids: set[str]) -> dict[str, str]:
    rows = s.execute(select(Record.entity_id, Record.data).where(
        Record.kind == "organisations", Record.entity_id.in_(sorted(organisation_ids)))).all()
    return {oid: str(data.get("name") or oid) for oid, data in rows}


def _own(caller: Caller) -> frozenset[str] | None:
    return caller.organisations if caller.role is Role.employer_service_point else None


def options_for(db: Database, caller: Caller) -> list[dict[str, Any]]:
    """The options the caller may see (a service point: its organisations'), by organisation
    name then option name; each with `organisation_name`."""
    where = [Record.kind == "options"]
    own = _own(caller)
    if own is not None:
        where.append(Record.organisation_id.in_(sorted(own)))
    with db.session() as s:
        rows = [dict(d) for d in s.scalars(select(Record.data).where(*where)).all()]
        names = _names(s, {r["organisation_id"] for r in rows})
    for r in rows:
        r["organisation_name"] = names.get(r["organisation_id"], r["organisation_id"])
    return sorted(rows, key=lambda r: (r["organisation_name"], r.get("name") or r["option_id"],
                                       r["option_id"]))


def option_for(db: Database, caller: Caller, option_id: str) -> dict[str, Any] | None:
    """One option with its organisation's name; None when it does not exist or is not the
    caller's to see (the same answer for both)."""
    with db.session() as s:
        row = s.scalars(select(Record).where(Record.kind == "options",
                                             Record.entity_id == option_id)).first()
        own = _own(caller)
        if row is None or (own is not None and row.organisation_id not in own):
            return None
        option = dict(row.data)
        option["organisation_name"] = _names(s, {option["organisation_id"]}).get(
            option["organisation_id"], option["organisation_id"])
    return option


def organisations(db: Database) -> list[dict[str, Any]]:
    """Every organisation in the data, by name."""
    with db.session() as s:
        rows = [dict(d) for d in s.scalars(select(Record.data).where(
            Record.kind == "organisations")).all()]
    return sorted(rows, key=lambda r: (str(r.get("name") or r["organisation_id"]),
                                       r["organisation_id"]))
