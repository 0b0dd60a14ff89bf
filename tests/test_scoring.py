"""Scoring: hard rules, components on hand-checked examples, and sparse pair generation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings

from matcher.geo import haversine_km, resolve_postcodes
from matcher.levels import parse_levels
from matcher.load import build_instance
from matcher.policy import default_policy
from matcher.scoring import build_edges, eligible_pairs, filter_failures
from matcher.scoring.eligibility import is_eligible, iter_eligible_pairs
from tests.conftest import random_tables


def test_levels_order_and_literacy_equivalents():
    ranks = parse_levels(pd.Series(["A0", "a1", "A2", "1F", "B1", "2F", "B2", "3F", "C2", "B3"]))
    assert ranks.tolist() == [0, 1, 2, 2, 3, 3, 4, 4, 6, -1]


def test_postcodes_resolve_with_or_without_letters():
    lat, _lon, ok = resolve_postcodes(pd.Series(["3511", "3511 AB", "3511AB", " 3511 ab ", "1000",
                                                "35", ""]))
    assert ok.tolist() == [True, True, True, True, False, False, False]
    assert lat[0] == lat[1] == lat[2] == lat[3] == pytest.approx(52.0884)


def test_haversine_utrecht_amsterdam():
    d = haversine_km(np.array([52.0907]), np.array([5.1214]), np.array([52.3676]),
                     np.array([4.9041]))
    assert d[0] == pytest.approx(34.4, abs=0.5)


def one_pair(cand: dict, opt: dict, org_budget: str = "5"):
    c = {"candidate_id": "C1", "skills": "", "sectors": "", "hours_available": "20",
         "dutch_level": "B1", "guidance_need": "1", "max_travel_km": "10", "lat": "52.09",
         "lon": "5.12"} | cand
    o = {"option_id": "O1", "organisation_id": "G", "kind": "place", "sector": "cleaning",
         "capacity": "1", "hours_min": "10", "hours_max": "30", "min_dutch_level": "A2",
         "skills": "", "lat": "52.09", "lon": "5.12"} | opt
    g = {"organisation_id": "G", "name": "G", "kind": "employer", "guidance_capacity": org_budget}
    return build_instance({"organisations": pd.DataFrame([g]), "options": pd.DataFrame([o]),
                           "candidates": pd.DataFrame([c])})


@pytest.mark.parametrize(("cand", "opt", "budget", "failing"), [
    ({}, {}, "5", []),
    ({"dutch_level": "A1"}, {}, "5", ["language"]),
    ({"dutch_level": "1F"}, {"min_dutch_level": "A2"}, "5", []),  # 1F = A2
    ({"dutch_level": "2F"}, {"min_dutch_level": "B2"}, "5", ["language"]),
    ({"hours_available": "9.5"}, {}, "5", ["hours"]),
    ({"hours_available": "10"}, {}, "5", []),
    ({"max_travel_km": "5"}, {"lat": "52.2"}, "5", ["travel"]),  # about 12 km north
    ({"guidance_need": "3"}, {}, "2", ["guidance"]),
    ({"guidance_need": "2"}, {}, "2", []),
    ({"max_travel_km": "0"}, {}, "5", []),  # same place, no travel needed
])
def test_hard_rules(cand, opt, budget, failing):
    inst = one_pair(cand, opt, budget)
    fails = filter_failures(inst, np.array([0]), np.array([0]))
    assert [k for k, v in fails.items() if v[0]] == failing
    cand_idx, _, _ = eligible_pairs(inst)
    assert len(cand_idx) == (0 if failing else 1)


def test_components_on_a_worked_example():
    inst = one_pair(
        {"skills": "cleaning:2;cooking:3", "sectors": "hospitality;cleaning",
         "hours_available": "40", "dutch_level": "B2", "max_travel_km": "20"},
        {"skills": "cleaning:3;technical:1", "hours_max": "30", "lat": "52.18"},
    )
    e = build_edges(inst, default_policy())
    assert len(e) == 1
    c = {k: v[0] for k, v in e.components.items()}
    assert c["skills"] == pytest.approx(2 / 4)  # min(2,3) + min(0,1) over 3 + 1
    assert c["sector"] == pytest.approx(0.8)  # second wish
    assert c["hours"] == pytest.approx(30 / 40)
    assert c["travel"] == pytest.approx(1 - e.distance_km[0] / 20)
    assert c["language"] == pytest.approx(0.5 + 2 * 0.25)  # B2 is two levels above A2
    w = default_policy().weights.as_dict()
    expected = sum(w[k] * c[k] for k in w) / sum(w.values())
    assert e.score[0] == pytest.approx(expected, abs=1e-6)
    assert e.weight[0] == pytest.approx(e.score[0] + 1.0)
    assert e.weight_int[0] == round(e.weight[0] * 1_000_000)


def test_unwished_and_no_wishes():
    unwished = build_edges(one_pair({"sectors": "retail"}, {}), default_policy())
    nowish = build_edges(one_pair({"sectors": ""}, {}), default_policy())
    assert unwished.components["sector"][0] == pytest.approx(0.2)
    assert nowish.components["sector"][0] == pytest.approx(0.5)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_tables(max_candidates=12, max_options=6, max_orgs=3, decisions=False))
def test_sparse_pair_generation_equals_the_dense_rules(tables):
    inst = build_instance(tables)
    cand, opt, _dist = eligible_pairs(inst)
    cc, oo = np.meshgrid(np.arange(inst.n_candidates), np.arange(inst.n_options), indexing="ij")
    cc, oo = cc.ravel(), oo.ravel()
    dense = is_eligible(filter_failures(inst, cc, oo))
    assert list(zip(cand.tolist(), opt.tolist(), strict=True)) == \
        list(zip(cc[dense].tolist(), oo[dense].tolist(), strict=True))
    chunks = list(iter_eligible_pairs(inst, chunk_size=3))  # chunk boundaries change nothing
    assert np.concatenate([c[0] for c in chunks]).tolist() == cand.tolist()
    assert np.concatenate([c[1] for c in chunks]).tolist() == opt.tolist()
    assert (build_edges(inst, default_policy()).score >= 0).all()
    assert (build_edges(inst, default_policy()).score <= 1).all()
