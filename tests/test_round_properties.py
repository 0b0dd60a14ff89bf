"""Guarantees of a round on random instances: feasible, optimal, deterministic, monotone."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from matcher.errors import InputError
from matcher.load import build_instance
from matcher.policy import default_policy
from matcher.round import Round, run_round
from matcher.scoring.eligibility import filter_failures, is_eligible
from matcher.solver import Status
from tests.conftest import random_tables

POLICY = default_policy()
FAST = settings(max_examples=40, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def round_of(tables: dict[str, pd.DataFrame]) -> Round:
    inst = build_instance(tables)
    try:
        return run_round(inst, POLICY)
    except InputError as exc:  # locks that cannot all be kept: a valid refusal
        assert all(p.file == "decisions.csv" for p in exc.problems)
        assume(False)
        raise


def brute_force_optimum(rnd: Round) -> int:
    """Best objective over every assignment (each candidate: nothing or one of its edges)."""
    p = rnd.problem
    per_cand = [np.flatnonzero(p.cand == c) for c in range(p.n_candidates)]
    best = -1
    for pick in itertools.product(*[[-1, *edges.tolist()] for edges in per_cand]):
        chosen = np.zeros(p.n_edges, dtype=bool)
        chosen[[e for e in pick if e >= 0]] = True
        if not p.violations(chosen):
            best = max(best, p.objective(chosen))
    return best


@FAST
@given(random_tables())
def test_every_round_is_feasible_and_accounts_for_everyone(tables):
    rnd = round_of(tables)
    assert rnd.problem.violations(rnd.result.chosen) == []
    a, u = rnd.assignments, rnd.unmatched
    # Nobody is silently dropped: every candidate is matched or has a reason.
    assert sorted([*a["candidate_id"], *u["candidate_id"]]) == sorted(tables["candidates"]
                                                                      ["candidate_id"])
    assert a["candidate_id"].is_unique
    # Forbidden pairs are never proposed; locked pairs always are.
    dec = tables.get("decisions", pd.DataFrame(columns=["candidate_id", "option_id", "decision"]))
    pairs = set(zip(a["candidate_id"], a["option_id"], strict=True))
    for c, o, d in dec.itertuples(index=False):
        assert ((c, o) in pairs) == (d == "lock")
    # Proposed pairs pass the hard rules unless a coordinator locked them.
    inst = rnd.instance
    e = rnd.edges
    ok = is_eligible(filter_failures(inst, e.cand[rnd.chosen], e.opt[rnd.chosen]))
    assert (ok | (e.decision[rnd.chosen] == 1)).all()
    assert rnd.result.objective <= rnd.result.bound


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(random_tables(max_candidates=5, max_options=3))
def test_optimal_against_brute_force(tables):
    rnd = round_of(tables)
    assume(np.prod([1 + np.sum(rnd.problem.cand == c) for c in range(rnd.problem.n_candidates)])
           <= 20_000)
    assert rnd.result.status is Status.OPTIMAL
    assert rnd.result.objective == brute_force_optimum(rnd) == rnd.result.bound


def _shuffled(tables: dict[str, pd.DataFrame], seed: int) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    out = {}
    for name, df in tables.items():
        df = df.iloc[rng.permutation(len(df))]
        out[name] = df[list(rng.permutation(df.columns))]
    return out


@FAST
@given(random_tables(max_candidates=8, max_options=4), st.integers(0, 1000))
def test_row_and_column_order_change_nothing(tables, seed):
    a = round_of(tables)
    b = round_of(_shuffled(tables, seed))
    assert a.instance.content_hash == b.instance.content_hash
    for frame in ("assignments", "unmatched", "utilisation"):
        pd.testing.assert_frame_equal(getattr(a, frame), getattr(b, frame))
    pd.testing.assert_frame_equal(a.edges.to_frame(a.instance), b.edges.to_frame(b.instance))


@FAST
@given(random_tables(max_candidates=8, max_options=4), st.data())
def test_more_capacity_never_lowers_the_objective(tables, data):
    base = round_of(tables)
    more = {k: v.copy() for k, v in tables.items()}
    opts, orgs = more["options"], more["organisations"]
    i = data.draw(st.integers(0, len(opts) - 1))
    opts.loc[opts.index[i], "capacity"] = str(int(opts["capacity"].iloc[i]) + 1)
    g = data.draw(st.integers(0, len(orgs) - 1))
    orgs.loc[orgs.index[g], "guidance_capacity"] = str(int(orgs["guidance_capacity"].iloc[g]) + 1)
    bigger = round_of(more)
    assert base.result.status is Status.OPTIMAL and bigger.result.status is Status.OPTIMAL
    assert bigger.result.objective >= base.result.objective


@FAST
@given(random_tables(max_candidates=6, max_options=3))
def test_same_input_same_output(tables):
    a, b = round_of(tables), round_of(tables)
    assert np.array_equal(a.chosen, b.chosen)
    pd.testing.assert_frame_equal(a.assignments, b.assignments)
