"""Rounds the chain makes infeasible, refused before solving with the conflicting decisions
named: locks that take more seats, route seats, hours or guidance than an option or
organisation has (a locked route holds its place too), and locks on an option that cannot reach
its ``min_participants``."""

from __future__ import annotations

import numpy as np
import pandas as pd

from matcher.chain.routes import RouteEdges, option_hours
from matcher.errors import Problem
from matcher.model import Instance
from matcher.solver.problem import AssignmentProblem

F = "decisions.csv"


def _uses(inst: Instance) -> pd.DataFrame:
    """Every option a lock holds: (cand, opt, words naming the decision)."""
    locks = inst.locks()
    cid = inst.candidates["candidate_id"].to_numpy()
    oid = inst.options["option_id"].to_numpy()
    rl = inst.route_decisions[inst.route_decisions["decision"] == "lock"]
    route_of = {(c, o): n for c, o, n in zip(rl["cand"], rl["opt"], rl["next"], strict=True)}
    rows = []
    for c, o in zip(locks["cand"].tolist(), locks["opt"].tolist(), strict=True):
        nxt = route_of.get((c, o))
        what = f"{cid[c]} at {oid[o]}" + (f" then {oid[nxt]}" if nxt is not None else "")
        ids = f"{cid[c]} ({oid[o]}" + (f" -> {oid[nxt]})" if nxt is not None else ")")
        rows.append((c, o, what, ids, -1))
        if nxt is not None:
            rows.append((c, nxt, what, ids, o))
    return pd.DataFrame(rows, columns=["cand", "opt", "what", "ids", "via"])


def _named(group: pd.DataFrame) -> str:
    return "; ".join(group["what"].tolist())


def _problem(column: str, message: str, code: str, group: pd.DataFrame,
             **params: object) -> Problem:
    """A conflict of the locks in `group`: English `message`, and `code` with the locks named
    by ids only (``P-007 (TCK-KEUKEN -> COMPASS-CATERING)``) for the translated text."""
    return Problem(F, None, column, message, code=code,
                   params={"locks": "; ".join(group["ids"].tolist()), **params})


def lock_problems(inst: Instance) -> list[Problem]:
    """Seats, route seats, hours and guidance the locks (routes included) need beyond what
    there is."""
    uses = _uses(inst)
    if uses.empty:
        return []
    out: list[Problem] = []
    opts, orgs = inst.options, inst.organisations
    oid = opts["option_id"].to_numpy()
    hours = option_hours(inst, uses["cand"].to_numpy(), uses["opt"].to_numpy())
    limit = (opts["capacity_hours"].to_numpy() if "capacity_hours" in opts
             else np.full(inst.n_options, -1))
    for o, g in uses.assign(h=hours).groupby("opt"):
        o = int(o)
        cap = int(opts["capacity"].iat[o])
        if len(g) > cap:
            out.append(_problem("option_id", f"the locks {_named(g)} take {len(g)} seats "
                                f"at {oid[o]!r}, which has {cap}", "locks_seats", g,
                                n=len(g), option=repr(oid[o]), capacity=cap))
        if 0 <= limit[o] < g["h"].sum():
            out.append(_problem("option_id", f"the locks {_named(g)} take "
                                f"{g['h'].sum():g} hours a week at {oid[o]!r}, which offers "
                                f"{int(limit[o])} (capacity_hours)", "locks_hours", g,
                                hours=f"{g['h'].sum():g}", option=repr(oid[o]),
                                capacity=int(limit[o])))
    on_route = uses[uses["via"] >= 0]
    seats = inst.routes.set_index(["prog", "place"])["seats"]
    for (p, q), g in on_route.groupby(["via", "opt"]):
        if len(g) > int(seats[(p, q)]):
            out.append(_problem("next_option_id",
                                f"the locks {_named(g)} take {len(g)} seats of the route "
                                f"{oid[p]!r} -> {oid[q]!r}, which has {int(seats[(p, q)])}",
                                "locks_route_seats", g, n=len(g), programme=repr(oid[p]),
                                place=repr(oid[q]), seats=int(seats[(p, q)])))
    need = inst.candidates["guidance_need"].to_numpy()
    org = opts["org"].to_numpy()
    u = uses.assign(g=org[uses["opt"].to_numpy()], n=need[uses["cand"].to_numpy()])
    u = u.drop_duplicates(["cand", "g"])  # once per person and organisation
    for g, grp in u.groupby("g"):
        budget = int(orgs["guidance_capacity"].iat[int(g)])
        if grp["n"].sum() > budget:
            org_id = orgs["organisation_id"].iat[int(g)]
            out.append(_problem("option_id",
                                f"the locks {_named(grp)} need {int(grp['n'].sum())} guidance "
                                f"units at {org_id!r}, which has {budget}", "locks_guidance",
                                grp, units=int(grp["n"].sum()), organisation=repr(org_id),
                                capacity=budget))
    return out


def cohort_problems(inst: Instance, problem: AssignmentProblem, routes: RouteEdges,
                    minimum: np.ndarray) -> list[Problem]:
    """Locks on an option that fewer people than its ``min_participants`` could use at all."""
    uses = _uses(inst)
    if uses.empty or not (minimum > 0).any():
        return []
    opt = np.concatenate([problem.opt, routes.prog, routes.place]).astype(np.int64)
    cand = np.concatenate([problem.cand, routes.cand, routes.cand]).astype(np.int64)
    reach = pd.DataFrame({"o": opt, "c": cand}).drop_duplicates().groupby("o").size()
    reach = reach.reindex(range(inst.n_options), fill_value=0).to_numpy()
    oid = inst.options["option_id"].to_numpy()
    out = []
    for o, g in uses.groupby("opt"):
        o = int(o)
        if reach[o] < minimum[o]:
            out.append(_problem("option_id",
                                f"the locks {_named(g)} need {oid[o]!r} to run, but only "
                                f"{reach[o]} {'person' if reach[o] == 1 else 'people'} could "
                                f"take it and it runs from "
                                f"{minimum[o]} (min_participants)", "locks_cohort", g,
                                option=repr(oid[o]), n=int(reach[o]), minimum=int(minimum[o])))
    return out
