"""Lagrangian relaxation of the guidance budgets over min-cost-flow subproblems, with repair.

Relax each organisation's budget with an integer multiplier ``lam[g] >= 0`` (micro-units per
guidance unit). The subproblem, max sum((weight - lam[org] * need) * x) under the candidate and
seat limits, is a min-cost flow; for any ``lam >= 0``

    bound(lam) = locked value + flow value under priced weights + sum(lam[g] * budget_left[g])

is a valid upper bound on the optimum (integers throughout, so no rounding can make it invalid).
The multipliers follow Polyak subgradient steps computed in integers and powers of two, so the
same input gives the same sequence on any machine; nothing depends on the clock.

Speed: on problems with at least ``lagrangian_auction_min_pairs`` free pairs each subproblem is
a warm-started auction over all edges (`matcher.solver.auction`), whose dual value is a valid
bound at every iteration. Otherwise the iterations solve the flow on a *core* of each
candidate's best few edges by priced weight (refreshed now and then); the core's value is only
an estimate, so the bound reported is from a flow over all edges at the best multipliers found
(plus the unpriced flow's value, if given).

Feasible solutions come from `repair`: drop the least valuable assignments at
over-budget organisations, then refill the freed people and seats by min-cost flow and greedily
(`matcher.solver.refill`). A last polish re-solves the edges of the binding organisations exactly
with CP-SAT when that model is small (deterministic time limit).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from matcher.policy import SolverPolicy
from matcher.progress import report
from matcher.solver.flow import solve_flow
from matcher.solver.polish import polish, slack_polish
from matcher.solver.problem import AssignmentProblem
from matcher.solver.quota_flow import quota_flow
from matcher.solver.refill import drop_excess, refill
from matcher.solver.result import Method, SolveDetails, SolveResult, Status
from matcher.solver.warm import WarmStart, warm_policy, warm_rate

log = logging.getLogger(__name__)

class Subproblem(Protocol):
    """The subproblem over all free pairs: priced weights per edge -> (chosen edges, dual bound
    of the flow value). The bound is valid for any prices (`matcher.solver.auction`); `fine`
    asks for the finest eps (a search step may stop at a coarser one); `shift` (without `fine`)
    stops at eps = highest weight / 2**shift instead of the search's own eps."""

    def __call__(self, priced: np.ndarray, fine: bool = False,
                 shift: int | None = None) -> tuple[np.ndarray, int]: ...


def auction_subproblem(problem: AssignmentProblem, free: np.ndarray,
                       seats_left: np.ndarray, threads: int = 1,
                       search_shift: int | None = None) -> Subproblem:
    """A warm-started auction over the free pairs, as a `Subproblem` (`threads` > 1: in Jacobi
    rounds on that many threads). `search_shift` (< 16): calls without `fine` stop at eps =
    highest weight / 2**search_shift instead of / 2**16 (fewer phases; each dual stays a valid
    bound, at most ``candidates * eps`` above the subproblem's optimum)."""
    from matcher.solver.auction import FINE_SHIFT, Auction  # numba: imported only when used

    idx = np.flatnonzero(free)
    every = len(idx) == problem.n_edges  # no locked pairs: the auction's edges are all edges
    auction = Auction(problem.cand[idx], problem.opt[idx], problem.n_candidates, seats_left,
                      threads=threads)
    coarse = FINE_SHIFT if search_shift is None else min(search_shift, FINE_SHIFT)

    def sub(priced: np.ndarray, fine: bool = False,
            shift: int | None = None) -> tuple[np.ndarray, int]:
        stop = FINE_SHIFT if fine else coarse if shift is None else min(shift, FINE_SHIFT)
        # (The auction keeps the weights it was given until the next call: `priced` is never
        # changed in place by the callers.)
        x, dual = auction.solve(priced if every else priced[idx], fine_shift=stop)
        if every:
            return x, dual
        chosen = np.zeros(problem.n_edges, dtype=bool)
        chosen[idx[x]] = True
        return chosen, dual

    return sub


