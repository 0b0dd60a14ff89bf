"""Large chain rounds: a Lagrangian bound with prices per constraint kind, and a primal repair.

The chain model (:mod:`matcher.chain.model`) has one choice per person (nothing, one pair, one
route) and rows that couple the people: seats, route seats, hours, guidance, cohort minimums.
Here every coupling row gets a price >= 0 (micro-units per seat, per route seat, per weekly
hour, per guidance unit) and the cohort minimums are *dropped* (they only remove answers, so
the bound stays valid). What is left falls apart by person: each person takes their best
*priced* item, or nothing (a locked person must take one of the items the lock allows). So
for any prices >= 0

    bound = sum over people of their best priced item (0 if none is positive)
          + sum over rows of price * right-hand side

is an upper bound on the chain model's optimum (weak duality), in exact integer arithmetic.
The prices are improved by Polyak subgradient steps against the best primal value found; the
primal answer is a greedy repair in order of priced weight that keeps every row, then closes
the cohorts below their minimum and fills again (`repair`).

The certificate (`Relaxation.certificate`) names the priced kinds and the dropped one, with a
price per row; `matcher verify` recomputes the bound from the data and the round's pairs and
route edges alone (:mod:`matcher.chain.verify`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from numba import njit

from matcher.chain.routes import RouteEdges, option_hours
from matcher.model import Instance
from matcher.solver.problem import AssignmentProblem

log = logging.getLogger(__name__)

#: The constraint kinds priced in the relaxation, in the certificate's order.
PRICED = ("seats", "route_seats", "hours", "guidance")
#: The constraint kinds dropped from the relaxation (handled by the primal repair only).
DROPPED = ("min_participants",)


@dataclass(frozen=True)
class Items:
    """Every choice a person has, pairs then routes, as whole arrays sorted by candidate.

    Uses: option ``a`` (the pair's option, or the route's programme) and ``b`` (the route's
    place, -1 for a pair) one seat each; ``route`` one route seat (-1: none); ``hours_a`` /
    ``hours_b`` weekly hours at a and b (0 where the option has no hour limit); guidance
    ``need`` at organisation ``org_a`` and at ``org_b`` (-1 for a pair or a route within one
    organisation). Index -1 reads the zero appended to each price array."""

    cand: np.ndarray  # int64
    weight: np.ndarray  # int64 micro-units (the pair's or the route's objective weight)
    a: np.ndarray
    b: np.ndarray
    route: np.ndarray
    hours_a: np.ndarray
    hours_b: np.ndarray
    org_a: np.ndarray
    org_b: np.ndarray
    need: np.ndarray
    lock_ok: np.ndarray  # bool: an item a locked person may take
    forced: np.ndarray  # bool: must be chosen (a locked route)
    starts: np.ndarray  # int64[n_candidates + 1]: each person's items
    locked_person: np.ndarray  # bool[n_candidates]
    n_pairs: int

    def __len__(self) -> int:
        return len(self.cand)


@dataclass(frozen=True)
class Limits:
    """The right-hand sides of the priced rows (and the cohort minimums, dropped)."""

    seats: np.ndarray  # per option
    route_seats: np.ndarray  # per route (inst.routes row)
    hours: np.ndarray  # per option; -1: no hour limit (never priced)
    guidance: np.ndarray  # per organisation
    minimum: np.ndarray  # per option (0: none)

    def rhs(self, kind: str) -> np.ndarray:
        return np.maximum(getattr(self, kind), 0).astype(np.int64)


def _hours_at(inst: Instance, cand: np.ndarray, opt: np.ndarray, limit: np.ndarray) -> np.ndarray:
    out = np.zeros(len(cand), dtype=np.int64)
    ok = opt >= 0
    ok[ok] = limit[opt[ok]] >= 0
    out[ok] = option_hours(inst, cand[ok], opt[ok]).astype(np.int64)
    return out


def build_items(inst: Instance, problem: AssignmentProblem, routes: RouteEdges,
                limits: Limits, route_weight: np.ndarray) -> Items:
    """The round's pairs (`problem`) and route edges (`routes`) as one list of items."""
    n_x = problem.n_edges
    cand = np.concatenate([problem.cand, routes.cand]).astype(np.int64)
    a = np.concatenate([problem.opt, routes.prog]).astype(np.int64)
    b = np.concatenate([np.full(n_x, -1), routes.place]).astype(np.int64)
    org = problem.option_org.astype(np.int64)
    org_b = np.where(b >= 0, org[np.maximum(b, 0)], -1)
    org_b[org_b == org[a]] = -1
    lock_ok = np.concatenate([problem.locked, problem.locked[routes.pair]])
    forced = np.concatenate([np.zeros(n_x, bool), routes.locked])
    has_forced = np.zeros(problem.n_candidates, bool)
    has_forced[routes.cand[routes.locked]] = True
    lock_ok &= ~has_forced[cand] | forced  # a locked route: nothing else
    order = np.argsort(cand, kind="stable")
    locked_person = np.zeros(problem.n_candidates, bool)
    locked_person[cand[lock_ok]] = True
    parts = dict(
        cand=cand, weight=np.concatenate([problem.weight, route_weight]).astype(np.int64), a=a,
        b=b, route=np.concatenate([np.full(n_x, -1), routes.route]).astype(np.int64),
        hours_a=_hours_at(inst, cand, a, limits.hours),
        hours_b=_hours_at(inst, cand, b, limits.hours), org_a=org[a], org_b=org_b,
        need=problem.need[cand].astype(np.int64), lock_ok=lock_ok, forced=forced)
    parts = {k: v[order] for k, v in parts.items()}
    starts = np.searchsorted(parts["cand"], np.arange(problem.n_candidates + 1))
    return Items(**parts, starts=starts, locked_person=locked_person, n_pairs=n_x)


