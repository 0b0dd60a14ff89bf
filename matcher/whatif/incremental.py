"""Reuse the baseline's scored pairs for a scenario: rescore only what an edit touched.

A pair's eligibility and score depend only on its candidate's and its option's scoring inputs
(and on the option's organisation's guidance capacity through the ``guidance`` rule, and on the
scoring policy). So when a scenario changes capacities, budgets, decisions, or removes rows, the
baseline's pairs are carried over by id; pairs of added or changed candidates and options are
scored afresh; any change to the scoring policy rescores everything. The result is exactly what
`matcher.scoring.build_edges` returns for the edited instance (tested).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from matcher.model import Instance
from matcher.policy import Policy
from matcher.scoring import EdgeTable, build_edges
from matcher.scoring.eligibility import distances_km, filter_failures, is_eligible
from matcher.scoring.table import FORBID, LOCK, score_pairs

log = logging.getLogger(__name__)

OPTION_KEYS = ("sector", "hours_min", "hours_max", "level", "skills", "lat", "lon")
CANDIDATE_KEYS = ("skills", "sectors", "hours_available", "level", "guidance_need",
                  "max_travel_km", "lat", "lon")
MAX_NEED = 3
#: Above this many pairs to rescore (or this share of all rows), score from scratch instead.
MAX_RESCORE_PAIRS = 5_000_000


def scoring_policy(policy: Policy) -> dict:
    """The parts of a policy that affect scores and weights (everything but the solver)."""
    data = policy.model_dump(mode="json")
    data.pop("solver", None)
    return data


def _option_key(inst: Instance) -> pd.DataFrame:
    o = inst.options
    key = o[list(OPTION_KEYS)].copy()
    budget = inst.organisations["guidance_capacity"].to_numpy()[o["org"].to_numpy()]
    key["gate"] = np.minimum(budget, MAX_NEED)
    key.index = o["option_id"].to_numpy()
    return key


def _candidate_key(inst: Instance) -> pd.DataFrame:
    c = inst.candidates
    key = c[list(CANDIDATE_KEYS)].copy()
    key.index = c["candidate_id"].to_numpy()
    return key


def _dirty(old: pd.DataFrame, new: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(old row -> new row or -1, new rows that are added or changed)."""
    to_new = pd.Index(new.index).get_indexer(old.index)
    kept = to_new >= 0
    dirty = np.ones(len(new), dtype=bool)
    if kept.any():
        a = old.iloc[np.flatnonzero(kept)].reset_index(drop=True)
        b = new.iloc[to_new[kept]].reset_index(drop=True)
        same = np.ones(len(a), dtype=bool)
        for col in new.columns:
            same &= a[col].to_numpy() == b[col].to_numpy()
        dirty[to_new[kept]] = ~same
    return to_new, dirty


def derive_edges(
    old_inst: Instance, old_edges: EdgeTable, old_policy: Policy, inst: Instance, policy: Policy
) -> tuple[EdgeTable, dict[str, int]]:
    """The edited instance's edge table, reusing the baseline's where inputs did not change.

    Returns (edges, stats) with stats reused_pairs, rescored_pairs and full_rescore (0/1).
    """
    if scoring_policy(old_policy) != scoring_policy(policy):
        edges = build_edges(inst, policy)
        return edges, {"reused_pairs": 0, "rescored_pairs": len(edges), "full_rescore": 1}
    opt_map, opt_dirty = _dirty(_option_key(old_inst), _option_key(inst))
    cand_map, cand_dirty = _dirty(_candidate_key(old_inst), _candidate_key(inst))
    d_opt, d_cand = np.flatnonzero(opt_dirty), np.flatnonzero(cand_dirty)
    same_rows = (len(opt_map) == inst.n_options and len(cand_map) == inst.n_candidates
                 and bool((opt_map == np.arange(inst.n_options)).all())
                 and bool((cand_map == np.arange(inst.n_candidates)).all()))
    if same_rows and not len(d_opt) and not len(d_cand) and old_inst.decisions[
            ["candidate_id", "option_id", "decision"]].equals(
            inst.decisions[["candidate_id", "option_id", "decision"]]):
        return old_edges, {"reused_pairs": len(old_edges), "rescored_pairs": 0, "full_rescore": 0}
    n_rescore = len(d_opt) * inst.n_candidates + len(d_cand) * inst.n_options
    if n_rescore > MAX_RESCORE_PAIRS:
        edges = build_edges(inst, policy)
        return edges, {"reused_pairs": 0, "rescored_pairs": len(edges), "full_rescore": 1}

    keep = old_edges.eligible.copy()
    c_new = cand_map[old_edges.cand]
    o_new = opt_map[old_edges.opt]
    keep &= (c_new >= 0) & (o_new >= 0)
    keep[keep] &= ~cand_dirty[c_new[keep]] & ~opt_dirty[o_new[keep]]
    idx = np.flatnonzero(keep)
    cand = c_new[idx].astype(np.int32)
    opt = o_new[idx].astype(np.int32)
    dist = old_edges.distance_km[idx]
    comps = {k: v[idx] for k, v in old_edges.components.items()}
    score = old_edges.score_at(idx)

    # Fresh pairs: every candidate with a dirty option, every option with a dirty candidate.
    clean_cand = np.flatnonzero(~cand_dirty)
    fc = np.concatenate([np.repeat(clean_cand, len(d_opt)), np.repeat(d_cand, inst.n_options)])
    fo = np.concatenate([np.tile(d_opt, len(clean_cand)),
                         np.tile(np.arange(inst.n_options), len(d_cand))])
    n_fresh_checked = len(fc)
    if len(fc):
        fd = distances_km(inst, fc, fo)
        ok = is_eligible(filter_failures(inst, fc, fo, fd))
        fc, fo, fd = fc[ok].astype(np.int32), fo[ok].astype(np.int32), fd[ok]
        f_comps, f_score = score_pairs(inst, fc, fo, fd, policy)
        cand = np.concatenate([cand, fc])
        opt = np.concatenate([opt, fo])
        dist = np.concatenate([dist, fd])
        comps = {k: np.concatenate([comps[k], f_comps[k]]) for k in comps}
        score = np.concatenate([score, f_score])
    order = np.lexsort((opt, cand))
    cand, opt, dist, score = cand[order], opt[order], dist[order], score[order]
    comps = {k: v[order] for k, v in comps.items()}
    edges = _with_decisions(inst, policy, cand, opt, dist, comps, score)
    stats = {"reused_pairs": len(idx), "rescored_pairs": int(n_fresh_checked), "full_rescore": 0}
    log.debug("derive_edges: %s", stats)
    return edges, stats