@dataclass
class _State:
    lam: np.ndarray  # int64 per organisation
    best_lam: np.ndarray
    best_core: int = -1  # best (lowest) core dual value seen
    best_value: int = -1
    best_chosen: np.ndarray | None = None
    # (iteration, core dual, best feasible value, best core dual so far)
    trace: list[tuple[int, int, int, int]] = field(default_factory=list)
    repairs: int = 0
    repair_stats: dict[str, int] = field(default_factory=dict)


def _core_mask(problem: AssignmentProblem, free: np.ndarray, priced: np.ndarray, k: int,
               extra: Sequence[np.ndarray | None], positive_only: bool = True) -> np.ndarray:
    """Each candidate's `k` best free edges by priced weight (positive only), plus `extra` sets."""
    idx = np.flatnonzero(free & (priced > 0)) if positive_only else np.flatnonzero(free)
    cand = problem.cand[idx].astype(np.int64)
    # One stable sort on (candidate, priced weight descending); ties stay in edge order.
    top = np.int64(2**31 - 1)
    key = (cand << 32) | (top - np.clip(priced[idx], -top, top))
    order = np.argsort(key, kind="stable")
    idx, cand = idx[order], cand[order]
    rank = np.arange(len(idx)) - np.searchsorted(cand, cand, side="left")
    core = np.zeros(problem.n_edges, dtype=bool)
    core[idx[rank < k]] = True
    for e in extra:
        if e is not None:
            core |= e & free
    return core


def repair(problem: AssignmentProblem, relaxed: np.ndarray, free: np.ndarray,
           priced: np.ndarray | None = None) -> tuple[np.ndarray, dict[str, int]]:
    """A feasible assignment close to `relaxed` (which keeps seats and people but maybe not budgets).

    Locked edges are always kept. Drops at over-budget organisations, then refills over the free
    edges by flow (with `priced` weights when given) and greedily.
    """
    chosen = drop_excess(problem, relaxed | problem.locked)
    dropped = int((relaxed & ~chosen).sum())
    chosen, stats = refill(problem, chosen, free, weight=priced)
    stats["dropped"] = dropped
    return chosen, stats


def _quota_round(problem: AssignmentProblem, chosen: np.ndarray, mask: np.ndarray,
                 free: np.ndarray, seats_left: np.ndarray, budget_left: np.ndarray,
                 ) -> tuple[np.ndarray, int]:
    """One class-quota flow (`matcher.solver.quota_flow`) over `mask` within feasible
    `chosen`'s guidance classes, then a refill: (the better of the two, its gain >= 0)."""
    q = quota_flow(problem, chosen & ~problem.locked, mask, seats_left, budget_left)
    q, _ = refill(problem, q | problem.locked, free)
    gain = problem.objective(q) - problem.objective(chosen)
    return (q, gain) if gain > 0 else (chosen, 0)


