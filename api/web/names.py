"""Names of options and organisations for the pages (never bare ids)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from api.db import Database
from api.models import Record


@dataclass(frozen=True)
class Names:
    options: dict[str, dict[str, str]]  # option id -> its stored row
    organisations: dict[str, str]  # organisation id -> name

    def option(self, option_id: str | None) -> str:
        """``Option name (Organisation name)``; an id no longer stored is shown as it is."""
        if option_id is None:
            return ""
        row = self.options.get(option_id)
        if row is None:
            return option_id
        org = self.organisations.get(row.get("organisation_id", ""), row.get("organisation_id", ""))
        return f"{row.get('name') or option_id} ({org})"

    def option_only(self, option_id: str) -> str:
        row = self.options.get(option_id)
        return option_id if row is None else (row.get("name") or option_id)

    def organisation_of(self, option_id: str) -> str:
        row = self.options.get(option_id) or {}
        org = row.get("organisation_id", "")
        return self.organisations.get(org, org)


def load_names(db: Database) -> Names:
    with db.session() as s:
        rows = s.execute(select(Record.kind, Record.entity_id, Record.data)
                         .where(Record.kind.in_(("options", "organisations")))).all()
    options = {e: {k: str(v) for k, v in d.items()} for k, e, d in rows if k == "options"}
    orgs = {e: str(d.get("name") or e) for k, e, d in rows if k == "organisations"}
    return Names(options, orgs)
