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
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numba import njit

from matcher.chain.routes import RouteEdges, option_hours
from matcher.model import Instance
from matcher.solver.problem import AssignmentProblem
from matcher.solver.result import Certificate, Method, SolveDetails, SolveResult, Status

if TYPE_CHECKING:
    from matcher.chain.model import ChainSolution

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
    origin: np.ndarray  # int64: position among (the problem's pairs, then the route edges)

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
    return Items(**parts, starts=starts, locked_person=locked_person, n_pairs=n_x,
                 origin=order.astype(np.int64))


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


@njit(cache=True)
def _fits(i: int, seats: np.ndarray, rseats: np.ndarray, hours: np.ndarray, guid: np.ndarray,
          a: np.ndarray, b: np.ndarray, route: np.ndarray, ha: np.ndarray, hb: np.ndarray,
          ga: np.ndarray, gb: np.ndarray, need: np.ndarray) -> bool:
    """Whether item i fits in what is left (index -1: the unlimited slot at each array's end)."""
    if seats[a[i]] < 1 or seats[b[i]] < 1 or rseats[route[i]] < 1:
        return False
    if hours[a[i]] < ha[i] or hours[b[i]] < hb[i]:
        return False
    return guid[ga[i]] >= need[i] and guid[gb[i]] >= need[i]


@njit(cache=True)
def _take(i: int, seats: np.ndarray, rseats: np.ndarray, hours: np.ndarray, guid: np.ndarray,
          a: np.ndarray, b: np.ndarray, route: np.ndarray, ha: np.ndarray, hb: np.ndarray,
          ga: np.ndarray, gb: np.ndarray, need: np.ndarray) -> None:
    seats[a[i]] -= 1
    seats[b[i]] -= 1
    rseats[route[i]] -= 1
    hours[a[i]] -= ha[i]
    hours[b[i]] -= hb[i]
    guid[ga[i]] -= need[i]
    guid[gb[i]] -= need[i]


@njit(cache=True)
def _greedy(order: np.ndarray, allowed: np.ndarray, cand: np.ndarray, forced_first: np.ndarray,
            seats: np.ndarray, rseats: np.ndarray, hours: np.ndarray, guid: np.ndarray,
            a: np.ndarray, b: np.ndarray, route: np.ndarray, ha: np.ndarray, hb: np.ndarray,
            ga: np.ndarray, gb: np.ndarray, need: np.ndarray, n_cand: int) -> np.ndarray:
    """Items in `order` (the `forced_first` positions taken first, whatever is left), each
    taken when its person is still free and it fits. The resource arrays are consumed."""
    taken = np.zeros(n_cand, dtype=np.bool_)
    out = np.zeros(len(cand), dtype=np.bool_)
    for i in forced_first:
        _take(i, seats, rseats, hours, guid, a, b, route, ha, hb, ga, gb, need)
        taken[cand[i]] = True
        out[i] = True
    for i in order:
        if taken[cand[i]] or not allowed[i]:
            continue
        if _fits(i, seats, rseats, hours, guid, a, b, route, ha, hb, ga, gb, need):
            _take(i, seats, rseats, hours, guid, a, b, route, ha, hb, ga, gb, need)
            taken[cand[i]] = True
            out[i] = True
    return out


BIG = np.int64(1) << 50  # the unlimited slot: more than any round can use


def _left(limits: Limits) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    hours = np.where(limits.hours >= 0, limits.hours, BIG)
    return tuple(np.append(np.asarray(x, dtype=np.int64), BIG) for x in (  # type: ignore[return-value]
        limits.seats, limits.route_seats, hours, limits.guidance))


def _locked_first(items: Items, red: np.ndarray) -> np.ndarray:
    """Per locked person, the item the repair gives them first: their forced route, else the
    best priced item the lock allows (the locks were checked to fit together,
    :mod:`matcher.chain.checks`)."""
    pos = _best(items.starts, np.where(items.forced, BIG, red), items.lock_ok,
                items.locked_person)[1]
    return pos[items.locked_person & (pos >= 0)]