def uniform_start(problem: AssignmentProblem, free: np.ndarray, seats_left: np.ndarray,
                  budget_left: np.ndarray, active: np.ndarray, k: int, evaluations: int,
                  seen: np.ndarray | None = None, sub: Subproblem | None = None,
                  shift: int | None = None) -> tuple[int, dict[str, int]]:
    """One common multiplier for the organisations in `active`, by golden-section search.

    The dual ``flow value(weight - lam * need on active organisations) + lam * budget`` is convex
    in a common ``lam``, so a search over integers in [0, highest weight] homes in on its
    minimum. A common price does not reorder a person's pairs into active organisations (they
    share the person's need), so one core (each person's best `k` pairs, plus every pair into an
    organisation that cannot bind) serves every evaluation. Integers only: deterministic.
    `seen` (optional, per edge) collects every pair the searched flows choose. With `sub` (the
    auction over all free pairs) each evaluation is its dual bound instead of a core flow,
    stopped at eps = highest weight / 2**`shift` when given (the values only pick the start:
    none of them is reported as a bound).
    """
    stats = {"start_evaluations": 0, "start_multiplier": 0}
    if evaluations <= 0 or not active.any():
        return 0, stats
    edge_active = active[problem.edge_org]
    # Every free pair into an organisation that cannot bind is in the core (_core_mask keeps
    # only extra pairs within its `free` argument, here the active ones: they were left out).
    core = free if sub is not None else (
        _core_mask(problem, free & edge_active, problem.weight, k, []) | (free & ~edge_active))
    edge_need = problem.edge_need
    budget = int(budget_left[active].sum())
    cache: dict[int, int] = {}

    def dual(lam: int) -> int:
        if lam not in cache:
            cost = np.where(edge_active, lam * edge_need, 0)
            if sub is not None:
                x, value = sub(problem.weight - cost, shift=shift)
            else:
                x = solve_flow(problem, core, seats_left, extra_cost=cost)
                value = int((problem.weight[x] - cost[x]).sum())
            if seen is not None:
                np.logical_or(seen, x, out=seen)
            cache[lam] = value + lam * budget
        return cache[lam]

    lo, hi = 0, int(problem.weight.max(initial=0))
    # Golden section on integers: keep two interior points at about 0.382 and 0.618.
    a = lo + (hi - lo) * 382 // 1000
    b = lo + (hi - lo) * 618 // 1000
    while len(cache) < evaluations and hi - lo > 2:
        if dual(a) <= dual(b):
            hi, b = b, a
            a = lo + (hi - lo) * 382 // 1000
        else:
            lo, a = a, b
            b = lo + (hi - lo) * 618 // 1000
    if not cache:  # tiny weights: nothing to search
        dual(lo)
    best = min(cache, key=lambda lam: (cache[lam], lam))
    stats.update(start_evaluations=len(cache), start_multiplier=best)
    return best, stats


def polyak_step(lam: np.ndarray, excess: np.ndarray, value: int, target: int,
                theta_num: int) -> np.ndarray:
    """One Polyak subgradient step of the multipliers (integers only): towards the budgets'
    excess, of length ``theta_num / 1024 * (value - target) / |excess|^2`` (the classic rule,
    `value` the dual at `lam` and `target` a feasible answer's value). A multiplier at 0 with
    its budget kept does not move."""
    direction = np.where((lam > 0) | (excess > 0), excess, 0).astype(np.int64)
    norm2 = int((direction * direction).sum())
    if norm2 == 0:
        return lam
    scale = theta_num * max(value - target, 1)
    # Python integers (object arrays): the products can pass 2^63.
    moved = lam.astype(object) + (direction.astype(object) * scale) // (norm2 * 1024)
    return np.clip(moved, 0, 1 << 62).astype(np.int64)


@dataclass
class _Setup:
    """What every phase reads: the problem's residual after the locks and the subproblem."""
    problem: AssignmentProblem
    policy: SolverPolicy
    free: np.ndarray  # per edge: free (not locked, fits the residual)
    seats_left: np.ndarray
    budget_left: np.ndarray  # per organisation, >= 0
    locked_value: int
    active: np.ndarray  # per organisation: its budget can bind
    sub: Subproblem | None  # the auction over all free pairs, or None (flows on a core)
    # Every pair some subproblem chose, over all the multipliers tried: the pairs that matter
    # as the price of guidance varies (the polish's neighbourhood).
    seen: np.ndarray
    details: dict[str, Any]

    def priced(self, lam: np.ndarray) -> np.ndarray:
        return self.problem.weight - lam[self.problem.edge_org] * self.problem.edge_need

    def cost(self, lam: np.ndarray) -> np.ndarray:
        return lam[self.problem.edge_org] * self.problem.edge_need

    def dual(self, flow_value: int, lam: np.ndarray) -> int:
        return self.locked_value + flow_value + int((lam * self.budget_left).sum())

    def consider(self, st: _State, chosen: np.ndarray, stats: dict[str, int]) -> None:
        """Keep `chosen` (feasible) if it is the best answer so far."""
        value = self.problem.objective(chosen)
        st.repairs += 1
        if value > st.best_value:
            st.best_value, st.best_chosen = value, chosen
            st.repair_stats = stats


