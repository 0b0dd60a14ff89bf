"""Rounds that stay stable: ``matcher run DATA --previous PREV_ROUND_DIR``.

Coordinators re-run a round after one change (a new person, a lost seat). With the previous
round's folder, every person it proposed something to keeps that proposal (the same option
alone, or the same route: programme and follow-on place) when it is still possible, unless
moving people gains more than ``[objective] stability_bonus`` per person moved.

How: the bonus (in objective units, as ``match_bonus``) is added to the objective weight of each
person's previous proposal, on the solver's arrays only (edges.csv and route_edges.csv keep the
weights of the pairs themselves). So the round moves a set of people only when what it gains by
that (in the usual objective) is more than ``stability_bonus`` times the number moved; with a
bonus of 0 the round is exactly the round without ``--previous``. Locks, forbids and reserved
routes keep their meaning (a locked route is a lock: never moved by this). The round reports
who moved and why in ``moves.csv`` and sums it up in round.json's ``stability``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from matcher.csvio import ROW, read_table
from matcher.errors import InputError, Problem, Problems
from matcher.model import Instance
from matcher.scoring.ranking import SCALE
from matcher.solver.problem import AssignmentProblem

if TYPE_CHECKING:
    from matcher.chain.routes import RouteEdges
    from matcher.round import Round

PREVIOUS_FILE = "assignments.csv"
MOVES_FILE = "moves.csv"
#: The previous proposals as this round read them, written with it (so `matcher verify` can
#: re-check an objective that includes the stability bonus without the previous folder).
PROPOSALS_FILE = "previous.csv"
OPTION = "--previous"

#: Why a person's previous proposal is not kept (moves.csv ``reason``), in the order checked.
REASONS = {
    "candidate_gone": "the person is not in this round's candidates",
    "option_gone": "the option of the previous proposal is not in this round's options",
    "route_gone": "routes.csv no longer has the route of the previous proposal",
    "locked_elsewhere": "a coordinator locked the person to another option",
    "not_eligible": "the previous proposal is no longer possible: outside the hard rules, "
                    "forbidden, or its route is forbidden",
    "fewer_seats": "the option now has fewer seats than the previous round's people there",
    "gain": "still possible, but moving people gains more than the stability bonus per person "
            "moved",
}


@dataclass(frozen=True)
class Previous:
    """A previous round's proposals (its assignments.csv)."""

    source: str
    digest: str  # SHA-256 of its assignments.csv
    proposals: pd.DataFrame  # candidate_id, option_id, next_option_id ('' when none)


def load_previous(folder: Path) -> tuple[Previous, list[Problem]]:
    """The proposals of the round in `folder` (a folder `matcher run` wrote); InputError naming
    the folder, file, row and column when it cannot be used. Returns (previous, warnings)."""
    folder = Path(folder)
    meta_path = folder / "round.json"
    if not meta_path.is_file():
        raise InputError([Problem(OPTION, None, None, f"{folder} is not a round's folder (it has "
                                  "no round.json)", code="previous_not_round",
                                  params={"folder": str(folder)})])
    problems = Problems()
    df = read_table(folder / PREVIOUS_FILE, problems, ("candidate_id", "option_id"),
                    allow_empty=True, output=True)
    if df is None:
        raise InputError(problems.items)
    raw = (folder / PREVIOUS_FILE).read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    warnings = _check_digest(meta_path, digest)
    if "next_option_id" not in df.columns:
        df["next_option_id"] = ""
    dup = df.duplicated("candidate_id", keep="first").to_numpy()
    for row, cid in zip(df.loc[dup, ROW].tolist(), df.loc[dup, "candidate_id"].tolist(),
                        strict=True):
        problems.add(PREVIOUS_FILE, int(row), "candidate_id",
                     f"candidate {cid!r} has a second proposal", code="previous_twice",
                     params={"candidate": repr(cid)})
    problems.raise_if_errors()
    out = df[["candidate_id", "option_id", "next_option_id"]].sort_values(
        "candidate_id", kind="stable").reset_index(drop=True)
    return Previous(str(folder), digest, out), warnings


def _check_digest(meta_path: Path, digest: str) -> list[Problem]:
    try:
        meta = json.loads(meta_path.read_text("utf-8"))
        written = meta.get("outputs", {}).get(PREVIOUS_FILE)
    except (OSError, ValueError, AttributeError):
        written = None
    if written == digest:
        return []
    return [Problem(PREVIOUS_FILE, None, None, "is not the file its round wrote (round.json "
                    "lists another SHA-256); its proposals are used as they are", "warning",
                    code="previous_changed")]


