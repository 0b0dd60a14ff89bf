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
import orjson
from fastapi import HTTPException

from api import metrics, requestid
from api.audit import content_hash, next_record
from api.deps import UNKNOWN_KEY
from api.schemas import ShortlistCreate
from api.security import Caller, Role
from api.shortlist_tx import HIRED, Begun, ShortlistStore, Tx
from api.state import DataCache, Decisions, Snapshot
from matcher.levels import LEVEL_RANK
from matcher.shortlist_index import (
    Filters,
    OptionRanking,
    Selection,
    filter_mask,
    first_asked,
    shortlist_entries,
)
from matcher.shortlist_index import select as select_top

log = logging.getLogger(__name__)

NOT_FOUND = "option not found"
#: How long an Idempotency-Key is remembered.
IDEMPOTENCY_HOURS = 24
REUSED_KEY = "Idempotency-Key already used with a different request (within 24 hours)"
FMT = "%Y-%m-%dT%H:%M:%S.%fZ"
#: Largest batch; more waiting requests go into the next one.
MAX_BATCH = 32
#: The count of a candidate whose reported hire is pending: above any cap.
HELD = 1 << 30


@dataclass
class Ask:
    """One shortlist request; `issue_batch` sets `result` (and `replayed`) or `error`."""

    caller: Caller
    option_id: str
    k: int
    offset: int = 0
    filters: Filters = field(default_factory=Filters)
    #: the filters as given (the answer repeats them), e.g. {"max_km": 5.0}
    given: dict[str, Any] = field(default_factory=dict)
    idem_key: str | None = None  # the Idempotency-Key header
    result: dict[str, Any] | None = None
    replayed: bool = False  # the result is the shortlist first issued under idem_key
    error: BaseException | None = None
    same_as: Ask | None = None  # answered by this earlier ask of its batch (same key, request)
    opt: int = -1  # the option's row in the ranking
    org: str = ""
    asked: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    keep: np.ndarray | None = None  # the filters as a mask over the option's slice
    request_id: str | None = field(default_factory=requestid.current)

    @property
    def request_hash(self) -> str:
        return content_hash({"option_id": self.option_id, "k": self.k, "offset": self.offset,
                             "filters": self.given})


def make_ask(caller: Caller, option_id: str, req: ShortlistCreate,
             idempotency_key: str | None) -> Ask:
    """The ask for a validated request."""
    given = req.model_dump(exclude={"k", "offset"}, exclude_none=True, mode="json")
    level = None if req.min_dutch_level is None else LEVEL_RANK[req.min_dutch_level]
    filters = Filters(max_km=req.max_km, min_hours=req.min_hours, min_level=level,
                      sector=req.sector,
                      available_by=None if req.available_by is None else req.available_by.isoformat())
    return Ask(caller, option_id, req.k, offset=req.offset, filters=filters, given=given,
               idem_key=idempotency_key)


def visible(caller: Caller, organisation_id: str) -> bool:
    return caller.role is not Role.employer_service_point or organisation_id in caller.organisations


def _revoked() -> HTTPException:
    return HTTPException(401, UNKNOWN_KEY, headers={"WWW-Authenticate": "ApiKey"})


async def issue_batch(asks: list[Ask], store: ShortlistStore, cache: DataCache) -> float:
    """Select, store and audit the asked shortlists (see `_issue_batch`); an ask that repeats
    an earlier one of the batch (same API key, Idempotency-Key and request) gets its answer."""
    seconds = await _issue_batch(asks, store, cache)
    _settle_same(asks)
    return seconds


async def _issue_batch(asks: list[Ask], store: ShortlistStore, cache: DataCache) -> float:
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
            continue
        a.keep = filter_mask(ranking, a.opt, a.filters)
        excluded = np.zeros(0, np.int64) if known is None else known.excluded(a.opt)
        a.asked = first_asked(ranking, a.opt, a.k + a.offset, excluded, a.keep)
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
        todo = await _replays(todo, tx)
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


async def _replays(todo: list[Ask], tx: Tx) -> list[Ask]:
    """Answer the asks whose Idempotency-Key was used before (the same request: the shortlist
    first issued, else 422), also within this batch; the rest are to be issued."""
    since = (datetime.now(UTC) - timedelta(hours=IDEMPOTENCY_HOURS)).strftime(FMT)
    pairs = sorted({(a.caller.key_id, a.idem_key) for a in todo if a.idem_key is not None})
    found = await tx.idempotent(pairs, since) if pairs else {}
    first: dict[tuple[int, str], Ask] = {}
    issue = []
    for a in todo:
        if a.idem_key is None:
            issue.append(a)
            continue
        pair = (a.caller.key_id, a.idem_key)
        replay, earlier = found.get(pair), first.get(pair)
        if replay is not None:
            if replay.request_hash != a.request_hash:
                a.error = HTTPException(422, REUSED_KEY)
            else:
                a.result = stored_answer(replay.body, replay.shortlist_id, replay.closed_at)
                a.replayed = True
        elif earlier is not None:  # the same key twice in this batch: answered after issuing
            if earlier.request_hash != a.request_hash:
                a.error = HTTPException(422, REUSED_KEY)
            else:
                a.same_as = earlier
        else:
            first[pair] = a
            issue.append(a)
    return issue


def stored_answer(body: str | None, shortlist_id: int, closed_at: str | None) -> dict[str, Any]:
    """The answer of a stored shortlist (its body as issued, its status now)."""
    out: dict[str, Any] = orjson.loads(body) if body else {"id": shortlist_id}
    out["status"] = "closed" if closed_at else (
        "expired" if out.get("open_until", "9") < datetime.now(UTC).strftime(FMT) else "open")
    out["closed_at"] = closed_at
    out.setdefault("feedback", [])
    out.setdefault("left", [])
    return out


