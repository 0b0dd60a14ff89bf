"""The current data as the library sees it, cached per data version.

The database holds the truth. The cache keeps, for the newest import, the string tables, the
validated :class:`~matcher.model.Instance` and the per-option candidate ranking (scored once),
and, for the newest decision, the decisions in force as candidate/option rows. Each shortlist
reads the versions in its first database round trip: decisions are always current; a newer
import (perhaps by another server process) is ranked in a background thread while the previous
ranking keeps serving.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from api.store.data import (  # the queries, also imported from here by older modules
    CORE,
    EXPLAIN_PER_OPTION,
    ID,
    ROUTES,
    columns,
    decision_events,
    record_key,
    round_decisions,
    round_tables,
    route_key,
    stored_tables,
    versions,
)
from matcher.decisions import decisions_in_force
from matcher.load import build_instance
from matcher.model import Instance
from matcher.policy import Policy
from matcher.shortlist_index import OptionRanking, rank_options

log = logging.getLogger(__name__)
__all__ = ["CORE", "EXPLAIN_PER_OPTION", "ID", "ROUTES", "DataCache", "Decisions", "Snapshot",
           "columns", "decision_events", "record_key", "round_decisions", "round_tables",
           "route_key", "settle_heap", "stored_tables", "versions"]

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
    """The newest ranking this process has built, and the decisions in force mapped onto it.

    A request that sees a newer data version (an import, perhaps by another server process)
    calls :meth:`notice`: a background thread builds the new ranking (about 10 s at 20,000
    candidates) while the old one keeps serving; it replaces the old one when ready. Only a
    process that has no data at all yet builds while the request waits (:meth:`serving`)."""

    def __init__(self, policy: Policy, sessions: Callable[[], AbstractContextManager[Session]]
                 ) -> None:
        self.policy = policy
        self._sessions = sessions
        self._build_lock = threading.Lock()  # one build at a time
        self._lock = threading.Lock()  # guards _wanted and _thread
        self._wanted = 0  # the newest data version any request has seen
        self._thread: threading.Thread | None = None
        self._snapshot: Snapshot | None = None
        self._decisions: Decisions | None = None
        self._stop = threading.Event()  # set by close()
        self._watchers: list[threading.Thread] = []

    @property
    def ready(self) -> Snapshot | None:
        """The newest built snapshot (None before the first build)."""
        return self._snapshot

    def serving(self, version: int | None = None) -> Snapshot:
        """The snapshot to answer with: the newest built one, unless there is none with data
        yet (then it is built now, once). `version`: the data version if the caller knows it."""
        snap = self._snapshot
        if snap is not None and (snap.instance is not None or version == snap.version):
            if version is not None:
                self.notice(version)
            return snap
        return self.build()

    def notice(self, version: int) -> None:
        """A request saw data version `version`: if it is newer than the snapshot, rebuild in
        the background (the current snapshot keeps serving)."""
        snap = self._snapshot
        if snap is not None and snap.version >= version:
            return
        with self._lock:
            self._wanted = max(self._wanted, version)
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(target=self._refresh, name="ranking-refresh",
                                                daemon=True)
                self._thread.start()

    def _refresh(self) -> None:
        try:
            while True:
                with self._lock:
                    snap = self._snapshot
                    if self._stop.is_set() or (snap is not None and snap.version >= self._wanted):
                        self._thread = None
                        return
                self.build()
        except Exception:  # logged; the next request that notices a new version tries again
            log.exception("refreshing the ranking failed")
            with self._lock:
                self._thread = None

    def build(self) -> Snapshot:
        """Build the snapshot of the newest data version now (unless it is built already)."""
        with self._build_lock:
            with self._sessions() as session:
                read = self._read(session, self._snapshot)
            if read is None:
                assert self._snapshot is not None
                return self._snapshot
            version, tables = read
            t = time.perf_counter()
            inst = ranking = None
            if all(len(tables[t]) for t in CORE):
                inst = build_instance(tables, source="database")
                ranking = rank_options(inst, self.policy, explain_per_option=EXPLAIN_PER_OPTION)
            snap = Snapshot(version, tables, inst, ranking)
            self._snapshot = snap
            del tables, inst, ranking
            settle_heap()
            log.info("data version %d ranked in %.1f s", version, time.perf_counter() - t)
            return snap

    @staticmethod
    def _read(session: Session, current: Snapshot | None
              ) -> tuple[int, dict[str, pd.DataFrame]] | None:
        """The stored tables and their data version, read consistently (the version is read
        before and after the tables: an import commits tables and version at once); None when
        `current` is of the newest version already."""
        while True:
            version = versions(session)[0]
            if current is not None and current.version == version:
                return None
            tables = stored_tables(session)
            session.rollback()  # a new read snapshot for the check (PostgreSQL)
            if versions(session)[0] == version:
                return version, tables
            log.info("data changed while it was read; reading it again")

    def decisions_mapped(self, snap: Snapshot, version: int) -> Decisions | None:
        """The decisions in force (version `version`) as rows of `snap` if they are mapped
        already (else None: call `decisions`)."""
        d = self._decisions
        if d is not None and d.version == version and d.data_version == snap.version:
            return d
        return None

    def decisions(self, snap: Snapshot, version: int,
                  events: Callable[[], pd.DataFrame]) -> Decisions:
        """The decisions in force (version `version`) as rows of `snap`; `events()` reads the
        decision history when they must be rebuilt."""
        d = self.decisions_mapped(snap, version)
        if d is not None:
            return d
        in_force = decisions_in_force(events())
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

    def decisions_ready(self, snap: Snapshot) -> Decisions | None:
        """The decisions last mapped onto `snap` (perhaps outdated; None if none are)."""
        d = self._decisions
        return d if d is not None and d.data_version == snap.version else None

    def watch(self, interval: float = 1.0) -> None:
        """Check the data version every `interval` seconds in a background thread and rebuild
        when it changed (an import by another server process), so that a process ranks new data
        soon after the import even before its next shortlist. `close` stops it."""

        def run() -> None:
            while not self._stop.wait(interval):
                try:
                    with self._sessions() as session:
                        version = versions(session)[0]
                    self.notice(version)
                except Exception:  # a failed check is retried at the next interval
                    log.warning("checking the data version failed", exc_info=True)

        thread = threading.Thread(target=run, name="data-version-watch", daemon=True)
        thread.start()
        self._watchers.append(thread)

    def close(self, timeout: float = 60.0) -> None:
        """Stop the version watch and wait for it and for a refresh under way (so that nothing
        still reads the database when the server lets go of it)."""
        self._stop.set()
        with self._lock:
            threads = [*self._watchers, *([self._thread] if self._thread else [])]
        for thread in threads:
            thread.join(timeout)

    def warm(self) -> None:
        """Build the newest snapshot now (start-up, after an import) so the next shortlist
        does not wait for it; failures are logged, never raised."""
        try:
            self.build()
        except Exception:  # a warm-up must never take the server down
            log.exception("warming the data cache failed")
