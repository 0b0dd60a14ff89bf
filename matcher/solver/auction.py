"""The Lagrangian subproblem by a warm-started auction (Bertsekas), with a dual bound.

The subproblem: max sum(w[e] * x[e]) over edges with each candidate on at most one edge and
each option on at most ``seats`` edges. An option's seats are separate *slots*, each with a
price; a person's value for an option is ``w - (lowest slot price)``, and staying unassigned is
worth 0. Unassigned people bid for their best option, raising the cheapest slot's price to
where they would be indifferent to their second best (plus ``eps``) and displacing its holder.

When the auction stops every person is within ``eps`` of their best value at the prices and
every free slot costs 0, so

    dual = sum over people of max(0, best value) + sum of slot prices

is an upper bound on the subproblem's optimum (linear programming duality, for *any* prices)
and at most ``n_people * eps`` above the answer's value. With integer weights and prices this
is exact arithmetic: the Lagrangian bound built on it is valid whatever the auction did.

Warm start: the multipliers change a little between iterations, so the prices of the last
subproblem are nearly right for the next. `Auction.solve` keeps them (and the assignment),
frees slots that are empty (price 0) and unassigns only the people no longer within ``eps``
of their best, then bids from there. Prices fall back to a cold start only when the caller
asks. Everything is integer and in a fixed order: the same input gives the same answer.
"""

from __future__ import annotations

import logging
from typing import Any

import numba
import numpy as np
from numba import njit, prange

log = logging.getLogger(__name__)

#: A scalar inside the compiled functions (NumPy's or Python's integers).
Int = int | np.integer[Any]

#: The default final eps: the highest weight >> FINE_SHIFT.
FINE_SHIFT = 16
#: Each phase's eps is the previous one's divided by this.
PHASE_FACTOR = 8


@njit(cache=True)
def _refresh_option(j: Int, slot_start: np.ndarray, price: np.ndarray, min1: np.ndarray,
                    min1_slot: np.ndarray, min2: np.ndarray, big: Int) -> None:
    a, b = slot_start[j], slot_start[j + 1]
    m1, m2, s1 = big, big, -1
    for s in range(a, b):
        p = price[s]
        if p < m1:
            m2 = m1
            m1, s1 = p, s
        elif p < m2:
            m2 = p
    min1[j], min1_slot[j], min2[j] = m1, s1, m2


@njit(cache=True)
def _level_option(j: Int, level: Int, slot_start: np.ndarray, price: np.ndarray) -> None:
    """No slot of option `j` costs more than `level` (a seat is a seat: holders of a dearer
    slot would otherwise want the cheap one; the dual only sees the option's lowest price)."""
    for s in range(slot_start[j], slot_start[j + 1]):
        if price[s] > level:
            price[s] = level


@njit(cache=True)
def _best_value(i: Int, indptr: np.ndarray, arc_opt: np.ndarray, w: np.ndarray,
                min1: np.ndarray) -> Int:
    v: Int = 0
    for e in range(indptr[i], indptr[i + 1]):
        if w[e] > 0:
            x = w[e] - min1[arc_opt[e]]
            if x > v:
                v = x
    return v


@njit(cache=True)
def _check(i: Int, indptr: np.ndarray, arc_opt: np.ndarray, w: np.ndarray, price: np.ndarray,
           holder: np.ndarray, person_slot: np.ndarray, person_arc: np.ndarray,
           min1: np.ndarray, eps: Int, big: Int) -> bool:
    """Unassign person `i` when not within eps of their best value; True if unassigned."""
    s = person_slot[i]
    own: Int = 0
    if s >= 0:
        a = person_arc[i]
        own = w[a] - price[s] if w[a] > 0 else -big  # a non-positive arc must go
    if own >= _best_value(i, indptr, arc_opt, w, min1) - eps:
        return False
    if s >= 0:
        holder[s] = -1
        person_slot[i] = -1
        person_arc[i] = -1
    return True


