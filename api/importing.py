"""Imports: string tables in (from CSV files or JSON rows), validated whole, applied at once.

Validation is the library's: the imported rows are merged with the stored ones and the result
goes through :func:`matcher.load.build_instance`, so an import is refused exactly when a round
over the merged data would be. Problems name the table, row (CSV) or index (JSON) and field.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from api.audit import append, content_hash
from api.db import utcnow
from api.models import DecisionEvent, Import, Protected, Record
from api.store.data import CORE, ID, ROUTES, columns, decision_events, record_key, stored_tables
from matcher.csvio import ROW, read_table, with_row_numbers
from matcher.decisions import EVENT_KINDS, decisions_in_force
from matcher.errors import InputError, Problem, Problems
from matcher.load import build_instance
from matcher.xlsxio import SUFFIX, Sheet, find_sheets, locate, read_sheet

TABLES = (*CORE, ROUTES, "protected", "decisions")
#: Stored tables an import may give: the core and routes (the chain's routes.csv).
STORED = (*CORE, ROUTES)
REQUIRED_EXTRA = {"protected": ("candidate_id",),
                  "decisions": ("candidate_id", "option_id", "decision", "reason")}
STORED_ROW = 1_000_000_000  # rows at or above this are stored records, not the import's
DECISION_IMPORT_KINDS = ("lock", "forbid")


@dataclass
class Parsed:
    tables: dict[str, pd.DataFrame]  # string tables with a _row column
    json: bool
    problems: Problems = field(default_factory=Problems)
    #: Tables read from a workbook: where each came from (problems are moved there).
    sources: dict[str, Sheet] = field(default_factory=dict)


def from_csv(files: dict[str, bytes]) -> Parsed:
    """CSV files (any of the five tables) read with the library's CSV reader."""
    problems = Problems()
    tables: dict[str, pd.DataFrame] = {}
    with tempfile.TemporaryDirectory(prefix="matcher-import-") as tmp:
        for name, data in files.items():
            path = Path(tmp) / f"{name}.csv"
            path.write_bytes(data)
            required = REQUIRED_EXTRA.get(name) or columns_required(name)
            # routes.csv may be a header only (replace: no routes any more)
            df = read_table(path, problems, required, allow_empty=name == ROUTES)
            if df is not None:
                tables[name] = df
    return Parsed(tables, json=False, problems=problems)


def from_xlsx(data: bytes, filename: str = "upload.xlsx") -> Parsed:
    """One Excel workbook with a sheet per table (as a data folder may hold): every cell read
    as text, formulas refused, rows numbered as in Excel; problems name the file and sheet."""
    problems = Problems()
    tables: dict[str, pd.DataFrame] = {}
    name = Path(filename.replace("\\", "/")).name or "upload.xlsx"
    if not name.lower().endswith(SUFFIX):
        name += SUFFIX
    with tempfile.TemporaryDirectory(prefix="matcher-import-") as tmp:
        (Path(tmp) / name).write_bytes(data)
        sources = find_sheets(Path(tmp), TABLES, problems)
        for table, src in sources.items():
            required = REQUIRED_EXTRA.get(table) or columns_required(table)
            df = read_sheet(src, problems, required)
            if df is not None:
                tables[table] = df
    if not sources and not problems.errors:
        problems.add(name, None, None, f"no sheet named {' or '.join(CORE)}",
                     code="sheet_missing", params={"sheet": " / ".join(CORE)})
    return Parsed(tables, json=False, problems=problems, sources=sources)


def located(parsed: Parsed, problems: list[Problem]) -> list[Problem]:
    """Problems reported against ``TABLE.csv`` moved to the workbook sheet the table came from."""
    return locate(problems, parsed.sources) if parsed.sources else list(problems)


def columns_required(name: str) -> tuple[str, ...]:
    from matcher.load import REQUIRED
    return REQUIRED[name]


def from_json(rows: dict[str, list[dict[str, object]]]) -> Parsed:
    problems = Problems()
    tables: dict[str, pd.DataFrame] = {}
    for name, items in rows.items():
        df = pd.DataFrame(items, dtype=object)
        df = df.map(lambda v: "" if v is None else (str(v).lower() if isinstance(v, bool) else str(v)))
        required = REQUIRED_EXTRA.get(name) or columns_required(name)
        missing = [c for c in required if c not in df.columns]
        for col in missing:
            problems.add(f"{name}.csv", None, col, "required field is missing")
        if not items and name != ROUTES:
            problems.add(f"{name}.csv", None, None, "table has no rows")
        tables[name] = with_row_numbers(df, f"{name}.csv", problems)
    return Parsed(tables, json=True, problems=problems)


