"""Scoring in worker processes: the same edge table, array for array, as in one process."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from itertools import pairwise
from typing import Any

import numpy as np
import pandas as pd
import pytest

from matcher.load import instance_from_frames
from matcher.model import Instance
from matcher.parallel import ProcessMapper
from matcher.policy import Policy, policy_from_dict
from matcher.progress import progress_hook
from matcher.scoring import COMPONENTS, EdgeTable, build_edges, score_pairs
from matcher.scoring import table as table_module
from matcher.scoring.eligibility import Blocks
from matcher.scoring.table import LOCK, chunk_bounds
from matcher.synth import generate

#: Small chunks, so that a few thousand candidates make many chunks.
TARGET = 20_000


@pytest.fixture(scope="module")
def inst() -> Instance:
    frames = generate(3000, "utrecht", 5).frames()
    frames.pop("protected")
    cands, opts = frames["candidates"], frames["options"]
    # A lock outside the hard rules (an A0 speaker to a B1 option) late in the candidate order.
    far = opts.index[opts["min_dutch_level"] == "B1"][0]
    low = cands.index[cands["dutch_level"] == "A0"][-1]
    extra = {"candidate_id": cands.at[low, "candidate_id"], "option_id": opts.at[far, "option_id"],
             "decision": "lock", "reason": "test"}
    dec = frames["decisions"]
    frames["decisions"] = pd.concat([dec[dec["candidate_id"] != extra["candidate_id"]],
                                     pd.DataFrame([extra])], ignore_index=True)
    return instance_from_frames(frames)


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(table_module, "CHUNK_TARGET", TARGET)


def arrays(e: EdgeTable) -> dict[str, np.ndarray]:
    return {"cand": e.cand, "opt": e.opt, "distance_km": e.distance_km,
            "score_micro": e.score_micro, "weight_int": e.weight_int, "eligible": e.eligible,
            "decision": e.decision, "score": e.score, "weight": e.weight} | {
        f"component_{k}": e.components[k] for k in COMPONENTS}


def same(a: EdgeTable, b: EdgeTable) -> bool:
    x, y = arrays(a), arrays(b)
    return all(x[k].dtype == y[k].dtype and x[k].tobytes() == y[k].tobytes() for k in x)


POLICIES = {"top_10": {"eligibility": {"max_options_per_candidate": 10}},
            "all_pairs": {"eligibility": {"max_options_per_candidate": 0}}}


@pytest.fixture(scope="module", params=sorted(POLICIES))
def policy(request: pytest.FixtureRequest) -> Policy:
    return policy_from_dict(POLICIES[request.param])


def test_chunks_cover_the_candidates_in_order(inst: Instance) -> None:
    bounds = chunk_bounds(inst, Blocks(inst), TARGET)
    assert len(bounds) >= 5
    assert bounds[0][0] == 0 and bounds[-1][1] == inst.n_candidates
    assert all(a < b for a, b in bounds)
    assert all(b == c for (_, b), (c, _) in pairwise(bounds))
    assert chunk_bounds(inst, Blocks(inst), TARGET) == bounds  # deterministic


def test_process_mapper_gives_the_same_table(inst: Instance, policy: Policy) -> None:
    one = build_edges(inst, policy)
    seen: list[tuple[str, int, int]] = []
    with ProcessMapper(2) as mapper, progress_hook(lambda *a: seen.append(a)):
        two = build_edges(inst, policy, mapper)
    assert same(one, two)
    assert same(one, build_edges(inst, policy, map))  # through the pickle, in this process
    assert seen[-1] == ("score", inst.n_candidates, inst.n_candidates)
    k = policy.eligibility.max_options_per_candidate
    assert len(seen) == len(chunk_bounds(inst, Blocks(inst), table_module.chunk_target(k))) > 2
    assert (~one.eligible).sum() == 1 and one.decision[~one.eligible][0] == LOCK
    assert np.all(np.diff(one.cand.astype(np.int64) * inst.n_options + one.opt) > 0)


@pytest.mark.parametrize("threads", [2, 3])
def test_threads_give_the_same_table(inst: Instance, policy: Policy, threads: int) -> None:
    one = build_edges(inst, policy)
    threaded = policy.model_copy(update={"eligibility": policy.eligibility.model_copy(
        update={"score_threads": threads})})
    seen: list[tuple[str, int, int]] = []
    with progress_hook(lambda *a: seen.append(a)):
        assert same(one, build_edges(inst, threaded))
    k = policy.eligibility.max_options_per_candidate
    # Chunks no larger (at least 100 candidates each), one progress report each, in order.
    n_chunks = len(chunk_bounds(inst, Blocks(inst), table_module.chunk_target(k) // threads))
    assert len(seen) == n_chunks >= len(chunk_bounds(inst, Blocks(inst),
                                                     table_module.chunk_target(k)))
    assert [s[1] for s in seen] == sorted(s[1] for s in seen)
    # Threads take precedence over a mapper: the mapper is not called.
    def refuse(fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
        raise AssertionError("the mapper was used")
    assert same(one, build_edges(inst, threaded, refuse))


def test_chunk_size_does_not_change_the_table(inst: Instance, policy: Policy,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    small = build_edges(inst, policy)
    monkeypatch.setattr(table_module, "CHUNK_TARGET", 10**9)  # one chunk
    assert same(small, build_edges(inst, policy))


def test_components_on_demand_equal_the_scored_ones(inst: Instance, policy: Policy) -> None:
    e = build_edges(inst, policy)
    comps, score = score_pairs(inst, e.cand, e.opt, e.distance_km, policy)
    assert np.array_equal(score, e.score)
    assert np.array_equal(np.round(score + policy.objective.match_bonus, 6), e.weight)
    for k in COMPONENTS:
        assert comps[k].tobytes() == e.components[k].tobytes()
    idx = np.arange(0, len(e), 7)
    sub = e.take(idx)
    for k in COMPONENTS:
        assert sub.components[k].tobytes() == comps[k][idx].tobytes()


def _reordering(swap: bool) -> Callable[[Callable[[Any], Any], Iterable[Any]], Iterator[Any]]:
    """A broken mapper: two chunks' results swapped, or the third chunk's lost."""
    def mapper(fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
        out = [fn(item) for item in items]
        if swap:
            out[1], out[2] = out[2], out[1]
        else:
            del out[2]
        return iter(out)
    return mapper


def test_the_comparison_catches_a_reordered_or_lost_chunk(inst: Instance,
                                                          policy: Policy) -> None:
    good = build_edges(inst, policy)
    assert not same(good, build_edges(inst, policy, _reordering(swap=True)))
    with pytest.raises(ValueError):  # a chunk's result missing: not silently a shorter table
        build_edges(inst, policy, _reordering(swap=False))
