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
from tests.test_chain_model import tables


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
