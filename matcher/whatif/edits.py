"""Scenario edits on the validated input: `--set`, remove and add, applied to the raw string tables.

Edits change the string tables that `matcher.load.read_raw` returns (or that came from JSON), and
the result is rebuilt through `matcher.load.build_instance`, so an edited value is validated
exactly like the same value in a file. Problems on edited cells or added rows name the edit.

Grammar (`TABLE` is options, organisations or candidates):

- ``TABLE.ID.FIELD=VALUE``: set a field; ``+N`` / ``-N`` add to a numeric field, anything
  else is the new value (``options.TCK-KEUKEN.capacity=+5``, ``options.X.min_dutch_level=A2``);
- ``policy.SECTION.KEY=VALUE``: set a policy value (``policy.weights.travel=0.2``);
- ``routes.PROGRAMME.PLACE.seats=N`` (or ``+N``/``-N``): the seats of a route, which is added
  when routes.csv does not have it yet (``routes.TCK-KEUKEN.COMPASS-CATERING.seats=3``: what if
  The Colour Kitchen guarantees 3 places at Compass Group?); remove ``routes.PROGRAMME.PLACE``;
- remove ``TABLE.ID``: an organisation takes its options with it; decisions about removed
  options or candidates are dropped;
- add a row from ``key=value,key=value`` pairs or from every row of a CSV file.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from matcher.csvio import ROW, read_table
from matcher.errors import InputError, Problem, Problems
from matcher.load import ID, OPTIONAL, REQUIRED
from matcher.policy import Policy, nested_key, policy_from_dict

TABLES = ("options", "organisations", "candidates")
#: Fields a relative edit (+N/-N) may change, and whether they hold whole numbers.
NUMERIC: dict[str, dict[str, bool]] = {
    "options": {"capacity": True, "hours_min": False, "hours_max": False, "lat": False,
                "lon": False, "language_gain": True, "duration_weeks": True,
                "min_participants": True, "capacity_hours": True},
    "organisations": {"guidance_capacity": True},
    "candidates": {"hours_available": False, "guidance_need": True, "max_travel_km": False,
                   "lat": False, "lon": False},
}
_REL = re.compile(r"^[+-]\s*\d+(?:[.,]\d+)?$")


def edit_problem(spec: str, message: str, column: str | None = None) -> InputError:
    return InputError([Problem(spec, None, column, message)])


def fields_of(table: str) -> tuple[str, ...]:
    """Fields an edit may set in `table` (every column matcher reads, except the id)."""
    return tuple(c for c in REQUIRED[table] + OPTIONAL[table] if c != ID[table])


@dataclass
class EditedInput:
    """Raw tables and policy after edits, with where each edited cell or added row came from."""

    raw: dict[str, pd.DataFrame]
    policy: Policy
    cell_origin: dict[tuple[str, int, str], str] = field(default_factory=dict)
    row_origin: dict[tuple[str, int], str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    structural: bool = False  # rows were added or removed

    def relabel(self, exc: InputError) -> InputError:
        """The same problems, naming the edit that caused each (when one did)."""
        out = []
        for p in exc.problems + exc.warnings:
            table = p.file.removesuffix(".csv")
            spec = None
            if p.row is not None and p.column is not None:
                spec = self.cell_origin.get((table, p.row, p.column))
            if spec is None and p.row is not None:
                spec = self.row_origin.get((table, p.row))
            if spec is not None:
                p = Problem(spec, None, p.column, f"{p.message} (in {p.file})", p.severity)
            out.append(p)
        return InputError(out)


def split_assignment(spec: str) -> tuple[list[str], str]:
    """`a.b.c=value` -> (['a', 'b', 'c'], 'value')."""
    if "=" not in spec:
        raise edit_problem(spec, "expected TABLE.ID.FIELD=VALUE or policy.SECTION.KEY=VALUE")
    target, value = spec.split("=", 1)
    parts = target.strip().split(".")
    return parts, value.strip()


def parse_target(spec: str, parts: list[str]) -> tuple[str, str, str]:
    """(table, id, field) of a table edit; ids may contain dots."""
    table = parts[0]
    if table not in TABLES:
        raise edit_problem(spec, f"unknown table {table!r} (expected one of "
                                 f"{', '.join((*TABLES, 'policy'))})")
    if len(parts) < 3:
        raise edit_problem(spec, f"expected {table}.ID.FIELD=VALUE")
    ident, fld = ".".join(parts[1:-1]), parts[-1]
    if fld not in fields_of(table):
        raise edit_problem(spec, f"unknown field {fld!r} of {table} (known: "
                                 f"{', '.join(fields_of(table))})", fld)
    return table, ident, fld


def _row_index(raw: dict[str, pd.DataFrame], table: str, ident: str, spec: str) -> int:
    df = raw[table]
    hits = np.flatnonzero(df[ID[table]].astype(str).str.strip().to_numpy() == ident)
    if len(hits) == 0:
        kind = table.removesuffix("s")
        raise edit_problem(spec, f"unknown {kind} id {ident!r} (not in {table}.csv)", ID[table])
    return int(hits[0])


def _number(text: str) -> float:
    return float(text.replace(",", ".").replace(" ", ""))


def _format(value: float, whole: bool) -> str:
    return str(round(value)) if whole and float(value).is_integer() else f"{value:g}"


class Editor:
    """Applies edits to a deep copy of the baseline's raw tables and policy."""

    def __init__(self, raw: Mapping[str, pd.DataFrame], policy: Policy) -> None:
        self.raw = {k: v.copy() for k, v in raw.items()}
        for df in self.raw.values():
            if ROW not in df.columns:
                df.insert(0, ROW, np.arange(2, len(df) + 2))
        self.base_policy = policy
        self.policy_data: dict[str, Any] = copy.deepcopy(policy.model_dump(mode="python"))
        self.policy_specs: list[str] = []
        self.out = EditedInput(self.raw, policy)

    # -- set -----------------------------------------------------------------------------------
    def set(self, spec: str) -> None:
        parts, value = split_assignment(spec)
        if parts[0] == "policy":
            self._set_policy(spec, parts[1:], value)
            return
        if parts[0] == "routes":
            self._set_route(spec, parts[1:], value)
            return
        table, ident, fld = parse_target(spec, parts)
        df = self.raw[table]
        i = _row_index(self.raw, table, ident, spec)
        if fld not in df.columns:
            df[fld] = ""
        current = str(df[fld].iat[i])
        if _REL.match(value):
            if fld not in NUMERIC[table]:
                raise edit_problem(spec, f"{value!r}: a relative change (+N/-N) needs a numeric "
                                         f"field; {fld!r} is not one", fld)
            try:
                base = _number(current)
            except ValueError:
                raise edit_problem(spec, f"current value {current!r} is not a number", fld) from None
            new = base + _number(value)
            value = _format(new, NUMERIC[table][fld])
        df.iloc[i, df.columns.get_loc(fld)] = value
        row = int(df[ROW].iat[i])
        self.out.cell_origin[(table, row, fld)] = spec
        if fld in ("lat", "lon", "postcode"):
            self.out.row_origin.setdefault((table, row), spec)

    def _route(self, spec: str, parts: list[str]) -> tuple[str, str]:
        """(programme, place) named by `parts` (ids may contain dots: the split where both are
        options)."""
        known = set(self.raw["options"]["option_id"].astype(str).str.strip())
        for k in range(1, len(parts)):
            p, q = ".".join(parts[:k]), ".".join(parts[k:])
            if p in known and q in known:
                return p, q
        raise edit_problem(spec, "expected routes.PROGRAMME.PLACE naming two options of "
                                 "options.csv", "programme_id")

    def _routes_table(self) -> pd.DataFrame:
        if "routes" not in self.raw:
            self.raw["routes"] = pd.DataFrame({ROW: pd.Series(dtype=np.int64),
                                               "programme_id": pd.Series(dtype=object),
                                               "place_id": pd.Series(dtype=object)})
        df = self.raw["routes"]
        if "seats" not in df.columns:
            df["seats"] = ""
        return df

    def _route_row(self, p: str, q: str) -> int | None:
        df = self._routes_table()
        hit = np.flatnonzero((df["programme_id"].astype(str).str.strip() == p).to_numpy()
                             & (df["place_id"].astype(str).str.strip() == q).to_numpy())
        return int(hit[0]) if len(hit) else None

    def _set_route(self, spec: str, parts: list[str], value: str) -> None:
        if len(parts) < 3 or parts[-1] != "seats":
            raise edit_problem(spec, "expected routes.PROGRAMME.PLACE.seats=N", "seats")
        p, q = self._route(spec, parts[:-1])
        i = self._route_row(p, q)
        df = self.raw["routes"]
        if i is None:  # a new route
            row = int(df[ROW].max()) + 1 if len(df) else 2
            df.loc[len(df)] = {ROW: row, "programme_id": p, "place_id": q, "seats": ""} | {
                c: "" for c in df.columns if c not in (ROW, "programme_id", "place_id", "seats")}
            self.out.structural = True
            i = len(df) - 1
        current = str(df["seats"].iat[i])
        if _REL.match(value):
            if current == "":  # the default: the place's capacity
                opts = self.raw["options"]
                current = str(opts.loc[opts["option_id"].astype(str).str.strip() == q,
                                       "capacity"].iat[0])
            try:
                value = _format(_number(current) + _number(value), True)
            except ValueError:
                raise edit_problem(spec, f"current value {current!r} is not a number",
                                   "seats") from None
        df.iloc[i, df.columns.get_loc("seats")] = value
        self.out.cell_origin[("routes", int(df[ROW].iat[i]), "seats")] = spec

    def _set_policy(self, spec: str, path: list[str], value: str) -> None:
        if len(path) == 2 and path[0] == "solver" and (moved := nested_key(path[1])):
            raise edit_problem(spec, f"policy key 'solver.{path[1]}' is now "
                                     f"'solver.{moved[0]}.{moved[1]}'")
        node: Any = self.policy_data
        for key in path[:-1]:
            if not isinstance(node, dict) or key not in node:
                raise edit_problem(spec, f"unknown policy key {'.'.join(path)!r}")
            node = node[key]
        if not path or not isinstance(node, dict) or path[-1] not in node:
            raise edit_problem(spec, f"unknown policy key {'.'.join(path)!r}")
        current = node[path[-1]]
        if isinstance(current, bool) or not isinstance(current, (int, float)):
            raise edit_problem(spec, f"policy key {'.'.join(path)!r} cannot be set from the "
                                     "command line (not a single number)")
        try:
            new = current + _number(value) if _REL.match(value) else _number(value)
        except ValueError:
            raise edit_problem(spec, f"expected a number, got {value!r}") from None
        node[path[-1]] = int(new) if isinstance(current, int) and float(new).is_integer() else new
        self.policy_specs.append(spec)

    # -- remove --------------------------------------------------------------------------------
    def remove(self, spec: str) -> None:
        parts = spec.strip().split(".")
        table = parts[0]
        if table == "routes":
            p, q = self._route(spec, parts[1:])
            i = self._route_row(p, q)
            if i is None:
                raise edit_problem(spec, f"routes.csv has no route from {p!r} to {q!r}",
                                   "place_id")
            self.out.structural = True
            self.raw["routes"] = self.raw["routes"].drop(self.raw["routes"].index[i]).reset_index(
                drop=True)
            return
        if table not in TABLES or len(parts) < 2:
            raise edit_problem(spec, "expected options.ID, organisations.ID or candidates.ID")
        ident = ".".join(parts[1:])
        i = _row_index(self.raw, table, ident, spec)
        self.out.structural = True
        self.raw[table] = self.raw[table].drop(self.raw[table].index[i]).reset_index(drop=True)
        if table == "organisations":
            opts = self.raw["options"]
            gone = opts["organisation_id"].astype(str).str.strip() == ident
            if gone.any():
                self.out.notes.append(f"{spec}: removed its {int(gone.sum())} option(s): "
                                      + ", ".join(sorted(opts.loc[gone, "option_id"])))
            self.raw["options"] = opts[~gone].reset_index(drop=True)
        self._drop_orphan_decisions(spec)

    def _drop_orphan_decisions(self, spec: str) -> None:
        routes = self.raw.get("routes")
        if routes is not None and not routes.empty:
            known = set(self.raw["options"]["option_id"].astype(str).str.strip())
            keep = (routes["programme_id"].astype(str).str.strip().isin(known)
                    & routes["place_id"].astype(str).str.strip().isin(known))
            if (~keep).any():
                self.out.notes.append(f"{spec}: dropped {int((~keep).sum())} route(s) of "
                                      "removed options")
                self.raw["routes"] = routes[keep].reset_index(drop=True)
        dec = self.raw.get("decisions")
        if dec is None or dec.empty:
            return
        known_c = set(self.raw["candidates"]["candidate_id"].astype(str).str.strip())
        known_o = set(self.raw["options"]["option_id"].astype(str).str.strip())
        keep = (dec["candidate_id"].astype(str).str.strip().isin(known_c)
                & dec["option_id"].astype(str).str.strip().isin(known_o))
        if (~keep).any():
            self.out.notes.append(f"{spec}: dropped {int((~keep).sum())} decision(s) about removed "
                                  "rows")
            self.raw["decisions"] = dec[keep].reset_index(drop=True)

    # -- add -----------------------------------------------------------------------------------
    def add(self, table: str, spec: str) -> None:
        """Add rows from `key=value,...` or from a CSV file path."""
        if table not in TABLES:
            raise edit_problem(spec, f"cannot add to {table!r}")
        rows = self._rows_from_spec(table, spec)
        self.out.structural = True
        df = self.raw[table]
        start = int(df[ROW].max()) + 1 if len(df) else 2
        known_ids = set(df[ID[table]].astype(str).str.strip())
        for k, row in enumerate(rows):
            ident = row.get(ID[table], "")
            if ident in known_ids:
                raise edit_problem(spec, f"{ID[table]} {ident!r} already exists in {table}.csv",
                                   ID[table])
            known_ids.add(ident)
            self.out.row_origin[(table, start + k)] = spec
        new = pd.DataFrame(rows, dtype=str).fillna("")
        new.insert(0, ROW, np.arange(start, start + len(rows)))
        for col in new.columns:
            if col not in df.columns:
                df[col] = ""
        self.raw[table] = pd.concat([df, new.reindex(columns=df.columns, fill_value="")],
                                    ignore_index=True)

    def _rows_from_spec(self, table: str, spec: str) -> list[dict[str, str]]:
        allowed = set(REQUIRED[table] + OPTIONAL[table])
        path = Path(spec)
        if "=" not in spec and spec.lower().endswith((".csv", ".txt")):
            problems = Problems()
            df = read_table(path, problems, REQUIRED[table])
            if df is None:
                raise InputError(problems.items)
            rows = df.drop(columns=[ROW]).to_dict("records")
        else:
            row: dict[str, str] = {}
            for item in spec.split(","):
                if "=" not in item:
                    raise edit_problem(spec, f"expected key=value, got {item.strip()!r}")
                key, value = item.split("=", 1)
                row[key.strip()] = value.strip()
            rows = [row]
        for row in rows:
            unknown = sorted(set(row) - allowed)
            if unknown:
                raise edit_problem(spec, f"unknown field(s) {', '.join(map(repr, unknown))} for "
                                         f"{table} (known: {', '.join(sorted(allowed))})",
                                   unknown[0])
            missing = [c for c in REQUIRED[table] if c not in row]
            if missing:
                raise edit_problem(spec, f"missing field(s) {', '.join(missing)}", missing[0])
        return [{k: str(v) for k, v in r.items()} for r in rows]

    # -- result --------------------------------------------------------------------------------
    def result(self) -> EditedInput:
        if self.policy_specs:
            source = "; ".join(self.policy_specs)
            self.out.policy = policy_from_dict(self.policy_data, source)
        self.out.raw = self.raw
        return self.out


def apply_edits(
    raw: Mapping[str, pd.DataFrame],
    policy: Policy,
    sets: Iterable[str] = (),
    removes: Iterable[str] = (),
    add_options: Iterable[str] = (),
    add_organisations: Iterable[str] = (),
) -> EditedInput:
    """Raw tables and policy with the edits applied (organisations first, then options)."""
    ed = Editor(raw, policy)
    for spec in add_organisations:
        ed.add("organisations", spec)
    for spec in add_options:
        ed.add("options", spec)
    for spec in removes:
        ed.remove(spec)
    for spec in sets:
        ed.set(spec)
    return ed.result()
