"""Rounds: snapshot the inputs and the policy, run the library's round, store what it proposes.

A round's stored inputs (gzip'd canonical JSON of the string tables, decisions in force included)
and policy are enough to re-run it with `matcher run`; rounds are never overwritten.
"""

from __future__ import annotations

import gzip
import json
import logging
import threading
from collections import OrderedDict
from typing import Any

import numpy as np
import pandas as pd
from fastapi import HTTPException
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from api.audit import append, content_hash
from api.db import Database, utcnow
from api.models import Round, RoundAssignment, RoundJob, RoundUnmatched
from api.store import jobs
from api.store.data import round_tables
from matcher.errors import InputError, Problem
from matcher.explain_person import explain_candidate
from matcher.explain_words import explanation_text
from matcher.load import build_instance
from matcher.policy import Policy, nest_solver_keys, policy_from_dict, stored_policy
from matcher.round import Round as LibraryRound
from matcher.round import check_locks, replay_round, run_round, summary
from matcher.solver import Status
from matcher.stability import Previous

log = logging.getLogger(__name__)
#: How an erased person's id is replaced in stored rounds and shortlists (``matcher erase``).
TOMBSTONE = "erased-"


def resolve_policy(base: Policy, overrides: dict[str, Any] | None) -> Policy:
    """The server policy with a round's overrides (raises InputError naming the key). Solver
    overrides in the flat layout before issue #26 (``{"solver": {"lagrangian_iterations": 8}}``)
    are translated into the nested one (`matcher.policy.nest_solver_keys`)."""
    if not overrides:
        return base
    merged = _merge(base.model_dump(mode="json"), nest_solver_keys(overrides))
    return policy_from_dict(merged, "policy")


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def pack(tables: dict[str, pd.DataFrame]) -> bytes:
    data = {t: {"columns": list(df.columns), "rows": df.to_numpy().tolist()}
            for t, df in sorted(tables.items())}
    return gzip.compress(json.dumps(data, sort_keys=True, separators=(",", ":")).encode(), 6,
                         mtime=0)


def unpack(blob: bytes) -> dict[str, pd.DataFrame]:
    data = json.loads(gzip.decompress(blob))
    return {t: pd.DataFrame(v["rows"], columns=v["columns"], dtype=object).astype(str)
            for t, v in data.items()}


def create(db: Database, policy: Policy, kind: str, key_id: int, max_attempts: int = 2,
           runner: str | None = None, sync_max: int = 0, lease_seconds: float = 30.0,
           previous_round_id: int | None = None) -> tuple[int, int, jobs.Claim | None]:
    """Snapshot the current data and decisions into a queued round with its job in the durable
    queue (``api/store/jobs.py``); (round id, candidates, the claim when `runner` runs it now:
    rounds of at most `sync_max` candidates)."""
    with db.write() as s:
        tables = round_tables(s)
        if not all(len(tables[t]) for t in ("organisations", "options", "candidates")):
            raise InputError([Problem("data", None, None,
                                      "import organisations, options and candidates first")])
        if previous_round_id is not None:  # a round that stays stable (matcher.stability)
            tables[PREVIOUS_TABLE] = previous_proposals(s, previous_round_id)
        blob = pack(tables)
        if (tables["decisions"]["decision"] == "lock").any():  # locks no assignment can keep: 422, no round
            check_locks(build_instance(unpack(blob), source="round"))
        rnd = Round(created_at=utcnow(), key_id=key_id, kind=kind, status="queued", stage="queued",
                    inputs=blob, input_hash=content_hash(blob),
                    policy=policy.model_dump(mode="json"), policy_hash=policy.hash)
        s.add(rnd)
        s.flush()
        n = len(tables["candidates"])
        claim = jobs.enqueue(s, rnd.id, max_attempts, runner if n <= sync_max else None,
                             lease_seconds)
        append(s, key_id=key_id, action=f"round.create.{kind}", target=f"round/{rnd.id}",
               input_hash=rnd.input_hash, output_hash="", policy_hash=policy.hash)
        return rnd.id, n, claim


def snapshot(db: Database, round_id: int) -> tuple[bytes, dict[str, Any], int | None]:
    """A round's stored inputs, policy and key (to solve it)."""
    with db.session() as s:
        rnd = s.get(Round, round_id)
        assert rnd is not None
        return rnd.inputs, rnd.policy, rnd.key_id