@dataclass(frozen=True)
class Targets:
    """The previous proposals in this round's rows: option and follow-on place per person."""

    cand: np.ndarray  # int64 per proposal: row in inst.candidates, -1 when gone
    opt: np.ndarray  # int64: row in inst.options, -1 when gone
    next: np.ndarray  # int64: the follow-on place's row, -1 none, -2 gone

    def per_candidate(self, n_candidates: int) -> tuple[np.ndarray, np.ndarray]:
        """(option, follow-on) per candidate of this round, -1 where no previous proposal."""
        opt = np.full(n_candidates, -1, dtype=np.int64)
        nxt = np.full(n_candidates, -1, dtype=np.int64)
        here = self.cand >= 0
        opt[self.cand[here]] = self.opt[here]
        nxt[self.cand[here]] = self.next[here]
        return opt, nxt


def targets(inst: Instance, prev: Previous) -> Targets:
    p = prev.proposals
    cand = pd.Index(inst.candidates["candidate_id"]).get_indexer(p["candidate_id"])
    oidx = pd.Index(inst.options["option_id"])
    opt = oidx.get_indexer(p["option_id"])
    nxt = np.where(p["next_option_id"].to_numpy() == "", -1,
                   oidx.get_indexer(p["next_option_id"]))
    nxt = np.where((p["next_option_id"].to_numpy() != "") & (nxt < 0), -2, nxt)
    return Targets(cand.astype(np.int64), opt.astype(np.int64), nxt.astype(np.int64))


def bonus_micro(bonus: float) -> int:
    return round(bonus * SCALE)


def pair_bonus(problem: AssignmentProblem, t: Targets, bonus: int) -> np.ndarray:
    """Bool over the problem's edges: the person's previous proposal was this option alone."""
    opt, nxt = t.per_candidate(problem.n_candidates)
    return (opt[problem.cand] == problem.opt) & (nxt[problem.cand] == -1) & (bonus > 0)


def route_bonus(routes: RouteEdges, t: Targets, n_candidates: int, bonus: int) -> np.ndarray:
    """Bool over route edges: the person's previous proposal was this route."""
    opt, nxt = t.per_candidate(n_candidates)
    return (opt[routes.cand] == routes.prog) & (nxt[routes.cand] == routes.place) & (bonus > 0)


def with_bonus(problem: AssignmentProblem, kept: np.ndarray, bonus: int) -> AssignmentProblem:
    """The problem with `bonus` added to the weight of the `kept` edges (the same problem when
    none is)."""
    if not kept.any():
        return problem
    return replace(problem, weight=problem.weight + np.where(kept, bonus, 0).astype(np.int64))


@dataclass(frozen=True)
class Stability:
    """What a round with ``--previous`` kept and moved."""

    previous: Previous
    bonus: int  # micro-units per person kept
    moves: pd.DataFrame  # moves.csv
    kept: int  # people whose previous proposal the round keeps

    def summary(self) -> dict[str, Any]:
        """round.json's ``stability``: the solver's objective includes ``bonus_micro_total``."""
        return {
            "previous": self.previous.source,
            "previous_assignments_sha256": self.previous.digest,
            "stability_bonus": self.bonus / SCALE,
            "proposals": len(self.previous.proposals),
            "kept": self.kept,
            "moved": len(self.moves),
            "moved_by_reason": {k: int(v) for k, v in
                                sorted(self.moves["reason"].value_counts().items())},
            "bonus_micro_total": self.kept * self.bonus,
        }


def current(rnd: Round) -> tuple[np.ndarray, np.ndarray]:
    """(option, follow-on place) per candidate in the round's answer, -1 where none."""
    n = rnd.instance.n_candidates
    opt = np.full(n, -1, dtype=np.int64)
    nxt = np.full(n, -1, dtype=np.int64)
    e = np.flatnonzero(rnd.chosen)
    opt[rnd.edges.cand[e]] = rnd.edges.opt[e]
    if rnd.chain is not None:
        r = rnd.chain.routes
        rc = np.flatnonzero(rnd.chain.chosen_routes)
        nxt[r.cand[rc]] = r.place[rc]
    return opt, nxt


