"""Solve a large problem by parts (regions or connected components) with a valid global bound.

A *part* owns a set of organisations (a label per organisation: its region, or its connected
component) with all their options, seats and guidance budgets. Candidates near a border have
pairs into several parts. `solve_decomposed` first joins regions into parts of at most
``solver.decompose.part_pairs`` pairs (`merge_labels`: those sharing the most candidates
first), then works in four steps, and a fifth when the policy asks for it:

1. *First pass*: each part with its *home* candidates (those whose highest-weight pair lies in
   it, or whose lock does), solved by the pure function `solve_part` (the usual
   `matcher.solver.solve`). The parts share no candidate, so the union of their answers is
   feasible; a refill over every free pair then lets people take a seat across a border.
2. *Coordination* (``solver.decompose.sweeps`` sweeps): from the parts' guidance multipliers
   ``lam`` (one per organisation) and option prices ``v``, each sweep prices every part's
   options exactly, given what its border candidates are worth in the other parts
   (`price_part`: one min-cost flow per part), and moves each multiplier by the sign of its
   budget's excess. Every sweep gives a valid bound of the whole problem (`dual_bound`); the
   lowest is reported.
   (Optional, ``solver.decompose.auction_iterations``: Lagrangian iterations over the whole
   problem by auctions, for a bound that does not depend on the borders and a repaired answer;
   after this coordination, or with ``solver.decompose.auction_last`` after the last one.)
3. *Border passes* (``solver.decompose.rounds`` - 1 of them): every part with every candidate
   that has a pair into it, each pair's weight lowered by what the candidate is worth outside
   the part at the coordinated prices, so a border candidate goes where it adds most;
   warm-started from the coordinated multipliers and the best assignment so far. A candidate
   chosen in two parts keeps its best pair, then the freed seats are refilled. The better of
   the passes' assignments is the answer. Each pass is followed by a coordination
   (``solver.decompose.pass_sweeps`` sweeps).
4. *Whole-problem class-quota flow* (``solver.decompose.quota_core`` best pairs per person,
   plus the answer; `matcher.solver.quota_flow`): people move across borders in chains while
   every organisation keeps the answer's mix of needs; kept when better.
5. *Slack polish* (``solver.decompose.slack_max_pairs`` > 0; `slack_polish`): CP-SAT windows
   (`matcher.solver.polish`) over the pairs into organisations whose budget the answer leaves
   partly unused, which gather guidance left over in ones and twos into room for more people.
   It only keeps improvements; the bound is unchanged.

Bound. For multipliers ``lam >= 0`` and option prices ``v >= 0``, every feasible assignment is
worth at most

    locked value + sum over free candidates c of max(0, max over c's pairs e of w'(e) - v[opt e])
                 + sum over options o of seats_left[o] * v[o] + sum over g of lam[g] * budget_left[g]

with ``w'(e) = weight - lam[org] * need`` (Lagrangian relaxation of the budgets, then weak LP
duality of the seat and one-option-per-person limits). It is computed over *all* pairs, in
integers, so it is valid whatever the parts were. With the exact prices of the whole problem's
flow at ``lam`` it equals the Lagrangian bound at ``lam`` (`option_prices`); a part's price step
is the exact minimisation over its prices with the other parts' fixed.

Dispatch. The work on a part is a pure function of a small task object (`PartTask` ->
`PartAnswer`, `PriceTask` -> `PriceAnswer`) handed to a ``map``-like callable
(`solve_decomposed(..., mapper=...)`); the default is the built-in sequential ``map``, and a
Ray or Dask map can replace it (tasks, answers and functions are picklable; tasks are generated
lazily, one part's arrays at a time). A mapper that also offers ``submit(fn, task)`` (a
``Future``; `matcher.parallel.ProcessMapper` does) gets step 4's flow (`QuotaTask` -> `quota_part`) as soon
as nothing before step 4 can change its input (after the first pass, or the last border pass,
when the round runs no whole-problem iterations or runs them last), so it runs beside the
coordination and those iterations. Only whole-array NumPy passes over
the full problem (bounds, each candidate's best two parts, the refill) run in the calling
process, in chunks of candidates. Everything is integer arithmetic and counts, never the
clock: the same input gives the same answer and bound.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from matcher.parallel import Mapper
from matcher.policy import Policy
from matcher.progress import progress_hook, report
from matcher.solver.flow import solve_flow
from matcher.solver.lagrangian import polyak_step, repair
from matcher.solver.polish import slack_polish
from matcher.solver.problem import AssignmentProblem
from matcher.solver.quota_flow import best_pairs, quota_flow
from matcher.solver.refill import refill
from matcher.solver.result import Method, SolveDetails, SolveResult, Status
from matcher.solver.warm import WarmStart

log = logging.getLogger(__name__)

#: Edges per chunk of the whole-problem passes (bounds their temporary memory).
CHUNK_EDGES = 4_000_000

_NEG = np.int64(-(2**62))

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


@dataclass(frozen=True)
class PartTask:
    """Everything a worker needs to solve one part."""

    label: int
    problem: AssignmentProblem
    policy: Policy
    warm: WarmStart | None = None


@dataclass(frozen=True)
class PartAnswer:
    label: int
    result: SolveResult  # over the part's own edges
    multipliers: np.ndarray  # int64 per local organisation
    prices: np.ndarray  # int64 per local option: the part's flow prices at `multipliers`
    seconds: float
    peak_mb: float = 0.0  # the solving process's own peak resident memory so far (0: unknown)


@dataclass(frozen=True)
class PriceTask:
    """One part's price step: its options' prices given what candidates are worth elsewhere."""

    label: int
    problem: AssignmentProblem  # every pair into the part's options
    multipliers: np.ndarray  # per local organisation
    outside: np.ndarray  # per local candidate: best priced value outside the part (>= 0)


@dataclass(frozen=True)
class PriceAnswer:
    label: int
    prices: np.ndarray  # int64 per local option
    guidance_used: np.ndarray  # int64 per local organisation, by the part's priced flow


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


# --- prices and the bound -------------------------------------------------------------------


def option_prices(problem: AssignmentProblem, weight: np.ndarray, chosen: np.ndarray,
                  usable: np.ndarray, max_rounds: int | None = None) -> np.ndarray:
    """Optimal option prices (LP duals) of a max-weight assignment `chosen` under seats.

    `chosen` must be optimal over the `usable` edges with positive `weight` (as `solve_flow`
    returns it). The prices are the least ``v >= 0`` with ``u[c] + v[o] >= weight`` on every such
    edge, where ``u[c]`` is what candidate c gets (its chosen edge's weight minus that option's
    price, 0 if unchosen): a longest-path fixpoint over displacement chains, found by whole-array
    relaxation rounds. Any ``v >= 0`` gives a valid bound (`dual_bound`); these make it equal to
    the flow's value. Integers only.
    """
    n_o = problem.n_options
    idx = np.flatnonzero(usable & (weight > 0))
    v = np.zeros(n_o, dtype=np.int64)
    if len(idx) == 0:
        return v
    opt = problem.opt[idx].astype(np.int64)
    order = np.argsort(opt, kind="stable")
    idx, opt = idx[order], opt[order]
    cand = problem.cand[idx].astype(np.int64)
    w = weight[idx]
    pick = chosen[idx]
    matched = np.zeros(problem.n_candidates, dtype=bool)
    matched[cand[pick]] = True
    m_weight = np.zeros(problem.n_candidates, dtype=np.int64)
    m_weight[cand[pick]] = w[pick]
    m_opt = np.zeros(problem.n_candidates, dtype=np.int64)
    m_opt[cand[pick]] = opt[pick]
    present = opt[_cand_starts(opt)]
    starts = _cand_starts(opt)
    limit = n_o + 1 if max_rounds is None else max_rounds
    for _ in range(limit):
        u = np.where(matched, m_weight - v[m_opt], 0)
        new = np.zeros(n_o, dtype=np.int64)
        new[present] = np.maximum(np.maximum.reduceat(w - u[cand], starts), 0)
        if np.array_equal(new, v):
            break
        v = new
    return v


def priced_weight(problem: AssignmentProblem, lam: np.ndarray) -> np.ndarray:
    return problem.weight - lam[problem.edge_org] * problem.edge_need


def _usable(problem: AssignmentProblem) -> np.ndarray:
    """Free edges into options with a seat left after the locks."""
    free, seats_left, _, _ = problem.residual()
    return free & (seats_left[problem.opt] > 0)


def part_prices(problem: AssignmentProblem, lam: np.ndarray) -> np.ndarray:
    """Option prices of a part's flow at multipliers `lam`."""
    outside = np.zeros(problem.n_candidates, dtype=np.int64)
    return price_part(PriceTask(-1, problem, lam, outside)).prices


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