@njit(cache=True)
def _reverse_scan(j: Int, arc_opt: np.ndarray, w: np.ndarray, rev_indptr: np.ndarray,
                  rev_arc: np.ndarray, rev_cand: np.ndarray, slot_opt: np.ndarray,
                  price: np.ndarray, person_slot: np.ndarray, person_arc: np.ndarray,
                  big: Int) -> tuple[Int, Int, int, int]:
    """For a free slot of option `j`: the highest and second-highest gain of a person (value of
    their arc into `j` at price 0 over their present value; people holding a seat of `j` left
    out), the person with the highest and their arc."""
    beta, gamma, star, star_arc = -big, -big, -1, -1
    for r in range(rev_indptr[j], rev_indptr[j + 1]):
        e = rev_arc[r]
        if w[e] <= 0:
            continue
        i = rev_cand[r]
        t = person_slot[i]
        own = w[person_arc[i]] - price[t] if t >= 0 else 0
        gain = w[e] - own
        if t >= 0 and slot_opt[t] == j:
            continue  # already holds a seat of this option
        if gain > beta:
            gamma, beta, star, star_arc = beta, gain, i, e
        elif gain > gamma:
            gamma = gain
    return beta, gamma, star, star_arc


@njit(cache=True)
def _reverse(arc_opt: np.ndarray, w: np.ndarray, rev_indptr: np.ndarray, rev_arc: np.ndarray,
             rev_cand: np.ndarray, slot_start: np.ndarray, slot_opt: np.ndarray,
             price: np.ndarray, holder: np.ndarray, person_slot: np.ndarray,
             person_arc: np.ndarray, min1: np.ndarray, min1_slot: np.ndarray, min2: np.ndarray,
             rstack: np.ndarray, eps: Int, big: Int) -> int:
    """The end of a phase: free slots that still have a price (returns the number of bids)."""
    bids = 0
    # Reverse bids: a free slot that still has a price must cost 0 for the dual to be
    # tight. It goes to the person who gains most from it over their present value (at
    # the price where the runner-up is within eps), or falls to 0 when no one gains more
    # than eps. No one becomes unhappy by this; the slot the person leaves is next.
    # Each move raises a person's value by at least eps, so this ends.
    rtop = 0
    for s in range(len(price)):
        if holder[s] < 0 and price[s] > 0:
            rstack[rtop] = s
            rtop += 1
    while rtop > 0:
        rtop -= 1
        s = rstack[rtop]
        j = slot_opt[s]
        beta, gamma, star, star_arc = _reverse_scan(j, arc_opt, w, rev_indptr, rev_arc, rev_cand,
                                                    slot_opt, price, person_slot, person_arc, big)
        if beta <= eps:
            price[s] = 0
            _level_option(j, price[s], slot_start, price)
            _refresh_option(j, slot_start, price, min1, min1_slot, min2, big)
            continue
        old = person_slot[star]
        price[s] = max(gamma - eps, 0)
        holder[s] = star
        person_slot[star] = s
        person_arc[star] = star_arc
        bids += 1
        _level_option(j, price[s], slot_start, price)
        _refresh_option(j, slot_start, price, min1, min1_slot, min2, big)
        if old >= 0:
            holder[old] = -1
            if price[old] > 0:
                rstack[rtop] = old
                rtop += 1
    return bids


@njit(cache=True)
def _scan(i: Int, indptr: np.ndarray, arc_opt: np.ndarray, w: np.ndarray,
          min1: np.ndarray) -> tuple[int, Int]:
    """Person `i`'s best arc at the prices (-1 when no arc is worth more than staying
    unassigned) and the best value of their other arcs (at least 0)."""
    v1, v2, best_arc = np.int64(0), np.int64(0), -1
    for e in range(indptr[i], indptr[i + 1]):
        we = w[e]
        if we <= 0:
            continue
        x = we - min1[arc_opt[e]]
        if x > v1:
            v2, v1, best_arc = v1, x, e
        elif x > v2:
            v2 = x
    return best_arc, v2


