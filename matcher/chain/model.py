"""The exact chain model: pairs, routes, hour capacities and cohort minimums in one MILP.

Variables: ``x[e]`` per pair (the person takes that option alone), ``y[r]`` per route edge (the
programme now and the place reserved), ``z[o]`` per option with a ``min_participants`` (it
runs). Maximise ``sum weight * x + sum route weight * y`` subject to

- each person: at most one x or y;
- each option: people using it (x on it, y with it as programme or as place) at most
  ``capacity``, and, with a minimum, at most ``capacity * z`` and at least ``min * z``;
- each route: its y at most the route's ``seats``;
- each option with ``capacity_hours``: the hours of those people, each
  ``min(hours_available, hours_max)``, at most ``capacity_hours``;
- each organisation: the guidance need of the people using its options at most its
  ``guidance_capacity``, a route's person counted once per distinct organisation of the route;
- a locked pair (person, P): x on it or some y through it; a locked route: its y.

Solved by SciPy's ``milp`` (HiGHS) with a node limit (deterministic work, never the clock):
the same input gives the same answer. Weights are integers (micro-units), so the objective is
exact; a proven optimum has bound = objective.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.optimize import LinearConstraint, milp

from matcher.chain.data import NO_HOUR_LIMIT
from matcher.chain.routes import RouteEdges, build_route_edges, option_hours
from matcher.errors import InputError, Problem
from matcher.model import Instance
from matcher.policy import Policy
from matcher.scoring.table import EdgeTable
from matcher.solver.problem import AssignmentProblem
from matcher.solver.result import Method, SolveDetails, SolveResult, Status
from matcher.stability import Targets, pair_bonus, route_bonus, with_bonus

log = logging.getLogger(__name__)

METHOD = Method.CHAIN_MILP


@dataclass(frozen=True)
class ChainSolution:
    """The chain model's answer: single pairs, routes and the options that run."""

    routes: RouteEdges
    singles: np.ndarray  # bool over the problem's edges: the person takes that option alone
    chosen_routes: np.ndarray  # bool over route edges
    opened: np.ndarray  # bool over options: runs (no minimum, or its minimum is met)

    def at_programme(self) -> np.ndarray:
        """Bool over the problem's edges: every pair a person takes now (alone or as a route's
        programme)."""
        out = self.singles.copy()
        out[self.routes.pair[self.chosen_routes]] = True
        return out


def min_participants(inst: Instance) -> np.ndarray:
    opts = inst.options
    return opts["min_participants"].to_numpy(np.int64) if "min_participants" in opts else (
        np.zeros(inst.n_options, dtype=np.int64))


def capacity_hours(inst: Instance) -> np.ndarray:
    opts = inst.options
    return opts["capacity_hours"].to_numpy(np.int64) if "capacity_hours" in opts else (
        np.full(inst.n_options, NO_HOUR_LIMIT, dtype=np.int64))


def chain_active(inst: Instance) -> bool:
    """Whether a round needs the chain model: routes, an hour capacity or a cohort minimum."""
    return (not inst.routes.empty or bool((capacity_hours(inst) >= 0).any())
            or bool((min_participants(inst) > 0).any()))