@dataclass
class _BestTwo:
    """Per candidate: best priced value over usable pairs net of prices, its part, and the best
    in any other part (``_NEG`` where none)."""

    best: np.ndarray
    part: np.ndarray
    second: np.ndarray


def best_two(problem: AssignmentProblem, lam: np.ndarray, v: np.ndarray, org_label: np.ndarray,
             usable: np.ndarray) -> _BestTwo:
    n_c = problem.n_candidates
    out = _BestTwo(np.full(n_c, _NEG), np.full(n_c, -1, dtype=np.int64), np.full(n_c, _NEG))
    for a, b in _chunks(problem):
        sl = slice(a, b)
        cand = problem.cand[sl]
        starts = _cand_starts(cand)
        if len(starts) == 0:
            continue
        lens = np.diff(np.r_[starts, b - a])
        who = cand[starts]
        red = problem.weight[sl] - lam[problem.option_org[problem.opt[sl]]] * problem.need[cand]
        red -= v[problem.opt[sl]]
        red[~usable[sl]] = _NEG
        part = org_label[problem.option_org[problem.opt[sl]]]
        best = np.maximum.reduceat(red, starts)
        at_best = red == np.repeat(best, lens)
        top_part = np.minimum.reduceat(np.where(at_best, part, np.iinfo(np.int64).max), starts)
        other = np.where(part != np.repeat(top_part, lens), red, _NEG)
        out.best[who] = best
        out.part[who] = np.where(best > _NEG, top_part, -1)
        out.second[who] = np.maximum.reduceat(other, starts)
    return out


