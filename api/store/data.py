"""The stored data as tables: the imported organisations, options, candidates (and routes),
the decisions, and what a round starts from; the data and decisions versions. Queries only
(SQLAlchemy sessions); the cache of the current data is `api.state`'s."""

from __future__ import annotations

import json

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from api.models import DecisionEvent, Import, Record
from matcher.decisions import decisions_in_force
from matcher.load import OPTIONAL, REQUIRED

CORE = ("organisations", "options", "candidates")
#: Stored tables besides the core: routes.csv (a programme leads to a place; the chain).
ROUTES = "routes"
#: Reasons are prepared for this many top candidates of every option when data is imported.
EXPLAIN_PER_OPTION = 30
ID = {"organisations": "organisation_id", "options": "option_id", "candidates": "candidate_id"}


def columns(table: str) -> tuple[str, ...]:
    """The columns matcher stores for a table (anything else is dropped at import)."""
    return REQUIRED[table] + OPTIONAL[table]


def route_key(programme_id: str, place_id: str) -> str:
    """A stored route's entity id: its programme and place, unambiguous whatever the ids."""
    return json.dumps([programme_id, place_id], ensure_ascii=False)


def record_key(table: str, df: pd.DataFrame) -> pd.Series:
    """The entity id of each row of a stored table (a route: its programme and place)."""
    if table == ROUTES:
        return pd.Series([route_key(p, q) for p, q in zip(
            df["programme_id"].tolist(), df["place_id"].tolist(), strict=True)],
            index=df.index, dtype=object)
    return df[ID[table]]


_VERSIONS = select(
    select(func.coalesce(func.max(Import.__table__.c.id), 0)).scalar_subquery(),
    select(func.coalesce(func.max(DecisionEvent.__table__.c.id), 0)).scalar_subquery(),
)


def versions(session: Session | Connection) -> tuple[int, int]:
    """(data version, decisions version): ids of the newest import and decision."""
    row = session.execute(_VERSIONS).one()
    return int(row[0]), int(row[1])


def stored_tables(session: Session) -> dict[str, pd.DataFrame]:
    """The stored organisations, options and candidates as string tables (sorted by id), and
    the routes when there are any (no routes: no table, as a data folder without routes.csv)."""
    out: dict[str, pd.DataFrame] = {}
    for table in (*CORE, ROUTES):
        rows = session.scalars(select(Record.data).where(Record.kind == table)
                               .order_by(Record.entity_id)).all()
        if table == ROUTES and not rows:
            continue
        df = pd.DataFrame(list(rows), columns=list(columns(table)), dtype=object)
        out[table] = df.fillna("").astype(str)
    return out


def decision_events(session: Session) -> pd.DataFrame:
    rows = session.execute(select(DecisionEvent.candidate_id, DecisionEvent.option_id,
                                  DecisionEvent.kind, DecisionEvent.reason,
                                  DecisionEvent.next_option_id)
                           .order_by(DecisionEvent.id)).all()
    return pd.DataFrame(rows, columns=["candidate_id", "option_id", "kind", "reason",
                                       "next_option_id"]).fillna({"next_option_id": ""})


def round_decisions(in_force: pd.DataFrame, tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Decisions in force on pairs that exist in the current data (others cannot apply)."""
    known_c = in_force["candidate_id"].isin(tables["candidates"]["candidate_id"])
    known_o = in_force["option_id"].isin(tables["options"]["option_id"])
    ok = known_c & known_o
    if "next_option_id" in in_force:  # a route decision: its route must exist too
        routes = tables.get(ROUTES)
        on_route = in_force["next_option_id"] != ""
        known = set() if routes is None else set(zip(routes["programme_id"], routes["place_id"],
                                                     strict=True))
        ok &= ~on_route | pd.Series([(o, n) in known for o, n in zip(
            in_force["option_id"], in_force["next_option_id"], strict=True)],
            index=in_force.index, dtype=bool)
    return in_force[ok].reset_index(drop=True)


def round_tables(session: Session) -> dict[str, pd.DataFrame]:
    """What a round starts from: the stored tables and the decisions in force on them."""
    tables = stored_tables(session)
    dec = round_decisions(decisions_in_force(decision_events(session)), tables)
    # route decisions (the chain) in force: their next_option_id; none: the very same
    # snapshot as before routes existed
    route = ["next_option_id"] if (dec["next_option_id"] != "").any() else []
    tables["decisions"] = dec[["candidate_id", "option_id", "decision", "reason", *route]]
    return tables