def solve(blob: bytes, policy_data: dict[str, Any], round_id: int,
          dask_address: str | None = None) -> LibraryRound:
    """Solve a round's snapshot (raises InputError for bad stored input); with `dask_address`,
    its parts and scoring chunks on that Dask cluster."""
    policy = stored_policy(policy_data)  # either solver layout (rounds stored before #26)
    tables = unpack(blob)
    proposals = tables.pop(PREVIOUS_TABLE, None)
    previous = None if proposals is None else Previous(f"round/{round_id}", "", proposals)
    inst = build_instance(tables, source=f"round/{round_id}")
    if dask_address is None:
        return run_round(inst, policy, previous=previous)
    from matcher.parallel.dask_mapper import connect
    with connect(dask_address, "MATCHER_DASK_SCHEDULER") as mapper:
        return run_round(inst, policy, score_mapper=mapper, solve_mapper=mapper,
                         previous=previous)


#: The snapshot's table of the previous round's proposals (a round with previous_round_id).
PREVIOUS_TABLE = "previous"


def previous_proposals(s: Session, round_id: int) -> pd.DataFrame:
    """A finished round's proposals (candidate_id, option_id, next_option_id); InputError
    naming the field when there is no such round."""
    rnd = s.get(Round, round_id)
    if rnd is None or rnd.status != "done":
        raise InputError([Problem("round", None, "previous_round_id",
                                  f"no finished round with id {round_id}")])
    rows = s.execute(select(RoundAssignment.candidate_id, RoundAssignment.option_id,
                            RoundAssignment.next_option_id)
                     .where(RoundAssignment.round_id == round_id)
                     .order_by(RoundAssignment.candidate_id)).all()
    return pd.DataFrame([tuple(r) for r in rows],
                        columns=["candidate_id", "option_id", "next_option_id"], dtype=str)


def failure(exc: Exception, round_id: int) -> list[Problem]:
    """The problems a failed solve is recorded with."""
    if isinstance(exc, InputError):
        return list(exc.problems)
    log.error("round %d failed", round_id, exc_info=exc)
    return [Problem("round", None, None, f"internal error: {exc}")]


def store_result(s: Session, round_id: int, result: LibraryRound) -> None:
    """Write a solved round's proposal and its audit record (in the caller's transaction)."""
    meta = summary(result)
    assign, unmatched, util = result.assignments, result.unmatched, result.utilisation
    util = util.astype(object).where(util.notna(), None)
    rnd = s.get(Round, round_id)
    assert rnd is not None
    if len(assign):
        s.execute(insert(RoundAssignment), [
            {"round_id": round_id, "candidate_id": r["candidate_id"],
             "option_id": r["option_id"], "organisation_id": r["organisation_id"],
             "score": float(r["score"]), "locked": bool(r["locked"]),
             "main_reason": r["main_reason"], "reasons": r["reasons"],
             "next_option_id": r.get("next_option_id", "")}
            for r in assign.to_dict("records")])
    if len(unmatched):
        s.execute(insert(RoundUnmatched), [
            {"round_id": round_id, "candidate_id": r["candidate_id"], "reason": r["reason"],
             "detail": r["detail"], "eligible_options": int(r["eligible_options"])}
            for r in unmatched.to_dict("records")])
    sol = meta["solver"]
    rnd.status, rnd.stage, rnd.finished_at = "done", "done", utcnow()
    rnd.solver_status, rnd.method = sol["status"], sol["method"]
    rnd.objective, rnd.bound, rnd.gap = sol["objective"], sol["bound"], sol["gap"]
    rnd.summary = {"counts": meta["counts"], "warnings": meta["warnings"],
                   "versions": meta["versions"], "instance_hash": meta["input_hash"]} | (
        {"stability": meta["stability"]} if "stability" in meta else {})
    rnd.utilisation = [{k: _plain(v) for k, v in r.items()} for r in util.to_dict("records")]
    output = content_hash({"assignments": assign[["candidate_id", "option_id"]]
                           .to_numpy().tolist(), "objective": sol["objective_micro"]})
    append(s, key_id=rnd.key_id, action="round.finish", target=f"round/{round_id}",
           input_hash=rnd.input_hash, output_hash=output, policy_hash=rnd.policy_hash)


def _plain(v: Any) -> Any:
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    return v


def problem_rows(problems: list[Problem]) -> list[dict[str, Any]]:
    """Problems as a failed round or what-if stores and answers them."""
    return [{"table": p.file.removesuffix(".csv"), "row": None, "index": None,
             "field": p.column, "message": p.message} for p in problems]


def store_failure(s: Session, round_id: int, problems: list[Problem], status: str = "failed"
                  ) -> None:
    """Record a round as failed (or cancelled) with its problems, and its audit record."""
    errors = problem_rows(problems)
    rnd = s.get(Round, round_id)
    assert rnd is not None
    rnd.status, rnd.stage, rnd.finished_at, rnd.error = status, status, utcnow(), errors
    append(s, key_id=rnd.key_id, action=f"round.{status}", target=f"round/{round_id}",
           input_hash=rnd.input_hash, output_hash=content_hash(errors),
           policy_hash=rnd.policy_hash)