def dual_bound(problem: AssignmentProblem, lam: np.ndarray, v: np.ndarray,
               top: _BestTwo | None = None, usable: np.ndarray | None = None) -> int:
    """The valid upper bound of the module docstring for multipliers `lam` and prices `v`.

    `top` (from `best_two` with the same `lam` and `v`) saves recomputing each candidate's best.
    """
    lam = np.maximum(lam, 0)
    v = np.maximum(v, 0)
    _, seats_left, budget_left, _ = problem.residual()
    if top is None:
        usable = _usable(problem) if usable is None else usable
        zero = np.zeros(problem.n_organisations, dtype=np.int64)
        top = best_two(problem, lam, v, zero, usable)
    locked = int(problem.weight[problem.locked].sum())
    people = int(np.maximum(top.best, 0).sum())
    seats = int((np.maximum(seats_left, 0) * v).sum())
    guidance = int((lam * np.maximum(budget_left, 0)).sum())
    return locked + people + seats + guidance


# --- work on one part (pure functions: what a Ray or Dask worker runs) -------------------------


def solve_part(task: PartTask) -> PartAnswer:
    """Solve one part, and price its options at the multipliers found."""
    from matcher.solver.strategy import solve  # late import: strategy imports this module

    t = time.perf_counter()
    with progress_hook(None):  # the parts' own steps: the round counts parts (`_tracked`)
        res = solve(task.problem, task.policy, task.warm)
    lam = np.asarray(res.details.multipliers or [], dtype=np.int64)
    if lam.shape != (task.problem.n_organisations,):
        lam = np.zeros(task.problem.n_organisations, dtype=np.int64)
    res.details.stats.pop("trace", None)
    prices = part_prices(task.problem, lam)
    return PartAnswer(task.label, res, lam, prices, time.perf_counter() - t, process_peak_mb())