class _Rows:
    """Sparse constraint rows as (row, column, value) triplets with their bounds."""

    def __init__(self, n_cols: int) -> None:
        self.n_cols = n_cols
        self.r: list[np.ndarray] = []
        self.c: list[np.ndarray] = []
        self.v: list[np.ndarray] = []
        self.lb: list[np.ndarray] = []
        self.ub: list[np.ndarray] = []
        self.n = 0

    def block(self, n_rows: int, lb: np.ndarray | float, ub: np.ndarray | float,
              *terms: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
        """`n_rows` rows; each term (row within the block, column, coefficient)."""
        for row, col, val in terms:
            self.r.append(np.asarray(row, dtype=np.int64) + self.n)
            self.c.append(np.asarray(col, dtype=np.int64))
            self.v.append(np.asarray(val, dtype=float))
        self.lb.append(np.broadcast_to(np.asarray(lb, dtype=float), (n_rows,)))
        self.ub.append(np.broadcast_to(np.asarray(ub, dtype=float), (n_rows,)))
        self.n += n_rows

    def constraint(self) -> LinearConstraint:
        a = sp.csr_matrix((np.concatenate(self.v), (np.concatenate(self.r),
                                                    np.concatenate(self.c))),
                          shape=(self.n, self.n_cols))
        return LinearConstraint(a, np.concatenate(self.lb), np.concatenate(self.ub))


@dataclass(frozen=True)
class _Layout:
    """Column positions: x (pairs), then y (routes), then z (options with a minimum)."""

    n_x: int
    n_y: int
    z_opt: np.ndarray  # the options with a minimum, in z order

    @property
    def n(self) -> int:
        return self.n_x + self.n_y + len(self.z_opt)

    def y(self, r: np.ndarray) -> np.ndarray:
        return self.n_x + np.asarray(r, dtype=np.int64)


def _usage_terms(problem: AssignmentProblem, routes: RouteEdges, lay: _Layout
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every (option, column, person) use of an option: x on it, a route's y at its programme
    and at its place. Returns (option, column, candidate, is_route_place)."""
    r = np.arange(len(routes))
    opt = np.concatenate([problem.opt, routes.prog, routes.place]).astype(np.int64)
    col = np.concatenate([np.arange(lay.n_x), lay.y(r), lay.y(r)])
    cand = np.concatenate([problem.cand, routes.cand, routes.cand]).astype(np.int64)
    at_place = np.r_[np.zeros(lay.n_x + len(r), bool), np.ones(len(r), bool)]
    return opt, col, cand, at_place


def _build(inst: Instance, problem: AssignmentProblem, routes: RouteEdges,
           lay: _Layout) -> _Rows:
    rows = _Rows(lay.n)
    r = np.arange(len(routes))
    # each person at most one x or y
    rows.block(problem.n_candidates, 0, 1, (problem.cand, np.arange(lay.n_x), np.ones(lay.n_x)),
               (routes.cand, lay.y(r), np.ones(len(r))))
    opt, col, cand, _ = _usage_terms(problem, routes, lay)
    cap = problem.capacity.astype(float)
    minimum = min_participants(inst)
    gated = minimum > 0
    z_of = np.full(problem.n_options, -1, dtype=np.int64)
    z_of[lay.z_opt] = lay.n_x + lay.n_y + np.arange(len(lay.z_opt))
    # seats: sum - cap * z <= 0 where gated, sum <= cap elsewhere
    zo = lay.z_opt
    rows.block(problem.n_options, -np.inf, np.where(gated, 0.0, cap),
               (opt, col, np.ones(len(col))), (zo, z_of[zo], -cap[zo]))
    # cohort minimum: sum - min * z >= 0
    use = gated[opt]
    local = np.full(problem.n_options, -1, dtype=np.int64)
    local[zo] = np.arange(len(zo))
    rows.block(len(zo), 0, np.inf, (local[opt[use]], col[use], np.ones(int(use.sum()))),
               (np.arange(len(zo)), z_of[zo], -minimum[zo].astype(float)))
    # route seats
    seats = inst.routes["seats"].to_numpy(float)
    rows.block(len(seats), -np.inf, seats, (routes.route, lay.y(r), np.ones(len(r))))
    _hours_rows(inst, rows, opt, col, cand)
    _guidance_rows(problem, routes, rows, lay)
    _lock_rows(problem, routes, rows, lay)
    return rows


def _hours_rows(inst: Instance, rows: _Rows, opt: np.ndarray, col: np.ndarray,
                cand: np.ndarray) -> None:
    limit = capacity_hours(inst)
    limited = np.flatnonzero(limit >= 0)
    if not len(limited):
        return
    local = np.full(inst.n_options, -1, dtype=np.int64)
    local[limited] = np.arange(len(limited))
    use = local[opt] >= 0
    rows.block(len(limited), -np.inf, limit[limited].astype(float),
               (local[opt[use]], col[use], option_hours(inst, cand[use], opt[use])))


def _guidance_rows(problem: AssignmentProblem, routes: RouteEdges, rows: _Rows,
                   lay: _Layout) -> None:
    r = np.arange(len(routes))
    need = problem.need.astype(float)
    org_p = problem.option_org[routes.prog]
    org_q = problem.option_org[routes.place]
    other = org_q != org_p  # the same organisation coaches a route's person once
    rows.block(problem.n_organisations, -np.inf, problem.budget.astype(float),
               (problem.edge_org, np.arange(lay.n_x), need[problem.cand]),
               (org_p, lay.y(r), need[routes.cand]),
               (org_q[other], lay.y(r[other]), need[routes.cand[other]]))


def _lock_rows(problem: AssignmentProblem, routes: RouteEdges, rows: _Rows, lay: _Layout) -> None:
    """A locked pair (person, P): x on it or a route through it, exactly one."""
    locked = np.flatnonzero(problem.locked)
    if not len(locked):
        return
    local = np.full(problem.n_edges, -1, dtype=np.int64)
    local[locked] = np.arange(len(locked))
    through = local[routes.pair] >= 0
    rows.block(len(locked), 1, 1, (np.arange(len(locked)), locked, np.ones(len(locked))),
               (local[routes.pair[through]], lay.y(np.flatnonzero(through)),
                np.ones(int(through.sum()))))


def solve_chain(inst: Instance, problem: AssignmentProblem, routes: RouteEdges,
                policy: Policy, route_extra: np.ndarray | None = None
                ) -> tuple[SolveResult, ChainSolution]:
    """The chain model's optimum (or, at the node limit, its best answer with a bound).
    `route_extra`: micro-units added to each route edge's weight in the objective (the
    stability bonus of a person's previous route, :mod:`matcher.stability`)."""
    started = time.perf_counter()
    lay = _Layout(problem.n_edges, len(routes), np.flatnonzero(min_participants(inst) > 0))
    rows = _build(inst, problem, routes, lay)
    route_weight = routes.weight_int if route_extra is None else routes.weight_int + route_extra
    weight = np.concatenate([problem.weight, route_weight, np.zeros(len(lay.z_opt), np.int64)])
    lower = np.zeros(lay.n)
    lower[lay.y(np.flatnonzero(routes.locked))] = 1
    if lay.n == 0:  # nobody can be matched: the empty answer is the optimum
        sol = ChainSolution(routes, np.zeros(0, bool), np.zeros(0, bool),
                            min_participants(inst) == 0)
        return SolveResult(Status.OPTIMAL, METHOD, sol.singles, 0, 0, False,
                           SolveDetails(stats={"variables": 0})), sol
    res = milp(-weight.astype(float), integrality=np.ones(lay.n),
               bounds=(lower, np.ones(lay.n)), constraints=[rows.constraint()],
               options={"disp": False, "mip_rel_gap": 0.0, "node_limit": policy.chain.max_nodes,
                        "presolve": True})
    if res.x is None:
        raise ChainInfeasible(res.message)
    val = res.x > 0.5
    sol = ChainSolution(routes, val[:lay.n_x], val[lay.n_x:lay.n_x + lay.n_y],
                        _opened(inst, val[lay.n_x + lay.n_y:], lay.z_opt))
    objective = int(weight[val].sum())
    proven = res.status == 0
    bound = objective if proven else max(objective, math.floor(-res.mip_dual_bound + 1e-3))
    details = {"variables": lay.n, "rows": rows.n, "routes": lay.n_y, "cohorts": len(lay.z_opt),
               "nodes": int(getattr(res, "mip_node_count", 0) or 0),
               "seconds": time.perf_counter() - started, "milp_status": int(res.status)}
    log.info("chain model: %d variables, %d rows, %s in %.2f s", lay.n, rows.n,
             "optimal" if proven else "stopped", details["seconds"])
    status = Status.OPTIMAL if proven or bound == objective else Status.FEASIBLE
    return (SolveResult(status, METHOD, sol.at_programme(), objective, bound,
                        bool(problem.guidance_can_bind().any()), SolveDetails(stats=details)), sol)


def _opened(inst: Instance, z: np.ndarray, z_opt: np.ndarray) -> np.ndarray:
    out = np.ones(inst.n_options, dtype=bool)
    out[z_opt] = z
    return out


class ChainInfeasible(Exception):
    """The chain model has no feasible answer (the decisions conflict with the minimums)."""


def solve_chain_round(inst: Instance, policy: Policy, edges: EdgeTable, usable: np.ndarray,
                      problem: AssignmentProblem, stable: tuple[Targets, int] | None = None
                      ) -> tuple[SolveResult, ChainSolution, list[Problem]]:
    """The round's chain solve: route edges, the cohort check of the locks (refused before
    solving, InputError), the model. `stable`: the previous round's proposals and the stability
    bonus (micro-units) added to the weight of each person's previous pair or route in the
    model's objective (:mod:`matcher.stability`). Returns (result, solution, warnings)."""
    from matcher.chain.checks import cohort_problems

    if policy.fairness.active:
        raise InputError([Problem("policy", None, "fairness", "the fairness options are not "
                                  "available in a round with chain inputs (routes, "
                                  "capacity_hours or min_participants)",
                                  code="chain_fairness")])
    extra = policy.chain.place_share + policy.chain.guarantee_bonus
    if not inst.routes.empty and extra >= policy.objective.match_bonus:
        raise InputError([Problem(
            "policy", None, "chain.place_share",
            f"chain.place_share + chain.guarantee_bonus ({extra:g}) must be below "
            f"objective.match_bonus ({policy.objective.match_bonus:g}) in a round with routes: "
            "what a route adds to its programme must be worth less than another placement",
            code="chain_route_weight",
            params={"extra": f"{extra:g}", "bonus": f"{policy.objective.match_bonus:g}"})])
    routes = build_route_edges(inst, policy, edges, usable, problem)
    bad = cohort_problems(inst, problem, routes, min_participants(inst))
    if bad:
        raise InputError(bad)
    cid = inst.candidates["candidate_id"].to_numpy()
    oid = inst.options["option_id"].to_numpy()
    warn = [Problem("decisions.csv", None, "next_option_id",
                    f"lock of candidate {cid[c]!r} to the route {oid[p]!r} -> {oid[q]!r} is "
                    "outside the hard rules; kept", "warning", code="route_lock_outside_rules",
                    params={"candidate": repr(cid[c]), "programme": repr(oid[p]),
                            "place": repr(oid[q])})
            for c, p, q in zip(routes.cand[~routes.eligible], routes.prog[~routes.eligible],
                               routes.place[~routes.eligible], strict=True)]
    model_problem, route_extra = problem, None
    if stable is not None:
        targets, bonus = stable
        model_problem = with_bonus(problem, pair_bonus(problem, targets, bonus), bonus)
        route_extra = np.where(route_bonus(routes, targets, problem.n_candidates, bonus),
                               bonus, 0).astype(np.int64)
    n_vars = problem.n_edges + len(routes) + int((min_participants(inst) > 0).sum())
    try:
        if n_vars > policy.chain.exact_max_variables:
            from matcher.chain.lagrange import solve_large

            result, sol = solve_large(inst, model_problem, routes, route_extra)
        else:
            result, sol = solve_chain(inst, model_problem, routes, policy, route_extra)
    except ChainInfeasible:
        raise InputError([Problem("decisions.csv", None, None,
                                  "the locks cannot all be kept together with the options' "
                                  "min_participants and capacity_hours",
                                  code="chain_locks_infeasible")]) from None
    return result, sol, warn