def reopen(s: Session, round_id: int, key_id: int | None) -> None:
    """A failed or cancelled round queued again (retry): its snapshot and policy are unchanged;
    the retry is an audit record."""
    rnd = s.get(Round, round_id)
    assert rnd is not None
    rnd.status, rnd.stage, rnd.finished_at, rnd.error = "queued", "queued", None, None
    append(s, key_id=key_id, action="round.retry", target=f"round/{round_id}",
           input_hash=rnd.input_hash, output_hash="", policy_hash=rnd.policy_hash)


def public(rnd: Round, job: RoundJob | None = None) -> dict[str, Any]:
    summ = rnd.summary or {}
    return {
        "job": None if job is None else {
            "id": job.id, "status": job.status, "attempts": job.attempts, "max_attempts": job.max_attempts,
            "cancel_requested": job.cancel_requested, "progress": job.progress,
            "reason": job.reason},
        "id": rnd.id, "kind": rnd.kind, "status": rnd.status, "stage": rnd.stage,
        "created_at": rnd.created_at, "finished_at": rnd.finished_at,
        "input_hash": rnd.input_hash, "instance_hash": summ.get("instance_hash"),
        "policy_hash": rnd.policy_hash,
        "solver_status": rnd.solver_status, "method": rnd.method, "objective": rnd.objective,
        "bound": rnd.bound, "gap": rnd.gap, "counts": summ.get("counts"),
        "warnings": summ.get("warnings", []), "problems": rnd.error or [],
        "stability": summ.get("stability"),
    }


class Replays:
    """Finished rounds rebuilt from their stored inputs, policy and assignments (not solved
    again) to explain them; the last `keep` are kept (a 20,000-candidate round takes seconds to
    rebuild). One rebuild at a time."""

    def __init__(self, keep: int = 2) -> None:
        self.keep = keep
        self._lock = threading.Lock()
        self._rounds: OrderedDict[int, tuple[str, LibraryRound]] = OrderedDict()

    def get(self, db: Database, round_id: int) -> LibraryRound:
        """404 for no such round, 409 for one that has not finished, 410 for one whose inputs
        retention purged. A round changed by an erasure (here or in another process) is
        rebuilt without the erased people."""
        with self._lock:
            with db.session() as s:
                rnd = s.get(Round, round_id)
                if rnd is None:
                    raise HTTPException(404, "round not found")
                if rnd.status != "done":
                    raise HTTPException(409, f"round {round_id} is {rnd.status}; only a finished "
                                             "round can be explained")
                if rnd.purged_at is not None:
                    raise HTTPException(410, f"round {round_id}'s inputs were purged on "
                                             f"{rnd.purged_at} (retention); its proposal stays")
                stamp = str((rnd.summary or {}).get("erased", 0))
                cached = self._rounds.get(round_id)
                if cached is not None and cached[0] == stamp:
                    self._rounds.move_to_end(round_id)
                    return cached[1]
                pairs = s.execute(select(RoundAssignment.candidate_id, RoundAssignment.option_id)
                                  .where(RoundAssignment.round_id == round_id)).all()
                blob, policy_data, status = rnd.inputs, rnd.policy, rnd.solver_status
            kept = [(c, o) for c, o in pairs if not c.startswith(TOMBSTONE)]
            inst = build_instance(unpack(blob), source=f"round/{round_id}")
            replayed = replay_round(inst, stored_policy(policy_data),
                                    [c for c, _ in kept], [o for _, o in kept],
                                    Status(status) if status else Status.FEASIBLE)
            self._rounds[round_id] = (stamp, replayed)
            while len(self._rounds) > self.keep:
                self._rounds.popitem(last=False)
            return replayed


def explained(replays: Replays, db: Database, round_id: int, candidate_id: str
              ) -> tuple[LibraryRound, dict[str, Any]]:
    """The rebuilt round and the data of one person's explanation
    (:func:`matcher.explain_person.explain_candidate`); 404 when they are not in it."""
    rnd = replays.get(db, round_id)
    try:
        return rnd, explain_candidate(rnd, candidate_id)
    except InputError:
        raise HTTPException(404, f"candidate {candidate_id!r} is not in round {round_id}") from None


def explanation(replays: Replays, db: Database, round_id: int, candidate_id: str
                ) -> dict[str, Any]:
    """One person's explanation in a finished round (404 when they are not in it)."""
    _, x = explained(replays, db, round_id, candidate_id)
    return {"round_id": round_id, "candidate_id": candidate_id, "status": x["status"],
            "option_id": x["match"]["option_id"] if x["status"] == "matched" else None,
            "alternative_option_id": x.get("alternative", {}).get("option_id"),
            "text": explanation_text(x)}
