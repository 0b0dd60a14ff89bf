"""The parts of a round solved by region on a real Dask cluster (`DaskMapper`): the same answer,
bound and coordination as in this process, with the class-quota flow submitted beside the
coordination (the mapper's `submit`) and without it."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from distributed import Client, LocalCluster, get_task_stream

from benchmarks.solver_instances import random_problem
from matcher.parallel.dask_mapper import DaskMapper
from matcher.solver.decompose import organisation_regions, solve_decomposed
from tests.test_decompose import decomposed_policy


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    # Two worker processes (tasks and answers cross a pickle and a process boundary, as on a
    # cluster of machines); no dashboard.
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as c:
        yield c


@pytest.mark.parametrize("whole_iterations", [0, 2])
def test_a_dask_cluster_gives_the_same_answer(client: Client, whole_iterations: int) -> None:
    problem, region = random_problem(900, seed=11, per_cand=8, near=40, regions=4,
                                     locked_share=0.05)
    labels = organisation_regions(problem, region)
    policy = decomposed_policy(decompose_rounds=2, decompose_quota_core=3,
                               decompose_auction_iterations=whole_iterations)
    here = solve_decomposed(problem, policy, labels)
    mapper = DaskMapper(client)
    assert mapper.in_flight == 4  # twice the cluster's 2 worker threads
    with get_task_stream(client) as stream:
        there = solve_decomposed(problem, policy, labels, mapper=mapper)
    # The parts' work really ran on the cluster (the task names are the functions' names).
    names = {str(task["key"]).split("-", 1)[0] for task in stream.data}
    assert "solve_part" in names
    assert ("quota_part" in names) == (whole_iterations == 0)
    assert np.array_equal(here.chosen, there.chosen)
    assert (here.objective, here.bound) == (there.objective, there.bound)
    assert [c["bounds"] for c in here.details.stats["coordination"]] == \
        [c["bounds"] for c in there.details.stats["coordination"]]
    # Without whole-problem iterations the last class-quota flow went to the cluster by
    # `submit`, beside the coordination; with them it needs their answer and runs here.
    assert there.details.stats["quota_flow"]["beside_coordination"] == (whole_iterations == 0)
    assert problem.violations(there.chosen) == []