def process_peak_mb() -> float:
    """This process's peak resident memory in MB since it started its program (Linux
    ``VmHWM``; 0 where unknown). Unlike ``getrusage``'s maximum, it does not count what a
    spawned worker held for a moment as a fork of its (possibly large) parent."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except (OSError, ValueError):
        pass
    return 0.0


def price_part(task: PriceTask) -> PriceAnswer:
    """One coordination step for a part: the exact best prices of its options with the rest
    fixed, and the guidance its priced flow uses (the multipliers' subgradient)."""
    problem = task.problem
    free, seats_left, _, _ = problem.residual()
    cost = task.multipliers[problem.edge_org] * problem.edge_need + task.outside[problem.cand]
    chosen = solve_flow(problem, free, seats_left, extra_cost=cost)
    prices = option_prices(problem, problem.weight - cost, chosen,
                           free & (seats_left[problem.opt] > 0))
    return PriceAnswer(task.label, prices, problem.guidance_used(chosen))


@dataclass(frozen=True)
class QuotaTask:
    """Step 4's class-quota flow as a task: the problem restricted to the pairs the flow may use
    (every person, option and organisation kept; no locked pair), the answer's pairs among them,
    and the seats and guidance left after the locked pairs."""

    problem: AssignmentProblem
    chosen: np.ndarray
    seats: np.ndarray
    budget: np.ndarray


def quota_task(problem: AssignmentProblem, chosen: np.ndarray,
               mask: np.ndarray) -> tuple[QuotaTask, np.ndarray]:
    """The task of a class-quota flow over the free pairs `mask` and the answer `chosen`, and
    the pairs' indices in `problem`."""
    _, seats_left, budget_left, _ = problem.residual()
    idx = np.flatnonzero(mask | (chosen & ~problem.locked))
    sub = replace(problem, cand=problem.cand[idx], opt=problem.opt[idx],
                  weight=problem.weight[idx], locked=np.zeros(len(idx), dtype=bool))
    return QuotaTask(sub, chosen[idx], seats_left, np.maximum(budget_left, 0)), idx


def quota_part(task: QuotaTask) -> np.ndarray:
    """The best assignment of the task's pairs within its answer's class quotas (a mask)."""
    sub = task.problem
    return quota_flow(sub, task.chosen, np.ones(sub.n_edges, dtype=bool), task.seats,
                      task.budget)


# --- the whole ----------------------------------------------------------------------------


def _tracked(stage: str, items: Iterable[Any], total: int) -> Iterator[Any]:
    for i, item in enumerate(items, 1):
        report(stage, i, total)
        yield item


def _n_parts(problem: AssignmentProblem, labels: np.ndarray) -> int:
    if problem.n_edges == 0:
        return 0
    return len(np.unique(labels[problem.option_org[np.unique(problem.opt)]]))


@dataclass
class _Prices:
    """Multipliers per organisation, prices per option, and each candidate's best two."""

    lam: np.ndarray
    v: np.ndarray
    top: _BestTwo


def solve_decomposed(problem: AssignmentProblem, policy: Policy,
                     org_label: np.ndarray | None = None, mapper: Mapper | None = None,
                     ) -> SolveResult:
    """Solve by parts (labels per organisation; default: connected components); see the module
    docstring. The bound is valid for the whole problem whatever the labels."""
    started = time.perf_counter()
    labels = component_labels(problem) if org_label is None else np.asarray(org_label, np.int64)
    mapper = mapper or map
    sp = policy.solver
    if sp.decompose.part_pairs > 0:
        labels = merge_labels(problem, labels, sp.decompose.part_pairs)
    free, _, _, _ = problem.residual()
    usable = _usable(problem)
    n_parts = _n_parts(problem, labels)
    details: dict[str, Any] = {"parts": n_parts}

    # 1. Each part with the candidates whose best pair lies in it.
    t = time.perf_counter()
    home = first_homes(problem, labels)
    answers = _solve_parts(problem, labels, policy, mapper, n_parts, home=home)
    if isinstance(answers, SolveResult):
        return answers
    chosen, lam, v, binding, per_part = answers
    union_value = problem.objective(chosen)
    chosen, stats = refill(problem, chosen, free, weight=priced_weight(problem, lam))
    value = problem.objective(chosen)
    details["first_pass"] = {"union_value": union_value, "value": value, "refill": stats,
                             "seconds": round(time.perf_counter() - t, 3), "per_part": per_part}
    early: tuple[Future[np.ndarray], np.ndarray, int, float] | None = None
    submit = getattr(mapper, "submit", None)
    # Without whole-problem iterations, or with them last, step 4's inputs are final after the
    # first pass (no border passes) or after the last border pass, so its flow then runs in a
    # worker process while the coordination prices the parts and the iterations run.
    auction_last = sp.decompose.auction_iterations > 0 and sp.decompose.auction_last
    beside = (sp.decompose.quota_core > 0 and submit is not None
              and (sp.decompose.auction_iterations == 0 or auction_last))

    def submit_quota(chosen: np.ndarray) -> tuple[Future[np.ndarray], np.ndarray, int, float]:
        assert submit is not None
        t = time.perf_counter()
        mask = best_pairs(problem, sp.decompose.quota_core) & free
        task, q_idx = quota_task(problem, chosen, mask)
        return submit(quota_part, task), q_idx, int(mask.sum()), t

    if beside and sp.decompose.rounds <= 1:
        early = submit_quota(chosen)

    # 2. Coordination: prices and multipliers consistent across borders; the bound.
    t = time.perf_counter()
    prices, bound, trace = coordinate(problem, labels, lam, v, usable, sp.decompose.sweeps,
                                      mapper)
    coordination = [{"bounds": trace, "seconds": round(time.perf_counter() - t, 3)}]
    multipliers = prices.lam  # the shadow prices reported: those of the lowest bound
    whole_x: np.ndarray | None = None
    whole_answer: np.ndarray | None = None  # with auction_last: compared after step 4

    def whole_step(prices: _Prices, value: int) -> None:
        """2b. The whole problem's Lagrangian dual by auctions, from the coordinated prices: a
        bound that no longer depends on the parts' borders, and a repaired answer."""
        nonlocal bound, multipliers, whole_x, whole_answer
        t = time.perf_counter()
        whole: dict[str, Any] = {"after_passes": auction_last}
        if sp.decompose.auction_core > 0:
            # The iterations over a core of pairs (their values are no bound), then one auction
            # over every pair at their best multipliers, at the finest eps: the bound.
            core = auction_core(problem, prices.lam, usable, chosen, sp.decompose.auction_core)
            idx = np.flatnonzero(core | problem.locked)  # the locks for the seats they use
            sub = replace(problem, cand=problem.cand[idx], opt=problem.opt[idx],
                          weight=problem.weight[idx], locked=problem.locked[idx])
            c_lam, _, c_trace, _ = whole_lagrangian(
                sub, prices.lam, prices.v, core[idx],
                sp.decompose.auction_iterations, sp.decompose.auction_step,
                sp.decompose.auction_theta, value, sp.decompose.auction_threads,
                sp.decompose.auction_search_shift)
            del sub
            whole.update(core_pairs=int(core.sum()), core_values=c_trace)
            w_lam, w_bound, w_trace, w_x = whole_lagrangian(
                problem, c_lam, prices.v, usable, 1, sp.decompose.auction_step,
                sp.decompose.auction_theta, value, sp.decompose.auction_threads, 16)
        else:
            w_lam, w_bound, w_trace, w_x = whole_lagrangian(
                problem, prices.lam, prices.v, usable, sp.decompose.auction_iterations,
                sp.decompose.auction_step, sp.decompose.auction_theta, value,
                sp.decompose.auction_threads, sp.decompose.auction_search_shift)
        whole["bounds"] = w_trace
        if w_x is not None:
            whole_x = w_x
            if w_bound < bound:
                bound, multipliers = w_bound, w_lam
            whole_answer, _ = repair(problem, w_x, free, priced_weight(problem, w_lam))
            whole["repair_value"] = problem.objective(whole_answer)
        whole["seconds"] = round(time.perf_counter() - t, 3)
        details["whole_auction"] = whole

    if sp.decompose.auction_iterations > 0 and not auction_last:
        whole_step(prices, value)
        if whole_answer is not None and problem.objective(whole_answer) > value:
            chosen, value = whole_answer, problem.objective(whole_answer)
        whole_answer = None

    # 3. Border passes: every part with every candidate that has a pair into it, each valued
    #    net of what it is worth elsewhere at the coordinated prices; then coordination again
    #    from the passes' multipliers and prices (the parts priced guidance with the border
    #    candidates present at their true worth).
    passes = []
    for _ in range(sp.decompose.rounds - 1):
        t = time.perf_counter()
        got = _solve_parts(problem, labels, policy, mapper, n_parts, prices=prices,
                           warm_chosen=chosen)
        if isinstance(got, SolveResult):
            return got
        cand_chosen, lam, v, _, per_part = got
        cand_chosen, dropped = keep_one_per_candidate(problem, cand_chosen)
        merged = problem.objective(cand_chosen)
        cand_chosen, stats = refill(problem, cand_chosen, free, weight=priced_weight(problem, lam))
        cand_value = problem.objective(cand_chosen)
        passes.append({"value_after_merge": merged, "duplicates_dropped": dropped,
                       "value": cand_value, "refill": stats,
                       "seconds": round(time.perf_counter() - t, 3), "per_part": per_part})
        if cand_value > value:
            chosen, value = cand_chosen, cand_value
        if beside and len(passes) == sp.decompose.rounds - 1:
            early = submit_quota(chosen)
        t = time.perf_counter()
        pass_sweeps = (sp.decompose.sweeps if sp.decompose.pass_sweeps < 0
                       else sp.decompose.pass_sweeps)
        again, again_bound, trace = coordinate(problem, labels, lam, v, usable, pass_sweeps,
                                               mapper)
        coordination.append({"bounds": trace, "seconds": round(time.perf_counter() - t, 3)})
        prices = again
        if again_bound < bound:
            bound, multipliers = again_bound, again.lam
    details["coordination"] = coordination
    details["border_passes"] = passes
    if auction_last:
        # The whole-problem iterations from the last coordination's prices, while step 4's flow
        # (submitted above, where the mapper can) starts from the parts' answer; their repaired
        # answer is kept after step 4 if it is better.
        whole_step(prices, value)

    # 4. One class-quota flow over the whole problem (each person's best pairs, the whole
    #    subproblem's answer at the best multipliers, and the answer): people move across
    #    borders in chains within the answer's guidance classes.
    if sp.decompose.quota_core > 0:
        if early is not None:  # submitted when `chosen` was last changed
            fut, q_idx, n_mask, t = early
            picked = fut.result()
        else:
            t = time.perf_counter()
            mask = best_pairs(problem, sp.decompose.quota_core) & free
            if whole_x is not None and not auction_last:
                mask |= whole_x & free
            task, q_idx = quota_task(problem, chosen, mask)
            picked, n_mask = quota_part(task), int(mask.sum())
        moved = problem.locked.copy()
        moved[q_idx[picked]] = True
        moved, stats = refill(problem, moved, free)
        moved_value = problem.objective(moved)
        details["quota_flow"] = {"value": moved_value, "pairs": n_mask, "refill": stats,
                                 "seconds": round(time.perf_counter() - t, 3),
                                 "beside_coordination": early is not None}
        if moved_value > value:
            chosen, value = moved, moved_value

    if whole_answer is not None and problem.objective(whole_answer) > value:
        chosen, value = whole_answer, problem.objective(whole_answer)

    # 5. A polish of the organisations with guidance left over (off by default).
    if (sp.decompose.slack_max_pairs > 0 and sp.decompose.slack_deterministic_time > 0
            and value < bound):
        t = time.perf_counter()
        core = best_pairs(problem, max(sp.decompose.quota_core, 1))
        if whole_x is not None:
            core |= whole_x
        chosen, slack_stats = slack_polish(problem, chosen, core & free,
                                           sp.decompose.slack_max_pairs,
                                           sp.decompose.slack_deterministic_time,
                                           sp.polish.parallel)
        value = problem.objective(chosen)
        details["polish_slack"] = slack_stats | {"seconds": round(time.perf_counter() - t, 3)}

    if value > bound:
        raise AssertionError(f"objective {value} above the decomposition bound {bound}")
    details["seconds"] = time.perf_counter() - started
    status = Status.OPTIMAL if value == bound else Status.FEASIBLE
    return SolveResult(status, Method.DECOMPOSED, chosen, value, bound, binding,
                       SolveDetails(multipliers=multipliers.tolist(), stats=details))


def auction_core(problem: AssignmentProblem, lam: np.ndarray, usable: np.ndarray,
                 chosen: np.ndarray, k: int) -> np.ndarray:
    """The pairs of the whole-problem iterations over a core (`decompose_auction_core`): each
    person's best `k` pairs by weight and by weight priced at `lam`, and the answer's; usable
    ones only (so no locked pair)."""
    return (best_pairs(problem, k) | best_pairs(problem, k, lam=lam) | chosen) & usable


def keep_one_per_candidate(problem: AssignmentProblem, chosen: np.ndarray
                           ) -> tuple[np.ndarray, int]:
    """Each candidate chosen in several parts keeps its highest-weight pair (ties: lowest edge).

    Dropping pairs never breaks a seat or budget limit, so a union of feasible parts stays
    feasible. Returns (chosen, pairs dropped).
    """
    idx = np.flatnonzero(chosen)
    idx = idx[np.lexsort((idx, -problem.weight[idx], problem.cand[idx]))]
    dup = np.zeros(len(idx), dtype=bool)
    dup[1:] = problem.cand[idx][1:] == problem.cand[idx][:-1]
    dup &= ~problem.locked[idx]
    out = chosen.copy()
    out[idx[dup]] = False
    return out, int(dup.sum())


_Solved = tuple[np.ndarray, np.ndarray, np.ndarray, bool, list[dict[str, Any]]]


def _solve_parts(problem: AssignmentProblem, labels: np.ndarray, policy: Policy, mapper: Mapper,
                 n_parts: int, home: np.ndarray | None = None, prices: _Prices | None = None,
                 warm_chosen: np.ndarray | None = None) -> _Solved | SolveResult:
    """Solve every part; returns (union of the answers, multipliers, prices, binding, per part)
    or an infeasible result.

    With `home`, each part holds its home candidates (disjoint parts). With `prices`, each part
    holds every candidate with a pair into it, each pair's weight lowered by what the candidate
    is worth outside the part (pairs left with no positive weight are left out), warm-started
    from the coordinated multipliers and `warm_chosen`.
    """
    metas: list[Part] = []
    # The parts' own settings ([solver.parts]), with one auction thread and one polish window
    # at a time per part: the parts run side by side in worker processes, and more threads in
    # each only compete for the same cores. (regions_200k, 2 workers, back to back, session 14:
    # two polish windows at a time in each part 171.9 s and 315 s of CPU time, one 155.9 s and
    # 286 s; gap 0.3267% -> 0.3236%, as one window at a time sees the previous window's moves.)
    policy = policy.model_copy(update={"solver": policy.solver.for_parts().updated(
        lagrangian={"auction_threads": 1}, polish={"parallel": 1})})

    def tasks() -> Iterator[PartTask]:
        for part in iter_parts(problem, labels, home):
            warm = None
            sub = part.problem
            if prices is not None:
                outside = _outside(prices.top, part)
                weight = sub.weight - outside[sub.cand]
                keep = (weight > 0) | sub.locked
                part = Part(sub, part.edges[keep], part.label, part.cands, part.options,
                            part.orgs)
                sub = AssignmentProblem(sub.cand[keep], sub.opt[keep],
                                        np.maximum(weight[keep], 1), sub.locked[keep],
                                        sub.capacity, sub.option_org, sub.budget, sub.need)
                start = None if warm_chosen is None else warm_chosen[part.edges]
                warm = WarmStart(prices.lam[part.orgs], start)
            metas.append(part)
            yield PartTask(part.label, sub, policy, warm)

    chosen = np.zeros(problem.n_edges, dtype=bool)
    lam = np.zeros(problem.n_organisations, dtype=np.int64)
    v = np.zeros(problem.n_options, dtype=np.int64)
    binding = False
    per_part = []
    for i, ans in enumerate(_tracked("solve", mapper(solve_part, tasks()), n_parts)):
        part, res = metas[i], ans.result
        metas[i] = part.without_problem()
        if res.status is Status.INFEASIBLE:
            empty = np.zeros(problem.n_edges, dtype=bool)
            return SolveResult(Status.INFEASIBLE, Method.DECOMPOSED, empty, 0, 0, True,
                               SolveDetails(reasons=res.details.reasons,
                                            stats={"part": part.label}))
        chosen[part.edges[res.chosen]] = True
        lam[part.orgs] = ans.multipliers
        v[part.options] = ans.prices
        binding |= res.guidance_binding
        per_part.append({"part": part.label, "candidates": part.problem.n_candidates,
                         "pairs": len(part.edges), "method": res.method,
                         "objective": res.objective, "bound": res.bound,
                         "iterations": res.details.iterations,
                         "seconds": round(ans.seconds, 3), "peak_mb": round(ans.peak_mb, 1)})
    return chosen, lam, v, binding, per_part


def _outside(top: _BestTwo, part: Part) -> np.ndarray:
    """Per local candidate of `part`: the best it is worth in any other part (>= 0)."""
    here = top.part[part.cands] == part.label
    return np.maximum(np.where(here, top.second[part.cands], top.best[part.cands]), 0)


def sign_step(lam: np.ndarray, excess: np.ndarray, rate: np.ndarray, prev_sign: np.ndarray,
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One multiplier step by the sign of each budget's excess ("rprop"): the step grows by 5/4
    while the sign stays and halves when it flips; integers only. Returns (multipliers, steps,
    last nonzero signs)."""
    sign = np.where((lam > 0) | (excess > 0), np.sign(excess), 0)
    same = sign * prev_sign
    rate = np.maximum(np.where(same > 0, (rate * 5) // 4, np.where(same < 0, rate // 2, rate)), 1)
    return np.maximum(lam + sign * rate, 0), rate, np.where(sign != 0, sign, prev_sign)


def whole_lagrangian(problem: AssignmentProblem, lam: np.ndarray, v: np.ndarray,
                     usable: np.ndarray, iterations: int, step: str = "sign",
                     theta: float = 0.2, target: int = 0, threads: int = 1,
                     search_shift: int = 16,
                     ) -> tuple[np.ndarray, int, list[int], np.ndarray | None]:
    """Lagrangian iterations over the whole problem, each subproblem by the auction over every
    usable pair (`matcher.solver.auction`), started from the coordinated multipliers `lam` and
    option prices `v`; multiplier steps by `sign_step`, as in `coordinate`, or with `step` =
    "polyak" by `polyak_step` towards `target` (a feasible answer's value) with factor `theta`,
    halved after each iteration that does not lower the bound. `threads` > 1: the auction's
    Jacobi rounds on that many threads (`matcher.solver.auction.Auction`). `search_shift` < 16:
    the iterations' auctions stop at eps = highest weight / 2**search_shift (coarser, cheaper;
    each dual is still a valid bound), and the best multipliers are solved once more at the
    finest eps, the lower dual kept.

    Returns the best multipliers, the lowest bound (each iteration's is valid: the auction's
    dual over all pairs plus ``sum(lam * budget_left)``), the bound of each iteration, and the
    subproblem's answer at the best multipliers (bool per edge; None without iterations).
    """
    from matcher.solver.auction import (  # numba: imported when used
        FINE_SHIFT,
        Auction,
        priced_weights,
    )

    _, seats_left, budget_left, _ = problem.residual()
    budget_left = np.maximum(budget_left, 0)
    locked = int(problem.weight[problem.locked].sum())
    idx = np.flatnonzero(usable)
    auction = Auction(problem.cand[idx], problem.opt[idx], problem.n_candidates, seats_left,
                      prices=v, threads=threads)
    org = problem.option_org[problem.opt[idx]].astype(np.int32)
    need = problem.need[problem.cand[idx]].astype(np.int32)
    lam = np.maximum(lam, 0).astype(np.int64)
    rate = np.maximum(lam >> 5, np.int64(1 << 12))
    prev_sign = np.zeros(len(lam), dtype=np.int64)
    theta_num = max(round(theta * 1024), 1)
    trace: list[int] = []
    best_value, best_lam, best_x = -1, lam.copy(), None
    shift = min(search_shift, FINE_SHIFT)

    def solve_at(m: np.ndarray, fine_shift: int) -> tuple[np.ndarray, int]:
        """The subproblem's answer at multipliers `m` and its bound of the whole problem."""
        w = np.empty(len(idx), dtype=np.int64)
        priced_weights(problem.weight, idx, m, org, need, w)
        x, dual = auction.solve(w, fine_shift=fine_shift)
        return x, locked + dual + int((m * budget_left).sum())

    for _ in range(iterations):
        x, value = solve_at(lam, shift)
        trace.append(value)
        if best_value < 0 or value < best_value:
            best_value, best_lam, best_x = value, lam.copy(), x
        elif step == "polyak":
            theta_num = max(theta_num // 2, 1)
        used = np.bincount(org[x], weights=need[x], minlength=len(lam)).astype(np.int64)
        if step == "polyak":
            lam = polyak_step(lam, used - budget_left, value, target, theta_num)
        else:
            lam, rate, prev_sign = sign_step(lam, used - budget_left, rate, prev_sign)
    if best_x is not None and shift < FINE_SHIFT:
        best_x, value = solve_at(best_lam, FINE_SHIFT)
        trace.append(value)
        best_value = min(best_value, value)
    chosen = None
    if best_x is not None:
        chosen = np.zeros(problem.n_edges, dtype=bool)
        chosen[idx[best_x]] = True
    return best_lam, best_value, trace, chosen


def coordinate(problem: AssignmentProblem, labels: np.ndarray, lam: np.ndarray, v: np.ndarray,
               usable: np.ndarray, sweeps: int, mapper: Mapper,
               ) -> tuple[_Prices, int, list[int]]:
    """Price sweeps from the parts' multipliers and prices: returns the last prices, the lowest
    bound seen (each is valid) and the bound after each sweep.

    A sweep prices every part's options exactly, the other parts' prices fixed (every part from
    the same prices: Jacobi), and moves each organisation's multiplier by the sign of its budget
    excess in the parts' priced flows, with a step that grows by 5/4 while the sign stays and
    halves when it flips (as the Lagrangian method's "rprop" rule; integers only).
    """
    _, _, budget_left, _ = problem.residual()
    budget_left = np.maximum(budget_left, 0)
    lam = lam.copy()
    top = best_two(problem, lam, v, labels, usable)
    bound = dual_bound(problem, lam, v, top)
    trace = [bound]
    best = _Prices(lam.copy(), v, top)
    rate = np.maximum(lam >> 5, np.int64(1 << 12))
    prev_sign = np.zeros(len(lam), dtype=np.int64)
    parts = layout(problem, labels) if sweeps > 0 else []
    for _ in range(sweeps):

        def tasks(lam: np.ndarray = lam, top: _BestTwo = top) -> Iterator[PriceTask]:
            for part in iter_parts(problem, labels, parts=parts):
                yield PriceTask(part.label, part.problem, lam[part.orgs], _outside(top, part))

        v = v.copy()
        used = np.zeros(len(lam), dtype=np.int64)
        for part, ans in zip(parts, _tracked("bound", mapper(price_part, tasks()), len(parts)),
                             strict=True):
            v[part.options] = ans.prices
            used[part.orgs] = ans.guidance_used
        top = best_two(problem, lam, v, labels, usable)
        value = dual_bound(problem, lam, v, top)
        trace.append(value)
        if value < bound:
            bound, best = value, _Prices(lam.copy(), v, top)
        lam, rate, prev_sign = sign_step(lam, used - budget_left, rate, prev_sign)
    return best, bound, trace