def problem_dicts(problems: list[Problem], json: bool) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for p in problems:
        table = p.file.removesuffix(".csv")
        row: int | None = p.row
        stored = row is not None and row >= STORED_ROW
        msg = p.message + (" (in a stored record)" if stored else "")
        index = None
        if stored:
            row = None
        elif json and row is not None:
            index, row = (row - 2 if row >= 2 else None), None
        out.append({"table": table, "row": row, "index": index, "field": p.column, "message": msg})
    return out


def _merge(table: str, new: pd.DataFrame, stored: pd.DataFrame, mode: str,
           warnings: Problems) -> pd.DataFrame:
    keep = list(columns(table))
    extra = [c for c in new.columns if c != ROW and c not in keep]
    for col in extra:
        warnings.add(f"{table}.csv", 1, col, "column is not used by matcher (not stored)", "warning")
    new = new[[ROW, *[c for c in keep if c in new.columns]]]
    if mode == "replace":
        return new.reset_index(drop=True)
    old = stored[~record_key(table, stored).isin(record_key(table, new))].copy()
    old.insert(0, ROW, STORED_ROW + np.arange(len(old)))
    return pd.concat([new, old], ignore_index=True).fillna("")


def validate(session: Session, parsed: Parsed, mode: str) -> tuple[dict[str, pd.DataFrame],
                                                                    list[Problem]]:
    """The merged core tables (without _row) and the warnings; raises InputError on any error."""
    problems = parsed.problems
    problems.raise_if_errors()
    stored = stored_tables(session)
    stored.setdefault(ROUTES, pd.DataFrame(columns=list(columns(ROUTES)), dtype=object))
    merged = {t: (_merge(t, parsed.tables[t], stored[t], mode, problems) if t in parsed.tables
                  else stored[t].assign(**{ROW: STORED_ROW + np.arange(len(stored[t]))}))
              for t in STORED}
    raw = {t: df for t, df in merged.items() if len(df)}
    own = Problems()  # checks of our own, reported together with the library's
    if "decisions" in parsed.tables:
        dec = parsed.tables["decisions"]
        route = ["next_option_id"] if "next_option_id" in dec.columns else []
        raw["decisions"] = dec[[ROW, "candidate_id", "option_id", "decision", *route]]
        for row in dec.loc[dec["reason"].str.strip() == "", ROW].tolist():
            own.add("decisions.csv", int(row), "reason", "a decision needs a reason")
        _check_locks_once(session, dec, own)
    if "protected" in parsed.tables:
        _check_protected(parsed.tables["protected"], merged["candidates"], own)
    if mode == "replace":
        _warn_orphaned_decisions(session, stored, merged, problems)
    try:
        build_instance(raw, problems, source="import")
    except InputError as exc:
        raise InputError(exc.problems + exc.warnings + own.items) from None
    own.raise_if_errors()
    return {t: df.drop(columns=[ROW]) for t, df in merged.items()}, problems.warnings


def _warn_orphaned_decisions(session: Session, stored: dict[str, pd.DataFrame],
                             merged: dict[str, pd.DataFrame], problems: Problems) -> None:
    """A warning for each decision in force on a candidate or option this import removes
    (replace mode): rounds and shortlists can no longer apply it. It stays in the history and
    applies again if the candidate or option comes back."""
    gone = {t: set(stored[t][ID[t]]) - set(merged[t][ID[t]]) for t in ("candidates", "options")}
    if not any(gone.values()):
        return
    in_force = decisions_in_force(decision_events(session))
    for r in in_force.itertuples(index=False):
        removed = [(column, value) for column, value, table in (
            ("candidate_id", r.candidate_id, "candidates"), ("option_id", r.option_id, "options"))
            if value in gone[table]]
        for column, value in removed:
            noun = column.removesuffix("_id")
            problems.add(
                "decisions.csv", None, column,
                f"the {r.decision} of candidate {r.candidate_id!r} "
                f"{'to' if r.decision == 'lock' else 'from'} option {r.option_id!r} (in force, "
                f"reason: {r.reason!r}) refers to {noun} {value!r}, which this import removes: "
                f"rounds and shortlists can no longer apply it (it stays in the decision "
                f"history and applies again if the {noun} is imported again)",
                "warning", kind=f"decisions in force on {noun}s this import removes")