def _settle_same(asks: list[Ask]) -> None:
    """Give the asks that repeated an earlier one of the batch that one's answer."""
    for a in asks:
        if a.same_as is not None:
            a.error, a.result, a.replayed = a.same_as.error, a.same_as.result, True


class OtherOpen(Mapping[int, int]):
    """Candidate row -> open shortlists of options other than `option_id`, for the rows read so
    far (what `select` takes as its known counts)."""

    def __init__(self, open_options: dict[int, set[str]], option_id: str) -> None:
        self.open_options, self.option_id = open_options, option_id

    def __getitem__(self, row: int) -> int:
        options = self.open_options[row]
        if HIRED in options:  # reported hired, not yet confirmed or rejected: put forward nowhere
            return HELD
        return len(options - {self.option_id})

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
        sel = select_top(ranking, a.opt, a.k + a.offset, decisions.excluded(a.opt), known, cap,
                         a.keep)
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
    keys: list[dict[str, Any]] = []
    ids = iter(begun.shortlist_ids)
    for a in todo:
        option_id = a.option_id
        sel = await _select(a, tx, ranking, decisions, open_options, since, cap)
        pos, counts = sel.positions[a.offset:], sel.counts[a.offset:]
        try:
            listed = shortlist_entries(ranking, pos, counts, decisions.locked_here(a.opt),
                                       first_rank=a.offset + 1)
        except Exception as exc:  # this request fails (500); the others go on
            log.exception("explaining shortlist for %s failed", option_id)
            a.error = exc
            continue
        sl_id = next(ids)
        audit = next_record(
            seq, head, key_id=a.caller.key_id, action="shortlist", target=f"shortlist/{sl_id}",
            at=issued_at,
            # the versions of the data and decisions this shortlist was made from
            input_hash=content_hash({"option_id": option_id, "k": a.k, "offset": a.offset,
                                     "filters": a.given, "data": snap.version,
                                     "decisions": decisions.version}),
            output_hash=content_hash(listed), policy_hash=ranking.policy_hash,
            request_id=a.request_id)
        seq, head = audit["seq"], audit["hash"]
        for r in ranking.edges.cand[pos].tolist():  # now on one more open shortlist
            open_options[r] = open_options[r] | {option_id}
        answer = {"id": sl_id, "option_id": option_id, "organisation_id": a.org, "k": a.k,
                  "offset": a.offset, "filters": a.given, "issued_at": issued_at,
                  "open_until": open_until, "max_open_shortlists": cap, "entries": listed}
        body = orjson.dumps(answer).decode()
        shortlists.append({"id": sl_id, "option_id": option_id, "organisation_id": a.org,
                           "key_id": a.caller.key_id, "issued_at": issued_at, "k": a.k,
                           "body": body, "request_hash": a.request_hash})
        entries += [{"shortlist_id": sl_id, "option_id": option_id,
                     "candidate_id": e["candidate_id"], "rank": e["rank"],
                     "issued_at": issued_at} for e in listed]
        if a.idem_key is not None:
            keys.append({"key_id": a.caller.key_id, "idem_key": a.idem_key,
                         "request_hash": a.request_hash, "shortlist_id": sl_id,
                         "created_at": issued_at})
        audits.append(audit)
        a.result = answer | {"status": "open", "closed_at": None, "feedback": [], "left": []}
    if shortlists:
        await tx.write(shortlists, entries, audits, keys)


class ShortlistBatcher:
    """Collects shortlist requests and issues them together, one batch at a time.

    The first request starts a drain task on the event loop; requests that arrive before its
    first step runs (the same turn of the loop) join its batch. While a batch waits on the
    database (PostgreSQL: awaited, so the loop goes on reading and answering requests), the
    requests that arrive form the next batch, which the task issues as soon as the previous
    one is committed."""

    def __init__(self, store: ShortlistStore, cache: DataCache) -> None:
        self.store, self.cache = store, cache
        self._pending: list[tuple[Ask, asyncio.Future[tuple[Ask, float]]]] = []
        self._task: asyncio.Task[None] | None = None

    async def issue(self, ask: Ask) -> tuple[Ask, float]:
        """(the ask with its result, seconds its batch waited on the database); raises
        HTTPException 404, 401 or 422 as the route would."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[tuple[Ask, float]] = loop.create_future()
        self._pending.append((ask, future))
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

    async def _issue(self, batch: list[tuple[Ask, asyncio.Future[tuple[Ask, float]]]]) -> None:
        asks = [a for a, _ in batch]
        metrics.SHORTLIST_BATCH.observe(len(asks))
        try:
            db_seconds = await issue_batch(asks, self.store, self.cache)
        except BaseException as exc:  # nothing was stored: every request of the batch fails
            if isinstance(exc, Exception):
                log.exception("a shortlist transaction failed")
            for _, future in batch:
                if not future.done():
                    failed = RuntimeError(f"the shortlist transaction failed: {exc!r}")
                    failed.__cause__ = exc  # a full or read-only database: answered as such
                    future.set_exception(failed)
            if not isinstance(exc, Exception):
                raise  # cancelled (the server stops)
            return
        for a, future in batch:
            if future.done():  # cancelled: the client went away
                continue
            if a.result is not None:
                future.set_result((a, db_seconds))
            else:
                future.set_exception(a.error or RuntimeError("shortlist not issued"))
