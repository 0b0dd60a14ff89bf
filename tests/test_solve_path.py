"""The one solve path: typed results (Method, SolveDetails)."""

from __future__ import annotations

import json

from matcher.solver.result import CARRY_OVER_SUFFIX, FAIRNESS_SUFFIX, Method, SolveDetails


def test_every_base_method_has_its_refinements() -> None:
    bases = {m for m in Method if "+" not in m.value}
    for m in (Method.MIN_COST_FLOW, Method.LAGRANGIAN, Method.CP_SAT, Method.DECOMPOSED):
        assert m.with_fairness().value == m.value + FAIRNESS_SUFFIX
        assert m.carried_over().value == m.value + CARRY_OVER_SUFFIX
        assert m.with_fairness().base is m and m.carried_over().base is m
    assert all(m.base in bases for m in Method)


def test_method_values_are_the_strings_round_json_shows() -> None:
    assert json.dumps({"method": Method.LAGRANGIAN_CARRY_OVER}) == \
        '{"method": "lagrangian+carry_over"}'
    assert Method("cp_sat+fairness_cp_sat") is Method.CP_SAT_FAIRNESS


def test_details_as_dict_leaves_out_what_is_unset() -> None:
    d = SolveDetails(multipliers=[0, 3], iterations=4, stats={"seconds": 1.5})
    assert d.as_dict() == {"seconds": 1.5, "iterations": 4, "multipliers": [0, 3]}
    assert SolveDetails(reasons=["x"]).as_dict() == {"reasons": ["x"]}
