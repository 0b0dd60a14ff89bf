"""Reasons in words: the parts of a pair's score, and why a person was left unmatched."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from matcher.model import Instance
from matcher.policy import Policy
from matcher.scoring.components import COMPONENTS, sector_rank
from matcher.scoring.eligibility import FILTERS, failure_counts
from matcher.scoring.table import LOCK, EdgeTable


@dataclass(frozen=True)
class ChainUse:
    """What a chain round's answer uses (routes' reserved places included): seats per option,
    guidance per organisation, per edge whether the person's hours still fit, and which options
    run (:mod:`matcher.chain.report`)."""

    seats_used: np.ndarray
    guidance_used: np.ndarray
    hours_fit: np.ndarray
    opened: np.ndarray


#: Reason codes for unmatched candidates (unmatched.csv `reason`).
UNMATCHED_REASONS = {
    "no_eligible_option": "no option passes the hard rules",
    "forbidden": "every eligible option was forbidden by a coordinator",
    "guidance_capacity_exhausted": "seats were free, but not the guidance to go with them",
    "outcompeted_for_capacity": "every eligible option was full",
    "not_chosen": "a seat and guidance were free; the solver did not use them (not optimal)",
    "option_not_opened": "every eligible option stayed closed: too few people for its "
                         "min_participants",
}
FILTER_WORDS = {
    "language": "Dutch level below the minimum",
    "hours": "too few hours available",
    "travel": "too far to travel",
    "guidance": "needs more guidance than the organisation can give",
}


def component_texts(inst: Instance, edges: EdgeTable) -> dict[str, np.ndarray]:
    """One short phrase per component for each edge."""
    c, o = inst.candidates, inst.options
    cand, opt = edges.cand, edges.opt
    sector = o["sector"].to_numpy()[opt].astype(str)
    rank = sector_rank(inst, cand, opt)
    wish = np.where(rank > 0, "sector wish #" + rank.astype(str) + " (" + sector + ")",
                    "sector not among wishes (" + sector + ")")
    h = c["hours_available"].to_numpy()[cand]
    lo, hi = o["hours_min"].to_numpy()[opt], o["hours_max"].to_numpy()[opt]
    hours = ("available " + _num(h) + " h/week, option " + _num(lo) + "-" + _num(hi) + " h")
    travel = (_num(np.round(edges.distance_km, 1)) + " km of max "
              + _num(c["max_travel_km"].to_numpy()[cand]) + " km")
    lang = ("Dutch " + c["dutch_level"].to_numpy()[cand].astype(str) + ", minimum "
            + o["min_dutch_level"].to_numpy()[opt].astype(str))
    skills = "skills fit " + np.round(edges.components["skills"] * 100).astype(int).astype(str) + "%"
    return {"skills": skills, "sector": wish, "hours": hours, "travel": travel, "language": lang}


def _num(x: np.ndarray) -> np.ndarray:
    return np.char.mod("%g", np.asarray(x, dtype=float)).astype(object)


def main_reasons(inst: Instance, edges: EdgeTable, policy: Policy) -> tuple[np.ndarray, np.ndarray]:
    """(main reason, all reasons) per edge: the main one is the largest weighted component."""
    texts = component_texts(inst, edges)
    weights = policy.weights.as_dict()
    contrib = np.column_stack([weights[k] * edges.components[k] for k in COMPONENTS])
    top = np.argmax(contrib, axis=1) if len(edges) else np.zeros(0, dtype=int)
    table = np.column_stack([texts[k].astype(object) for k in COMPONENTS]) if len(edges) else \
        np.zeros((0, len(COMPONENTS)), dtype=object)
    main = table[np.arange(len(edges)), top].astype(object)
    locked = edges.decision == LOCK
    main[locked] = "locked by a coordinator"
    off_rules = ~edges.eligible
    main[off_rules] = "locked by a coordinator outside the hard rules"
    everything = np.zeros(0, dtype=object)
    if len(edges):  # "; ".join per row, as whole object-array additions (no Python row loop)
        everything = table[:, 0].copy()
        for j in range(1, table.shape[1]):
            everything = everything + "; " + table[:, j]
    return main, everything


def unmatched_reasons(
    inst: Instance,
    edges: EdgeTable,
    usable: np.ndarray,
    chosen: np.ndarray,
    chain: ChainUse | None = None,
) -> pd.DataFrame:
    """candidate_id, reason, detail, eligible_options for every candidate without a match.

    `usable` marks the edges given to the solver (forbidden ones excluded); `chosen` the
    selected edges among all of `edges`. `chain` (a round with chain inputs): what the answer
    uses, routes' reserved places included, and which options did not run.
    """
    n_c = inst.n_candidates
    matched = np.zeros(n_c, dtype=bool)
    matched[edges.cand[chosen]] = True
    n_eligible = np.bincount(edges.cand[edges.eligible], minlength=n_c)
    n_usable = np.bincount(edges.cand[usable], minlength=n_c)
    seats_used = np.bincount(edges.opt[chosen], minlength=inst.n_options)
    org = inst.options["org"].to_numpy()
    need = inst.candidates["guidance_need"].to_numpy()
    g_used = np.bincount(org[edges.opt[chosen]], weights=need[edges.cand[chosen]],
                         minlength=inst.n_organisations)
    if chain is not None:
        seats_used, g_used = chain.seats_used, chain.guidance_used
    seats_free = inst.options["capacity"].to_numpy() - seats_used
    g_free = inst.organisations["guidance_capacity"].to_numpy() - g_used

    e_seat = seats_free[edges.opt] > 0
    if chain is not None:  # an option without the person's hours left is as full
        e_seat &= chain.hours_fit
    e_guid = need[edges.cand] <= g_free[org[edges.opt]]
    open_seat_no_guidance = np.bincount(edges.cand[usable & e_seat & ~e_guid], minlength=n_c)
    open_both = np.bincount(edges.cand[usable & e_seat & e_guid], minlength=n_c)

    idx = np.flatnonzero(~matched)
    reason = np.full(len(idx), "outcompeted_for_capacity", dtype=object)
    detail = np.full(len(idx), "", dtype=object)
    detail[:] = ("all " + n_usable[idx].astype(str) + " eligible options were full")

    gx = open_seat_no_guidance[idx] > 0
    reason[gx] = "guidance_capacity_exhausted"
    detail[gx] = (open_seat_no_guidance[idx][gx].astype(str)
                  + " eligible options had a free seat, but their organisations' guidance "
                  "capacity was used up")
    nc = open_both[idx] > 0
    reason[nc] = "not_chosen"
    detail[nc] = UNMATCHED_REASONS["not_chosen"]
    fb = (n_usable[idx] == 0) & (n_eligible[idx] > 0)
    reason[fb] = "forbidden"
    detail[fb] = ("all " + n_eligible[idx][fb].astype(str)
                  + " eligible options forbidden by a coordinator")
    if chain is not None:
        n_closed = np.bincount(edges.cand[usable & ~chain.opened[edges.opt]], minlength=n_c)
        closed = (n_usable[idx] > 0) & (n_closed[idx] == n_usable[idx])
        reason[closed] = "option_not_opened"
        detail[closed] = ("all " + n_usable[idx][closed].astype(str) + " eligible options did "
                          "not reach their min_participants and did not run")
    ne = n_eligible[idx] == 0
    reason[ne] = "no_eligible_option"
    if ne.any():
        counts = failure_counts(inst, idx[ne])
        mat = np.column_stack([counts[f] for f in FILTERS])
        worst = np.argmax(mat, axis=1)
        worst_n = mat[np.arange(len(worst)), worst]
        names = np.array(FILTERS, dtype=object)[worst]
        words = np.array([FILTER_WORDS[f] for f in FILTERS], dtype=object)[worst]
        detail[ne] = (names + ": " + words + " for " + worst_n.astype(str) + " of "
                      + str(inst.n_options) + " options")
    return pd.DataFrame({
        "candidate_id": inst.candidates["candidate_id"].to_numpy()[idx],
        "reason": reason,
        "detail": detail,
        "eligible_options": n_eligible[idx],
    })
