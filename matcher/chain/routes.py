"""Route edges: every (person, programme P, place Q) a round may choose, with its exact weight.

A route is eligible when the person's pair with P is one the round may choose (it passes the
four hard rules and is not forbidden) and the person passes the four hard rules at Q with their
Dutch raised by P's ``language_gain`` (the *exit level*, capped at C2), neither pair is
forbidden and the route itself is not forbidden. A locked route is kept whatever the rules say
(the coordinator decides; the round warns).

Its weight, in micro-units like every pair's, is
``weight(person, P) + place_share * score(person, Q at the exit level) + guarantee_bonus``
(policy ``[chain]``; see ``default.toml`` for why the added part stays below ``match_bonus``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from matcher.chain.data import TOP_LEVEL
from matcher.model import Instance
from matcher.policy import Policy
from matcher.scoring.eligibility import distances_km, filter_failures, is_eligible
from matcher.scoring.ranking import LOCK, SCALE, score_pairs
from matcher.scoring.table import EdgeTable
from matcher.solver.problem import AssignmentProblem


@dataclass(frozen=True)
class RouteEdges:
    """Whole arrays over route edges, sorted by (candidate, programme, place)."""

    cand: np.ndarray  # int32 row in inst.candidates
    prog: np.ndarray  # int32 row in inst.options (the programme)
    place: np.ndarray  # int32 row in inst.options (the follow-on place)
    route: np.ndarray  # int32 row in inst.routes
    pair: np.ndarray  # int64 position of (cand, prog) among the problem's edges
    exit_level: np.ndarray  # int8 Dutch level rank at the place
    distance_km: np.ndarray  # to the place
    components: dict[str, np.ndarray]  # the place's score components at the exit level
    place_score_micro: np.ndarray  # int64
    programme_weight_int: np.ndarray  # int64, the pair (cand, prog)'s weight
    place_term_int: np.ndarray  # int64, place_share * place score
    guarantee_int: int
    eligible: np.ndarray  # False only for a locked route outside the rules
    locked: np.ndarray  # bool

    @property
    def weight_int(self) -> np.ndarray:
        return self.programme_weight_int + self.place_term_int + self.guarantee_int

    def __len__(self) -> int:
        return len(self.cand)


def option_hours(inst: Instance, cand: np.ndarray, opt: np.ndarray) -> np.ndarray:
    """Weekly hours a person takes of an option's ``capacity_hours``:
    ``min(hours_available, hours_max)``."""
    return np.minimum(inst.candidates["hours_available"].to_numpy()[cand],
                      inst.options["hours_max"].to_numpy()[opt])


def _pair_keys(inst: Instance, kind: str) -> np.ndarray:
    dec = inst.decisions[inst.decisions["decision"] == kind]
    return np.sort(dec["cand"].to_numpy(np.int64) * inst.n_options + dec["opt"].to_numpy(np.int64))


def _route_keys(inst: Instance, kind: str) -> np.ndarray:
    rd = inst.route_decisions[inst.route_decisions["decision"] == kind]
    n = inst.n_options
    return np.sort((rd["cand"].to_numpy(np.int64) * n + rd["opt"].to_numpy(np.int64)) * n
                   + rd["next"].to_numpy(np.int64))


def _candidates_on_routes(inst: Instance, problem: AssignmentProblem
                          ) -> tuple[np.ndarray, np.ndarray]:
    """(problem edge positions, route rows): every route edge whose programme pair exists."""
    order = np.argsort(problem.opt, kind="stable")
    sorted_opt = problem.opt[order]
    prog = inst.routes["prog"].to_numpy(np.int64)
    lo = np.searchsorted(sorted_opt, prog, side="left")
    hi = np.searchsorted(sorted_opt, prog, side="right")
    count = hi - lo
    route = np.repeat(np.arange(len(prog)), count)
    within = np.arange(len(route)) - np.repeat(np.cumsum(count) - count, count)
    return order[np.repeat(lo, count) + within].astype(np.int64), route


def _place_scores(inst: Instance, policy: Policy, cand: np.ndarray, place: np.ndarray,
                  exit_level: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray,
                                                   np.ndarray]:
    """(distance, components, score, passes the hard rules) at the place, at the exit level."""
    dist = distances_km(inst, cand, place)
    n = len(cand)
    comps: dict[str, np.ndarray] = {}
    score = np.zeros(n)
    ok = np.zeros(n, dtype=bool)
    level = inst.candidates["level"].to_numpy()
    for lvl in np.unique(exit_level):
        at = np.flatnonzero(exit_level == lvl)
        raised = level.copy()
        raised[cand[at]] = lvl
        # Only the language rule and component read the level: an instance whose candidates
        # hold the exit level scores the place as the person will meet it.
        exit_inst = replace(inst, candidates=inst.candidates.assign(level=raised))
        ok[at] = is_eligible(filter_failures(exit_inst, cand[at], place[at], dist[at]))
        c, s = score_pairs(exit_inst, cand[at], place[at], dist[at], policy)
        for name, v in c.items():
            comps.setdefault(name, np.zeros(n))[at] = v
        score[at] = s
    return dist, comps, score, ok


def build_route_edges(inst: Instance, policy: Policy, edges: EdgeTable, usable: np.ndarray,
                      problem: AssignmentProblem) -> RouteEdges:
    """Every eligible (or locked) route edge of the round."""
    pair, route = _candidates_on_routes(inst, problem)
    cand = problem.cand[pair]
    prog = inst.routes["prog"].to_numpy(np.int32)[route]
    place = inst.routes["place"].to_numpy(np.int32)[route]
    n = inst.n_options
    key = (cand.astype(np.int64) * n + prog) * n + place
    locked = np.isin(key, _route_keys(inst, "lock"))
    gain = inst.options["language_gain"].to_numpy() if "language_gain" in inst.options else (
        np.zeros(n, dtype=np.int64))
    exit_level = np.minimum(inst.candidates["level"].to_numpy()[cand].astype(np.int64)
                            + gain[prog], TOP_LEVEL).astype(np.int8)
    dist, comps, score, ok = _place_scores(inst, policy, cand, place, exit_level)
    ok &= edges.eligible[np.flatnonzero(usable)[pair]]
    ok &= ~np.isin(cand.astype(np.int64) * n + place, _pair_keys(inst, "forbid"))
    keep = (ok & ~np.isin(key, _route_keys(inst, "forbid"))) | locked
    order = np.flatnonzero(keep)[np.argsort(key[keep], kind="stable")]
    score_micro = np.rint(score[order] * SCALE).astype(np.int64)
    return RouteEdges(
        cand=cand[order].astype(np.int32), prog=prog[order], place=place[order],
        route=route[order].astype(np.int32), pair=pair[order], exit_level=exit_level[order],
        distance_km=dist[order], components={k: v[order] for k, v in comps.items()},
        place_score_micro=score_micro,
        programme_weight_int=problem.weight[pair[order]].astype(np.int64),
        place_term_int=np.rint(policy.chain.place_share * score_micro).astype(np.int64),
        guarantee_int=round(policy.chain.guarantee_bonus * SCALE),
        eligible=ok[order], locked=locked[order])


__all__ = ["LOCK", "RouteEdges", "build_route_edges", "option_hours"]