def _possible(rnd: Round, t: Targets) -> np.ndarray:
    """Per proposal: this round could choose it (the pair usable and within the rules, or the
    route among the round's route edges)."""
    n = max(rnd.instance.n_options, 1)
    e = rnd.edges
    ok_pairs = np.sort((e.cand.astype(np.int64) * n + e.opt)[rnd.usable & e.eligible])
    key = t.cand * n + t.opt
    single = np.isin(key, ok_pairs) & (t.next == -1)
    if rnd.chain is None:
        return single & (t.cand >= 0) & (t.opt >= 0)
    r = rnd.chain.routes
    ok_routes = np.sort((r.cand.astype(np.int64) * n + r.prog) * n + r.place)
    route = (t.next >= 0) & np.isin(key * n + t.next, ok_routes)
    return (single | route) & (t.cand >= 0) & (t.opt >= 0)


def _reasons(rnd: Round, t: Targets, moved: np.ndarray) -> np.ndarray:
    inst = rnd.instance
    reason = np.full(len(t.cand), "gain", dtype=object)
    locks = inst.locks()
    locked_to = np.full(inst.n_candidates, -1, dtype=np.int64)
    locked_to[locks["cand"].to_numpy(np.int64)] = locks["opt"].to_numpy(np.int64)
    here = t.cand >= 0
    held = np.zeros(len(t.cand), dtype=np.int64)
    held[here] = locked_to[t.cand[here]]
    route_known = set(zip(inst.routes["prog"].tolist(), inst.routes["place"].tolist(),
                          strict=True))
    # previous people per option (still in the round) against its seats now
    at = np.bincount(t.opt[here & (t.opt >= 0)], minlength=inst.n_options)
    short = at > inst.options["capacity"].to_numpy()
    possible = _possible(rnd, t)
    for i in np.flatnonzero(moved):
        if t.cand[i] < 0:
            reason[i] = "candidate_gone"
        elif t.opt[i] < 0 or t.next[i] == -2:
            reason[i] = "option_gone"
        elif t.next[i] >= 0 and (int(t.opt[i]), int(t.next[i])) not in route_known:
            reason[i] = "route_gone"
        elif held[i] >= 0 and held[i] != t.opt[i]:
            reason[i] = "locked_elsewhere"
        elif not possible[i]:
            reason[i] = "not_eligible"
        elif short[t.opt[i]]:
            reason[i] = "fewer_seats"
    return reason


def stability(rnd: Round, prev: Previous, bonus: int) -> Stability:
    """Who the round moved (moves.csv) and why, against the previous round's proposals."""
    inst = rnd.instance
    t = targets(inst, prev)
    opt_now, nxt_now = current(rnd)
    here = t.cand >= 0
    same = np.zeros(len(t.cand), dtype=bool)
    same[here] = (opt_now[t.cand[here]] == t.opt[here]) & (
        nxt_now[t.cand[here]] == np.where(t.next[here] == -2, -3, t.next[here]))
    moved = ~same
    reason = _reasons(rnd, t, moved)
    oid = np.append(inst.options["option_id"].to_numpy(dtype=object), "")
    p = prev.proposals
    now_opt = np.full(len(t.cand), -1, dtype=np.int64)
    now_next = np.full(len(t.cand), -1, dtype=np.int64)
    now_opt[here] = opt_now[t.cand[here]]
    now_next[here] = nxt_now[t.cand[here]]
    moves = pd.DataFrame({
        "candidate_id": p["candidate_id"].to_numpy()[moved],
        "previous_option_id": p["option_id"].to_numpy()[moved],
        "previous_next_option_id": p["next_option_id"].to_numpy()[moved],
        "option_id": oid[now_opt[moved]],
        "next_option_id": oid[now_next[moved]],
        "reason": reason[moved],
        "detail": [REASONS[r] for r in reason[moved]],
    })
    return Stability(prev, bonus, moves.reset_index(drop=True), int(same.sum()))


def bonus_weights(inst: Instance, cand: np.ndarray, opt: np.ndarray, proposals: pd.DataFrame,
                  bonus: int) -> np.ndarray:
    """Micro-units the stability bonus adds to each pair (`cand`, `opt`: rows of `inst`):
    `bonus` where the pair is a person's previous proposal of that option alone."""
    t = targets(inst, Previous("", "", proposals))
    o, nxt = t.per_candidate(inst.n_candidates)
    return np.where((o[cand] == opt) & (nxt[cand] == -1), bonus, 0).astype(np.int64)
