"""Shortlists issued together (one transaction), the fast path, the background re-ranking, and
several server processes on one PostgreSQL database."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from api import importing
from api.audit import verify
from api.models import AuditRecord, Shortlist, ShortlistEntry
from api.security import Caller, Role
from api.shortlisting import Ask, ShortlistBatcher, issue_batch
from matcher.cli import app as cli
from matcher.shortlist_index import first_asked
from tests.api.conftest import PILOT, Api, make_api

OPTIONS = ["TCK-KEUKEN", "TCK-BEDIENING", "IDID-NAAIATELIER", "IDID-PRODUCTIE", "SPEC-TESTER",
           "COMPASS-CATERING", "FCU-SPORTWERK", "USTAL-STALLING"]
COORDINATOR = Caller(1, Role.coordinator, frozenset())


def _capped(database_url: str, tmp_path: Path, cap: int = 1) -> Iterator[Api]:
    policy = tmp_path / f"policy-{cap}.toml"
    policy.write_text(f"[shortlist]\nmax_open_shortlists = {cap}\nopen_days = 7\n")
    yield from make_api(database_url, policy_path=policy)


@pytest.fixture
def capped_api(database_url: str, tmp_path: Path) -> Iterator[Api]:
    yield from _capped(database_url, tmp_path)


def _key_id(api: Api, who: str) -> int:
    api.post("/v1/options/TCK-KEUKEN/shortlist?k=1", who)  # remembered with its id
    return api.app.state.key_cache[api.keys[who]].key_id


def _picked(result: dict[str, Any]) -> list[tuple[str, int]]:
    return [(e["candidate_id"], e["other_open_shortlists"]) for e in result["entries"]]


def test_a_batch_equals_the_same_shortlists_one_by_one(database_url: str, tmp_path: Path) -> None:
    """In one transaction, each shortlist sees the ones before it in the batch (the cap of 1
    leaves their candidates out), exactly as when they are issued one after another."""
    results = []
    for together in (True, False):
        for api in _capped(database_url.replace("matcher.db", f"m{together}.db"), tmp_path):
            api.import_pilot()
            state = api.app.state
            asks = [Ask(COORDINATOR, o, 5) for o in OPTIONS + OPTIONS[:2]]
            if together:
                asyncio.run(issue_batch(asks, state.shortlists, state.cache))
            else:
                for a in asks:
                    asyncio.run(issue_batch([a], state.shortlists, state.cache))
            assert all(a.error is None and a.result is not None for a in asks)
            results.append([_picked(a.result) for a in asks if a.result is not None])
            recs = api.all_items("/v1/audit/records", "auditor")
            assert [r["action"] for r in recs[1:]] == ["shortlist"] * len(asks)
            assert [r["target"] for r in recs[1:]] == [f"shortlist/{a.result['id']}"
                                                       for a in asks if a.result is not None]
            assert api.get("/v1/audit/verify", "auditor").json()["ok"]
        if database_url.startswith("postgresql"):
            break  # one schema per test: compare on SQLite only
    if len(results) == 2:
        assert results[0] == results[1]
    together_lists = results[0]
    first = {c for c, _ in together_lists[0]}
    assert first and not first & {c for c, _ in together_lists[1]}  # capped out of the 2nd


def test_a_batch_answers_each_request_for_itself(api: Api) -> None:
    api.import_pilot()
    state = api.app.state
    esp = Caller(_key_id(api, "esp_tck"), Role.employer_service_point, frozenset({"TCK"}))
    revoked = Caller(_key_id(api, "esp_idid"), Role.employer_service_point,
                     frozenset({"IDID", "SPEC"}))
    with state.db.write() as s:
        from api.models import ApiKey
        s.get(ApiKey, revoked.key_id).revoked = True  # type: ignore[union-attr]
    before = api.get("/v1/audit/verify", "auditor").json()["records"]
    asks = [Ask(esp, "TCK-KEUKEN", 3), Ask(esp, "IDID-PRODUCTIE", 3),  # another org's: 404
            Ask(revoked, "IDID-PRODUCTIE", 3), Ask(revoked, "NO-SUCH", 3),  # revoked: 401
            Ask(esp, "NO-SUCH", 3), Ask(esp, "TCK-BEDIENING", 3)]
    asyncio.run(issue_batch(asks, state.shortlists, state.cache))
    codes = [200 if a.result else getattr(a.error, "status_code", 500) for a in asks]
    assert codes == [200, 404, 401, 401, 404, 200]
    ids = [a.result["id"] for a in asks if a.result]
    assert ids[1] == ids[0] + 1  # refused requests take no shortlist id and no audit record
    report = api.get("/v1/audit/verify", "auditor").json()
    assert report["ok"] and report["records"] == before + 2


def test_requests_of_one_loop_turn_share_a_transaction(api: Api) -> None:
    api.import_pilot()
    state = api.app.state
    batcher = ShortlistBatcher(state.shortlists, state.cache)

    async def together() -> list[Any]:
        return await asyncio.gather(*(batcher.issue(Ask(COORDINATOR, o, 4)) for o in OPTIONS),
                                    return_exceptions=True)

    answers = asyncio.run(together())
    assert all(isinstance(a, tuple) for a in answers)
    recs = api.all_items("/v1/audit/records", "auditor")[-len(OPTIONS):]
    assert [r["target"] for r in recs] == [f"shortlist/{a[0].result['id']}" for a in answers]
    assert len({r["at"] for r in recs}) == 1  # one transaction, one time
    assert len({a[1] for a in answers}) == 1  # and one wait on the database


def test_requests_that_arrive_during_a_batch_form_the_next_one(
        api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """While a batch waits (here: held on purpose), the event loop takes new requests; they are
    issued together as the next batch once the first is done, each in arrival order."""
    api.import_pilot()
    state = api.app.state
    from api import shortlisting
    sizes: list[int] = []
    original = shortlisting.issue_batch

    async def held(asks: list[Ask], *args: Any) -> float:
        sizes.append(len(asks))
        if len(sizes) == 1:
            await release.wait()
        return await original(asks, *args)

    monkeypatch.setattr(shortlisting, "issue_batch", held)
    batcher = ShortlistBatcher(state.shortlists, state.cache)

    async def scenario() -> list[Any]:
        first = [asyncio.create_task(batcher.issue(Ask(COORDINATOR, o, 3))) for o in OPTIONS[:2]]
        await asyncio.sleep(0.05)  # the first batch is waiting
        later = [asyncio.create_task(batcher.issue(Ask(COORDINATOR, o, 3))) for o in OPTIONS[2:6]]
        await asyncio.sleep(0.05)
        assert sizes == [2] and not any(t.done() for t in first + later)
        release.set()
        return await asyncio.gather(*first, *later)

    release = asyncio.Event()
    answers = asyncio.run(scenario())
    assert sizes == [2, 4]
    ids = [a[0].result["id"] for a in answers]
    assert ids == sorted(ids) and len(set(ids)) == 6
    recs = api.all_items("/v1/audit/records", "auditor")[-6:]
    assert [r["target"] for r in recs] == [f"shortlist/{i}" for i in ids]
    assert len({r["at"] for r in recs[:2]} | {r["at"] for r in recs[2:]}) == 2  # two commits
    assert api.get("/v1/audit/verify", "auditor").json()["ok"]


def test_the_event_loop_runs_while_a_batch_waits_on_postgres(api: Api, database_url: str
                                                             ) -> None:
    """On PostgreSQL a batch awaits the database: with the audit lock held by another session,
    the shortlist waits for it while the loop goes on, and is issued when the lock is freed."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite is in-process: its batches do not wait on a server")
    import psycopg

    from api.audit import LOCK_ID
    api.import_pilot()
    state = api.app.state
    batcher = ShortlistBatcher(state.shortlists, state.cache)
    engine = state.db.engine
    cargs, cparams = engine.dialect.create_connect_args(engine.url)
    cparams.pop("context", None)
    with psycopg.connect(*cargs, **cparams) as other:
        other.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_ID,))

        async def scenario() -> tuple[int, Any]:
            task = asyncio.create_task(batcher.issue(Ask(COORDINATOR, "TCK-KEUKEN", 3)))
            ticks = 0
            for _ in range(20):  # the loop keeps running while the shortlist waits
                await asyncio.sleep(0.01)
                ticks += 1
            assert not task.done()
            other.commit()  # frees the lock
            return ticks, await asyncio.wait_for(task, 30)

        ticks, (answer, db_seconds) = asyncio.run(scenario())
    assert ticks == 20 and answer.result["entries"] and db_seconds >= 0.15
    assert api.get("/v1/audit/verify", "auditor").json()["ok"]