@dataclass
class _Search:
    """The multiplier search's own state between iterations."""
    rate: np.ndarray  # rprop's step per organisation
    theta_num: int  # Polyak's theta = theta_num / 1024 (powers of two: exact arithmetic)
    core: np.ndarray  # the pairs of the next core flow
    last_x: np.ndarray  # the last subproblem's answer
    relaxation_lower: int
    bound: int | None  # the unpriced flow's value, when solved
    prev_sign: np.ndarray
    stall: int = 0
    it: int = 0
    full_seen: np.ndarray | None = None  # pairs chosen by flows over all pairs
    full_bound: tuple[int, np.ndarray] | None = None  # (lowest exact dual, its multipliers)
    best_fine: bool = True  # the best dual so far came from an auction at the finest eps


def _prepare(problem: AssignmentProblem, policy: SolverPolicy) -> _Setup:
    """Step 1: the residual after the locks, and the subproblem: a warm-started auction over all
    free pairs when there are many (each iteration's dual value is then a valid bound), else
    min-cost flows on a core."""
    free, seats_left, budget_left, _ = problem.residual()
    n_free = int(free.sum())
    active = problem.guidance_can_bind()
    sub = (auction_subproblem(problem, free, seats_left, policy.lagrangian.auction_threads,
                              policy.lagrangian.auction_search_shift)
           if active.any() and 0 < policy.lagrangian.auction_min_pairs <= n_free else None)
    details: dict[str, Any] = {"method": "lagrangian",
                               "subproblem": "auction" if sub is not None else "flow"}
    return _Setup(problem, policy, free, seats_left, np.maximum(budget_left, 0),
                  int(problem.weight[problem.locked].sum()), active, sub,
                  np.zeros(problem.n_edges, dtype=bool), details)


def _start(s: _Setup, st: _State, relaxed: np.ndarray | None,
           warm: WarmStart | None) -> _Search:
    """Step 2: the first feasible answer and the first multipliers.

    The unpriced flow's optimum, repaired, is the first feasible solution. With the auction and
    no `relaxed` given, that flow is not solved (it is the costliest single step of a large
    round): the first auction's answer, repaired, is the first feasible solution."""
    problem, free = s.problem, s.free
    start = relaxed
    if start is None and s.sub is None:
        start = solve_flow(problem, free, s.seats_left) | problem.locked
    bound = problem.objective(start) if start is not None else None
    # The highest value without the budgets of an assignment found (every subproblem's answer
    # keeps the seats): a lower bound on the relaxation's optimum (`solve` uses it to show that
    # the relaxation, had it been solved, would have broken a budget).
    relaxation_lower = bound if bound is not None else s.locked_value
    if warm is not None and warm.chosen is not None:
        s.consider(st, warm.chosen, {"warm_start": 1})
    elif start is not None:
        s.consider(st, *repair(problem, start & ~problem.locked, free))
    rate = _first_multipliers(s, st, warm)
    theta_num = 1 << 10
    if warm is not None and warm.multipliers is not None:
        theta_num = 1 << 7  # Polyak steps near the warm multipliers: 1/8 of the cold factor
    if s.sub is not None:
        core, last_x = free, np.zeros(problem.n_edges, dtype=bool)
    else:
        assert start is not None
        core = _core_mask(problem, free, s.priced(st.lam), s.policy.lagrangian.core,
                          [start, warm.chosen if warm else None])
        last_x = start & ~problem.locked
    return _Search(rate=rate, theta_num=theta_num, core=core, last_x=last_x,
                   relaxation_lower=relaxation_lower, bound=bound,
                   prev_sign=np.zeros(problem.n_organisations, dtype=np.int64),
                   full_seen=np.zeros(problem.n_edges, dtype=bool))


