"""The parts of a round solved by region: labels per organisation, and each part's pairs.

A label per organisation says which part owns it (its region, or its connected component); a
part owns those organisations with all their options, seats and guidance budgets. `merge_labels`
joins regions into larger parts; `first_homes` gives each candidate the part of its best pair
(the first pass); `layout` and `iter_parts` cut the problem into parts, one at a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from matcher.solver.problem import AssignmentProblem

#: Edges per chunk of the whole-problem passes (bounds their temporary memory).
CHUNK_EDGES = 4_000_000

_EMPTY = AssignmentProblem(
    cand=np.zeros(0, np.int32), opt=np.zeros(0, np.int32), weight=np.zeros(0, np.int64),
    locked=np.zeros(0, bool), capacity=np.zeros(0, np.int64), option_org=np.zeros(0, np.int32),
    budget=np.zeros(0, np.int64), need=np.zeros(0, np.int64))


@dataclass(frozen=True)
class Part:
    """One part: its subproblem and where its rows sit in the whole problem."""

    problem: AssignmentProblem
    edges: np.ndarray  # the part's edges as indices into the whole problem's edges
    label: int
    cands: np.ndarray  # whole-problem candidate of each local candidate (sorted)
    options: np.ndarray  # whole-problem option of each local option (sorted)
    orgs: np.ndarray  # whole-problem organisation of each local organisation (sorted)

    def without_problem(self) -> Part:
        """This part without its subproblem's arrays (to free memory once it is solved)."""
        return Part(_EMPTY, self.edges, self.label, self.cands, self.options, self.orgs)


# --- labels ---------------------------------------------------------------------------------


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

# --- splitting ------------------------------------------------------------------------------


def _cand_starts(cand: np.ndarray) -> np.ndarray:
    """Index of the first edge of each run of equal candidates (edges sorted by candidate)."""
    if len(cand) == 0:
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(np.r_[True, cand[1:] != cand[:-1]])


def locked_part(problem: AssignmentProblem, org_label: np.ndarray) -> np.ndarray:
    """Per candidate: the part of its locked pair, -1 if none."""
    out = np.full(problem.n_candidates, -1, dtype=np.int64)
    out[problem.cand[problem.locked]] = org_label[problem.edge_org[problem.locked]]
    return out


def merge_labels(problem: AssignmentProblem, org_label: np.ndarray, max_pairs: int) -> np.ndarray:
    """Parts (labels per organisation) joined into larger ones of at most `max_pairs` pairs.

    Greedy: join the two parts that share the most candidates (people with pairs into both)
    while the joined part has at most `max_pairs` pairs; ties by lowest labels. Fewer, larger
    parts leave fewer people on a border, where the parts lose both answer and bound. Labels are
    renumbered from 0 in order of their smallest original label. Deterministic.
    """
    labels = np.asarray(org_label, dtype=np.int64)
    uniq, org_part = np.unique(labels, return_inverse=True)
    n = len(uniq)
    if n <= 1 or max_pairs <= 0:
        return labels
    size = np.zeros(n, dtype=np.int64)
    keys = []
    for lo, hi in _chunks(problem):
        part = org_part[problem.option_org[problem.opt[lo:hi]]].astype(np.int64)
        size += np.bincount(part, minlength=n)
        keys.append(np.unique(problem.cand[lo:hi].astype(np.int64) * n + part))
    key = np.concatenate(keys) if keys else np.zeros(0, np.int64)
    cand, part = key // n, key % n
    inc = coo_matrix((np.ones(len(key), dtype=np.int64), (cand, part)),
                     shape=(problem.n_candidates, n)).tocsr()
    shared = (inc.T @ inc).toarray()
    np.fill_diagonal(shared, 0)
    group = np.arange(n)
    while True:
        fits = (size[:, None] + size[None, :] <= max_pairs) & (shared > 0)
        if not fits.any():
            break
        score = np.where(fits, shared, -1)
        a, b = np.unravel_index(int(np.argmax(score)), score.shape)  # first maximum: lowest
        a, b = min(a, b), max(a, b)
        group[group == b] = a
        size[a] += size[b]
        size[b] = 0
        shared[a] += shared[b]
        shared[:, a] += shared[:, b]
        shared[b] = 0
        shared[:, b] = 0
        shared[a, a] = 0
    _, renumbered = np.unique(group, return_inverse=True)
    return renumbered[org_part].astype(np.int64)


