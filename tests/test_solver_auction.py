"""The auction subproblem: feasible, within n * eps of the min-cost flow's optimum, a dual that
is never below that optimum, the same guarantees when warm-started, and repeatable."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ortools.graph.python import min_cost_flow

from matcher.solver.auction import Auction


def flow_optimum(cand: np.ndarray, opt: np.ndarray, w: np.ndarray, n_c: int,
                 seats: np.ndarray) -> int:
    """The subproblem's optimum by OR-Tools' min-cost flow (edges with w <= 0 left out)."""
    keep = w > 0
    c, o, ww = cand[keep], opt[keep], w[keep]
    n_o = len(seats)
    src, sink = n_c + n_o, n_c + n_o + 1
    smcf = min_cost_flow.SimpleMinCostFlow()
    smcf.add_arcs_with_capacity_and_unit_cost(
        np.concatenate([np.full(n_c, src), c, n_c + np.arange(n_o), [src]]),
        np.concatenate([np.arange(n_c), n_c + o, np.full(n_o, sink), [sink]]),
        np.concatenate([np.ones(n_c + len(c)), np.maximum(seats, 0), [n_c]]).astype(np.int64),
        np.concatenate([np.zeros(n_c), -ww, np.zeros(n_o + 1)]).astype(np.int64))
    smcf.set_nodes_supplies(np.array([src, sink]), np.array([n_c, -n_c]))
    assert smcf.solve() == smcf.OPTIMAL
    return -int(smcf.optimal_cost())


@st.composite
def instances(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, int, np.ndarray,
                                        list[np.ndarray], int]:
    """Edges sorted by candidate, seats, a sequence of weight vectors (for warm starts), eps."""
    n_c = draw(st.integers(1, 12))
    n_o = draw(st.integers(1, 6))
    pairs = sorted(draw(st.sets(st.tuples(st.integers(0, n_c - 1), st.integers(0, n_o - 1)),
                                min_size=1, max_size=n_c * n_o)))
    cand = np.array([p[0] for p in pairs], dtype=np.int64)
    opt = np.array([p[1] for p in pairs], dtype=np.int64)
    seats = np.array(draw(st.lists(st.integers(0, 4), min_size=n_o, max_size=n_o)))
    weights = [np.array(draw(st.lists(st.integers(-300, 2000), min_size=len(pairs),
                                      max_size=len(pairs))), dtype=np.int64)
               for _ in range(draw(st.integers(1, 4)))]
    eps = draw(st.sampled_from([1, 1, 7, 50]))
    return cand, opt, n_c, seats, weights, eps


def check(cand: np.ndarray, opt: np.ndarray, n_c: int, seats: np.ndarray, w: np.ndarray,
          chosen: np.ndarray, dual: int, eps: int) -> None:
    assert (w[chosen] > 0).all()
    assert np.bincount(cand[chosen], minlength=n_c).max(initial=0) <= 1
    assert (np.bincount(opt[chosen], minlength=len(seats)) <= np.maximum(seats, 0)).all()
    value = int(w[chosen].sum())
    optimum = flow_optimum(cand, opt, w, n_c, seats)
    assert value <= optimum <= dual
    assert dual - value <= n_c * eps


def make(cand: np.ndarray, opt: np.ndarray, n_c: int, seats: np.ndarray, threads: int,
         prices: np.ndarray | None = None) -> Auction:
    """An auction; with `threads` > 1 in Jacobi rounds that scan in parallel from the first
    bidder on (no one-by-one rounds), so that stale scans are exercised on tiny instances."""
    a = Auction(cand, opt, n_c, seats, prices, threads=threads)
    a.serial_below = 1
    return a


@pytest.mark.parametrize("threads", [1, 2])
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inst=instances())
def test_auction_near_optimal_with_valid_dual_cold_and_warm(inst, threads) -> None:  # type: ignore[no-untyped-def]
    cand, opt, n_c, seats, weights, eps = inst
    warm = make(cand, opt, n_c, seats, threads)
    for w in weights:
        chosen, dual = warm.solve(w, eps=eps)
        check(cand, opt, n_c, seats, w, chosen, dual, eps)
        cold_chosen, cold_dual = make(cand, opt, n_c, seats, threads).solve(w, eps=eps)
        check(cand, opt, n_c, seats, w, cold_chosen, cold_dual, eps)
        # Started from given prices (any: here arbitrary ones, some above every weight).
        prices = (np.arange(len(seats)) * 397 + int(w.sum())) % 2500
        primed = make(cand, opt, n_c, seats, threads, prices)
        primed_chosen, primed_dual = primed.solve(w, eps=eps)
        check(cand, opt, n_c, seats, w, primed_chosen, primed_dual, eps)


@pytest.mark.parametrize("threads", [1, 2])
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inst=instances(), shifts=st.lists(st.sampled_from([0, 2, 5, 16]), min_size=4, max_size=4))
def test_auction_coarse_eps_by_shift_then_fine(inst, threads, shifts) -> None:  # type: ignore[no-untyped-def]
    """`fine_shift` stops at eps = highest weight >> shift; warm calls may switch between a
    coarse and the finest eps (as the Lagrangian search and its final bound do)."""
    cand, opt, n_c, seats, weights, _ = inst
    a = make(cand, opt, n_c, seats, threads)
    for w, shift in zip(weights, shifts, strict=False):
        chosen, dual = a.solve(w, fine_shift=shift)
        check(cand, opt, n_c, seats, w, chosen, dual, max(int(w.max()) >> shift, 1))
        chosen, dual = a.solve(w)  # the same weights again at the finest eps
        check(cand, opt, n_c, seats, w, chosen, dual, max(int(w.max()) >> 16, 1))


@pytest.mark.parametrize("threads", [1, 2])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inst=instances())
def test_auction_repeatable(inst, threads) -> None:  # type: ignore[no-untyped-def]
    cand, opt, n_c, seats, weights, eps = inst
    a, b = make(cand, opt, n_c, seats, threads), make(cand, opt, n_c, seats, threads)
    for w in weights:
        xa, da = a.solve(w, eps=eps)
        xb, db = b.solve(w, eps=eps)
        assert np.array_equal(xa, xb) and da == db


@pytest.mark.parametrize("threads", [1, 2])
def test_auction_exact_at_eps_one_on_a_crowded_market(threads: int) -> None:
    """More people than seats, near-equal values (the case where auctions stall in price wars):
    with eps = 1 and weights scaled by n + 1 the answer is the optimum; warm after small
    changes too; one by one and in Jacobi rounds."""
    rng = np.random.default_rng(7)
    n_c, n_o = 400, 40
    cand = np.repeat(np.arange(n_c), 12)
    opt = rng.integers(0, n_o, len(cand))
    key = np.unique(cand * n_o + opt)
    cand, opt = key // n_o, key % n_o
    seats = rng.integers(1, 6, n_o)
    a = make(cand, opt, n_c, seats, threads)
    base = 1000 + rng.integers(0, 50, len(cand))
    for step in range(4):
        w = (base + step * rng.integers(-3, 4, len(cand))) * (n_c + 1)
        chosen, dual = a.solve(w, eps=1)
        optimum = flow_optimum(cand, opt, w, n_c, seats)
        assert int(w[chosen].sum()) == optimum <= dual <= optimum + n_c


def test_auction_rejects_unsorted_edges_and_wrong_weights() -> None:
    with pytest.raises(ValueError, match="sorted"):
        Auction(np.array([1, 0]), np.array([0, 0]), 2, np.array([1]))
    a = Auction(np.array([0, 1]), np.array([0, 0]), 2, np.array([1]))
    with pytest.raises(ValueError, match="weights"):
        a.solve(np.array([1, 2, 3]))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(-10**12, 10**12), st.integers(-10**12, 10**12)),
                max_size=300), st.integers(0, 3))
def test_weight_kernels_are_their_numpy_definitions(pairs: list[tuple[int, int]],
                                                    lam_seed: int) -> None:
    """The parallel kernels of the whole iterations: highest weight and largest change, and the
    priced weights, as NumPy computes them."""
    from matcher.solver.auction import _top_and_moved, priced_weights

    w = np.array([p[0] for p in pairs], dtype=np.int64)
    last = np.array([p[1] for p in pairs], dtype=np.int64)
    top, moved = _top_and_moved(w, last)
    assert top == max(int(w.max(initial=0)), 0)
    assert moved == int(np.abs(w - last).max(initial=0))
    assert _top_and_moved(w, w[:0])[1] == 0
    rng = np.random.default_rng(lam_seed)
    idx = rng.permutation(len(w)).astype(np.int64)
    lam = rng.integers(0, 10**6, 5)
    org = rng.integers(0, 5, len(w)).astype(np.int32)
    need = rng.integers(0, 4, len(w)).astype(np.int32)
    out = np.empty(len(w), dtype=np.int64)
    priced_weights(last, idx, lam, org, need, out)
    assert np.array_equal(out, last[idx] - lam[org] * need)


@settings(max_examples=100, deadline=None)
@given(instances())
def test_index_arrays_are_their_definitions(inst) -> None:  # type: ignore[no-untyped-def]
    """Each person's edges start at indptr; the edges grouped by option are the stable sort of
    the edges by option."""
    cand, opt, n_c, seats, _, _ = inst
    a = Auction(cand, opt, n_c, seats)
    assert np.array_equal(a.indptr, np.searchsorted(cand, np.arange(n_c + 1)))
    order = np.argsort(opt, kind="stable")
    assert np.array_equal(a.rev_arc, order)
    assert np.array_equal(a.rev_cand, cand[order])
    assert np.array_equal(a.rev_indptr, np.searchsorted(opt[order], np.arange(len(seats) + 1)))