def test_batches_issued_at_once_take_turns(api: Api) -> None:
    """Two batches started together before the store has a connection are written one after
    the other: ids and audit records follow each other, the chain stays valid."""
    api.import_pilot()
    state = api.app.state
    state.shortlists.close()
    first, second = [Ask(COORDINATOR, o, 3) for o in OPTIONS[:2]], [Ask(COORDINATOR, OPTIONS[2], 3)]

    async def both() -> None:
        await asyncio.gather(issue_batch(first, state.shortlists, state.cache),
                             issue_batch(second, state.shortlists, state.cache))

    asyncio.run(both())
    ids = sorted(a.result["id"] for a in first + second if a.result is not None)
    assert len(ids) == 3 and ids == list(range(ids[0], ids[0] + 3))
    report = api.get("/v1/audit/verify", "auditor").json()
    assert report["ok"] and report["records"] == 1 + 3


def test_a_shortlist_reads_further_when_its_first_candidates_are_capped(
        capped_api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """When the candidates read ahead are all at the cap, the batch reads the next ones (one
    more query, awaited) and puts forward the first candidate below the cap."""
    api = capped_api
    api.import_pilot(("organisations", "options", "candidates"))  # nothing excluded
    state = api.app.state
    ranking = state.cache.ready.ranking
    opt = ranking.option_row("IDID-NAAIATELIER")
    order = ranking.candidate_ids[ranking.edges.cand[ranking.starts[opt]:ranking.starts[opt + 1]]]
    ahead = len(first_asked(ranking, opt, 1, np.zeros(0, np.int64)))
    assert len(order) > ahead
    from api.db import utcnow
    with state.db.write() as s:  # another option's open shortlist holds the ones read ahead
        s.add(Shortlist(id=900, option_id="TCK-KEUKEN", organisation_id="TCK", key_id=None,
                        issued_at=utcnow(), k=ahead))
        s.add_all(ShortlistEntry(shortlist_id=900, option_id="TCK-KEUKEN", candidate_id=c,
                                 rank=i + 1, issued_at=utcnow(), closed=False)
                  for i, c in enumerate(order[:ahead].tolist()))
    from api import shortlist_tx
    tx_class = shortlist_tx._PgTx if state.db.is_postgres else shortlist_tx._SqliteTx
    reads: list[int] = []
    original = tx_class.open_options

    async def counted(self: Any, since: str, cand_ids: Any) -> Any:
        reads.append(len(cand_ids))
        return await original(self, since, cand_ids)

    monkeypatch.setattr(tx_class, "open_options", counted)
    r = api.post("/v1/options/IDID-NAAIATELIER/shortlist?k=1")
    assert r.status_code == 201, r.text
    assert [(e["candidate_id"], e["other_open_shortlists"]) for e in r.json()["entries"]] == [
        (order[ahead], 0)]
    assert reads[-1] > 0 and len(reads) >= (1 if state.db.is_postgres else 2)


def test_a_failed_batch_stores_nothing(sqlite_api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    api = sqlite_api
    api.import_pilot()
    state = api.app.state
    from api import shortlist_tx

    async def write_then_fail(self: Any, shortlists: list[dict[str, Any]], *args: Any) -> None:
        self.conn.executemany(shortlist_tx._SQ_SHORTLIST, shortlists)  # then no commit
        raise RuntimeError("disk full")

    monkeypatch.setattr(shortlist_tx._SqliteTx, "write", write_then_fail)
    batcher = ShortlistBatcher(state.shortlists, state.cache)

    async def together() -> list[Any]:
        return await asyncio.gather(*(batcher.issue(Ask(COORDINATOR, o, 4)) for o in OPTIONS[:3]),
                                    return_exceptions=True)

    answers = asyncio.run(together())
    assert all(isinstance(a, RuntimeError) and "disk full" in str(a) for a in answers)
    with state.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Shortlist)) == 0
        assert s.scalar(select(func.count()).select_from(ShortlistEntry)) == 0
        assert s.scalar(select(func.count()).select_from(AuditRecord)) == 1  # the import
    monkeypatch.undo()
    assert api.post("/v1/options/TCK-KEUKEN/shortlist").status_code == 201
    assert api.get("/v1/audit/verify", "auditor").json()["records"] == 2