def first_homes(problem: AssignmentProblem, org_label: np.ndarray) -> np.ndarray:
    """Per candidate: the part of its highest-weight pair (ties: lowest edge), or of its lock.

    -1 for candidates without pairs.
    """
    home = np.full(problem.n_candidates, -1, dtype=np.int64)
    idx = np.flatnonzero(problem.weight > 0) if problem.n_edges else np.zeros(0, np.int64)
    if len(idx):
        # Edges are sorted by candidate: the first edge of each candidate's run after a stable
        # sort by (candidate, -weight) is its best one.
        order = idx[np.lexsort((idx, -problem.weight[idx], problem.cand[idx]))]
        first = order[_cand_starts(problem.cand[order])]
        home[problem.cand[first]] = org_label[problem.edge_org[first]]
    lk = locked_part(problem, org_label)
    return np.where(lk >= 0, lk, home)


def layout(problem: AssignmentProblem, org_label: np.ndarray,
           home: np.ndarray | None = None) -> list[Part]:
    """The parts' index arrays (no subproblems yet): one part per label that has pairs, in label
    order.

    With `home` (per candidate) a part holds only the pairs of the candidates whose home it is;
    without, every pair into its options (a candidate is then in every part it has a pair into),
    except that a candidate locked in one part is in no other.
    """
    org_label = np.asarray(org_label, dtype=np.int64)
    edge_label = org_label[problem.edge_org]
    if home is None:
        lk = locked_part(problem, org_label)
        cand_lk = lk[problem.cand]
        keep = (cand_lk < 0) | (cand_lk == edge_label)
    else:
        keep = home[problem.cand] == edge_label
    idx = np.flatnonzero(keep)
    order = idx[np.argsort(edge_label[idx], kind="stable")]  # keeps (cand, opt) order in a part
    labels, starts = np.unique(edge_label[order], return_index=True)
    ends = np.r_[starts[1:], len(order)]
    opt_order = np.argsort(org_label[problem.option_org], kind="stable")
    opt_labels = org_label[problem.option_org][opt_order]
    org_order = np.argsort(org_label, kind="stable")
    org_sorted = org_label[org_order]
    out = []
    for lab, a, b in zip(labels.tolist(), starts.tolist(), ends.tolist(), strict=True):
        edges = order[a:b]
        lo, hi = np.searchsorted(opt_labels, [lab, lab + 1])
        opts = np.sort(opt_order[lo:hi])
        lo, hi = np.searchsorted(org_sorted, [lab, lab + 1])
        orgs = np.sort(org_order[lo:hi])
        cand = problem.cand[edges]
        cands = cand[_cand_starts(cand)].astype(np.int64)  # edges are sorted by candidate
        out.append(Part(_EMPTY, edges, int(lab), cands, opts, orgs))
    return out


def iter_parts(problem: AssignmentProblem, org_label: np.ndarray,
               home: np.ndarray | None = None, parts: list[Part] | None = None,
               ) -> Iterator[Part]:
    """The parts of `layout` (or the given `parts`) with their subproblems, built one at a
    time."""
    for part in layout(problem, org_label, home) if parts is None else parts:
        sub = _subproblem(problem, part.edges, part.cands, part.options, part.orgs)
        yield Part(sub, part.edges, part.label, part.cands, part.options, part.orgs)


def split(problem: AssignmentProblem, org_label: np.ndarray,
          home: np.ndarray | None = None) -> list[Part]:
    """`iter_parts` as a list."""
    return list(iter_parts(problem, org_label, home))


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


def _chunks(problem: AssignmentProblem, max_edges: int = CHUNK_EDGES) -> Iterator[tuple[int, int]]:
    """Edge ranges [a, b) of whole candidates with about `max_edges` edges each."""
    n = problem.n_edges
    a = 0
    while a < n:
        b = min(a + max_edges, n)
        if b < n:  # move the cut to the start of the next candidate's run
            b = int(np.searchsorted(problem.cand, problem.cand[b - 1], side="right"))
        yield a, b
        a = b
