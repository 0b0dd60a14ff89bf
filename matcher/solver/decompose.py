"""Split a large problem into parts (regions or connected components), solve them, merge.

A *part* owns a set of organisations, all their options and every pair into those options; a
candidate belongs to every part it has a pair into (people near a border may cross). Each part is
a self-contained `AssignmentProblem`, solved by the pure function `solve_part(problem, policy)`,
so a later issue can hand the parts to Ray or Dask (`solve_decomposed(..., mapper=...)` takes any
``map``-like callable); the default dispatcher here is sequential.

Bound: any feasible assignment of the whole, restricted to a part, is feasible for that part
(the part has all the seats, budgets and pairs of its organisations), so the sum of the parts'
optima, hence of their bounds, bounds the whole. The merge keeps each border candidate's best
pair among the parts that chose them (dropping a pair never breaks a seat or budget limit) and
refills the freed seats and guidance over all pairs (`matcher.solver.refill`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from matcher.policy import Policy
from matcher.solver.problem import AssignmentProblem
from matcher.solver.refill import refill
from matcher.solver.result import SolveResult, Status

log = logging.getLogger(__name__)

Mapper = Callable[[Callable[[AssignmentProblem], SolveResult], Iterable[AssignmentProblem]],
                  Iterable[SolveResult]]


@dataclass(frozen=True)
class Part:
    problem: AssignmentProblem
    edges: np.ndarray  # the part's edges as indices into the whole problem's edges
    label: int


def component_labels(problem: AssignmentProblem) -> np.ndarray:
    """Per organisation: its connected component in the candidate-organisation graph."""
    n_c, n_g = problem.n_candidates, problem.n_organisations
    rows = problem.cand.astype(np.int64)
    cols = n_c + problem.edge_org.astype(np.int64)
    graph = coo_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(n_c + n_g,) * 2)
    _, labels = connected_components(graph, directed=False)
    # Renumber by first organisation (canonical, independent of scipy's numbering).
    org_labels = labels[n_c:]
    _, first, inverse = np.unique(org_labels, return_index=True, return_inverse=True)
    rank = np.argsort(np.argsort(first, kind="stable"), kind="stable")
    return rank[inverse].astype(np.int64)


def organisation_regions(problem: AssignmentProblem, option_region: np.ndarray) -> np.ndarray:
    """Per organisation: the smallest region among its options (organisations stay whole)."""
    out = np.full(problem.n_organisations, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(out, problem.option_org, option_region.astype(np.int64))
    out[out == np.iinfo(np.int64).max] = 0
    return out


def split(problem: AssignmentProblem, org_label: np.ndarray) -> list[Part]:
    """One part per label (in label order). Candidates locked in another part are left out."""
    edge_label = org_label[problem.edge_org]
    locked_label = np.full(problem.n_candidates, -1, dtype=np.int64)
    locked_label[problem.cand[problem.locked]] = edge_label[problem.locked]
    order = np.argsort(edge_label, kind="stable")  # keeps (cand, opt) order within a part
    labels, starts = np.unique(edge_label[order], return_index=True)
    ends = np.r_[starts[1:], len(order)]
    parts = []
    for lab, a, b in zip(labels.tolist(), starts.tolist(), ends.tolist(), strict=True):
        idx = order[a:b]
        lk = locked_label[problem.cand[idx]]
        idx = idx[(lk < 0) | (lk == lab)]
        orgs = np.flatnonzero(org_label == lab)
        opts = np.flatnonzero(np.isin(problem.option_org, orgs))
        cands = np.unique(problem.cand[idx])
        parts.append(Part(_subproblem(problem, idx, cands, opts, orgs), idx, int(lab)))
    return parts


def _subproblem(problem: AssignmentProblem, idx: np.ndarray, cands: np.ndarray, opts: np.ndarray,
                orgs: np.ndarray) -> AssignmentProblem:
    opt_local = np.full(problem.n_options, -1, dtype=np.int64)
    opt_local[opts] = np.arange(len(opts))
    org_local = np.full(problem.n_organisations, -1, dtype=np.int64)
    org_local[orgs] = np.arange(len(orgs))
    return AssignmentProblem(
        cand=np.searchsorted(cands, problem.cand[idx]).astype(np.int32),
        opt=opt_local[problem.opt[idx]].astype(np.int32),
        weight=problem.weight[idx],
        locked=problem.locked[idx],
        capacity=problem.capacity[opts],
        option_org=org_local[problem.option_org[opts]].astype(np.int32),
        budget=problem.budget[orgs],
        need=problem.need[cands],
    )


def solve_part(problem: AssignmentProblem, policy: Policy) -> SolveResult:
    """Solve one part on its own (pure: depends only on its arguments)."""
    from matcher.solver import solve  # late import: solve() may itself dispatch to this module

    return solve(problem, policy)


def _sequential(fn: Callable[[AssignmentProblem], SolveResult],
                items: Iterable[AssignmentProblem]) -> Iterator[SolveResult]:
    return map(fn, items)


def solve_decomposed(problem: AssignmentProblem, policy: Policy,
                     org_label: np.ndarray | None = None, mapper: Mapper | None = None,
                     ) -> SolveResult:
    """Solve by parts (labels per organisation; default: connected components) and merge."""
    labels = component_labels(problem) if org_label is None else np.asarray(org_label)
    parts = split(problem, labels)
    mapper = mapper or _sequential
    results = list(mapper(lambda p: solve_part(p, policy), (part.problem for part in parts)))
    chosen = np.zeros(problem.n_edges, dtype=bool)
    bound = 0
    per_part: list[dict[str, Any]] = []
    for part, res in zip(parts, results, strict=True):
        if res.status is Status.INFEASIBLE:
            return SolveResult(Status.INFEASIBLE, "decomposed", chosen, 0, 0, True,
                               {"reasons": res.details.get("reasons", []), "part": part.label})
        chosen[part.edges[res.chosen]] = True
        bound += res.bound
        per_part.append({"part": part.label, "edges": len(part.edges), "method": res.method,
                         "objective": res.objective, "bound": res.bound})
    # Border candidates chosen in several parts keep their best pair (ties: lowest edge index).
    idx = np.flatnonzero(chosen)
    order = np.lexsort((idx, -problem.weight[idx], problem.cand[idx]))
    idx = idx[order]
    dup = np.zeros(len(idx), dtype=bool)
    dup[1:] = problem.cand[idx][1:] == problem.cand[idx][:-1]
    dup &= ~problem.locked[idx]
    chosen[idx[dup]] = False
    merged_value = problem.objective(chosen)
    free, _, _, _ = problem.residual()
    chosen, stats = refill(problem, chosen, free)
    value = problem.objective(chosen)
    bound = max(bound, 0)
    if value > bound:
        raise AssertionError(f"objective {value} above the sum of the parts' bounds {bound}")
    details = {"parts": len(parts), "border_duplicates_dropped": int(dup.sum()),
               "value_after_merge": merged_value, "merge_refill": stats, "per_part": per_part}
    status = Status.OPTIMAL if value == bound else Status.FEASIBLE
    binding = any(r.guidance_binding for r in results)
    return SolveResult(status, "decomposed", chosen, value, bound, binding, details)
