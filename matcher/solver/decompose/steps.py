"""`solve_decomposed`: the steps of `matcher.solver.decompose`'s docstring, one function each,
over a typed state (`Round`: what every step reads; `State`: what the steps so far found)."""

from __future__ import annotations

import time
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from matcher.parallel import Mapper
from matcher.policy import DecomposeSettings, Policy
from matcher.solver.decompose.bound import _usable, priced_weight
from matcher.solver.decompose.coordinate import Prices, coordinate
from matcher.solver.decompose.parts import component_labels, first_homes, merge_labels
from matcher.solver.decompose.passes import keep_one_per_candidate, solve_parts
from matcher.solver.decompose.tasks import quota_part, quota_task
from matcher.solver.decompose.whole import WholeRun, auction_core, whole_lagrangian
from matcher.solver.lagrangian import repair
from matcher.solver.polish import slack_polish
from matcher.solver.problem import AssignmentProblem
from matcher.solver.quota_flow import best_pairs
from matcher.solver.refill import refill
from matcher.solver.result import Method, SolveDetails, SolveResult, Status


@dataclass(frozen=True)
class Round:
    """What every step reads: the problem, its settings, the parts' labels (per organisation)
    and how the parts' work is dispatched."""

    problem: AssignmentProblem
    policy: Policy
    labels: np.ndarray
    mapper: Mapper
    free: np.ndarray  # the edges not locked
    usable: np.ndarray  # free edges into options with a seat left after the locks
    n_parts: int

    @property
    def settings(self) -> DecomposeSettings:
        return self.policy.solver.decompose

    @property
    def auction_last(self) -> bool:
        """The whole-problem iterations run after the last coordination."""
        return self.settings.auction_iterations > 0 and self.settings.auction_last

    @property
    def quota_beside(self) -> bool:
        """Step 4's flow goes to the mapper's `submit` as soon as its input is final: without
        whole-problem iterations, or with them last, that is after the first pass (no border
        passes) or after the last border pass; it then runs in a worker process while the
        coordination prices the parts and the iterations run."""
        s = self.settings
        return (s.quota_core > 0 and hasattr(self.mapper, "submit")
                and (s.auction_iterations == 0 or self.auction_last))


@dataclass(frozen=True)
class EarlyQuota:
    """Step 4's flow submitted to the mapper: its answer to come, the pairs it was given (their
    indices in the whole problem) and when it was submitted."""

    future: Future[np.ndarray]
    idx: np.ndarray
    pairs: int
    started: float


@dataclass
class State:
    """What the steps so far found. `lam` and `v` are the last pass's multipliers and prices
    (where the next coordination starts); `prices` the last coordination's best; `bound` and
    `multipliers` the lowest bound yet and the multipliers reported with it."""

    chosen: np.ndarray
    value: int
    binding: bool
    lam: np.ndarray
    v: np.ndarray
    stats: dict[str, Any]
    prices: Prices | None = None
    bound: int | None = None
    multipliers: np.ndarray | None = None
    whole_x: np.ndarray | None = None  # the whole-problem subproblem's answer at its best
    whole_answer: np.ndarray | None = None  # its repair, compared after step 4 when last
    early: EarlyQuota | None = None
    coordination: list[dict[str, Any]] = field(default_factory=list)
    passes: list[dict[str, Any]] = field(default_factory=list)

    def keep_if_better(self, chosen: np.ndarray, value: int) -> None:
        if value > self.value:
            self.chosen, self.value = chosen, value

    def lower_bound_to(self, bound: int, multipliers: np.ndarray) -> None:
        if self.bound is None or bound < self.bound:
            self.bound, self.multipliers = bound, multipliers


def _seconds(since: float) -> float:
    return round(time.perf_counter() - since, 3)


def prepare(problem: AssignmentProblem, policy: Policy, org_label: np.ndarray | None,
            mapper: Mapper | None) -> Round:
    """The parts (regions joined up to ``part_pairs`` pairs; default: connected components)."""
    labels = component_labels(problem) if org_label is None else np.asarray(org_label, np.int64)
    if policy.solver.decompose.part_pairs > 0:
        labels = merge_labels(problem, labels, policy.solver.decompose.part_pairs)
    free, _, _, _ = problem.residual()
    return Round(problem, policy, labels, mapper or map, free, _usable(problem),
                 _n_parts(problem, labels))


def _n_parts(problem: AssignmentProblem, labels: np.ndarray) -> int:
    if problem.n_edges == 0:
        return 0
    return len(np.unique(labels[problem.option_org[np.unique(problem.opt)]]))