def _same(a: Any, b: Any) -> None:
    assert a.status_code == b.status_code
    assert a.headers["content-type"] == b.headers["content-type"]
    ja, jb = a.json(), b.json()
    if a.status_code == 201:
        for field in ("id", "issued_at", "open_until"):
            ja.pop(field), jb.pop(field)
        for e in ja["entries"] + jb["entries"]:
            e.pop("other_open_shortlists")
    assert ja == jb


def test_fast_path_answers_as_the_route(sqlite_api: Api, monkeypatch: pytest.MonkeyPatch
                                        ) -> None:
    """The same request answered by the FastAPI route (key not remembered yet) and by the fast
    path (key remembered) gets the same answer, errors included."""
    api = sqlite_api
    api.import_pilot()
    from api import fastpath
    answered: list[str] = []

    async def spy(state: Any, ask: Any, *args: Any) -> Any:
        answered.append(ask.option_id)
        return await original(state, ask, *args)

    original = fastpath.shortlist_response
    monkeypatch.setattr(fastpath, "shortlist_response", spy)
    cases = [(who, option) for who, option in [
        ("esp_tck", "TCK-KEUKEN"), ("esp_tck", "IDID-PRODUCTIE"), ("coordinator", "NO-SUCH"),
        ("planner", "TCK-KEUKEN")]]
    plain_queries = ("", "?k=3", "?k=100", "?k=3&max_km=40&min_dutch_level=A2",
                     "?sector=hospitality&offset=1", "?min_hours=8&available_by=2027-01-01")
    bodies: tuple[dict[str, Any], ...] = ({"k": 2, "max_km": 30}, {"sector": "hospitality"},
                                          {"k": 0}, {"k": 2, "other": 1})
    for who, option in cases:
        for query, body in [*((q, None) for q in (*plain_queries, "?k=0", "?k=101", "?k=abc",
                                                  "?k=3&k=4", "?other=1", "?max_km=-1")),
                            *(("", b) for b in bodies), ("?k=3", {"k": 3})]:
            url = f"/v1/options/{option}/shortlist{query}"
            kw: dict[str, Any] = {} if body is None else {"json": body}
            api.app.state.key_cache.clear()
            by_route = api.post(url, who, **kw)
            if api.keys[who] not in api.app.state.key_cache:
                api.post("/v1/options/TCK-KEUKEN/shortlist", who)  # remembered if it may be
            n = len(answered)
            _same(by_route, api.post(url, who, **kw))
            plain = who != "planner" and (
                (body is None and query in plain_queries)
                or (body is not None and body in bodies[:2] and not query))
            assert len(answered) == n + plain, (who, option, query, body)  # by the fast path?


