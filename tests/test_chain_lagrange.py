"""The chain's Lagrangian (matcher.chain.lagrange): a valid bound at any prices, a feasible
repair, a certificate that verifies, the same answer twice."""

from __future__ import annotations

import numpy as np
import pytest

from matcher.chain import lagrange
from matcher.errors import InputError
from matcher.load import instance_from_frames
from matcher.policy import default_policy
from matcher.round import run_round
from tests.test_chain_model import _answer, _feasible, tables


def _exact(seed: int):
    t = tables(seed, n_c=6)
    try:
        return run_round(instance_from_frames(t), default_policy())
    except InputError:  # refused rounds (infeasible locks) have no optimum to compare
        return None


@pytest.mark.parametrize("seed", range(12))
def test_bound_at_any_prices_is_at_least_the_exact_optimum(seed: int):
    rnd = _exact(seed)
    if rnd is None or rnd.chain is None:
        pytest.skip("no chain round for this seed")
    inst, problem, routes = rnd.instance, rnd.problem, rnd.chain.routes
    limits = lagrange.limits_of(inst, problem)
    items = lagrange.build_items(inst, problem, routes, limits, routes.weight_int)
    rng = np.random.default_rng(seed)
    for scale in (0, 10_000, 300_000, 3_000_000):
        prices = {k: rng.integers(0, scale + 1, len(v)).astype(np.int64)
                  for k, v in lagrange.zero_prices(limits).items()}
        ev = lagrange.evaluate(items, limits, prices)
        assert ev.bound >= rnd.result.objective


def _large(seed: int):
    """The same tiny round solved as a large one (exact_max_variables 1: the Lagrangian)."""
    pol = default_policy()
    pol = pol.model_copy(update={"chain": pol.chain.model_copy(
        update={"exact_max_variables": 1})})
    try:
        return run_round(instance_from_frames(tables(seed, n_c=6)), pol)
    except InputError:
        return None


@pytest.mark.parametrize("seed", range(12))
def test_large_round_is_feasible_and_its_bound_holds(seed: int):
    exact, large = _exact(seed), _large(seed)
    assert (exact is None) <= (large is None)  # never an answer where none is feasible
    if exact is None or exact.chain is None:
        pytest.skip("no chain round for this seed")
    assert large is not None and large.result.method == "chain_lagrangian"
    pick = _answer(large)
    assert _feasible(large, pick)
    assert large.result.objective == sum(ch[2] for ch in pick if ch is not None)
    assert large.result.objective <= exact.result.objective <= large.result.bound
    cert = large.result.details.certificate
    assert cert is not None and cert.prices is not None
    # the bound is the one the certificate's prices give (recomputed from the prices alone)
    limits = lagrange.limits_of(large.instance, large.problem)
    items = lagrange.build_items(large.instance, large.problem, large.chain.routes, limits,
                                 large.chain.routes.weight_int)
    assert lagrange.evaluate(items, limits, cert.prices).bound == large.result.bound


def test_large_round_is_deterministic():
    a, b = _large(4), _large(4)
    assert a is not None and b is not None
    assert a.result.objective == b.result.objective and a.result.bound == b.result.bound
    assert (a.chosen == b.chosen).all()
    assert (a.chain.chosen_routes == b.chain.chosen_routes).all()
