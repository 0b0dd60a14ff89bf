"""The chain's part of a round's output: the follow-on place and its start in assignments.csv,
route_edges.csv, the use of seats, hours, guidance and reserved follow-on seats in
utilisation.csv, and what the unmatched reasons need to know (which options did not run)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from matcher.chain.model import ChainSolution, capacity_hours
from matcher.chain.routes import RouteEdges, option_hours
from matcher.explain import ChainUse
from matcher.model import Instance
from matcher.scoring.ranking import SCALE
from matcher.solver.problem import AssignmentProblem

ROUTE_EDGES_FILE = "route_edges.csv"


@dataclass(frozen=True)
class Usage:
    """What the answer uses of each option and organisation, routes' places included."""

    seats_used: np.ndarray  # per option: people using it (alone, programme or place of a route)
    reserved: np.ndarray  # per option: of those, follow-on seats reserved by routes
    hours_used: np.ndarray  # per option: min(hours_available, hours_max) summed
    guidance_opt: np.ndarray  # per option: guidance need of the people using it
    guidance_org: np.ndarray  # per organisation: once per person and organisation


def usage(inst: Instance, problem: AssignmentProblem, sol: ChainSolution) -> Usage:
    r = sol.routes
    pair = np.flatnonzero(sol.at_programme())
    rc = np.flatnonzero(sol.chosen_routes)
    cand = np.concatenate([problem.cand[pair], r.cand[rc]]).astype(np.int64)
    opt = np.concatenate([problem.opt[pair], r.place[rc]]).astype(np.int64)
    n = inst.n_options
    need = problem.need[cand].astype(float)
    org = problem.option_org[opt]
    person_org = pd.DataFrame({"c": cand, "g": org, "n": need}).drop_duplicates(["c", "g"])
    return Usage(
        seats_used=np.bincount(opt, minlength=n),
        reserved=np.bincount(r.place[rc], minlength=n),
        hours_used=np.bincount(opt, weights=option_hours(inst, cand, opt), minlength=n),
        guidance_opt=np.bincount(opt, weights=need, minlength=n).astype(np.int64),
        guidance_org=np.bincount(person_org["g"].to_numpy(), weights=person_org["n"].to_numpy(),
                                 minlength=problem.n_organisations).astype(np.int64))


def next_start(inst: Instance, prog: np.ndarray, date: str | None) -> np.ndarray:
    """The follow-on place's start: the programme's start (its start_date, else the round's
    date) plus its duration_weeks; empty without a round date or a duration."""
    out = np.full(len(prog), "", dtype=object)
    opts = inst.options
    if date is None or "duration_weeks" not in opts:
        return out
    weeks = opts["duration_weeks"].to_numpy()[prog]
    starts = (opts["start_date"].to_numpy()[prog] if "start_date" in opts
              else np.full(len(prog), "", dtype=object))
    for i, (w, s) in enumerate(zip(weeks.tolist(), starts.tolist(), strict=True)):
        if w > 0:
            begin = dt.date.fromisoformat(s or date)
            out[i] = (begin + dt.timedelta(weeks=int(w))).isoformat()
    return out


def follow_on(inst: Instance, rnd_cand: np.ndarray, sol: ChainSolution,
              date: str | None) -> tuple[np.ndarray, np.ndarray]:
    """(next_option_id, next_start) for the people `rnd_cand` (empty where no route)."""
    r = sol.routes
    rc = np.flatnonzero(sol.chosen_routes)
    place = np.full(inst.n_candidates, -1, dtype=np.int64)
    place[r.cand[rc]] = r.place[rc]
    prog = np.full(inst.n_candidates, -1, dtype=np.int64)
    prog[r.cand[rc]] = r.prog[rc]
    oid = inst.options["option_id"].to_numpy()
    p = place[rnd_cand]
    nxt = np.where(p >= 0, oid[np.maximum(p, 0)], "").astype(object)
    start = np.full(len(p), "", dtype=object)
    on = p >= 0
    start[on] = next_start(inst, prog[rnd_cand][on], date)
    return nxt, start


