"""Scenarios (named sets of edits), sweeps (one field over a range of values), and scenario files.

A scenario file is TOML::

    [[variant]]
    name = "i-did adds 10 seats"
    set = ["options.IDID-NAAIATELIER.capacity=+10"]

    [[variant]]
    name = "employer leaves"
    remove = ["organisations.VEBEGO"]
    add_option = ["option_id=NEW,organisation_id=IDID,..."]   # or a CSV path
    add_organisation = []

    [[sweep]]
    name = "job coaches at TCK"
    set = "organisations.TCK.guidance_capacity"
    values = "+0..+10"          # or a list: ["+1", "+2", "+5"]

    [[sweep]]
    name = "one more coach, each organisation in turn"
    set = "organisations.*.guidance_capacity"
    values = "+1"
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from matcher.errors import InputError, Problem
from matcher.load import ID
from matcher.whatif.edits import TABLES, edit_problem, split_assignment

MAX_POINTS = 1000
_RANGE = re.compile(r"^([+-]?\d+)\.\.([+-]?\d+)$")


@dataclass(frozen=True)
class Scenario:
    name: str
    sets: tuple[str, ...] = ()
    removes: tuple[str, ...] = ()
    add_options: tuple[str, ...] = ()
    add_organisations: tuple[str, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not (self.sets or self.removes or self.add_options or self.add_organisations)

    def edits(self) -> list[str]:
        return ([f"set {s}" for s in self.sets] + [f"remove {s}" for s in self.removes]
                + [f"add option {s}" for s in self.add_options]
                + [f"add organisation {s}" for s in self.add_organisations])

    def plus(self, name: str, sets: tuple[str, ...]) -> Scenario:
        return Scenario(name, self.sets + sets, self.removes, self.add_options,
                        self.add_organisations)


@dataclass(frozen=True)
class Sweep:
    """`target` is TABLE.ID.FIELD (ID may be `*`: each row in turn) or policy.SECTION.KEY."""

    name: str
    target: str
    values: list[str] = field(default_factory=list)

    def points(self, raw: dict[str, pd.DataFrame]) -> list[tuple[str, str, str]]:
        """(variant name, --set spec, x label) for every point of the sweep."""
        parts = self.target.split(".")
        ids: list[str | None] = [None]
        if parts[0] in TABLES and len(parts) >= 3 and ".".join(parts[1:-1]) == "*":
            ids = sorted(raw[parts[0]][ID[parts[0]]].astype(str).str.strip())
        if len(ids) * len(self.values) > MAX_POINTS:
            raise edit_problem(self.target, f"sweep {self.name!r} has {len(ids) * len(self.values)} "
                                            f"points; at most {MAX_POINTS}")
        out = []
        for ident in ids:
            target = self.target if ident is None else f"{parts[0]}.{ident}.{parts[-1]}"
            for v in self.values:
                label = v if ident is None else ident if len(self.values) == 1 else f"{ident} {v}"
                out.append((f"{self.name} [{label}]", f"{target}={v}", label))
        return out


def parse_values(spec: str, text: str | list[Any]) -> list[str]:
    """`+0..+10` (inclusive, relative), `0..10` (absolute), `+1,+2,+5`, or a TOML list."""
    if isinstance(text, list):
        return [str(v) for v in text]
    text = str(text).strip()
    m = _RANGE.match(text)
    if m:
        a, b = int(m.group(1)), int(m.group(2))
        if b < a:
            raise edit_problem(spec, f"empty range {text!r}")
        if b - a > 1000:
            raise edit_problem(spec, f"range {text!r} has more than 1000 points")
        relative = m.group(1).startswith(("+", "-"))
        return [(f"{k:+d}" if relative else str(k)) for k in range(a, b + 1)]
    values = [v.strip() for v in text.split(",") if v.strip()]
    if not values:
        raise edit_problem(spec, "no values to sweep")
    return values


def parse_sweep(spec: str, name: str | None = None) -> Sweep:
    """`TABLE.ID.FIELD=VALUES` from the command line."""
    parts, values = split_assignment(spec)
    target = ".".join(parts)
    return Sweep(name or target, target, parse_values(spec, values))


def load_scenario_file(path: Path) -> tuple[list[Scenario], list[Sweep]]:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise InputError([Problem(path.name, None, None, "scenario file not found")]) from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError([Problem(path.name, None, None, f"not valid TOML: {exc}")]) from None
    problems = []
    unknown = sorted(set(data) - {"variant", "sweep"})
    for key in unknown:
        problems.append(Problem(path.name, None, key, "unknown section (expected [[variant]] or "
                                                      "[[sweep]])"))
    variants, sweeps = [], []
    list_keys = {"set": "sets", "remove": "removes", "add_option": "add_options",
                 "add_organisation": "add_organisations"}
    for i, v in enumerate(data.get("variant", []), start=1):
        where = f"variant {i}"
        bad = sorted(set(v) - {"name", *list_keys})
        for key in bad:
            problems.append(Problem(path.name, None, key, f"{where}: unknown key (expected name, "
                                                          f"{', '.join(list_keys)})"))
        kwargs: dict[str, Any] = {}
        for key, attr in list_keys.items():
            value = v.get(key, [])
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
                problems.append(Problem(path.name, None, key, f"{where}: expected a list of strings"))
                value = []
            kwargs[attr] = tuple(value)
        variants.append(Scenario(str(v.get("name", f"variant {i}")), **kwargs))
    for i, s in enumerate(data.get("sweep", []), start=1):
        where = f"sweep {i}"
        bad = sorted(set(s) - {"name", "set", "values"})
        for key in bad:
            problems.append(Problem(path.name, None, key, f"{where}: unknown key (expected name, "
                                                          "set, values)"))
        if not isinstance(s.get("set"), str) or "values" not in s:
            problems.append(Problem(path.name, None, "set", f"{where}: needs set = "
                                                            "\"TABLE.ID.FIELD\" and values"))
            continue
        try:
            values = parse_values(f"{path.name} {where}", s["values"])
        except InputError as exc:
            problems.extend(exc.problems)
            continue
        sweeps.append(Sweep(str(s.get("name", s["set"])), s["set"], values))
    names = [v.name for v in variants]
    for n in sorted({n for n in names if names.count(n) > 1}):
        problems.append(Problem(path.name, None, "name", f"two variants are named {n!r}"))
    if problems:
        raise InputError(problems)
    return variants, sweeps