def _first_multipliers(s: _Setup, st: _State, warm: WarmStart | None) -> np.ndarray:
    """The warm multipliers, or one common price for every organisation that can bind, found by
    a one-dimensional search on the dual (far closer to the optimum than per-organisation
    guesses: the shadow prices of guidance are similar across organisations). Sets `st.lam`;
    returns rprop's first steps."""
    policy = s.policy
    if warm is not None and warm.multipliers is not None:
        st.lam = np.where(s.active, warm.multipliers, 0)
        st.best_lam = st.lam.copy()  # the bound's multipliers even with 0 warm iterations
        rate = warm_rate(st.lam, policy)
    else:
        lam0, start_stats = uniform_start(s.problem, s.free, s.seats_left, s.budget_left,
                                          s.active, policy.lagrangian.core,
                                          policy.lagrangian.start_search, s.seen, s.sub,
                                          policy.lagrangian.start_search_shift or None)
        s.details.update(start_stats)
        st.lam = np.where(s.active, lam0, 0).astype(np.int64)
        rate = np.maximum(st.lam // policy.lagrangian.rate_div, 1)
    if warm is not None:
        s.details["warm_start"] = {"multipliers": warm.multipliers is not None,
                                   "assignment": warm.chosen is not None}
    return rate


def _subproblem(s: _Setup, st: _State, se: _Search, priced: np.ndarray,
                repair_now: bool) -> tuple[np.ndarray, int, bool]:
    """One iteration's subproblem at `st.lam`: (answer, its priced value, whether it was over
    all pairs). Every lagrangian.full_every-th iteration the flow runs over all free pairs: its
    dual value is exact (a valid bound), and the pairs it chooses stay in every later core, so
    the core's estimates stop missing the pairs that matter."""
    if s.sub is not None:
        # The auction's dual bound is exact over all pairs. An iteration whose answer is
        # repaired is solved at the finest eps (a coarser answer repairs worse).
        x, flow_value = s.sub(priced, fine=repair_now)
        return x, flow_value, True
    lp = s.policy.lagrangian
    is_full = lp.full_every > 0 and se.it % lp.full_every == 0
    if se.it % lp.core_refresh == 0:
        assert se.full_seen is not None
        se.core = _core_mask(s.problem, s.free, priced, lp.core,
                             [se.last_x, st.best_chosen, se.full_seen])
    x = solve_flow(s.problem, s.free if is_full else se.core, s.seats_left,
                   extra_cost=s.cost(st.lam))
    if is_full:
        assert se.full_seen is not None
        se.full_seen |= x
    return x, int(priced[x].sum()), is_full


def _record(s: _Setup, st: _State, se: _Search, core_dual: int, is_full: bool,
            repair_now: bool) -> None:
    """Keep the iteration's dual if it is the best (exact or core); halve Polyak's factor after
    lagrangian.patience iterations without a better one."""
    if is_full and (se.full_bound is None or core_dual < se.full_bound[0]):
        se.full_bound = (core_dual, st.lam.copy())
    if st.best_core < 0 or core_dual < st.best_core:
        st.best_core, st.best_lam = core_dual, st.lam.copy()
        coarse = s.policy.lagrangian.auction_search_shift < 16  # 16: the auction's finest eps
        se.best_fine = s.sub is None or repair_now or not coarse
        se.stall = 0
    else:
        se.stall += 1
        if se.stall >= s.policy.lagrangian.patience:
            se.theta_num = max(se.theta_num // 2, 1)
            se.stall = 0


def _iteration(s: _Setup, st: _State, se: _Search) -> bool:
    """Step 3, one iteration of the multiplier search: subproblem, bound, repair now and then,
    multiplier step. Returns whether the search stops."""
    problem, policy = s.problem, s.policy
    priced = s.priced(st.lam)
    lp = policy.lagrangian
    repair_now = se.it % lp.repair_every == 0 or se.it == lp.iterations
    x, flow_value, is_full = _subproblem(s, st, se, priced, repair_now)
    se.last_x = x
    s.seen |= x
    if st.best_core < 0 or se.relaxation_lower <= st.best_core:  # (above it: shown already)
        se.relaxation_lower = max(se.relaxation_lower, s.locked_value + problem.objective(x))
    core_dual = s.dual(flow_value, st.lam)
    _record(s, st, se, core_dual, is_full, repair_now)
    if repair_now or st.best_chosen is None:
        # (No feasible answer yet, without a start flow: the first answer is repaired too, as
        # the search left it: a finer solve only for this costs more than it gains.)
        s.consider(st, *repair(problem, x, s.free, priced))
    st.trace.append((se.it, core_dual, st.best_value, st.best_core))
    if core_dual - st.best_value <= policy.target_gap * st.best_core:
        return True
    window = policy.lagrangian.stall_window
    if (se.it > window and (st.trace[-window - 1][3] - st.best_core) * 10
            <= policy.target_gap * st.best_core):
        return True  # the dual has stopped improving: more iterations will not tighten the bound
    subgrad = np.where(s.active, problem.guidance_used(x) - s.budget_left, 0)
    return _step(s, st, se, subgrad, core_dual)


def _step(s: _Setup, st: _State, se: _Search, subgrad: np.ndarray, core_dual: int) -> bool:
    """Step 4, the multipliers' move (lagrangian.step); returns True when Polyak has no
    direction left (the search stops)."""
    if s.policy.lagrangian.step == "polyak":
        norm2 = int((subgrad * subgrad).sum())
        if norm2 == 0:
            return True
        # Polyak step towards the best feasible value, in exact integer arithmetic. Target
        # level between the best dual and the best feasible value (policy knob; 1 aims at the
        # best feasible value: measured best at 20,000; 4 was better at 2,000).
        level = st.best_core - (st.best_core - st.best_value) // s.policy.lagrangian.level_div
        st.lam = polyak_step(st.lam, subgrad, core_dual, level, se.theta_num)
    else:
        # Per-organisation price adjustment: grow the step while the sign of the budget excess
        # stays, halve it when it flips (integers only).
        sign = np.sign(subgrad)
        same = sign * se.prev_sign
        rate = np.where(same > 0, (se.rate * 5) // 4, np.where(same < 0, se.rate // 2, se.rate))
        se.rate = np.maximum(rate, 1)
        st.lam = np.maximum(st.lam + sign * se.rate, 0)
        se.prev_sign = np.where(sign != 0, sign, se.prev_sign)
    st.lam[~s.active] = 0
    return False


def _search(s: _Setup, st: _State, se: _Search) -> None:
    """Step 3 repeated: lagrangian.iterations iterations at most, progress reported per
    iteration (and a job's chance to stop)."""
    iterations = s.policy.lagrangian.iterations
    for it in range(1, iterations + 1):
        report("solve", it - 1, iterations)
        se.it = it
        if _iteration(s, st, se):
            break
    report("solve", iterations, iterations)


def _final_bound(s: _Setup, st: _State, se: _Search) -> tuple[int, int, np.ndarray]:
    """Step 5, the valid bound: a flow over all free edges at the best multipliers found
    (unless those were evaluated over all pairs already). Returns (bound, full dual, its
    multipliers)."""
    lam = st.best_lam
    priced = s.priced(lam)
    full_bound = se.full_bound
    if s.sub is not None and not se.best_fine and full_bound is not None:
        # The best dual came from an auction stopped at a coarser eps: the best multipliers once
        # more at the finest, for a tighter bound (any auction's dual is valid; the lower one is
        # kept). Skipped when the best was already solved at the finest eps (and repaired).
        x, flow_value = s.sub(priced, fine=True)
        s.seen |= x
        fine_dual = s.dual(flow_value, lam)
        if fine_dual < full_bound[0]:
            full_bound = (fine_dual, lam.copy())
        s.consider(st, *repair(s.problem, x, s.free, priced))
    if full_bound is not None and np.array_equal(full_bound[1], lam):
        full_dual = full_bound[0]
    else:
        x = solve_flow(s.problem, s.free, s.seats_left, extra_cost=s.cost(lam))
        full_dual = s.dual(int(priced[x].sum()), lam)
        s.seen |= x
        s.consider(st, *repair(s.problem, x, s.free, priced))
    if full_bound is not None and full_bound[0] < full_dual:
        full_dual, lam = full_bound
    bound = full_dual if se.bound is None else min(se.bound, full_dual)
    return bound, full_dual, lam


def _quota_phase(s: _Setup, st: _State, bound: int, priced: np.ndarray,
                 ) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """Step 6, class-quota flows (`matcher.solver.quota_flow`): exact re-optimisation within the
    best answer's guidance classes, over all free pairs (or, with quota.core, each person's best
    pairs by priced weight and every pair a subproblem chose); repeated while it gains.
    Returns (answer, the flows' pairs, stats)."""
    policy = s.policy
    chosen = st.best_chosen
    assert chosen is not None
    quota_stats: dict[str, int] = {}
    quota_mask = s.free
    if policy.quota.core > 0 and policy.quota.rounds > 0:
        quota_mask = _core_mask(s.problem, s.free, priced, policy.quota.core, [s.seen],
                                positive_only=False)
    for _ in range(policy.quota.rounds):
        if bound <= st.best_value:
            break
        chosen, gain = _quota_round(s.problem, chosen, quota_mask, s.free, s.seats_left,
                                    s.budget_left)
        quota_stats["quota_flow_gain"] = quota_stats.get("quota_flow_gain", 0) + gain
        if gain <= 0:
            break
        st.best_value += gain
    return chosen, quota_mask, quota_stats


def _polish_phase(s: _Setup, chosen: np.ndarray, priced: np.ndarray, quota_mask: np.ndarray,
                  quota_stats: dict[str, int]) -> tuple[np.ndarray, dict[str, int | float]]:
    """Step 7, the polish (`matcher.solver.polish`): exact CP-SAT in windows over each person's
    polish.core best pairs by priced weight and (polish.union) every pair a subproblem chose;
    the slack polish first when configured; one more class-quota flow when it changed."""
    problem, policy, free = s.problem, s.policy, s.free
    if int(free.sum()) <= policy.polish.max_pairs:  # small: one window over every pair
        core = free.copy()
    else:
        extra = [chosen, s.seen] if policy.polish.union else [chosen]
        core = _core_mask(problem, free, priced, policy.polish.core, extra, positive_only=False)
    slack_gain = 0
    if policy.polish.slack_max_pairs > 0 and policy.polish.slack_deterministic_time > 0:
        # First the organisations with guidance left over: small windows of them alone, mostly
        # proven optimal quickly, consolidate the units left over in ones and twos into room
        # for more people; the polish of every organisation then has less to do.
        chosen, slack_stats = slack_polish(problem, chosen, core, policy.polish.slack_max_pairs,
                                           policy.polish.slack_deterministic_time,
                                           policy.polish.parallel)
        slack_gain = int(slack_stats["polish_gain"])
        s.details["polish_slack"] = slack_stats
    chosen, polish_stats = polish(problem, chosen, core, policy.polish.max_pairs,
                                  policy.polish.deterministic_time, policy.polish.parallel,
                                  policy.polish.passes)
    if policy.quota.rounds > 0 and (slack_gain > 0 or polish_stats.get("polish_gain", 0) > 0):
        # The polish changed the answer's guidance classes window by window; one more
        # class-quota flow within the new classes makes the chains of moves across windows that
        # no window could (city_20k: 0.064% -> 0.032%, about 1 s).
        chosen, gain = _quota_round(problem, chosen, quota_mask, free, s.seats_left,
                                    s.budget_left)
        quota_stats["quota_flow_after_polish"] = gain
    return chosen, polish_stats


def lagrangian_solve(problem: AssignmentProblem, policy: SolverPolicy,
                     relaxed: np.ndarray | None = None,
                     warm: WarmStart | None = None) -> SolveResult:
    """Near-optimal feasible assignment with a valid upper bound; see the module docstring.

    `relaxed`, when given, is the optimum of the flow without budgets (its value is a bound).
    `warm` (`matcher.solver.warm`): start from its feasible assignment and, when it has
    multipliers, from them with small steps and the policy's shorter warm search.

    The steps, one function each: `_prepare` (residual, subproblem), `_start` (first answer and
    multipliers), `_search` of `_iteration`s (`_subproblem`, `_record`, `_step`), `_final_bound`,
    `_quota_phase`, `_polish_phase`, then a last refill (`_finish`).
    """
    if warm is not None:
        warm = warm.checked(problem)
        if warm.multipliers is not None:
            policy = warm_policy(policy)
    s = _prepare(problem, policy)
    if not s.active.any():
        chosen = (relaxed if relaxed is not None
                  else solve_flow(problem, s.free, s.seats_left) | problem.locked)
        value = problem.objective(chosen)
        return SolveResult(Status.OPTIMAL, Method.LAGRANGIAN, chosen, value, value, False,
                           SolveDetails(stats={"method": "lagrangian"}))
    n_g = problem.n_organisations
    st = _State(lam=np.zeros(n_g, dtype=np.int64), best_lam=np.zeros(n_g, dtype=np.int64))
    se = _start(s, st, relaxed, warm)
    _search(s, st, se)
    bound, full_dual, lam = _final_bound(s, st, se)
    priced = s.priced(lam)
    chosen, quota_mask, quota_stats = _quota_phase(s, st, bound, priced)
    polish_stats: dict[str, int | float] = {}
    if policy.polish.max_pairs > 0 and bound > st.best_value:
        chosen, polish_stats = _polish_phase(s, chosen, priced, quota_mask, quota_stats)
    return _finish(s, st, se, chosen, bound, full_dual, lam,
                   {"polish": polish_stats, "quota_flow": quota_stats})


def _finish(s: _Setup, st: _State, se: _Search, chosen: np.ndarray, bound: int,
            full_dual: int, lam: np.ndarray, stats: dict[str, Any]) -> SolveResult:
    """Step 8: end maximal (anyone who still fits somewhere, a seat and the guidance left, is
    added, so no placeable person is left out and a what-if's +1 does not pick up the
    baseline's slack), and the result with its multipliers (the shadow price of guidance per
    organisation, micro-units)."""
    problem = s.problem
    chosen, fill_stats = refill(problem, chosen, s.free)
    value = problem.objective(chosen)
    if value > bound:  # cannot happen with a valid bound
        raise AssertionError(f"objective {value} above the Lagrangian bound {bound}")
    s.details.update({
        "core_edges_per_candidate": s.policy.lagrangian.core,
        "core_dual_best": st.best_core,
        "full_dual": full_dual,
        "multipliers_positive": int((lam > 0).sum()),
        "organisations_can_bind": int(s.active.sum()),
        "repairs": st.repairs,
        "best_repair": st.repair_stats,
        "value_before_polish": st.best_value,
        "polish": stats["polish"],
        "quota_flow": stats["quota_flow"],
        "final_fill": fill_stats["refill_flow_added"] + fill_stats["refill_greedy_added"],
        "trace": st.trace[:: max(1, len(st.trace) // 10)],
    })
    status = Status.OPTIMAL if value == bound else Status.FEASIBLE
    return SolveResult(status, Method.LAGRANGIAN, chosen, value, bound, True,
                       SolveDetails(multipliers=lam.tolist(), relaxation_lower=se.relaxation_lower,
                                    iterations=se.it, stats=s.details))
