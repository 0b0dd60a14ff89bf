"""Scoring at scale: blocked, chunked and top-K pair generation equals brute force."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from matcher.load import instance_from_frames
from matcher.model import Instance
from matcher.policy import default_policy, policy_from_dict
from matcher.progress import progress_hook
from matcher.scoring import build_edges, filter_failures, score_pairs
from matcher.scoring.eligibility import distances_km, is_eligible, iter_eligible_pairs
from matcher.scoring.table import FORBID, LOCK
from matcher.synth import generate


@pytest.fixture(autouse=True, params=["kdtree", "grid"])
def near_index(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test runs with both ways of finding the options near a person (the same pairs)."""
    from matcher.scoring import eligibility

    monkeypatch.setattr(eligibility, "GRID_MIN_CANDIDATES", 0 if request.param == "grid" else 10**9)
    return str(request.param)


@pytest.fixture(scope="module")
def inst() -> Instance:
    g = generate(600, "utrecht", 21)
    frames = g.frames()
    frames.pop("protected")
    dec = frames["decisions"]
    # A lock outside the hard rules: candidate 0 to an option far above their Dutch level.
    cands, opts = frames["candidates"], frames["options"]
    far = opts.index[opts["min_dutch_level"] == "B1"][0]
    low = cands.index[cands["dutch_level"] == "A0"][0]
    extra = {"candidate_id": cands.at[low, "candidate_id"], "option_id": opts.at[far, "option_id"],
             "decision": "lock", "reason": "test"}
    frames["decisions"] = pd.concat([dec[dec["candidate_id"] != extra["candidate_id"]],
                                     pd.DataFrame([extra])], ignore_index=True)
    return instance_from_frames(frames)


def brute(inst: Instance, policy) -> dict[tuple[int, int], float]:  # type: ignore[no-untyped-def]
    """Every pair of the instance, densely: the eligible ones with their scores."""
    cand = np.repeat(np.arange(inst.n_candidates), inst.n_options)
    opt = np.tile(np.arange(inst.n_options), inst.n_candidates)
    dist = distances_km(inst, cand, opt)
    ok = is_eligible(filter_failures(inst, cand, opt, dist))
    _, score = score_pairs(inst, cand[ok], opt[ok], dist[ok], policy)
    return dict(zip(zip(cand[ok].tolist(), opt[ok].tolist(), strict=True), score.tolist(),
                    strict=True))


def test_all_eligible_pairs_equal_brute_force(inst: Instance) -> None:
    policy = default_policy()
    edges = build_edges(inst, policy)
    want = brute(inst, policy)
    got = {(c, o): s for c, o, s, e in zip(edges.cand.tolist(), edges.opt.tolist(),
                                           edges.score.tolist(), edges.eligible.tolist(),
                                           strict=True) if e}
    assert got == want
    key = edges.cand.astype(np.int64) * inst.n_options + edges.opt
    assert np.all(np.diff(key) > 0)  # sorted by (candidate, option), no duplicates
    assert (~edges.eligible).sum() == 1 and edges.decision[~edges.eligible][0] == LOCK