def route_edges_frame(inst: Instance, r: RouteEdges) -> pd.DataFrame:
    """route_edges.csv: every eligible (or locked) route with its exact weight and its parts."""
    cid = inst.candidates["candidate_id"].to_numpy()
    oid = inst.options["option_id"].to_numpy()
    df = pd.DataFrame({
        "candidate_id": cid[r.cand], "option_id": oid[r.prog], "next_option_id": oid[r.place],
        "weight": r.weight_int / SCALE,
        "programme_weight": r.programme_weight_int / SCALE,
        "place_score": r.place_score_micro / SCALE})
    for name, v in r.components.items():
        df[f"place_{name}"] = np.round(v, 6)
    df["place_distance_km"] = np.round(r.distance_km, 3)
    df["place_term"] = r.place_term_int / SCALE
    df["guarantee"] = r.guarantee_int / SCALE
    levels = np.array(["A0", "A1", "A2", "B1", "B2", "C1", "C2"], dtype=object)
    df["exit_level"] = levels[r.exit_level.astype(np.int64)]
    df["eligible"] = r.eligible
    df["decision"] = np.where(r.locked, "lock", "")
    return df


def chain_use(inst: Instance, problem: AssignmentProblem, sol: ChainSolution,
              edges_cand: np.ndarray, edges_opt: np.ndarray) -> ChainUse:
    """What the unmatched reasons need of a chain answer (per edge of the round's table)."""
    u = usage(inst, problem, sol)
    limit = capacity_hours(inst)
    left = np.where(limit >= 0, limit - u.hours_used, np.inf)
    fit = option_hours(inst, edges_cand, edges_opt) <= left[edges_opt] + 1e-9
    return ChainUse(u.seats_used, u.guidance_org, fit, sol.opened)


def utilisation(inst: Instance, problem: AssignmentProblem, sol: ChainSolution) -> pd.DataFrame:
    """utilisation.csv of a chain round: the usual columns (routes' places and guidance once per
    person and organisation counted in) and hours_capacity, hours_used, reserved_seats, runs."""
    u = usage(inst, problem, sol)
    opts, orgs = inst.options, inst.organisations
    org = opts["org"].to_numpy()
    n_g = len(orgs)
    limit = capacity_hours(inst)
    option_rows = pd.DataFrame({
        "level": "option", "id": opts["option_id"].to_numpy(),
        "organisation_id": opts["organisation_id"].to_numpy(),
        "seats": opts["capacity"].to_numpy(), "seats_used": u.seats_used,
        "guidance_capacity": pd.array([pd.NA] * len(opts), dtype="Int64"),
        "guidance_used": u.guidance_opt,
        "hours_capacity": pd.array(np.where(limit >= 0, limit, 0), dtype="Int64"),
        "hours_used": np.round(u.hours_used, 3), "reserved_seats": u.reserved,
        "runs": sol.opened})
    option_rows.loc[limit < 0, "hours_capacity"] = pd.NA
    org_rows = pd.DataFrame({
        "level": "organisation", "id": orgs["organisation_id"].to_numpy(),
        "organisation_id": orgs["organisation_id"].to_numpy(),
        "seats": np.bincount(org, weights=opts["capacity"].to_numpy(), minlength=n_g).astype(
            np.int64),
        "seats_used": np.bincount(org, weights=u.seats_used, minlength=n_g).astype(np.int64),
        "guidance_capacity": orgs["guidance_capacity"].to_numpy(),
        "guidance_used": u.guidance_org,
        "hours_capacity": pd.array([pd.NA] * n_g, dtype="Int64"),
        "hours_used": np.round(np.bincount(org, weights=u.hours_used, minlength=n_g), 3),
        "reserved_seats": np.bincount(org, weights=u.reserved, minlength=n_g).astype(np.int64),
        "runs": True})
    return pd.concat([org_rows, option_rows], ignore_index=True)


def counts(inst: Instance, sol: ChainSolution) -> dict[str, int]:
    """round.json's chain counts."""
    return {"routes": len(inst.routes), "route_edges": len(sol.routes),
            "guaranteed_routes": int(sol.chosen_routes.sum()),
            "options_not_running": int((~sol.opened).sum())}