def first_pass(r: Round) -> State | SolveResult:
    """1. Each part with the candidates whose best pair (or lock) lies in it; the union of the
    answers refilled over every free pair, so people may take a seat across a border."""
    t = time.perf_counter()
    problem = r.problem
    got = solve_parts(problem, r.labels, r.policy, r.mapper, r.n_parts,
                      home=first_homes(problem, r.labels))
    if isinstance(got, SolveResult):
        return got
    union_value = problem.objective(got.chosen)
    chosen, stats = refill(problem, got.chosen, r.free, weight=priced_weight(problem, got.lam))
    value = problem.objective(chosen)
    first = {"union_value": union_value, "value": value, "refill": stats,
             "seconds": _seconds(t), "per_part": got.per_part}
    return State(chosen, value, got.binding, got.lam, got.v,
                 {"parts": r.n_parts, "first_pass": first})


def submit_quota(r: Round, chosen: np.ndarray) -> EarlyQuota:
    """Step 4's flow from `chosen`, handed to the mapper's `submit` (`Round.quota_beside`)."""
    t = time.perf_counter()
    mask = best_pairs(r.problem, r.settings.quota_core) & r.free
    task, q_idx = quota_task(r.problem, chosen, mask)
    return EarlyQuota(r.mapper.submit(quota_part, task),  # type: ignore[attr-defined]
                      q_idx, int(mask.sum()), t)


def coordination(r: Round, st: State, sweeps: int) -> None:
    """2. Prices and multipliers made consistent across borders from the last pass's, and the
    bound (the lowest of its sweeps; the round's lowest so far is kept)."""
    t = time.perf_counter()
    prices, bound, trace = coordinate(r.problem, r.labels, st.lam, st.v, r.usable, sweeps,
                                      r.mapper)
    st.coordination.append({"bounds": trace, "seconds": _seconds(t)})
    st.prices = prices
    st.lower_bound_to(bound, prices.lam)  # the shadow prices reported: those of the lowest


def whole_iterations(r: Round, st: State) -> None:
    """2b. The whole problem's Lagrangian dual by auctions, from the last coordination's prices:
    a bound that no longer depends on the parts' borders, and a repaired answer."""
    assert st.prices is not None
    t = time.perf_counter()
    s, problem = r.settings, r.problem
    whole: dict[str, Any] = {"after_passes": r.auction_last}
    run = WholeRun.of(s, st.value)
    start = st.prices.lam
    if s.auction_core > 0:
        start, core_stats = _core_iterations(r, st, run)
        whole.update(core_stats)
        run = replace(run, iterations=1, search_shift=16)  # at the finest eps: the bound
    w_lam, w_bound, w_trace, w_x = whole_lagrangian(problem, start, st.prices.v, r.usable, run)
    whole["bounds"] = w_trace
    if w_x is not None:
        st.whole_x = w_x
        assert st.bound is not None
        if w_bound < st.bound:
            st.bound, st.multipliers = w_bound, w_lam
        st.whole_answer, _ = repair(problem, w_x, r.free, priced_weight(problem, w_lam))
        whole["repair_value"] = problem.objective(st.whole_answer)
    whole["seconds"] = _seconds(t)
    st.stats["whole_auction"] = whole


def _core_iterations(r: Round, st: State, run: WholeRun) -> tuple[np.ndarray, dict[str, Any]]:
    """The whole-problem iterations over a core of pairs (``auction_core``; their values are no
    bound): their best multipliers, from which one auction over every pair at the finest eps
    gives the bound."""
    assert st.prices is not None
    s, problem = r.settings, r.problem
    core = auction_core(problem, st.prices.lam, r.usable, st.chosen, s.auction_core)
    idx = np.flatnonzero(core | problem.locked)  # the locks for the seats they use
    sub = replace(problem, cand=problem.cand[idx], opt=problem.opt[idx],
                  weight=problem.weight[idx], locked=problem.locked[idx])
    c_lam, _, c_trace, _ = whole_lagrangian(sub, st.prices.lam, st.prices.v, core[idx], run)
    return c_lam, {"core_pairs": int(core.sum()), "core_values": c_trace}


def take_whole_answer(r: Round, st: State) -> None:
    """The whole-problem iterations' repaired answer, where it beats the answer so far."""
    if st.whole_answer is not None:
        st.keep_if_better(st.whole_answer, r.problem.objective(st.whole_answer))
    st.whole_answer = None