@njit(cache=True)
def _option_minima(slot_start: np.ndarray, price: np.ndarray,
                   big: Int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per option: its lowest slot price, that slot, and its second-lowest slot price."""
    n_opt = len(slot_start) - 1
    min1 = np.empty(n_opt, dtype=np.int64)
    min1_slot = np.empty(n_opt, dtype=np.int64)
    min2 = np.empty(n_opt, dtype=np.int64)
    for j in range(n_opt):
        _refresh_option(j, slot_start, price, min1, min1_slot, min2, big)
    return min1, min1_slot, min2


@njit(cache=True)
def _place(i: Int, e: Int, j: Int, bid: Int, slot_start: np.ndarray, price: np.ndarray,
           holder: np.ndarray, person_slot: np.ndarray, person_arc: np.ndarray,
           min1: np.ndarray, min1_slot: np.ndarray, min2: np.ndarray, big: Int) -> int:
    """Person `i` takes option `j`'s cheapest slot by arc `e` at price `bid`; returns the
    displaced holder (now unassigned), or -1."""
    s = min1_slot[j]
    prev = holder[s]
    price[s] = bid
    holder[s] = i
    person_slot[i] = s
    person_arc[i] = e
    _refresh_option(j, slot_start, price, min1, min1_slot, min2, big)
    if prev >= 0:
        person_slot[prev] = -1
        person_arc[prev] = -1
    return prev


@njit(cache=True)
def _run(indptr: np.ndarray, arc_opt: np.ndarray, w: np.ndarray, rev_indptr: np.ndarray,
         rev_arc: np.ndarray, rev_cand: np.ndarray, slot_start: np.ndarray, slot_opt: np.ndarray,
         price: np.ndarray, holder: np.ndarray, person_slot: np.ndarray, person_arc: np.ndarray,
         eps_schedule: np.ndarray) -> int:
    """Auction phases for each eps in `eps_schedule` (decreasing). Returns the number of bids."""
    n = len(indptr) - 1
    big = np.int64(1) << 62
    min1, min1_slot, min2 = _option_minima(slot_start, price, big)
    queue = np.empty(n + 1, dtype=np.int64)
    in_queue = np.zeros(n, dtype=np.bool_)
    rstack = np.empty(len(price), dtype=np.int64)
    bids = 0
    head, tail = 0, 0
    for eps in eps_schedule:
        # Everyone not within eps of their best value bids again; the slots they leave keep
        # their prices (a price is lowered only after the bidding, below).
        for i in range(n):
            if not in_queue[i] and _check(i, indptr, arc_opt, w, price, holder, person_slot,
                                          person_arc, min1, eps, big):
                in_queue[i] = True
                queue[tail] = i
                tail = (tail + 1) % (n + 1)
        while head != tail:
            i = queue[head]
            head = (head + 1) % (n + 1)
            in_queue[i] = False
            best_arc, v2 = _scan(i, indptr, arc_opt, w, min1)
            if best_arc < 0:
                continue  # nothing beats staying unassigned
            best = arc_opt[best_arc]
            w_best = w[best_arc]
            second_slot = w_best - min2[best]
            if second_slot > v2:
                v2 = second_slot
            prev = _place(i, best_arc, best, w_best - v2 + eps, slot_start, price, holder,
                          person_slot, person_arc, min1, min1_slot, min2, big)
            bids += 1
            if prev >= 0:
                in_queue[prev] = True
                queue[tail] = prev
                tail = (tail + 1) % (n + 1)
        bids += _reverse(arc_opt, w, rev_indptr, rev_arc, rev_cand, slot_start, slot_opt,
                         price, holder, person_slot, person_arc, min1, min1_slot, min2,
                         rstack, eps, big)
    return bids


#: Below this many bidders a Jacobi round bids one by one (fresh prices, no thread start-up).
JACOBI_SERIAL_BELOW = 512


@njit(cache=True, parallel=True)
def _run_jacobi(indptr: np.ndarray, arc_opt: np.ndarray, w: np.ndarray, rev_indptr: np.ndarray,
                rev_arc: np.ndarray, rev_cand: np.ndarray, slot_start: np.ndarray,
                slot_opt: np.ndarray, price: np.ndarray, holder: np.ndarray,
                person_slot: np.ndarray, person_arc: np.ndarray,
                eps_schedule: np.ndarray, serial_below: Int) -> int:
    """`_run` with the bidders' scans in parallel (Jacobi rounds): in each round every bidder
    scans their arcs at the round's prices, in parallel (read-only); then, in bidder order, a
    bid is placed only if its option is still the bidder's best by that scan at the prices as
    they are by then: its value at the option's lowest price now must be at least both the
    scan's second-best value (other options' prices only rise, so that value can only have
    fallen: it is an upper bound) and the value at the option's second-lowest price now. Then
    the bid price (the option's best value minus that second-best value, plus eps) is at least
    the lowest price plus eps and leaves the bidder within eps of their best, as a one-by-one
    bid would. A bidder whose option lost that test bids again in the next round, as does
    every displaced holder. The first bid of a round always passes (nothing has moved), so
    every round makes progress. A round of fewer than `serial_below` bidders scans each bidder
    just before their bid instead (one by one; all pass). The outcome does not depend on the
    number of threads."""
    n = len(indptr) - 1
    big = np.int64(1) << 62
    min1, min1_slot, min2 = _option_minima(slot_start, price, big)
    active = np.empty(n, dtype=np.int64)
    nxt = np.empty(n, dtype=np.int64)
    best_arc = np.empty(n, dtype=np.int64)
    second = np.empty(n, dtype=np.int64)
    unhappy = np.zeros(n, dtype=np.bool_)
    rstack = np.empty(len(price), dtype=np.int64)
    bids = 0
    for eps in eps_schedule:
        for i in prange(n):
            held = person_slot[i]
            mine = np.int64(0)
            if held >= 0:
                arc = person_arc[i]
                mine = w[arc] - price[held] if w[arc] > 0 else -big
            unhappy[i] = mine < _best_value(i, indptr, arc_opt, w, min1) - eps
        m = 0
        for i in range(n):
            if unhappy[i]:
                s = person_slot[i]
                if s >= 0:
                    holder[s] = -1
                    person_slot[i] = -1
                    person_arc[i] = -1
                active[m] = i
                m += 1
        while m > 0:
            if m >= serial_below:
                for q in prange(m):
                    b_arc, b_second = _scan(active[q], indptr, arc_opt, w, min1)
                    best_arc[q] = b_arc
                    second[q] = b_second
            m_next = 0
            for k in range(m):
                i = active[k]
                if m < serial_below:
                    b_arc, b_second = _scan(i, indptr, arc_opt, w, min1)
                    best_arc[k] = b_arc
                    second[k] = b_second
                e = best_arc[k]
                if e < 0:
                    continue  # nothing beats staying unassigned
                j = arc_opt[e]
                w_best = w[e]
                v1 = w_best - min1[j]
                v2 = second[k]
                if w_best - min2[j] > v2:
                    v2 = w_best - min2[j]
                if v1 <= 0 or v1 < v2:
                    nxt[m_next] = i  # the scan is out of date: bid again next round
                    m_next += 1
                    continue
                prev = _place(i, e, j, w_best - v2 + eps, slot_start, price, holder,
                              person_slot, person_arc, min1, min1_slot, min2, big)
                bids += 1
                if prev >= 0:
                    nxt[m_next] = prev
                    m_next += 1
            active, nxt = nxt, active
            m = m_next
        bids += _reverse(arc_opt, w, rev_indptr, rev_arc, rev_cand, slot_start, slot_opt,
                         price, holder, person_slot, person_arc, min1, min1_slot, min2,
                         rstack, eps, big)
    return bids


@njit(cache=True, parallel=True)
def _dual(indptr: np.ndarray, arc_opt: np.ndarray, w: np.ndarray, slot_start: np.ndarray,
          price: np.ndarray) -> Int:
    n_opt = len(slot_start) - 1
    big = np.int64(1) << 62
    min1 = np.empty(n_opt, dtype=np.int64)
    for j in range(n_opt):
        m = big
        for s in range(slot_start[j], slot_start[j + 1]):
            if price[s] < m:
                m = price[s]
        min1[j] = m
    total = np.int64(0)
    for s in range(len(price)):
        total += price[s]
    people = np.int64(0)
    for i in prange(len(indptr) - 1):  # integers: the same sum on any number of threads
        people += _best_value(i, indptr, arc_opt, w, min1)
    return total + people


@njit(cache=True, parallel=True)
def _top_and_moved(w: np.ndarray, last_w: np.ndarray) -> tuple[Int, Int]:
    """(highest weight, at least 0; largest change of a weight since `last_w`, 0 when empty)."""
    top = np.int64(0)
    moved = np.int64(0)
    warm = len(last_w) == len(w)
    for k in prange(len(w)):
        top = max(top, w[k])
        if warm:
            moved = max(moved, abs(w[k] - last_w[k]))
    return top, moved


@njit(cache=True, parallel=True)
def priced_weights(weight: np.ndarray, idx: np.ndarray, lam: np.ndarray, org: np.ndarray,
                   need: np.ndarray, out: np.ndarray) -> None:
    """``out[k] = weight[idx[k]] - lam[org[k]] * need[k]`` (the Lagrangian's priced weights
    of the edges `idx`), in parallel and without temporaries."""
    for k in prange(len(idx)):
        out[k] = weight[idx[k]] - lam[org[k]] * need[k]


@njit(cache=True)
def _by_option(arc_opt: np.ndarray, rev_indptr: np.ndarray) -> np.ndarray:
    """The edges grouped by option, in edge order within an option (a stable counting sort;
    `rev_indptr` holds each option's first position)."""
    order = np.empty(len(arc_opt), dtype=np.int32)
    fill = rev_indptr[:-1].copy()
    for e in range(len(arc_opt)):
        j = arc_opt[e]
        order[fill[j]] = e
        fill[j] += 1
    return order


class Auction:
    """A warm-startable auction over a fixed set of edges (the caller's `edges`, sorted by
    candidate) with fixed seats per option; each `solve` takes new weights for those edges."""

    def __init__(self, cand: np.ndarray, opt: np.ndarray, n_candidates: int,
                 seats: np.ndarray, prices: np.ndarray | None = None,
                 threads: int = 1) -> None:
        """`prices` (optional, per option, >= 0): start from these prices instead of 0 (the
        first `solve` then keeps them, with a finer first phase). `threads` > 1: Jacobi rounds
        (`_run_jacobi`) on up to that many threads (at most numba's thread count); the answer
        is the same for any number above 1 (but not the same as one by one, `threads` = 1)."""
        if len(cand) and np.any(np.diff(cand) < 0):
            raise ValueError("edges must be sorted by candidate")
        # int32 indices (half the memory at national size); numba compiles for them as well.
        self.indptr = np.zeros(n_candidates + 1, dtype=np.int64)
        np.cumsum(np.bincount(cand, minlength=n_candidates), out=self.indptr[1:])
        self.arc_opt = np.asarray(opt, dtype=np.int32)
        self.rev_indptr = np.zeros(len(seats) + 1, dtype=np.int64)
        np.cumsum(np.bincount(self.arc_opt, minlength=len(seats)), out=self.rev_indptr[1:])
        self.rev_arc = _by_option(self.arc_opt, self.rev_indptr)
        self.rev_cand = np.asarray(cand, dtype=np.int32)[self.rev_arc]
        seats = np.maximum(np.asarray(seats, dtype=np.int64), 0)
        self.slot_start = np.concatenate([[0], np.cumsum(seats)]).astype(np.int64)
        self.slot_opt = np.repeat(np.arange(len(seats), dtype=np.int64), seats)
        n_slots = int(self.slot_start[-1])
        self.price = np.zeros(n_slots, dtype=np.int64)
        self.holder = np.full(n_slots, -1, dtype=np.int64)
        self.person_slot = np.full(n_candidates, -1, dtype=np.int64)
        self.person_arc = np.full(n_candidates, -1, dtype=np.int64)
        self.last_w: np.ndarray | None = None  # the last call's weights (None: cold)
        self.primed = prices is not None
        if prices is not None:
            self.price[:] = np.maximum(np.asarray(prices, dtype=np.int64), 0)[self.slot_opt]
        self.bids = 0
        self.threads = max(int(threads), 1)
        self.serial_below = JACOBI_SERIAL_BELOW

    def solve(self, w: np.ndarray, eps: int | None = None, warm: bool = True,
              fine_shift: int = FINE_SHIFT) -> tuple[np.ndarray, int]:
        """(chosen arcs as a bool mask over the edges, dual upper bound) for weights `w` (int64
        per edge; edges with ``w <= 0`` are never chosen).

        The chosen arcs' value is at most ``n_candidates * eps`` below the dual, so at most
        that far from the optimum. `eps` defaults to the highest weight / 2**`fine_shift`
        (with 16, the default, at most about 0.003% of the optimum: each person's value counts
        for at least 1/2**16 of the highest; a smaller shift stops earlier, coarser).
        `warm` continues from the last call's prices and assignment; the first phase's eps is
        a quarter of the largest change of a weight since that call, and each phase divides
        it by 8 (`PHASE_FACTOR`).
        """
        w = np.ascontiguousarray(w, dtype=np.int64)
        if len(w) != len(self.arc_opt):
            raise ValueError(f"{len(w)} weights for {len(self.arc_opt)} edges")
        cores = int(getattr(numba.config, "NUMBA_NUM_THREADS", 1))  # numba's thread pool
        numba.set_num_threads(min(self.threads, cores))
        last_w = self.last_w if warm and self.last_w is not None else None
        top_, moved_ = _top_and_moved(w, w[:0] if last_w is None else last_w)
        top, moved = int(top_), int(moved_)
        eps = max(int(eps) if eps is not None else top >> fine_shift, 1)
        if last_w is not None:
            start = min(max(moved // 4, eps), max(top // 8, eps))
        elif self.primed:  # given prices, no assignment yet: a finer first phase keeps them
            start = max(top >> 8, eps)
        else:
            self.price[:] = 0
            self.holder[:] = -1
            self.person_slot[:] = -1
            self.person_arc[:] = -1
            start = max(top // 8, eps)
        schedule = []
        e = start
        while e > eps:
            schedule.append(e)
            e //= PHASE_FACTOR
        schedule.append(eps)
        args = (self.indptr, self.arc_opt, w, self.rev_indptr, self.rev_arc, self.rev_cand,
                self.slot_start, self.slot_opt, self.price, self.holder, self.person_slot,
                self.person_arc, np.asarray(schedule, dtype=np.int64))
        if self.threads > 1:
            self.bids = _run_jacobi(*args, self.serial_below)
        else:
            self.bids = _run(*args)
        dual = int(_dual(self.indptr, self.arc_opt, w, self.slot_start, self.price))
        self.last_w = w
        self.primed = False
        log.debug("auction: %d phases from eps %d to %d, %d bids", len(schedule), schedule[0],
                  eps, self.bids)
        return self.chosen(), dual

    def chosen(self) -> np.ndarray:
        """The current assignment as a bool mask over the edges."""
        out = np.zeros(len(self.arc_opt), dtype=bool)
        out[self.person_arc[self.person_arc >= 0]] = True
        return out
