"""The chain's part of the data contract (docs/data-format.md, "The participation chain").

Every column and file here is optional. An option column left out (or empty on every row) is
not added to the instance at all, so a data folder without chain inputs gives the very same
instance, content hash and round as before.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from matcher.csvio import ROW, check_refs, parse_int
from matcher.errors import Problems
from matcher.levels import CEFR

#: Optional options.csv columns of the chain.
OPTION_COLUMNS = ("language_gain", "duration_weeks", "start_date", "min_participants",
                  "capacity_hours")
#: Of those, the ones only a programme may have.
PROGRAMME_ONLY = ("language_gain", "duration_weeks", "start_date")
ROUTE_COLUMNS = ("programme_id", "place_id", "seats", "prog", "place")
ROUTE_DECISION_COLUMNS = ("candidate_id", "option_id", "next_option_id", "decision", "cand",
                          "opt", "next")
#: The highest level rank (C2): a language gain stops there.
TOP_LEVEL = len(CEFR) - 1
#: capacity_hours of an option without an hour limit.
NO_HOUR_LIMIT = -1


def _optional_int(df: pd.DataFrame, col: str, problems: Problems, f: str, minimum: int,
                  default: int) -> np.ndarray:
    """Whole numbers >= minimum where given, `default` where the cell is empty."""
    given = (df[col] != "").to_numpy()
    out = np.full(len(df), default, dtype=np.int64)
    if given.any():
        out[given] = parse_int(df.loc[given], col, problems, f, minimum=minimum)
    return out


def _dates(df: pd.DataFrame, problems: Problems, f: str, col: str = "start_date") -> pd.Series:
    """ISO dates (YYYY-MM-DD) in column `col` as their canonical text; empty where not given."""
    out = []
    for row, value in zip(df[ROW].tolist(), df[col].tolist(), strict=True):
        if value == "":
            out.append("")
            continue
        try:
            out.append(dt.date.fromisoformat(value).isoformat())
        except ValueError:
            problems.add(f, int(row), col,
                         f"expected an ISO date such as 2027-01-11, got {value!r}", kind="date",
                         code="bad_date", params={"value": repr(value)})
            out.append("")
    return pd.Series(out, index=df.index, dtype=object)


def parse_dates(df: pd.DataFrame, col: str, problems: Problems, f: str) -> None:
    """An optional date column, parsed in place (dropped when absent or empty on every row)."""
    if col in df.columns:
        if bool((df[col] == "").all()):
            del df[col]
        else:
            df[col] = _dates(df, problems, f, col)


def parse_option_columns(df: pd.DataFrame, problems: Problems, f: str = "options.csv") -> None:
    """Parse the chain's options.csv columns in place (`df`: options with `kind` and
    `capacity` parsed). A column absent or empty on every row is dropped (not an input)."""
    place = (df["kind"] == "place").to_numpy()
    for col in OPTION_COLUMNS:
        if col not in df.columns:
            continue
        if bool((df[col] == "").all()):
            del df[col]
            continue
        if col in PROGRAMME_ONLY:
            wrong = place & (df[col] != "").to_numpy()
            for row, oid in zip(df.loc[wrong, ROW].tolist(), df.loc[wrong, "option_id"].tolist(),
                                strict=True):
                problems.add(f, int(row), col,
                             f"{col} is for programmes; option {oid!r} is a place", kind=col,
                             code="programme_only", params={"column": col, "option": repr(oid)})
        if col == "start_date":
            df[col] = _dates(df, problems, f)
        elif col == "capacity_hours":
            df[col] = _optional_int(df, col, problems, f, 0, NO_HOUR_LIMIT)
        else:
            df[col] = _optional_int(df, col, problems, f, 1 if col == "duration_weeks" else 0, 0)
    if "min_participants" in df.columns:
        above = (df["min_participants"] > df["capacity"]).to_numpy()
        for row, m, cap in zip(df.loc[above, ROW].tolist(), df.loc[above, "min_participants"],
                               df.loc[above, "capacity"], strict=True):
            problems.add(f, int(row), "min_participants",
                         f"min_participants {int(m)} is above the option's capacity {int(cap)}",
                         kind="min_participants", code="min_above_capacity",
                         params={"minimum": int(m), "capacity": int(cap)})


def parse_routes(df: pd.DataFrame | None, opts: pd.DataFrame,
                 problems: Problems) -> pd.DataFrame:
    """routes.csv: each route from a programme to a place, its seats (default: the place's
    capacity), and the rows of both options (`prog`, `place`); sorted by (programme, place)."""
    if df is None:
        return empty_routes()
    f = "routes.csv"
    df = df.sort_values(["programme_id", "place_id", ROW], kind="stable").reset_index(drop=True)
    known = pd.Index(opts["option_id"])
    kind = opts["kind"].to_numpy()
    df["prog"] = check_refs(df, "programme_id", known, "options.csv", problems, f)
    df["place"] = check_refs(df, "place_id", known, "options.csv", problems, f)
    for col, target, want, words, code in (
            ("prog", "programme_id", "programme", "a route starts at a programme",
             "route_from_place"),
            ("place", "place_id", "place", "a route leads to a place", "route_to_programme")):
        pos = df[col].to_numpy()
        wrong = (pos >= 0) & (kind[np.maximum(pos, 0)] != want)
        for row, oid in zip(df.loc[wrong, ROW].tolist(), df.loc[wrong, target].tolist(),
                            strict=True):
            problems.add(f, int(row), target,
                         f"option {oid!r} is a {'place' if want == 'programme' else 'programme'}: "
                         f"{words}", kind="route_kind", code=code, params={"option": repr(oid)})
    dup = df.duplicated(["programme_id", "place_id"], keep="first").to_numpy()
    for row, p, q in zip(df.loc[dup, ROW].tolist(), df.loc[dup, "programme_id"],
                         df.loc[dup, "place_id"], strict=True):
        problems.add(f, int(row), "place_id", f"a second route from {p!r} to {q!r}", kind="dup",
                     code="route_twice", params={"programme": repr(p), "place": repr(q)})
    capacity = opts["capacity"].to_numpy()[np.maximum(df["place"].to_numpy(), 0)]
    if "seats" in df.columns:
        seats = _optional_int(df, "seats", problems, f, 0, -1)
        df["seats"] = np.where(seats < 0, capacity, seats)
    else:
        df["seats"] = capacity.astype(np.int64)
    return df[[*ROUTE_COLUMNS, ROW]]


def empty_routes() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object if c.endswith("_id") else np.int64)
                         for c in (*ROUTE_COLUMNS, ROW)})


def empty_route_decisions() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=np.int64 if c in ("cand", "opt", "next") else object)
                         for c in (*ROUTE_DECISION_COLUMNS, ROW)})


def split_route_decisions(df: pd.DataFrame, opts: pd.DataFrame, routes: pd.DataFrame,
                          problems: Problems) -> tuple[pd.DataFrame, pd.DataFrame]:
    """decisions.csv rows with a ``next_option_id`` are decisions on a whole route.

    Returns (pair decisions, route decisions). A route lock stays among the pair decisions as a
    lock of (person, programme) too (it holds the programme's seat and guidance, and counts as
    the person's one lock); a route forbid is a route decision only (the pair stays allowed).
    """
    f = "decisions.csv"
    if "next_option_id" not in df.columns:
        return df, empty_route_decisions()
    on_route = (df["next_option_id"] != "").to_numpy()
    rd = df.loc[on_route].copy()
    rd["next"] = check_refs(rd, "next_option_id", pd.Index(opts["option_id"]), "options.csv",
                            problems, f)
    known = set(zip(routes["prog"].tolist(), routes["place"].tolist(), strict=True))
    for row, o, n, oid, nid in zip(rd[ROW].tolist(), rd["opt"].tolist(), rd["next"].tolist(),
                                   rd["option_id"].tolist(), rd["next_option_id"].tolist(),
                                   strict=True):
        if o >= 0 and n >= 0 and (o, n) not in known:
            problems.add(f, int(row), "next_option_id",
                         f"routes.csv has no route from {oid!r} to {nid!r}", kind="no_route",
                         code="route_unknown", params={"programme": repr(oid), "place": repr(nid)})
    pair_forbid = set(zip(df.loc[~on_route & (df["decision"] == "forbid").to_numpy(), "cand"],
                          df.loc[~on_route & (df["decision"] == "forbid").to_numpy(), "opt"],
                          strict=True))
    for row, c, o in zip(rd[ROW].tolist(), rd["cand"].tolist(), rd["opt"].tolist(), strict=True):
        if (c, o) in pair_forbid and rd.loc[rd[ROW] == row, "decision"].iat[0] == "lock":
            problems.add(f, int(row), "next_option_id",
                         "a lock of a route whose programme is forbidden for the same person",
                         kind="route_lock_forbidden", code="route_lock_forbidden")
    pairs = df.loc[~on_route | (df["decision"] == "lock").to_numpy()].drop(
        columns="next_option_id")
    rd = rd.sort_values(["candidate_id", "option_id", "next_option_id", ROW], kind="stable")
    return pairs.reset_index(drop=True), rd[[*ROUTE_DECISION_COLUMNS, ROW]].reset_index(drop=True)
