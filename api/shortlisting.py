"""Issuing shortlists: the ones asked for at about the same moment go into one transaction.

Each shortlist is selected, stored and audited exactly as if it were alone, in the order the
requests arrived: the open-shortlist cap counts the shortlists issued earlier in the same batch,
and each gets its own audit record, chained to the one before. But the batch shares the
database work (`api.shortlist_tx`): one lock, two round trips and one commit for all of them.
Under load the requests that arrive while a batch is being written form the next batch, so the
database cost per shortlist falls as the load rises; alone, a request is a batch of one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from fastapi import HTTPException

from api.audit import content_hash, next_record
from api.deps import UNKNOWN_KEY
from api.security import Caller, Role
from api.shortlist_tx import Begun, ShortlistStore, Tx
from api.state import DataCache, Decisions, Snapshot
from matcher.shortlist_index import OptionRanking, Selection, first_asked, shortlist_entries
from matcher.shortlist_index import select as select_top

log = logging.getLogger(__name__)

NOT_FOUND = "option not found"
FMT = "%Y-%m-%dT%H:%M:%S.%fZ"
#: Largest batch; more waiting requests go into the next one.
MAX_BATCH = 32


@dataclass
class Ask:
    """One shortlist request; `issue_batch` sets `result` or `error`."""

    caller: Caller
    option_id: str
    k: int
    result: dict[str, Any] | None = None
    error: BaseException | None = None
    opt: int = -1  # the option's row in the ranking
    org: str = ""
    asked: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))


def visible(caller: Caller, organisation_id: str) -> bool:
    return caller.role is not Role.employer_service_point or organisation_id in caller.organisations


def _revoked() -> HTTPException:
    return HTTPException(401, UNKNOWN_KEY, headers={"WWW-Authenticate": "ApiKey"})


async def issue_batch(asks: list[Ask], store: ShortlistStore, cache: DataCache) -> float:
    """Select, store and audit the asked shortlists in one write transaction, in order; sets
    each ask's result (the answer) or error (404: unknown option or another organisation's,
    401: key revoked). Returns the seconds spent waiting on the database. Raises, having stored
    nothing, if the transaction fails.

    The ranking is the newest one this process has built; the candidates whose open shortlists
    are needed first are worked out before the transaction, so that the lock, versions, keys,
    audit head, ids and those counts take one round trip."""
    snap = cache.ready
    if snap is None or snap.instance is None:  # a first build (seconds): never on the loop
        snap = await asyncio.to_thread(cache.serving)
    ranking = snap.ranking
    known = cache.decisions_ready(snap)
    for a in asks:
        a.opt = -1 if ranking is None else ranking.option_row(a.option_id)
        if ranking is None or a.opt < 0:
            a.error = HTTPException(404, NOT_FOUND)
            continue
        a.org = str(ranking.option_org[a.opt])
        if not visible(a.caller, a.org):
            a.error = HTTPException(404, NOT_FOUND)  # exactly as a missing option
        elif known is not None:
            a.asked = first_asked(ranking, a.opt, a.k, known.excluded(a.opt))
        else:
            a.asked = first_asked(ranking, a.opt, a.k, np.zeros(0, np.int64))
    todo = [a for a in asks if a.error is None]
    assert ranking is not None or not todo
    policy = cache.policy.shortlist if ranking is None else ranking.policy.shortlist
    since = (datetime.now(UTC) - timedelta(days=policy.open_days)).strftime(FMT)
    rows = np.unique(np.concatenate([a.asked for a in todo])) if todo else np.zeros(0, np.int64)
    ids = [] if ranking is None else ranking.candidate_ids[rows].tolist()
    async with store.transaction() as tx:
        begun = await tx.begin(sorted({a.caller.key_id for a in asks}), len(todo), since, ids)
        for a in asks:  # a revoked key learns nothing, not even that an option is missing
            if a.caller.key_id not in begun.valid_keys:
                a.error = _revoked()
        todo = [a for a in todo if a.error is None]
        cache.notice(begun.data_version)  # a newer import is ranked in the background
        if not todo:
            return tx.db_seconds
        assert ranking is not None
        decisions = cache.decisions_mapped(snap, begun.decisions_version)
        if decisions is None:
            events = await tx.decision_events()
            decisions = cache.decisions(snap, begun.decisions_version, lambda: events)
        open_options = {r: begun.open_options.get(c, set()) for r, c in zip(rows.tolist(), ids,
                                                                          strict=True)}
        await _issue(todo, tx, snap, ranking, decisions, open_options, since, begun)
    return tx.db_seconds


class OtherOpen(Mapping[int, int]):
    """Candidate row -> open shortlists of options other than `option_id`, for the rows read so
    far (what `select` takes as its known counts)."""

    def __init__(self, open_options: dict[int, set[str]], option_id: str) -> None:
        self.open_options, self.option_id = open_options, option_id

    def __getitem__(self, row: int) -> int:
        return len(self.open_options[row] - {self.option_id})

    def __iter__(self) -> Iterator[int]:
        return iter(self.open_options)

    def __len__(self) -> int:
        return len(self.open_options)


async def _select(a: Ask, tx: Tx, ranking: OptionRanking, decisions: Decisions,
                  open_options: dict[int, set[str]], since: str, cap: int) -> Selection:
    """Select one shortlist, reading the open shortlists of the candidates it reaches that were
    not read yet (one round trip each time; a failure to read them fails the batch)."""
    known = OtherOpen(open_options, a.option_id)
    while True:
        sel = select_top(ranking, a.opt, a.k, decisions.excluded(a.opt), known, cap)
        if sel.complete:
            return sel
        rows = sel.unread.tolist()
        found = await tx.open_options(since, ranking.candidate_ids[rows].tolist())
        for r in rows:
            open_options[r] = found.get(str(ranking.candidate_ids[r]), set())


async def _issue(todo: list[Ask], tx: Tx, snap: Snapshot, ranking: OptionRanking,
                 decisions: Decisions, open_options: dict[int, set[str]], since: str,
                 begun: Begun) -> None:
    """Select each shortlist in turn (counting the ones before it) and write them all."""
    policy = ranking.policy.shortlist
    cap = policy.max_open_shortlists
    now = datetime.now(UTC)
    issued_at, open_until = now.strftime(FMT), (now + timedelta(days=policy.open_days)).strftime(FMT)
    seq, head = begun.head_seq, begun.head_hash
    shortlists: list[dict[str, Any]] = []
    entries: list[dict[str, Any]] = []
    audits: list[dict[str, Any]] = []
    ids = iter(begun.shortlist_ids)
    for a in todo:
        option_id = a.option_id
        sel = await _select(a, tx, ranking, decisions, open_options, since, cap)
        pos = sel.positions
        try:
            listed = shortlist_entries(ranking, pos, sel.counts, decisions.locked_here(a.opt))
        except Exception as exc:  # this request fails (500); the others go on
            log.exception("explaining shortlist for %s failed", option_id)
            a.error = exc
            continue
        sl_id = next(ids)
        audit = next_record(
            seq, head, key_id=a.caller.key_id, action="shortlist", target=f"shortlist/{sl_id}",
            at=issued_at,
            # the versions of the data and decisions this shortlist was made from
            input_hash=content_hash({"option_id": option_id, "k": a.k, "data": snap.version,
                                     "decisions": decisions.version}),
            output_hash=content_hash(listed), policy_hash=ranking.policy_hash)
        seq, head = audit["seq"], audit["hash"]
        for r in ranking.edges.cand[pos].tolist():  # now on one more open shortlist
            open_options[r] = open_options[r] | {option_id}
        shortlists.append({"id": sl_id, "option_id": option_id, "organisation_id": a.org,
                           "key_id": a.caller.key_id, "issued_at": issued_at, "k": a.k})
        entries += [{"shortlist_id": sl_id, "option_id": option_id,
                     "candidate_id": e["candidate_id"], "rank": e["rank"],
                     "issued_at": issued_at} for e in listed]
        audits.append(audit)
        a.result = {"id": sl_id, "option_id": option_id, "organisation_id": a.org, "k": a.k,
                    "issued_at": issued_at, "open_until": open_until,
                    "max_open_shortlists": cap, "entries": listed}
    if shortlists:
        await tx.write(shortlists, entries, audits)


class ShortlistBatcher:
    """Collects shortlist requests and issues them together, one batch at a time.

    The first request starts a drain task on the event loop; requests that arrive before its
    first step runs (the same turn of the loop) join its batch. While a batch waits on the
    database (PostgreSQL: awaited, so the loop goes on reading and answering requests), the
    requests that arrive form the next batch, which the task issues as soon as the previous
    one is committed."""

    def __init__(self, store: ShortlistStore, cache: DataCache) -> None:
        self.store, self.cache = store, cache
        self._pending: list[tuple[Ask, asyncio.Future[tuple[dict[str, Any], float]]]] = []
        self._task: asyncio.Task[None] | None = None

    async def issue(self, caller: Caller, option_id: str, k: int) -> tuple[dict[str, Any], float]:
        """(the answer, seconds its batch waited on the database); raises HTTPException 404 or
        401 as the route would."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[tuple[dict[str, Any], float]] = loop.create_future()
        self._pending.append((Ask(caller, option_id, k), future))
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
            await self._issue(batch)
            if self._pending:
                await asyncio.sleep(0)  # one turn for the requests that are ready to join
        self._task = None

    async def _issue(self, batch: list[tuple[Ask, asyncio.Future[tuple[dict[str, Any], float]]]]
                     ) -> None:
        asks = [a for a, _ in batch]
        try:
            db_seconds = await issue_batch(asks, self.store, self.cache)
        except BaseException as exc:  # nothing was stored: every request of the batch fails
            if isinstance(exc, Exception):
                log.exception("a shortlist transaction failed")
            for _, future in batch:
                if not future.done():
                    future.set_exception(RuntimeError(f"the shortlist transaction failed: {exc!r}"))
            if not isinstance(exc, Exception):
                raise  # cancelled (the server stops)
            return
        for a, future in batch:
            if future.done():  # cancelled: the client went away
                continue
            if a.result is not None:
                future.set_result((a.result, db_seconds))
            else:
                future.set_exception(a.error or RuntimeError("shortlist not issued"))