def _padded(p: np.ndarray) -> np.ndarray:
    return np.append(p.astype(np.int64), 0)


def priced_weight(items: Items, prices: dict[str, np.ndarray]) -> np.ndarray:
    """Each item's weight minus the prices of what it uses (micro-units)."""
    s, r = _padded(prices["seats"]), _padded(prices["route_seats"])
    h, g = _padded(prices["hours"]), _padded(prices["guidance"])
    return (items.weight - s[items.a] - s[items.b] - r[items.route] - h[items.a] * items.hours_a
            - h[items.b] * items.hours_b - (g[items.org_a] + g[items.org_b]) * items.need)


@njit(cache=True)
def _best(starts: np.ndarray, red: np.ndarray, lock_ok: np.ndarray,
          locked_person: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per person: the best priced item's value (0 when nothing is worth it) and position
    (-1: nothing). A locked person takes the best item the lock allows, whatever its value."""
    n = len(starts) - 1
    val = np.zeros(n, dtype=np.int64)
    pos = np.full(n, -1, dtype=np.int64)
    for c in range(n):
        lk = locked_person[c]
        best = np.int64(0)
        arg = -1
        for i in range(starts[c], starts[c + 1]):
            if lk and not lock_ok[i]:
                continue
            if (lk and arg < 0) or red[i] > best:
                best, arg = red[i], i
        val[c], pos[c] = best, arg
    return val, pos


def usage(items: Items, chosen: np.ndarray, n_opt: int, n_routes: int,
          n_org: int) -> dict[str, np.ndarray]:
    """What the chosen items (positions) use of each priced row."""
    a, b, r = items.a[chosen], items.b[chosen], items.route[chosen]
    ha, hb = items.hours_a[chosen], items.hours_b[chosen]
    ga, gb, need = items.org_a[chosen], items.org_b[chosen], items.need[chosen]
    seats = np.bincount(a, minlength=n_opt) + np.bincount(b[b >= 0], minlength=n_opt)
    hours = (np.bincount(a, weights=ha, minlength=n_opt)
             + np.bincount(b[b >= 0], weights=hb[b >= 0], minlength=n_opt))
    guid = (np.bincount(ga, weights=need, minlength=n_org)
            + np.bincount(gb[gb >= 0], weights=need[gb >= 0], minlength=n_org))
    return {"seats": seats.astype(np.int64), "route_seats": np.bincount(
        r[r >= 0], minlength=n_routes).astype(np.int64), "hours": np.rint(hours).astype(np.int64),
        "guidance": np.rint(guid).astype(np.int64)}


@dataclass(frozen=True)
class Evaluation:
    bound: int
    value: np.ndarray  # per person
    pos: np.ndarray  # per person: their relaxed item (-1: none)


def evaluate(items: Items, limits: Limits, prices: dict[str, np.ndarray]) -> Evaluation:
    """The Lagrangian bound at `prices` (exact integers) and each person's relaxed choice."""
    val, pos = _best(items.starts, priced_weight(items, prices), items.lock_ok,
                     items.locked_person)
    bound = int(val.sum()) + sum(int((prices[k] * limits.rhs(k)).sum()) for k in PRICED)
    return Evaluation(bound, val, pos)


def limits_of(inst: Instance, problem: AssignmentProblem) -> Limits:
    """The round's right-hand sides (the chain model's, :mod:`matcher.chain.model`)."""
    from matcher.chain.model import capacity_hours, min_participants

    return Limits(seats=problem.capacity.astype(np.int64),
                  route_seats=inst.routes["seats"].to_numpy(np.int64),
                  hours=capacity_hours(inst), guidance=problem.budget.astype(np.int64),
                  minimum=min_participants(inst))


def zero_prices(limits: Limits) -> dict[str, np.ndarray]:
    return {k: np.zeros(len(getattr(limits, k)), dtype=np.int64) for k in PRICED}