def greedy(items: Items, limits: Limits, red: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """Bool over items: the locked items, then every item with a positive weight in order of
    priced weight (ties by position: deterministic) that still fits."""
    first = _locked_first(items, red)
    order = np.lexsort((np.arange(len(red)), -red))
    order = order[~items.locked_person[items.cand[order]]]
    seats, rseats, hours, guid = _left(limits)
    return _greedy(order, allowed, items.cand, first, seats, rseats, hours, guid, items.a,
                   items.b, items.route, items.hours_a, items.hours_b, items.org_a, items.org_b,
                   items.need, len(items.starts) - 1)


def _users(items: Items, chosen: np.ndarray, n_opt: int) -> np.ndarray:
    b = items.b[chosen]
    return np.bincount(items.a[chosen], minlength=n_opt) + np.bincount(b[b >= 0], minlength=n_opt)


def repair(items: Items, limits: Limits, red: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A feasible answer: `greedy`, then the cohorts below their minimum closed (never one a
    lock holds) and `greedy` again without them, until every open cohort is full enough.
    Returns (bool over items, bool over options: runs)."""
    n_opt = len(limits.seats)
    held = np.zeros(n_opt, bool)
    lk = items.lock_ok & items.locked_person[items.cand]
    held[items.a[lk]] = True
    held[items.b[lk & (items.b >= 0)]] = True
    closed = np.zeros(n_opt + 1, bool)  # the last slot: b == -1
    while True:
        allowed = ~closed[items.a] & ~closed[items.b]
        chosen = greedy(items, limits, red, allowed)
        users = _users(items, chosen, n_opt)
        short = (users < limits.minimum) & (users > 0) & ~held
        if not short.any():
            opened = ~closed[:n_opt] & ((limits.minimum == 0) | (users >= limits.minimum))
            return chosen, opened
        closed[:n_opt] |= short


@dataclass(frozen=True)
class Relaxation:
    """The answer of `solve`: the best primal, the best bound and the prices that prove it."""

    chosen: np.ndarray  # bool over items
    opened: np.ndarray  # bool over options
    value: int
    bound: int
    prices: dict[str, np.ndarray]
    iterations: int
    seconds: float


def _subgradient(items: Items, limits: Limits, ev: Evaluation,
                 prices: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Use minus right-hand side per priced row at the relaxed choice, projected (a row at
    price 0 with slack does not move)."""
    n_opt, n_routes, n_org = len(limits.seats), len(limits.route_seats), len(limits.guidance)
    used = usage(items, ev.pos[ev.pos >= 0], n_opt, n_routes, n_org)
    out = {}
    for k in PRICED:
        g = (used[k] - limits.rhs(k)).astype(np.float64)
        g[(prices[k] <= 0) & (g < 0)] = 0.0
        if k == "hours":
            g[limits.hours < 0] = 0.0
        out[k] = g
    return out


def _primal(items: Items, limits: Limits, red: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    chosen, opened = repair(items, limits, red)
    return chosen, opened, int(items.weight[chosen].sum())


#: Subgradient iterations of a round's solve (deterministic work, never the clock).
ITERATIONS = 300


def solve(items: Items, limits: Limits, *, iterations: int = ITERATIONS, gap: float = 0.001,
          primal_every: int = 10, patience: int = 20, theta: float = 1.0) -> Relaxation:
    """Polyak subgradient steps on the prices against the best primal value; the primal
    repaired every `primal_every` iterations and at the end. Stops at `iterations` or when the
    best bound is within `gap` (relative) of the best primal. Deterministic."""
    started = time.perf_counter()
    prices = zero_prices(limits)
    best_chosen, best_opened, best_value = _primal(items, limits, items.weight)
    best_bound, best_prices = None, prices
    stall, it = 0, 0
    for it in range(1, iterations + 1):
        ev = evaluate(items, limits, prices)
        if best_bound is None or ev.bound < best_bound:
            best_bound, best_prices, stall = ev.bound, prices, 0
        else:
            stall += 1
            if stall >= patience:
                theta, stall = theta / 2, 0
        if it % primal_every == 0:
            chosen, opened, value = _primal(items, limits, priced_weight(items, prices))
            if value > best_value:
                best_chosen, best_opened, best_value = chosen, opened, value
        if best_bound - best_value <= gap * max(best_value, 1):
            break
        g = _subgradient(items, limits, ev, prices)
        norm = sum(float((v * v).sum()) for v in g.values())
        if norm == 0:
            break
        step = theta * (ev.bound - best_value) / norm
        prices = {k: np.maximum(prices[k] + np.rint(step * g[k]).astype(np.int64), 0)
                  for k in PRICED}
    chosen, opened, value = _primal(items, limits, priced_weight(items, best_prices))
    if value > best_value:
        best_chosen, best_opened, best_value = chosen, opened, value
    assert best_bound is not None
    log.info("chain lagrangian: %d iterations, value %d, bound %d (gap %.4f%%) in %.1f s", it,
             best_value, best_bound, 100 * (best_bound - best_value) / max(best_value, 1),
             time.perf_counter() - started)
    return Relaxation(best_chosen, best_opened, best_value, best_bound, best_prices, it,
                      time.perf_counter() - started)



def violations(items: Items, limits: Limits, chosen: np.ndarray) -> list[str]:
    """The rows the chosen items break (a repair can only fail this way when the locks cannot
    all be kept together with the cohort minimums and the hours)."""
    pos = np.flatnonzero(chosen)
    used = usage(items, pos, len(limits.seats), len(limits.route_seats), len(limits.guidance))
    out = [f"{k}: row {i} uses {used[k][i]} of {limits.rhs(k)[i]}" for k in PRICED
           for i in np.flatnonzero((used[k] > limits.rhs(k))
                                   & ((limits.hours >= 0) if k == "hours" else True))]
    users = _users(items, chosen, len(limits.seats))
    out += [f"option {o}: {users[o]} below its minimum {limits.minimum[o]}"
            for o in np.flatnonzero((users > 0) & (users < limits.minimum))]
    if (np.bincount(items.cand[pos], minlength=len(items.starts) - 1) > 1).any():
        out.append("a person with two items")
    lk = items.locked_person & (np.bincount(items.cand[pos[items.lock_ok[pos]]],
                                            minlength=len(items.starts) - 1) == 0)
    out += [f"lock of person {c} not kept" for c in np.flatnonzero(lk)]
    return out


def solve_large(inst: Instance, problem: AssignmentProblem, routes: RouteEdges,
                route_extra: np.ndarray | None = None) -> tuple[SolveResult, ChainSolution]:
    """A chain round above ``[chain] exact_max_variables``: `solve`'s answer, its bound and the
    certificate of that bound (prices per priced kind; the cohort minimums dropped)."""
    from matcher.chain.model import ChainSolution

    limits = limits_of(inst, problem)
    weight = routes.weight_int if route_extra is None else routes.weight_int + route_extra
    items = build_items(inst, problem, routes, limits, weight)
    rel = solve(items, limits)
    if broken := violations(items, limits, rel.chosen):
        from matcher.chain.model import ChainInfeasible

        raise ChainInfeasible("; ".join(broken))
    picked = np.zeros(len(items), dtype=bool)
    picked[items.origin[rel.chosen]] = True
    sol = ChainSolution(routes, picked[:items.n_pairs], picked[items.n_pairs:], rel.opened)
    cert = Certificate("chain_lagrangian", method=str(Method.CHAIN_LAGRANGIAN),
                       prices=rel.prices)
    stats = {"variables": len(items), "routes": len(routes), "iterations": rel.iterations,
             "seconds": rel.seconds, "priced": list(PRICED), "dropped": list(DROPPED)}
    status = Status.OPTIMAL if rel.bound == rel.value else Status.FEASIBLE
    return SolveResult(status, Method.CHAIN_LAGRANGIAN, sol.at_programme(), rel.value, rel.bound,
                       bool(problem.guidance_can_bind().any()),
                       SolveDetails(stats=stats, certificate=cert)), sol