def test_chunking_does_not_change_pairs(inst: Instance) -> None:
    parts = [np.concatenate(p) for p in zip(*iter_eligible_pairs(inst, chunk_size=37),
                                             strict=True)]
    whole = [np.concatenate(p) for p in zip(*iter_eligible_pairs(inst), strict=True)]
    for a, b in zip(parts, whole, strict=True):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("k,unwished,weights", [
    (3, 0.2, {}), (10, 0.2, {}), (40, 0.2, {}), (5, 0.9, {}),
    (7, 0.5, {"skills": 0.6, "sector": 0.1, "travel": 0.0}),
    (4, 0.0, {"skills": 0.0, "language": 0.5}),
])
def test_top_k_equals_brute_force(inst: Instance, k: int, unwished: float,
                                  weights: dict[str, float]) -> None:
    policy = policy_from_dict({"eligibility": {"max_options_per_candidate": k},
                               "sector": {"unwished": unwished}, "weights": weights})
    edges = build_edges(inst, policy)
    want = brute(inst, policy)
    forbidden = {(int(c), int(o)) for c, o in
                 inst.forbids()[["cand", "opt"]].itertuples(index=False)}
    by_cand: dict[int, list[tuple[float, int]]] = {}
    for (c, o), s in want.items():
        if (c, o) not in forbidden:
            by_cand.setdefault(c, []).append((-s, o))
    expected = set()
    for c, items in by_cand.items():
        expected |= {(c, o) for _, o in sorted(items)[:k]}
    got = {(c, o) for c, o, d in zip(edges.cand.tolist(), edges.opt.tolist(),
                                     edges.decision.tolist(), strict=True) if d == 0}
    assert got == expected - {(c, o) for c, o, d in zip(
        edges.cand.tolist(), edges.opt.tolist(), edges.decision.tolist(), strict=True) if d}
    # Every coordinator decision on an eligible pair is kept, and the outside lock too.
    decided = {(int(c), int(o)) for c, o in inst.decisions[["cand", "opt"]].itertuples(
        index=False)}
    kept = set(zip(edges.cand.tolist(), edges.opt.tolist(), strict=True))
    assert {p for p in decided if p in want} <= kept
    assert all(d in (LOCK, FORBID) for d in edges.decision[edges.decision > 0])
    key = edges.cand.astype(np.int64) * inst.n_options + edges.opt
    assert np.all(np.diff(key) > 0)


def test_progress_hook_reports_every_candidate(inst: Instance) -> None:
    seen: list[tuple[str, int, int]] = []
    for k in (0, 5):
        seen.clear()
        policy = policy_from_dict({"eligibility": {"max_options_per_candidate": k}})
        with progress_hook(lambda *a: seen.append(a)):
            build_edges(inst, policy)
        assert seen and seen[-1] == ("score", inst.n_candidates, inst.n_candidates)
        assert [d for _, d, _ in seen] == sorted(d for _, d, _ in seen)


def test_default_policy_keeps_every_eligible_pair() -> None:
    assert default_policy().eligibility.max_options_per_candidate == 0


@pytest.mark.parametrize("ring", [0.0, 0.05, 0.6, 1.0])
def test_top_k_does_not_depend_on_the_first_search_radius(inst: Instance, ring: float,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The wished sectors are searched first within a share of the travel distance, then only
    as far as a pair could still be among the best K: the same pairs whatever that share."""
    from matcher.scoring import pruned

    policy = policy_from_dict({"eligibility": {"max_options_per_candidate": 6}})
    want = build_edges(inst, policy)
    monkeypatch.setattr(pruned, "RING", ring)
    got = build_edges(inst, policy)
    for name in ("cand", "opt", "distance_km", "score_micro", "weight_int", "decision"):
        assert np.array_equal(getattr(got, name), getattr(want, name)), name


def test_failure_counts_equal_checking_every_option(inst: Instance) -> None:
    """Why a person has no eligible option: the counts per rule from sorted arrays and blocking
    are those of checking every (person, option) pair."""
    from matcher.scoring.eligibility import failure_counts

    cands = np.r_[np.arange(0, inst.n_candidates, 7), [5, 3]]  # any order
    got, want = failure_counts(inst, cands), failure_counts_dense(inst, cands)
    for name in want:
        assert np.array_equal(got[name], want[name]), name
    # The test can fail: the rules that exclude options here exclude different counts.
    assert all(want[name].max() > 0 for name in ("language", "hours", "travel"))
    # Guidance excludes nothing in this instance: lower some organisations' capacity.
    from dataclasses import replace

    orgs = inst.organisations.copy()
    orgs["guidance_capacity"] = np.arange(len(orgs)) % 3
    low = replace(inst, organisations=orgs)
    got, want = failure_counts(low, cands), failure_counts_dense(low, cands)
    assert want["guidance"].max() > 0
    for name in want:
        assert np.array_equal(got[name], want[name]), name


def failure_counts_dense(inst: Instance, cand: np.ndarray) -> dict[str, np.ndarray]:
    """The reference: each rule's exclusions by checking every (candidate, option) pair."""
    n_opt = inst.n_options
    cc = np.repeat(cand, n_opt)
    oo = np.tile(np.arange(n_opt), len(cand))
    return {name: fails.reshape(-1, n_opt).sum(axis=1)
            for name, fails in filter_failures(inst, cc, oo).items()}