def border_pass(r: Round, st: State, last: bool) -> SolveResult | None:
    """3. Every part with every candidate that has a pair into it, each valued net of what it
    is worth elsewhere at the coordinated prices, warm-started from them and the answer so far;
    a candidate chosen twice keeps its best pair, the freed seats refilled. Then coordination
    again from the pass's multipliers and prices. None, or the infeasible result of a part."""
    t = time.perf_counter()
    problem = r.problem
    got = solve_parts(problem, r.labels, r.policy, r.mapper, r.n_parts, prices=st.prices,
                      warm_chosen=st.chosen)
    if isinstance(got, SolveResult):
        return got
    chosen, dropped = keep_one_per_candidate(problem, got.chosen)
    merged = problem.objective(chosen)
    chosen, stats = refill(problem, chosen, r.free, weight=priced_weight(problem, got.lam))
    value = problem.objective(chosen)
    st.passes.append({"value_after_merge": merged, "duplicates_dropped": dropped,
                      "value": value, "refill": stats, "seconds": _seconds(t),
                      "per_part": got.per_part})
    st.keep_if_better(chosen, value)
    if r.quota_beside and last:
        st.early = submit_quota(r, st.chosen)
    st.lam, st.v = got.lam, got.v
    s = r.settings
    coordination(r, st, s.sweeps if s.pass_sweeps < 0 else s.pass_sweeps)
    return None


def quota_step(r: Round, st: State) -> None:
    """4. One class-quota flow over the whole problem (each person's best pairs, the whole
    subproblem's answer at the best multipliers, and the answer): people move across borders in
    chains within the answer's guidance classes. Kept when better."""
    problem = r.problem
    if st.early is not None:  # submitted when the answer was last changed
        picked, q_idx, n_mask, t = (st.early.future.result(), st.early.idx, st.early.pairs,
                                    st.early.started)
    else:
        t = time.perf_counter()
        mask = best_pairs(problem, r.settings.quota_core) & r.free
        if st.whole_x is not None and not r.auction_last:
            mask |= st.whole_x & r.free
        task, q_idx = quota_task(problem, st.chosen, mask)
        picked, n_mask = quota_part(task), int(mask.sum())
    moved = problem.locked.copy()
    moved[q_idx[picked]] = True
    moved, stats = refill(problem, moved, r.free)
    moved_value = problem.objective(moved)
    st.stats["quota_flow"] = {"value": moved_value, "pairs": n_mask, "refill": stats,
                              "seconds": _seconds(t), "beside_coordination": st.early is not None}
    st.keep_if_better(moved, moved_value)


def slack_step(r: Round, st: State) -> None:
    """5. A polish of the organisations with guidance left over (off by default)."""
    t = time.perf_counter()
    s, problem = r.settings, r.problem
    core = best_pairs(problem, max(s.quota_core, 1))
    if st.whole_x is not None:
        core |= st.whole_x
    st.chosen, slack_stats = slack_polish(problem, st.chosen, core & r.free, s.slack_max_pairs,
                                          s.slack_deterministic_time,
                                          r.policy.solver.polish.parallel)
    st.value = problem.objective(st.chosen)
    st.stats["polish_slack"] = slack_stats | {"seconds": _seconds(t)}


def finish(st: State, started: float) -> SolveResult:
    """The result: the best answer found and the lowest bound, with the multipliers of it."""
    assert st.bound is not None and st.multipliers is not None
    if st.value > st.bound:
        raise AssertionError(f"objective {st.value} above the decomposition bound {st.bound}")
    st.stats["seconds"] = time.perf_counter() - started
    status = Status.OPTIMAL if st.value == st.bound else Status.FEASIBLE
    return SolveResult(status, Method.DECOMPOSED, st.chosen, st.value, st.bound, st.binding,
                       SolveDetails(multipliers=st.multipliers.tolist(), stats=st.stats))


def solve_decomposed(problem: AssignmentProblem, policy: Policy,
                     org_label: np.ndarray | None = None, mapper: Mapper | None = None,
                     ) -> SolveResult:
    """Solve by parts (labels per organisation; default: connected components); see the
    package docstring for the steps. The bound is valid for the whole problem whatever the
    labels."""
    started = time.perf_counter()
    r = prepare(problem, policy, org_label, mapper)
    s = r.settings
    st = first_pass(r)
    if isinstance(st, SolveResult):
        return st
    if r.quota_beside and s.rounds <= 1:
        st.early = submit_quota(r, st.chosen)
    coordination(r, st, s.sweeps)
    if s.auction_iterations > 0 and not r.auction_last:
        whole_iterations(r, st)
        take_whole_answer(r, st)
    for i in range(s.rounds - 1):
        failed = border_pass(r, st, last=i == s.rounds - 2)
        if failed is not None:
            return failed
    st.stats["coordination"] = st.coordination
    st.stats["border_passes"] = st.passes
    if r.auction_last:  # beside step 4's flow where the mapper can; compared after it
        whole_iterations(r, st)
    if s.quota_core > 0:
        quota_step(r, st)
    take_whole_answer(r, st)
    assert st.bound is not None
    if s.slack_max_pairs > 0 and s.slack_deterministic_time > 0 and st.value < st.bound:
        slack_step(r, st)
    return finish(st, started)
