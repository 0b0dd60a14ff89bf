"""The price of coordinators' decisions: what locks and forbids cost, each and together.

Against the *unconstrained* round: the same scored pairs with every decision lifted (a lock
outside the hard rules stays as an ordinary, optional pair, so lifting decisions only removes
constraints). Then the objective can only fall when decisions are added back, and the price is
``objective(unconstrained) - objective(with decisions)`` >= 0 whenever the solves are exact.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from matcher.round import Round, solve_round
from matcher.scoring import SCALE
from matcher.scoring.table import DECISION_NAMES
from matcher.solver import Status
from matcher.whatif import words as W
from matcher.whatif.engine import BY_REGION, Progress
from matcher.whatif.incremental import without_decisions


def _placed(rnd: Round) -> np.ndarray:
    out = np.zeros(rnd.instance.n_candidates, dtype=bool)
    out[rnd.edges.cand[rnd.chosen]] = True
    return out


def _price(free: Round, rnd: Round) -> dict:
    ids = rnd.instance.candidates["candidate_id"].to_numpy()
    lost = _placed(free) & ~_placed(rnd)
    return {
        "objective_lost": round((free.result.objective - rnd.result.objective) / SCALE, 6),
        "placements_lost": int(free.chosen.sum() - rnd.chosen.sum()),
        "unplaced_because": [str(x) for x in ids[lost]],
        "exact": free.result.status is Status.OPTIMAL and rnd.result.status is Status.OPTIMAL,
    }


def price_of_decisions(rnd: Round, max_each: int = 50,
                       progress: Progress | None = None) -> dict:
    """{'unconstrained': {...}, 'together': {...}, 'each': DataFrame, 'note': str}."""
    inst, policy, edges = rnd.instance, rnd.policy, rnd.edges
    free = solve_round(inst, policy, without_decisions(edges), prev=rnd,
                       regions=BY_REGION)
    together = _price(free, rnd)
    dec_edges = np.flatnonzero(edges.decision != 0)
    note: W.Note = []
    if len(dec_edges) > max_each:
        note = [[W.NOTE_DECISIONS, {"n": len(dec_edges), "max_each": max_each}]]
        dec_edges = dec_edges[:max_each]
    rows = []
    cids = inst.candidates["candidate_id"].to_numpy()
    oids = inst.options["option_id"].to_numpy()
    for k, e in enumerate(dec_edges.tolist()):
        if progress:
            progress(k, len(dec_edges), f"{cids[edges.cand[e]]} {oids[edges.opt[e]]}")
        keep = np.zeros(len(edges), dtype=bool)
        keep[e] = True
        one = solve_round(inst, policy, without_decisions(edges, keep), regions=BY_REGION)
        p = _price(free, one)
        rows.append({"candidate_id": cids[edges.cand[e]], "option_id": oids[edges.opt[e]],
                     "decision": DECISION_NAMES[edges.decision[e]],
                     "objective_lost": p["objective_lost"],
                     "placements_lost": p["placements_lost"],
                     "unplaced_because": ";".join(p["unplaced_because"]), "exact": p["exact"]})
    if progress:
        progress(len(dec_edges), len(dec_edges), "done")
    each = pd.DataFrame(rows, columns=["candidate_id", "option_id", "decision", "objective_lost",
                                       "placements_lost", "unplaced_because", "exact"])
    return {
        "unconstrained": {"objective": free.result.objective / SCALE,
                          "matched": int(free.chosen.sum()), "status": str(free.result.status)},
        "with_decisions": {"objective": rnd.result.objective / SCALE,
                           "matched": int(rnd.chosen.sum()), "status": str(rnd.result.status)},
        "together": together,
        "each": each,
        "note": W.note_text(note, translate=False),
        "note_parts": note,
    }