def test_revoked_keys_are_refused_on_the_fast_path_at_once(api: Api) -> None:
    api.import_pilot()
    assert api.post("/v1/options/TCK-KEUKEN/shortlist", "esp_tck").status_code == 201
    key = api.keys["esp_tck"]
    assert key in api.app.state.key_cache  # answered from memory from now on
    with api.app.state.db.write() as s:
        from api.models import ApiKey
        s.get(ApiKey, api.app.state.key_cache[key].key_id).revoked = True  # type: ignore[union-attr]
    for option in ("TCK-KEUKEN", "IDID-PRODUCTIE", "NO-SUCH"):
        r = api.post(f"/v1/options/{option}/shortlist", "esp_tck")
        assert r.status_code == 401, (option, r.text)
    assert key not in api.app.state.key_cache


def _import_elsewhere(database_url: str, rows: dict[str, list[dict[str, str]]]) -> int:
    """An import made by another server process (its own engine on the same database)."""
    from api.db import Database
    db = Database(database_url)
    try:
        parsed = importing.from_json(rows)
        with db.write() as s:
            merged, _ = importing.validate(s, parsed, "merge")
            return importing.apply(s, parsed, merged, "merge", None).id
    finally:
        db.dispose()


def test_an_import_elsewhere_is_ranked_in_the_background(api: Api, database_url: str) -> None:
    api.import_pilot()
    cache = api.app.state.cache
    old = cache.ready
    options = pd.read_csv(PILOT / "options.csv", dtype=str, keep_default_na=False)
    new = options[options["option_id"] == "TCK-KEUKEN"].assign(option_id="TCK-NIEUW")
    with cache._build_lock:  # the rebuild cannot finish while we look
        version = _import_elsewhere(database_url, {"options": new.to_dict("records")})
        # The old ranking keeps serving: the new option is not known to it yet.
        assert api.post("/v1/options/TCK-NIEUW/shortlist").status_code == 404
        assert api.post("/v1/options/TCK-KEUKEN/shortlist").status_code == 201
        assert cache.ready is old and api.get("/health").json()["data_version"] == old.version
    deadline = time.monotonic() + 30
    while cache.ready.version != version and time.monotonic() < deadline:
        time.sleep(0.05)
    assert api.get("/health").json()["data_version"] == version
    r = api.post("/v1/options/TCK-NIEUW/shortlist")
    assert r.status_code == 201 and r.json()["entries"]
    recs = api.all_items("/v1/audit/records", "auditor")
    assert recs[-1]["action"] == "shortlist" and api.get("/v1/audit/verify", "auditor").json()["ok"]


