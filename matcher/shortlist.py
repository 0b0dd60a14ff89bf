"""Shortlists: the best eligible candidates for one option, with scores and reasons."""

from __future__ import annotations

import numpy as np
import pandas as pd

from matcher.errors import InputError, Problem
from matcher.explain import main_reasons
from matcher.model import Instance
from matcher.policy import Policy
from matcher.scoring.components import COMPONENTS
from matcher.scoring.eligibility import distances_km, filter_failures, is_eligible
from matcher.scoring.table import LOCK, EdgeTable, score_pairs


def option_index(inst: Instance, option_id: str) -> int:
    pos = pd.Index(inst.options["option_id"]).get_indexer([option_id])[0]
    if pos < 0:
        raise InputError([Problem("options.csv", None, "option_id",
                                  f"unknown option {option_id!r}")])
    return int(pos)


def option_edges(inst: Instance, policy: Policy, opt: int,
                 candidates: np.ndarray | None = None) -> EdgeTable:
    """Every eligible, not forbidden pair of one option (among `candidates`, default all)."""
    cand = np.arange(inst.n_candidates) if candidates is None else np.asarray(candidates)
    opts = np.full(len(cand), opt)
    dist = distances_km(inst, cand, opts)
    ok = is_eligible(filter_failures(inst, cand, opts, dist))
    dec = inst.decisions
    forbidden = dec.loc[(dec["opt"] == opt) & (dec["decision"] == "forbid"), "cand"].to_numpy()
    ok &= ~np.isin(cand, forbidden)
    cand, opts, dist = cand[ok], opts[ok], dist[ok]
    comps, score = score_pairs(inst, cand, opts, dist, policy)
    locked_here = np.isin(cand, dec.loc[(dec["opt"] == opt) & (dec["decision"] == "lock"),
                                        "cand"].to_numpy())
    return EdgeTable.scored(
        cand=cand.astype(np.int32), opt=opts.astype(np.int32), distance_km=dist,
        components=comps, score=score, match_bonus=policy.objective.match_bonus,
        eligible=np.ones(len(cand), bool), decision=np.where(locked_here, LOCK, 0).astype(np.int8),
    )


def shortlist(inst: Instance, policy: Policy, option_id: str, k: int = 10) -> pd.DataFrame:
    """Top-k eligible candidates for an option by score (ties by candidate id).

    Candidates a coordinator locked to another option are left out: they are committed.
    """
    opt = option_index(inst, option_id)
    locks = inst.locks()
    committed = locks.loc[locks["opt"] != opt, "cand"].to_numpy()
    edges = option_edges(inst, policy, opt)
    keep = ~np.isin(edges.cand, committed)
    edges = edges.take(np.flatnonzero(keep))
    order = np.lexsort((edges.cand, -edges.score))[:k]
    top = edges.take(order)
    main, reasons = main_reasons(inst, top, policy)
    out = pd.DataFrame({
        "rank": np.arange(1, len(top) + 1),
        "candidate_id": inst.candidates["candidate_id"].to_numpy()[top.cand],
        "score": top.score,
    })
    for name in COMPONENTS:
        out[name] = np.round(top.components[name], 3)
    out["main_reason"] = main
    out["reasons"] = reasons
    return out
