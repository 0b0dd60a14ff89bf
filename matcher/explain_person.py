"""Explanations per person: why this match, the best option not chosen and why, and what would help.

Whole-array functions over a finished :class:`~matcher.round.Round`:

- :func:`alternatives`: for every candidate, the best eligible option they did not get and why
  (``full``: its seats went to others in the joint plan; ``outcompeted``: its seats went to
  people it fits better; ``guidance``: a seat was free but not the job-coach time;
  ``lower_score``: it fits less well than the match; ``not_chosen``: free but unused);
- :func:`counterfactuals`: for any candidates, how many options one change would open
  (one Dutch level higher, more hours, more travel, less guidance), by the same hard rules
  (:func:`matcher.scoring.eligibility.filter_failures` on a changed copy of the instance);
- :func:`explain_candidate`: everything about one person, as plain data;
  :mod:`matcher.explain_words` turns it into sentences.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd

from matcher.chain.explain import route_of
from matcher.errors import InputError, Problem
from matcher.explain import component_texts
from matcher.levels import CEFR
from matcher.model import Instance
from matcher.round import Round
from matcher.scoring.components import COMPONENTS, sector_rank
from matcher.scoring.eligibility import FILTERS, distances_km, filter_failures, is_eligible
from matcher.scoring.table import LOCK

#: Why the best option a person did not get went elsewhere.
ALTERNATIVE_REASONS = {
    "outcompeted": "its places went to people it fits better",
    "full": "its places went to other people; the plan as a whole places more people or fits "
            "better that way",
    "guidance": "it had a free place, but not enough job-coach time at the organisation",
    "lower_score": "it fits less well than the match",
    "not_chosen": "it had a free place and job-coach time, but was not used",
}
#: (rule, change) pairs tried as counterfactuals: what one change to the person would open.
CHANGES: tuple[tuple[str, float], ...] = (
    ("language", 1), ("language", 2), ("hours", 4), ("hours", 8), ("travel", 5), ("travel", 10),
    ("guidance", -1),
)
_COLUMN = {"language": "level", "hours": "hours_available", "travel": "max_travel_km",
           "guidance": "guidance_need"}
_PAIRS_PER_CHUNK = 2_000_000


def round_state(rnd: Round) -> dict[str, np.ndarray]:
    """Per candidate and option/organisation: who got what, free seats and free guidance."""
    inst, e, chosen = rnd.instance, rnd.edges, rnd.chosen
    need = inst.candidates["guidance_need"].to_numpy()
    org = inst.options["org"].to_numpy()
    match = np.full(inst.n_candidates, -1, dtype=np.int64)
    match[e.cand[chosen]] = np.flatnonzero(chosen)
    seats_used = np.bincount(e.opt[chosen], minlength=inst.n_options)
    g_used = np.bincount(org[e.opt[chosen]], weights=need[e.cand[chosen]],
                         minlength=inst.n_organisations)
    holder_min = np.full(inst.n_options, np.inf)
    np.minimum.at(holder_min, e.opt[chosen], e.score_at(chosen))
    return {
        "match_edge": match,
        "seats_free": inst.options["capacity"].to_numpy() - seats_used,
        "guidance_free": inst.organisations["guidance_capacity"].to_numpy() - g_used,
        "holder_min_score": holder_min,
    }


def alternatives(rnd: Round) -> pd.DataFrame:
    """For every candidate: the best usable option not given to them (by score), and why."""
    inst, e = rnd.instance, rnd.edges
    st = round_state(rnd)
    need = inst.candidates["guidance_need"].to_numpy()
    org = inst.options["org"].to_numpy()
    idx = np.flatnonzero(rnd.usable & ~rnd.chosen)
    cand, opt, score = e.cand[idx], e.opt[idx], e.score_at(idx)
    match = st["match_edge"][cand]
    matched = match >= 0
    m_opt = np.where(matched, e.opt[np.maximum(match, 0)], -1)
    m_score = np.where(matched, e.score_at(np.maximum(match, 0)), -1.0)
    same_org = matched & (org[np.maximum(m_opt, 0)] == org[opt])
    g_free = st["guidance_free"][org[opt]] + np.where(same_org, need[cand], 0)
    full = st["seats_free"][opt] <= 0
    reason = np.where(
        full, np.where(st["holder_min_score"][opt] > score, "outcompeted", "full"),
        np.where(need[cand] > g_free, "guidance",
                 np.where(matched & (score <= m_score), "lower_score", "not_chosen"))).astype(object)
    order = np.lexsort((opt, -score, cand))
    first = order[np.r_[True, cand[order][1:] != cand[order][:-1]]] if len(order) else order
    out = pd.DataFrame({"candidate_id": inst.candidates["candidate_id"].to_numpy(),
                        "alternative_option_id": "", "alternative_score": np.nan,
                        "alternative_reason": ""})
    c = cand[first]
    out.loc[c, "alternative_option_id"] = inst.options["option_id"].to_numpy()[opt[first]]
    out.loc[c, "alternative_score"] = score[first]
    out.loc[c, "alternative_reason"] = reason[first]
    return out


def _changed(inst: Instance, rule: str, delta: float) -> Instance:
    col = _COLUMN[rule]
    values = inst.candidates[col].to_numpy()
    new = np.maximum(values + delta, 0).astype(values.dtype)
    return dataclasses.replace(inst, candidates=inst.candidates.assign(**{col: new}))


def counterfactuals(inst: Instance, cand: np.ndarray,
                    seats_free: np.ndarray | None = None) -> pd.DataFrame:
    """Options each change in :data:`CHANGES` would open for each given candidate.

    Columns: candidate_id, rule, change, opens (options newly passing every hard rule),
    opens_free (of those, with a free seat in the round, when `seats_free` is given).
    Dense over options in chunks of candidates (bounded memory at any size).
    """
    cand = np.asarray(cand, dtype=np.int64)
    n_opt = inst.n_options
    changed = [_changed(inst, rule, d) for rule, d in CHANGES]
    opens = np.zeros((len(CHANGES), len(cand)), dtype=np.int64)
    opens_free = np.zeros_like(opens)
    step = max(1, _PAIRS_PER_CHUNK // max(n_opt, 1))
    for s in range(0, len(cand), step):
        block = cand[s:s + step]
        cc, oo = np.repeat(block, n_opt), np.tile(np.arange(n_opt), len(block))
        dist = distances_km(inst, cc, oo)
        now = is_eligible(filter_failures(inst, cc, oo, dist))
        free = np.ones(len(oo), bool) if seats_free is None else seats_free[oo] > 0
        for k, alt in enumerate(changed):
            new = is_eligible(filter_failures(alt, cc, oo, dist)) & ~now
            opens[k, s:s + step] = new.reshape(-1, n_opt).sum(axis=1)
            opens_free[k, s:s + step] = (new & free).reshape(-1, n_opt).sum(axis=1)
    ids = inst.candidates["candidate_id"].to_numpy()[cand]
    return pd.DataFrame({
        "candidate_id": np.tile(ids, len(CHANGES)),
        "rule": np.repeat([r for r, _ in CHANGES], len(cand)),
        "change": np.repeat([d for _, d in CHANGES], len(cand)),
        "opens": opens.ravel(),
        "opens_free": opens_free.ravel(),
    })


def candidate_index(inst: Instance, candidate_id: str) -> int:
    pos = pd.Index(inst.candidates["candidate_id"]).get_indexer([candidate_id])[0]
    if pos < 0:
        raise InputError([Problem("candidates.csv", None, "candidate_id",
                                  f"unknown candidate {candidate_id!r}")])
    return int(pos)


def _option(inst: Instance, o: int) -> dict[str, Any]:
    opts = inst.options
    name = str(opts["name"].iat[o]) if "name" in opts.columns else ""
    org = int(opts["org"].iat[o])
    return {"option_id": str(opts["option_id"].iat[o]), "name": name or str(opts["option_id"].iat[o]),
            "kind": str(opts["kind"].iat[o]), "sector": str(opts["sector"].iat[o]),
            "organisation_id": str(opts["organisation_id"].iat[o]),
            "organisation": str(inst.organisations["name"].iat[org])}


def _filters(inst: Instance, c: int, o: int) -> list[dict[str, Any]]:
    """The four hard rules for one pair, with the values compared."""
    cand, opt = np.array([c]), np.array([o])
    fails = filter_failures(inst, cand, opt)
    ca, op = inst.candidates, inst.options
    budget = int(inst.organisations["guidance_capacity"].iat[int(op["org"].iat[o])])
    values = {
        "language": (str(ca["dutch_level"].iat[c]), str(op["min_dutch_level"].iat[o])),
        "hours": (float(ca["hours_available"].iat[c]), float(op["hours_min"].iat[o])),
        "travel": (round(float(distances_km(inst, cand, opt)[0]), 1),
                   float(ca["max_travel_km"].iat[c])),
        "guidance": (int(ca["guidance_need"].iat[c]), budget),
    }
    return [{"rule": f, "person": values[f][0], "option": values[f][1],
             "passed": not bool(fails[f][0])} for f in FILTERS]


def explain_candidate(rnd: Round, candidate_id: str) -> dict[str, Any]:
    """Everything the explanation of one person needs, as plain data (JSON-ready)."""
    inst, e, policy = rnd.instance, rnd.edges, rnd.policy
    c = candidate_index(inst, candidate_id)
    st = round_state(rnd)
    out: dict[str, Any] = {"candidate_id": candidate_id, "round": {
        "input_hash": inst.content_hash, "policy_hash": policy.hash}}
    n_eligible = int(e.eligible[e.cand == c].sum())
    out["eligible_options"] = n_eligible
    m = int(st["match_edge"][c])
    weights = policy.weights.as_dict()
    total_w = sum(weights.values())
    if m >= 0:
        sub = e.take(np.array([m]))
        texts = component_texts(inst, sub)
        o = int(e.opt[m])
        out["status"] = "matched"
        out["match"] = {
            **_option(inst, o), "score": float(e.score_at(m)), "locked": bool(e.decision[m] == LOCK),
            "components": [{"component": k, "value": round(float(sub.components[k][0]), 4),
                            "weight": round(weights[k] / total_w, 4),
                            "contribution": round(weights[k] * float(sub.components[k][0]) / total_w,
                                                  4),
                            "text": str(texts[k][0])} for k in COMPONENTS],
            "filters": _filters(inst, c, o),
            "hours_max": float(inst.options["hours_max"].iat[o]),
            "sector_rank": int(sector_rank(inst, np.array([c]), np.array([o]))[0]),
            "asks_skills": bool(inst.opt_skills[o].sum() > 0),
        }
    else:
        out["status"] = "unmatched"
        un = rnd.unmatched
        row = un[un["candidate_id"] == candidate_id].iloc[0]
        out["unmatched"] = {"reason": str(row["reason"]), "detail": str(row["detail"])}
        cf = counterfactuals(inst, np.array([c]), st["seats_free"])
        out["counterfactuals"] = [
            {"rule": r.rule, "change": float(r.change), "opens": int(r.opens),
             "opens_free": int(r.opens_free)} for r in cf.itertuples(index=False)]
        fails = filter_failures(inst, np.full(inst.n_options, c), np.arange(inst.n_options))
        out["options_failing"] = {f: int(fails[f].sum()) for f in FILTERS}
        out["options_total"] = inst.n_options
        out["levels"] = {"dutch_level": str(inst.candidates["dutch_level"].iat[c]),
                         "next_level": CEFR[min(int(inst.candidates["level"].iat[c]) + 1, len(CEFR) - 1)],
                         "hours_available": float(inst.candidates["hours_available"].iat[c]),
                         "max_travel_km": float(inst.candidates["max_travel_km"].iat[c]),
                         "guidance_need": int(inst.candidates["guidance_need"].iat[c])}
    alt = alternatives(rnd).iloc[c]
    if alt["alternative_option_id"]:
        o = int(pd.Index(inst.options["option_id"]).get_indexer([alt["alternative_option_id"]])[0])
        g = int(inst.options["org"].iat[o])
        own = int(inst.candidates["guidance_need"].iat[c]) if (
            m >= 0 and int(inst.options["org"].iat[int(e.opt[m])]) == g) else 0
        out["alternative"] = {**_option(inst, o), "score": float(alt["alternative_score"]),
                              "reason": str(alt["alternative_reason"]),
                              "seats": int(inst.options["capacity"].iat[o]),
                              "guidance_short": max(0, int(inst.candidates["guidance_need"].iat[c])
                                                    - int(st["guidance_free"][g]) - own)}
    dec = inst.forbids()
    out["forbidden"] = dec.loc[dec["cand"] == c, "option_id"].astype(str).tolist()
    if rnd.chain is not None and (route := route_of(inst, rnd.chain, c, rnd.date)) is not None:
        out["route"] = route
    return out


def explain_all(rnd: Round) -> pd.DataFrame:
    """One row per candidate: match or reason code, best option not chosen and why, and for
    unmatched people how many options each change in :data:`CHANGES` would open (whole arrays).
    """
    inst, e = rnd.instance, rnd.edges
    st = round_state(rnd)
    match = st["match_edge"]
    matched = match >= 0
    out = alternatives(rnd)
    out.insert(1, "status", np.where(matched, "matched", "unmatched"))
    out.insert(2, "option_id", np.where(
        matched, inst.options["option_id"].to_numpy()[e.opt[np.maximum(match, 0)]], ""))
    out.insert(3, "score", np.where(matched, e.score_at(np.maximum(match, 0)), np.nan))
    un = rnd.unmatched.set_index("candidate_id")["reason"]
    out.insert(4, "reason", out["candidate_id"].map(un).fillna("").to_numpy())
    idx = np.flatnonzero(~matched)
    cf = counterfactuals(inst, idx, st["seats_free"])
    for rule, delta in CHANGES:
        col = f"opens_{rule}_{'plus' if delta > 0 else 'minus'}_{abs(delta):g}"
        values = np.zeros(inst.n_candidates, dtype=np.int64)
        sel = (cf["rule"] == rule) & (cf["change"] == delta)
        values[idx] = cf.loc[sel, "opens"].to_numpy()
        out[col] = values
    return out
