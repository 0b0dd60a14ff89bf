"""Final polish of a feasible assignment: exact CP-SAT over a small core, window by window.

The core is each person's few best pairs by priced weight (the Lagrangian multipliers say which
pairs matter) plus the pairs already chosen. Organisations are ordered so that neighbours (those
sharing candidates) come together (reverse Cuthill-McKee on the organisation graph), and cut into
windows of at most ``max_pairs`` core pairs. In each window CP-SAT re-decides the core pairs of
its organisations for the people that are free or placed inside it, everything else fixed,
warm-started with the current assignment; a window's answer is kept only when it is better.
One worker, fixed seed, deterministic time limits: the same input gives the same answer.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import numpy as np
from ortools.sat.python import cp_model
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import reverse_cuthill_mckee

from matcher.solver.cpsat import deterministic_solver
from matcher.solver.problem import AssignmentProblem

log = logging.getLogger(__name__)


def organisation_order(problem: AssignmentProblem, edges: np.ndarray) -> np.ndarray:
    """Organisations ordered so that those sharing candidates are close (RCM on their graph)."""
    n_c, n_g = problem.n_candidates, problem.n_organisations
    cand = problem.cand[edges].astype(np.int64)
    org = problem.edge_org[edges].astype(np.int64)
    inc = coo_matrix((np.ones(len(cand)), (org, cand)), shape=(n_g, n_c)).tocsr()
    inc.data[:] = 1.0
    graph = (inc @ inc.T).tocsr()
    return np.asarray(reverse_cuthill_mckee(graph, symmetric_mode=True), dtype=np.int64)


def _windows(order: np.ndarray, pairs_per_org: np.ndarray, max_pairs: int,
             offset: int = 0) -> list[np.ndarray]:
    """Consecutive organisations (in `order`) cut into windows of at most about `max_pairs`
    pairs; `offset` shifts the cuts (a later pass cuts where an earlier one did not)."""
    csum = np.cumsum(pairs_per_org[order])
    cut = (csum - 1 + offset) // max(max_pairs, 1)
    return [order[cut == w] for w in np.unique(cut)]


def _groups(keys: np.ndarray) -> list[np.ndarray]:
    order = np.argsort(keys, kind="stable")
    k = keys[order]
    starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
    return np.split(order, starts[1:])


def window_model(problem: AssignmentProblem, chosen: np.ndarray,
                 var: np.ndarray) -> cp_model.CpModel:
    """The CP-SAT model of a window: a 0/1 variable per edge of `var` (in that order), at most
    one per person, the seats and guidance `chosen` leaves outside `var`, maximise the weight,
    hinted with `chosen`."""
    fixed = chosen.copy()
    fixed[var] = False
    seats = problem.capacity - problem.seats_used(fixed)
    room = problem.budget - problem.guidance_used(fixed)
    model = cp_model.CpModel()
    x = [model.new_bool_var("") for _ in range(len(var))]
    for grp in _groups(problem.cand[var]):
        if len(grp) > 1:
            model.add_at_most_one([x[i] for i in grp.tolist()])
    opt = problem.opt[var]
    for grp in _groups(opt):
        o = opt[grp[0]]
        if len(grp) > seats[o]:
            model.add(cp_model.LinearExpr.sum([x[i] for i in grp.tolist()]) <= int(seats[o]))
    org = problem.edge_org[var]
    need = problem.edge_need[var]
    for grp in _groups(org):
        g = org[grp[0]]
        if need[grp].sum() > room[g]:
            model.add(cp_model.LinearExpr.weighted_sum([x[i] for i in grp.tolist()],
                                                       need[grp].tolist()) <= int(room[g]))
    weight = problem.weight[var]
    # The objective (maximise: negated coefficients, scaling -1, zero weights left out) and the
    # hint written into the model's proto in one call each, as `maximize(weighted_sum)` and
    # `add_hint` per variable write them (the same model, so the same search; a test compares
    # the two): those per-variable Python calls cost more than many a small window's solve.
    nonzero = np.flatnonzero(weight != 0)
    objective = model.proto.objective
    objective.vars.extend(nonzero.tolist())
    objective.coeffs.extend((-weight[nonzero]).tolist())
    objective.scaling_factor = -1
    model.proto.solution_hint.vars.extend(range(len(var)))
    model.proto.solution_hint.values.extend(chosen[var].astype(np.int64).tolist())
    return model


def _solve_window(problem: AssignmentProblem, chosen: np.ndarray, var: np.ndarray,
                  det_time: float) -> tuple[np.ndarray | None, float]:
    """Best re-decision of edges `var` (others fixed), as a mask over `var` (None when not
    better than `chosen`), and the deterministic time CP-SAT used. CP-SAT releases the GIL while
    it solves, so independent windows can run in threads."""
    model = window_model(problem, chosen, var)
    weight = problem.weight[var]
    hint = chosen[var]
    solver = deterministic_solver(det_time)
    # Presolve costs more wall time than it saves on these small, hinted models (measured).
    solver.parameters.cp_model_presolve = False
    status = solver.solve(model)
    used = min(float(solver.deterministic_time), det_time)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None, used
    values = np.asarray(solver.response_proto.solution, dtype=np.int64) > 0
    if int(weight[values].sum()) <= int(weight[hint].sum()):
        return None, used
    return values, used


def _batches(sweeps: list[list[np.ndarray]], size: int,
             ) -> list[tuple[int, list[np.ndarray]]]:
    """(start, windows of its sweep) for every batch of `size` windows, sweep after sweep."""
    return [(b, windows) for windows in sweeps for b in range(0, len(windows), size)]


def polish(problem: AssignmentProblem, chosen: np.ndarray, core: np.ndarray, max_pairs: int,
           det_time: float, parallel: int = 1, passes: int = 1,
           ) -> tuple[np.ndarray, dict[str, int | float]]:
    """Improve feasible `chosen` by exact windows over the `core` edges (free, unlocked only).

    Windows are taken `parallel` at a time: a batch's windows have disjoint organisations (so
    disjoint seats and budgets) and disjoint people (a person placed in one window, or free and
    claimed by an earlier window of the batch, is left out of the others), so they are solved
    independently, in threads, and merged; the answer does not depend on the threads' timing.
    `passes` > 1 repeats the sweep with the window cuts shifted by a fraction of a window, so
    moves across an earlier cut get their chance.

    The deterministic time is shared out as the windows come: each batch's windows get equal
    shares of what is left for the windows still to come, so the time a window does not use
    (CP-SAT proved it optimal early) goes to the later ones. CP-SAT's deterministic time is a
    count of its work, so this too is the same on every run.
    """
    core = core & ~problem.locked
    stats: dict[str, int | float] = {"polish_windows": 0, "polish_improved": 0,
                                     "polish_gain": 0, "polish_core_pairs": int(core.sum())}
    if max_pairs <= 0 or det_time <= 0 or not core.any():
        return chosen, stats
    _, _, _, cand_free = problem.residual()
    core &= cand_free[problem.cand]
    idx = np.flatnonzero(core)
    order = organisation_order(problem, idx)
    pairs = np.bincount(problem.edge_org[idx], minlength=problem.n_organisations)
    order = order[pairs[order] > 0]
    passes = max(1, passes)
    sweeps = [_windows(order, pairs, max_pairs, (i * max_pairs) // passes) for i in range(passes)]
    start_value = problem.objective(chosen)
    chosen = chosen.copy()
    parallel = max(1, parallel)
    pool = ThreadPoolExecutor(parallel) if parallel > 1 else None
    time_left, windows_left = det_time, sum(len(w) for w in sweeps)
    try:
        for b, windows in _batches(sweeps, parallel):
            batch = windows[b:b + parallel]
            per_window = time_left / windows_left
            windows_left -= len(batch)
            placed_org = np.full(problem.n_candidates, -1, dtype=np.int64)
            placed_org[problem.cand[chosen]] = problem.edge_org[chosen]
            home = placed_org[problem.cand[idx]]
            claimed = np.zeros(problem.n_candidates, dtype=bool)
            vars_ = []
            for w in batch:
                in_w = np.zeros(problem.n_organisations, dtype=bool)
                in_w[w] = True
                mine = in_w[problem.edge_org[idx]] & ((home < 0) | in_w[np.maximum(home, 0)])
                mine &= ~claimed[problem.cand[idx]]
                var = np.union1d(idx[mine], np.flatnonzero(chosen & in_w[problem.edge_org]
                                                            & ~problem.locked))
                claimed[problem.cand[var]] = True
                vars_.append(var)
            stats["polish_windows"] += len(batch)
            if pool is None:
                results = [_solve_window(problem, chosen, v, per_window) for v in vars_]
            else:
                results = list(pool.map(_solve_window, [problem] * len(vars_),
                                        [chosen] * len(vars_), vars_, [per_window] * len(vars_)))
            for var, (values, used) in zip(vars_, results, strict=True):
                time_left = max(time_left - used, 0.0)
                if values is not None:
                    chosen[var] = values
                    stats["polish_improved"] += 1
    finally:
        if pool is not None:
            pool.shutdown()
    stats["polish_gain"] = problem.objective(chosen) - start_value
    stats["polish_det_used"] = round(det_time - time_left, 6)
    return chosen, stats


def slack_polish(problem: AssignmentProblem, chosen: np.ndarray, core: np.ndarray,
                 max_pairs: int, det_time: float, parallel: int = 1,
                 ) -> tuple[np.ndarray, dict[str, int | float]]:
    """`polish` of feasible `chosen` over the `core` pairs into organisations whose budget
    `chosen` leaves partly unused: windows of those organisations alone gather guidance left
    over in ones and twos into room for more people (`matcher.solver.lagrangian` before its
    polish of every organisation; `matcher.solver.decompose` at the end of a round solved by
    region). It runs on the problem restricted to those pairs, the answer and the locked pairs
    (every seat and budget used is in it, so its limits are the whole problem's; the same
    answer as over the whole problem): each window then costs the size of that, not of every
    pair. Stats: `polish`'s and the number of such organisations."""
    left = problem.guidance_used(chosen) < problem.budget
    core = core & left[problem.edge_org] & ~problem.locked
    keep = np.flatnonzero(core | chosen | problem.locked)
    sub = replace(problem, cand=problem.cand[keep], opt=problem.opt[keep],
                  weight=problem.weight[keep], locked=problem.locked[keep])
    out, stats = polish(sub, chosen[keep], core[keep], max_pairs, det_time, parallel)
    polished = np.zeros_like(chosen)
    polished[keep[out]] = True
    return polished, stats | {"organisations": int(left.sum())}
