"""Importing data (API and pages alike): validate whole, apply at once, audit refusals too,
and say what changed: ids added, changed and removed per table."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from api import importing
from api.audit import append, content_hash
from api.db import Database
from api.models import Import
from api.state import DataCache
from api.store.data import CORE, ID, stored_tables
from matcher.errors import InputError, Problem


@dataclass(frozen=True)
class TableChange:
    """What an import changed in one table: ids added, changed (any field) and removed."""

    table: str
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0


@dataclass
class Outcome:
    """An import stored (`imp`, its warnings and changes), or refused (`problems`)."""

    imp: Import | None
    problems: list[Problem]
    warnings: list[Problem]
    changes: list[TableChange] = field(default_factory=list)


def _records(df: pd.DataFrame, table: str) -> dict[str, dict[str, str]]:
    idc = ID[table]
    return {str(r[idc]): r for r in df.astype(str).to_dict("records")}


def changes(before: dict[str, pd.DataFrame], after: dict[str, pd.DataFrame]
            ) -> list[TableChange]:
    """Per core table, the ids added, changed and removed from `before` to `after`."""
    out = []
    for table in CORE:
        old, new = _records(before[table], table), _records(after[table], table)
        common = sorted(set(old) & set(new))
        changed = [i for i in common if old[i] != new[i]]
        out.append(TableChange(table, sorted(set(new) - set(old)), changed,
                               sorted(set(old) - set(new)), len(common) - len(changed)))
    return out


def run_import(db: Database, cache: DataCache, parsed: importing.Parsed, mode: str,
               key_id: int) -> Outcome:
    """Validate and apply an import in one transaction; a refused import is audited and
    stores nothing. Problems of a workbook name its file and sheet."""
    try:
        with db.write() as s:
            before = stored_tables(s)
            merged, warnings = importing.validate(s, parsed, mode)
            imp = importing.apply(s, parsed, merged, mode, key_id)
            after = stored_tables(s)
    except InputError as exc:
        problems = list(exc.problems)
        with db.write() as s:  # refused imports are audited too
            append(s, key_id=key_id, action="import.refused", target="import",
                   input_hash=content_hash({t: df.to_dict("records")
                                            for t, df in sorted(parsed.tables.items())}),
                   output_hash=content_hash(importing.problem_dicts(problems, parsed.json)))
        return Outcome(None, importing.located(parsed, problems), [])
    cache.warm()
    return Outcome(imp, [], importing.located(parsed, warnings), changes(before, after))


def parse_upload(files: list[tuple[str, bytes]]) -> importing.Parsed:
    """Uploaded files as one import: one ``.xlsx`` workbook (a sheet per table) or CSV files
    named after their tables (``candidates.csv``); anything else is a problem naming the file."""
    files = [(name.replace("\\", "/").rsplit("/", 1)[-1], data) for name, data in files
             if name or data]
    books = [(n, d) for n, d in files if n.lower().endswith(".xlsx")]
    csvs = {n.rsplit(".", 1)[0].lower(): d for n, d in files if n.lower().endswith(".csv")}
    others = [n for n, _ in files if not n.lower().endswith((".xlsx", ".csv"))]
    refused = importing.Parsed({}, json=False)
    tables = ", ".join(importing.TABLES)
    for name in others + [n for n, _ in files if n.lower().endswith(".csv")
                          and n.rsplit(".", 1)[0].lower() not in importing.TABLES]:
        refused.problems.add(name, None, None, f"this file is not read: name it after one of "
                             f"the tables ({tables})", code="upload_unknown_file",
                             params={"tables": tables})
    if not files:
        refused.problems.add("upload", None, None, "choose a workbook or the CSV files to upload",
                             code="upload_empty")
    elif books and (csvs or len(books) > 1):
        refused.problems.add(", ".join(n for n, _ in files), None, None,
                             "give one Excel workbook or CSV files, not both",
                             code="upload_mixed")
    if refused.problems.items:
        return refused
    if books:
        return importing.from_xlsx(books[0][1], books[0][0])
    return importing.from_csv(csvs)