def _with_decisions(
    inst: Instance, policy: Policy, cand: np.ndarray, opt: np.ndarray, dist: np.ndarray,
    comps: dict[str, np.ndarray], score: np.ndarray,
) -> EdgeTable:
    """Mark locks and forbids, add locks outside the rules (as `build_edges` does), and weigh."""
    eligible = np.ones(len(cand), dtype=bool)
    decision = np.zeros(len(cand), dtype=np.int8)
    dec = inst.decisions
    if len(dec):
        key = cand.astype(np.int64) * inst.n_options + opt
        dkey = dec["cand"].to_numpy(np.int64) * inst.n_options + dec["opt"].to_numpy(np.int64)
        dkind = np.where(dec["decision"].to_numpy() == "lock", LOCK, FORBID).astype(np.int8)
        pos = np.searchsorted(key, dkey)
        found = (pos < len(key)) & (key[np.minimum(pos, max(len(key) - 1, 0))] == dkey)
        decision[pos[found]] = dkind[found]
        outside = ~found & (dkind == LOCK)
        if outside.any():
            oc = dec["cand"].to_numpy()[outside].astype(np.int32)
            oo = dec["opt"].to_numpy()[outside].astype(np.int32)
            od = distances_km(inst, oc, oo)
            o_comps, o_score = score_pairs(inst, oc, oo, od, policy)
            cand = np.concatenate([cand, oc])
            opt = np.concatenate([opt, oo])
            dist = np.concatenate([dist, od])
            comps = {k: np.concatenate([comps[k], o_comps[k]]) for k in comps}
            score = np.concatenate([score, o_score])
            eligible = np.concatenate([eligible, np.zeros(len(oc), dtype=bool)])
            decision = np.concatenate([decision, np.full(len(oc), LOCK, dtype=np.int8)])
            order = np.lexsort((opt, cand))
            cand, opt, dist, score = cand[order], opt[order], dist[order], score[order]
            comps = {k: v[order] for k, v in comps.items()}
            eligible, decision = eligible[order], decision[order]
    return EdgeTable.scored(
        cand=cand, opt=opt, distance_km=dist, components=comps, score=score,
        match_bonus=policy.objective.match_bonus, eligible=eligible, decision=decision,
    )


def without_decisions(edges: EdgeTable, keep: np.ndarray | None = None) -> EdgeTable:
    """The same pairs with every coordinator decision lifted, except where `keep` (bool) is True."""
    decision = np.zeros_like(edges.decision) if keep is None else np.where(
        keep, edges.decision, 0).astype(edges.decision.dtype)
    return EdgeTable(
        cand=edges.cand, opt=edges.opt, distance_km=edges.distance_km,
        components=edges.components, score_micro=edges.score_micro, weight_int=edges.weight_int,
        eligible=edges.eligible, decision=decision, extra=edges.extra,
    )
