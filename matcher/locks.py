"""Coordinators' locks that no assignment can keep, explained before any solving (issue 27,
item 4): which locks conflict, over which limit, and what would have to change.

A round is infeasible because of its locks exactly when the locked people alone take more seats
at some option than it has, or more guidance units at some organisation than its
``guidance_capacity`` (every other person may stay unmatched, so nothing else can make a plain
round infeasible). Each such limit is one problem naming the locks (person and option) and the
two ways out: raise the limit to what the locks take, or undo enough of those locks (the fewest
that suffice, the neediest first for guidance).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from matcher.errors import Problem
from matcher.model import Instance

F = "decisions.csv"
#: At most this many locks are named per problem (the count says how many there are).
NAMED = 8


def _names(cids: np.ndarray, oids: np.ndarray, needs: np.ndarray | None = None) -> str:
    """``P-001 -> TCK-KEUKEN (3), ...``: the locks by person and option (and guidance need),
    in words of no language."""
    parts = [f"{c} -> {o}" + ("" if needs is None else f" ({int(n)})")
             for c, o, n in zip(cids.tolist(), oids.tolist(),
                                (needs if needs is not None else cids).tolist(), strict=True)]
    more = len(parts) - NAMED
    return ", ".join(parts[:NAMED]) + (f" and {more} more" if more > 0 else "")


def seat_conflicts(inst: Instance, locks: pd.DataFrame) -> list[Problem]:
    """Options with more locked people than seats."""
    out = []
    opts = inst.options
    cid = inst.candidates["candidate_id"].to_numpy()
    for o, grp in locks.groupby("opt", sort=True):
        cap, n = int(opts["capacity"].iat[int(o)]), len(grp)
        if n <= cap:
            continue
        oid = str(opts["option_id"].iat[int(o)])
        names = _names(cid[grp["cand"].to_numpy()], opts["option_id"].to_numpy()[grp["opt"]])
        params = {"n": n, "option": oid, "capacity": cap, "locks": names, "undo": n - cap}
        out.append(Problem(
            F, None, "option_id",
            f"{n} locks at {oid} take {n} seats, {oid} has {cap}: raise its capacity to {n} "
            f"(options.csv) or undo {n - cap} of these locks: {names}",
            code="locks_over_seats", params=params))
    return out


def guidance_conflicts(inst: Instance, locks: pd.DataFrame) -> list[Problem]:
    """Organisations whose locked people need more guidance than they have."""
    out = []
    orgs, opts = inst.organisations, inst.options
    cid = inst.candidates["candidate_id"].to_numpy()
    need = inst.candidates["guidance_need"].to_numpy()[locks["cand"].to_numpy()]
    frame = locks.assign(org=opts["org"].to_numpy()[locks["opt"].to_numpy()], need=need)
    for g, grp in frame.groupby("org", sort=True):
        budget, used = int(orgs["guidance_capacity"].iat[int(g)]), int(grp["need"].sum())
        if used <= budget:
            continue
        gid = str(orgs["organisation_id"].iat[int(g)])
        grp = grp.sort_values(["need", "candidate_id"], ascending=[False, True], kind="stable")
        freed = np.cumsum(grp["need"].to_numpy())
        k = int(np.searchsorted(freed, used - budget) + 1)  # the fewest locks that free enough
        names = _names(cid[grp["cand"].to_numpy()], opts["option_id"].to_numpy()[grp["opt"]],
                       grp["need"].to_numpy())
        params = {"n": len(grp), "organisation": gid, "units": used, "capacity": budget,
                  "excess": used - budget, "undo": k, "locks": names}
        out.append(Problem(
            F, None, "option_id",
            f"{len(grp)} locks at {gid} need {used} guidance units, {gid} has {budget}: raise "
            f"its guidance_capacity to {used} (organisations.csv) or undo locks that need "
            f"{used - budget} units or more (at least {k}; guidance need in brackets): {names}",
            code="locks_over_guidance", params=params))
    return out


def lock_conflicts(inst: Instance) -> list[Problem]:
    """Every seat and guidance limit the locks alone break (empty when they all fit)."""
    locks = inst.locks()
    if locks.empty:
        return []
    return seat_conflicts(inst, locks) + guidance_conflicts(inst, locks)