def _check_protected(df: pd.DataFrame, cands: pd.DataFrame, problems: Problems) -> None:
    f = "protected.csv"
    ids = df["candidate_id"]
    for row in df.loc[ids == "", ROW].tolist():
        problems.add(f, int(row), "candidate_id", "candidate_id is empty")
    for row, c in zip(df.loc[ids.duplicated() & (ids != ""), ROW].tolist(),
                      ids[ids.duplicated() & (ids != "")].tolist(), strict=True):
        problems.add(f, int(row), "candidate_id", f"candidate {c!r} appears twice")
    unknown = (ids != "") & ~ids.isin(cands["candidate_id"])
    for row, c in zip(df.loc[unknown, ROW].tolist(), ids[unknown].tolist(), strict=True):
        problems.add(f, int(row), "candidate_id", f"unknown candidate {c!r}", kind="ref")


def _check_locks_once(session: Session, dec: pd.DataFrame, problems: Problems) -> None:
    """A candidate may be locked to one option only, counting the decisions already in force."""
    events = decision_events(session)
    new = pd.DataFrame({"candidate_id": dec["candidate_id"], "option_id": dec["option_id"],
                        "kind": dec["decision"].str.lower(), "reason": dec["reason"]})
    in_force = decisions_in_force(pd.concat([events, new], ignore_index=True))
    locks = in_force[in_force["decision"] == "lock"]
    twice = locks["candidate_id"][locks["candidate_id"].duplicated()].unique()
    rows = dec[dec["candidate_id"].isin(twice) & (dec["decision"].str.lower() == "lock")]
    for row, c in zip(rows[ROW].tolist(), rows["candidate_id"].tolist(), strict=True):
        problems.add("decisions.csv", int(row), "candidate_id",
                     f"candidate {c!r} would be locked to more than one option "
                     "(release the earlier lock first)", kind="lock2")


def apply(session: Session, parsed: Parsed, merged: dict[str, pd.DataFrame], mode: str,
          key_id: int | None) -> Import:
    """Write the import in the caller's transaction: records, protected, decisions, audit."""
    at = utcnow()
    counts: dict[str, int] = {}
    for table in STORED:
        if table not in parsed.tables:
            continue
        new = merged[table].iloc[:len(parsed.tables[table])] if mode == "merge" else merged[table]
        keys = record_key(table, new).tolist()
        if mode == "replace":
            session.execute(delete(Record).where(Record.kind == table))
        else:
            for start in range(0, len(keys), 5000):
                session.execute(delete(Record).where(
                    Record.kind == table, Record.entity_id.in_(keys[start:start + 5000])))
        if len(new):
            session.execute(insert(Record), [
                {"kind": table, "entity_id": key, "data": r,
                 "organisation_id": r.get("organisation_id") if table == "options" else None}
                for key, r in zip(keys, new.to_dict("records"), strict=True)])
        counts[table] = len(new)
    if "protected" in parsed.tables:
        prot = parsed.tables["protected"].drop(columns=[ROW])
        if mode == "replace":
            session.execute(delete(Protected))
        else:
            session.execute(delete(Protected).where(
                Protected.candidate_id.in_(prot["candidate_id"].tolist())))
        session.execute(insert(Protected), [
            {"candidate_id": r.pop("candidate_id"), "data": r} for r in prot.to_dict("records")])
        counts["protected"] = len(prot)
    if "decisions" in parsed.tables:
        dec = parsed.tables["decisions"]
        session.execute(insert(DecisionEvent), [
            {"at": at, "key_id": key_id, "candidate_id": r["candidate_id"],
             "option_id": r["option_id"], "kind": r["decision"].lower(), "reason": r["reason"],
             "round_id": None, "source": "import", "next_option_id": r.get("next_option_id", "")}
            for r in dec.to_dict("records")])
        counts["decisions"] = len(dec)
    assert set(DECISION_IMPORT_KINDS) <= set(EVENT_KINDS)
    digest = content_hash({t: df.drop(columns=[ROW]).to_dict("records")
                           for t, df in sorted(parsed.tables.items())})
    imp = Import(at=at, key_id=key_id, mode=mode, counts=counts, content_hash=digest)
    session.add(imp)
    session.flush()
    append(session, key_id=key_id, action="import", target=f"import/{imp.id}",
           input_hash=digest, output_hash=content_hash(counts))
    return imp


def stored_protected(session: Session) -> list[Protected]:
    return list(session.scalars(select(Protected).order_by(Protected.candidate_id)).all())