def test_several_processes_keep_the_cap_and_one_chain(database_url: str, tmp_path: Path) -> None:
    """Two server processes (two apps, each with its own engine, cache and connection) on one
    PostgreSQL database, issuing shortlists at the same time: the audit trail is one valid
    chain and no candidate is put forward on open shortlists of two options (cap 1)."""
    if not database_url.startswith("postgresql"):
        pytest.skip("several server processes are supported on PostgreSQL only")
    servers = [_capped(database_url, tmp_path) for _ in range(2)]
    try:
        first, second = (next(s) for s in servers)
        first.import_pilot()
        second.app.state.cache.warm()

        def issue(i: int) -> int:
            srv = (first, second)[i % 2]
            return srv.post(f"/v1/options/{OPTIONS[i % len(OPTIONS)]}/shortlist?k=4").status_code

        with ThreadPoolExecutor(8) as pool:
            assert set(pool.map(issue, range(48))) == {201}
        report = verify(first.app.state.db)
        assert report.ok and report.records == 1 + 48
        with first.app.state.db.session() as s:
            pairs = s.execute(select(ShortlistEntry.candidate_id, ShortlistEntry.option_id)
                              .distinct()).all()
        per_candidate = pd.DataFrame(pairs, columns=["c", "o"]).groupby("c")["o"].nunique()
        assert len(per_candidate) and per_candidate.max() == 1
    finally:
        for s in servers:
            s.close()


def test_several_workers_need_postgres(tmp_path: Path) -> None:
    r = CliRunner().invoke(cli, ["serve", "--workers", "2", "--db", str(tmp_path / "m.db")])
    assert r.exit_code == 2 and "needs PostgreSQL" in r.output


def test_the_watch_notices_the_data_version(sqlite_api: Api) -> None:
    api = sqlite_api
    api.import_pilot()
    cache = api.app.state.cache
    seen: list[int] = []
    original = cache.notice
    cache.notice = lambda v: (seen.append(v), original(v))  # type: ignore[method-assign]
    cache.watch(interval=0.01)
    deadline = time.monotonic() + 10
    while not seen and time.monotonic() < deadline:
        time.sleep(0.01)
    assert seen and seen[0] == cache.ready.version
