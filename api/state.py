"""The current data as the library sees it, cached per data version.

The database holds the truth. The cache keeps, for the newest import, the string tables, the
validated :class:`~matcher.model.Instance` and the per-option candidate ranking (scored once),
and, for the newest decision, the decisions in force as candidate/option rows. Each request
checks the versions with one small query, so several server processes stay consistent.
"""

from __future__ import annotations

import gc
import logging
import threading
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from api.models import DecisionEvent, Import, Record
from matcher.decisions import decisions_in_force
from matcher.load import OPTIONAL, REQUIRED, build_instance
from matcher.model import Instance
from matcher.policy import Policy
from matcher.shortlist_index import OptionRanking, rank_options

log = logging.getLogger(__name__)

CORE = ("organisations", "options", "candidates")
#: Reasons are prepared for this many top candidates of every option when data is imported.
EXPLAIN_PER_OPTION = 30
ID = {"organisations": "organisation_id", "options": "option_id", "candidates": "candidate_id"}


def columns(table: str) -> tuple[str, ...]:
    """The columns matcher stores for a table (anything else is dropped at import)."""
    return REQUIRED[table] + OPTIONAL[table]


_VERSIONS = select(
    select(func.coalesce(func.max(Import.__table__.c.id), 0)).scalar_subquery(),
    select(func.coalesce(func.max(DecisionEvent.__table__.c.id), 0)).scalar_subquery(),
)


def versions(session: Session | Connection) -> tuple[int, int]:
    """(data version, decisions version): ids of the newest import and decision."""
    row = session.execute(_VERSIONS).one()
    return int(row[0]), int(row[1])


def stored_tables(session: Session) -> dict[str, pd.DataFrame]:
    """The stored organisations, options and candidates as string tables (sorted by id)."""
    out: dict[str, pd.DataFrame] = {}
    for table in CORE:
        rows = session.scalars(select(Record.data).where(Record.kind == table)
                               .order_by(Record.entity_id)).all()
        df = pd.DataFrame(list(rows), columns=list(columns(table)), dtype=object)
        out[table] = df.fillna("").astype(str)
    return out


def decision_events(session: Session) -> pd.DataFrame:
    rows = session.execute(select(DecisionEvent.candidate_id, DecisionEvent.option_id,
                                  DecisionEvent.kind, DecisionEvent.reason)
                           .order_by(DecisionEvent.id)).all()
    return pd.DataFrame(rows, columns=["candidate_id", "option_id", "kind", "reason"])


def round_decisions(in_force: pd.DataFrame, tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Decisions in force on pairs that exist in the current data (others cannot apply)."""
    known_c = in_force["candidate_id"].isin(tables["candidates"]["candidate_id"])
    known_o = in_force["option_id"].isin(tables["options"]["option_id"])
    return in_force[known_c & known_o].reset_index(drop=True)


def settle_heap() -> None:
    """Collect garbage once, then exempt every surviving object from the cyclic collector.

    The cached data is millions of long-lived objects; without this, each full (generation 2)
    collection walks all of them, a pause of about 100 ms at 20,000 candidates in the middle of
    some request. Unfreezing first lets the previous version's data be collected."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


@dataclass(frozen=True)
class Snapshot:
    version: int
    tables: dict[str, pd.DataFrame]
    instance: Instance | None  # None when there is no data yet
    ranking: OptionRanking | None


@dataclass(frozen=True)
class Decisions:
    version: int
    data_version: int
    in_force: pd.DataFrame
    lock_cand: np.ndarray  # rows in the snapshot's instance
    lock_opt: np.ndarray
    forbid_cand: np.ndarray
    forbid_opt: np.ndarray

    def excluded(self, opt: int) -> np.ndarray:
        """Candidates not to shortlist for `opt`: committed elsewhere, or forbidden here."""
        return np.concatenate([self.lock_cand[self.lock_opt != opt],
                               self.forbid_cand[self.forbid_opt == opt]])

    def locked_here(self, opt: int) -> np.ndarray:
        return self.lock_cand[self.lock_opt == opt]


class DataCache:
    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._decisions: Decisions | None = None

    def snapshot(self, session: Session, version: int | None = None) -> Snapshot:
        version = versions(session)[0] if version is None else version
        snap = self._snapshot
        if snap is not None and snap.version == version:
            return snap
        with self._lock:
            snap = self._snapshot
            if snap is not None and snap.version == version:
                return snap
            tables = stored_tables(session)
            inst = ranking = None
            if all(len(tables[t]) for t in CORE):
                inst = build_instance(tables, source="database")
                ranking = rank_options(inst, self.policy, explain_per_option=EXPLAIN_PER_OPTION)
            snap = Snapshot(version, tables, inst, ranking)
            self._snapshot = snap
            del tables, inst, ranking
            settle_heap()
            log.info("data version %d cached", version)
            return snap

    def decisions(self, session: Session, snap: Snapshot, version: int | None = None) -> Decisions:
        version = versions(session)[1] if version is None else version
        d = self._decisions
        if d is not None and d.version == version and d.data_version == snap.version:
            return d
        in_force = decisions_in_force(decision_events(session))
        empty = np.zeros(0, dtype=np.int64)
        lc = lo = fc = fo = empty
        if snap.instance is not None:
            cand = pd.Index(snap.instance.candidates["candidate_id"]).get_indexer(
                in_force["candidate_id"])
            opt = pd.Index(snap.instance.options["option_id"]).get_indexer(in_force["option_id"])
            ok = (cand >= 0) & (opt >= 0)
            lock = ok & (in_force["decision"] == "lock").to_numpy()
            forbid = ok & (in_force["decision"] == "forbid").to_numpy()
            lc, lo, fc, fo = cand[lock], opt[lock], cand[forbid], opt[forbid]
        d = Decisions(version, snap.version, in_force, lc, lo, fc, fo)
        self._decisions = d
        return d

    def warm(self, session: Session) -> None:
        """Build the cache now (after an import), so the next shortlist is fast."""
        try:
            self.snapshot(session)
        except Exception:  # a warm-up must never take the server down
            log.exception("warming the data cache failed")
