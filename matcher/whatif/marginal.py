"""Marginal values: what one more seat per option, or one more guidance unit per organisation,
adds to the round's objective.

Two methods, reported side by side:

- ``lp_dual`` (estimate): the dual value of the option's seat row and the organisation's
  guidance row in the LP relaxation of the round (OR-Tools GLOP, built from sparse arrays in one
  call). A dual is a supergradient of the LP's value: one more unit adds at most that much to
  the LP optimum, and exactly that much while the optimal basis stays the same. It does not see
  pairs that a larger guidance budget would make eligible (only possible when a budget is below 3).
- ``multiplier`` (estimate, guidance only, free): the baseline solve's Lagrangian multiplier of
  the organisation's guidance budget (`SolveResult.details.multipliers`, micro-units per
  guidance unit, shown in objective units): the price of guidance at which the relaxed round
  keeps the budgets, an estimate of the same LP dual. It costs nothing (the solver computed it),
  so it ranks the organisations when the LP is too large; 0 where budgets did not bind.
- ``resolve`` (exact when both solves are proven optimal): run the scenario ``+1`` through the
  what-if engine (edges reused, rescored where eligibility changes, solver warm-started from
  the baseline) and take the difference.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from ortools.linear_solver.python import model_builder_helper as mbh

from matcher.scoring import SCALE
from matcher.solver import AssignmentProblem, Method, SolveResult, Status
from matcher.whatif.engine import Baseline, Progress, run_scenario
from matcher.whatif.scenario import Scenario

log = logging.getLogger(__name__)


@dataclass
class LpDuals:
    value: float  # LP optimum, objective units
    seat: np.ndarray  # per option
    guidance: np.ndarray  # per organisation
    status: str


def lp_duals(problem: AssignmentProblem) -> LpDuals:
    """Duals of the seat and guidance rows of the round's LP relaxation (locked edges fixed to 1)."""
    n_e, n_c, n_o = problem.n_edges, problem.n_candidates, problem.n_options
    e = np.arange(n_e)
    need = problem.edge_need.astype(float)
    has_need = need > 0
    rows = np.concatenate([problem.cand, n_c + problem.opt,
                           n_c + n_o + problem.edge_org[has_need]]).astype(np.int64)
    cols = np.concatenate([e, e, e[has_need]])
    data = np.concatenate([np.ones(2 * n_e), need[has_need]])
    n_rows = n_c + n_o + problem.n_organisations
    a = sp.csr_matrix((data, (rows, cols)), shape=(n_rows, n_e))
    a.sum_duplicates()
    a.sort_indices()
    lower = problem.locked.astype(float)
    upper = np.ones(n_e)
    rhs = np.concatenate([np.ones(n_c), problem.capacity.astype(float),
                          problem.budget.astype(float)])
    model = mbh.ModelBuilderHelper()
    fill: Any = model.fill_model_from_sparse_data  # its stubs mistype the NumPy arrays
    fill(lower, upper, problem.weight / SCALE, np.full(n_rows, -np.inf), rhs, a)
    model.set_maximize(True)
    solver = mbh.ModelSolverHelper("glop")
    solver.solve(model)
    status = str(solver.status()).rsplit(".", 1)[-1].lower()
    if not solver.has_solution():
        nan_o, nan_g = np.full(n_o, np.nan), np.full(problem.n_organisations, np.nan)
        return LpDuals(float("nan"), nan_o, nan_g, status)
    duals = np.asarray(solver.dual_values())
    clean = np.maximum(np.round(duals, 9), 0.0)
    return LpDuals(float(solver.objective_value()), clean[n_c:n_c + n_o], clean[n_c + n_o:],
                   status)


def marginal_values(base: Baseline, top: int = 5, lp_max_pairs: int = 400_000,
                    progress: Progress | None = None) -> dict[str, pd.DataFrame | str]:
    """Ranked marginal values per option (seat) and organisation (guidance unit).

    LP duals for all (when the round has at most `lp_max_pairs` pairs), and exact re-solves with
    +1 for the `top` highest-ranked of each (all of them when there are no duals).
    """
    rnd = base.round
    inst, problem = rnd.instance, rnd.problem
    seats_used = problem.seats_used(rnd.result.chosen)
    guid_used = problem.guidance_used(rnd.result.chosen)
    opts, orgs = inst.options, inst.organisations
    seat = pd.DataFrame({"option_id": opts["option_id"].to_numpy(),
                         "organisation_id": opts["organisation_id"].to_numpy(),
                         "seats": opts["capacity"].to_numpy(), "seats_used": seats_used})
    guid = pd.DataFrame({"organisation_id": orgs["organisation_id"].to_numpy(),
                         "guidance_capacity": orgs["guidance_capacity"].to_numpy(),
                         "guidance_used": guid_used})
    seat["waiting"], guid["waiting"] = waiting_demand(problem, rnd.result.chosen)
    guid["multiplier"] = guidance_multipliers(rnd.result, problem.n_organisations)
    note = ""
    if problem.n_edges <= lp_max_pairs:
        d = lp_duals(problem)
        seat["lp_dual"], guid["lp_dual"] = np.round(d.seat, 6), np.round(d.guidance, 6)
        note = f"LP relaxation value {d.value:.6f} ({d.status}); integer objective " \
               f"{rnd.result.objective / SCALE:.6f}"
    else:
        seat["lp_dual"], guid["lp_dual"] = np.nan, np.nan
        note = (f"LP duals skipped: {problem.n_edges} pairs > {lp_max_pairs}; seats ranked by "
                "`waiting` (unmatched people who could take the unit: a heuristic), guidance "
                "by the solver's `multiplier` (else `waiting`), confirmed by re-solves")
    seat = _rank(seat, "option_id")
    guid = _rank(guid, "organisation_id")
    seat_specs = [f"options.{i}.capacity=+1" for i in seat["option_id"].head(top)]
    guid_specs = [f"organisations.{i}.guidance_capacity=+1"
                  for i in guid["organisation_id"].head(top)]
    specs = seat_specs + guid_specs
    base_obj, base_matched = rnd.result.objective, int(rnd.chosen.sum())
    deltas, matched, exact = {}, {}, {}
    for k, spec in enumerate(specs):
        if progress:
            progress(k, len(specs), spec)
        o = run_scenario(base, Scenario(spec, (spec,)))
        deltas[spec] = (o.round.result.objective - base_obj) / SCALE
        matched[spec] = int(o.round.chosen.sum()) - base_matched
        exact[spec] = (o.round.result.status is Status.OPTIMAL
                       and rnd.result.status is Status.OPTIMAL)
    if progress:
        progress(len(specs), len(specs), "done")
    for df, col, specs_of in ((seat, "option_id", "options.{}.capacity=+1"),
                              (guid, "organisation_id", "organisations.{}.guidance_capacity=+1")):
        keys = [specs_of.format(i) for i in df[col]]
        df["resolve_delta"] = [round(deltas[k], 6) if k in deltas else np.nan for k in keys]
        df["resolve_matched"] = pd.array([matched.get(k) for k in keys], dtype="Int64")
        df["resolve_exact"] = pd.array([exact.get(k) for k in keys], dtype="boolean")
    return {"seats": seat, "guidance": guid, "note": note}


def guidance_multipliers(result: SolveResult, n_organisations: int) -> np.ndarray:
    """The solve's Lagrangian multipliers per organisation in objective units per guidance unit;
    0 everywhere when the budgets needed no price (min-cost flow optimum), NaN when unknown."""
    lam = result.details.multipliers
    if lam is None or len(lam) != n_organisations:
        fill = 0.0 if result.method.base is Method.MIN_COST_FLOW else np.nan
        return np.full(n_organisations, fill)
    return np.round(np.asarray(lam, dtype=np.float64) / SCALE, 6)


def waiting_demand(problem: AssignmentProblem, chosen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unmatched people who could use one more seat per option / guidance unit per organisation.

    Seat: the option is full, and its organisation has the guidance left for the person.
    Guidance: the option has a free seat, and the organisation lacks the guidance for them.
    Counts distinct people; a cheap ranking when the LP is too large.
    """
    placed = np.zeros(problem.n_candidates, dtype=bool)
    placed[problem.cand[chosen]] = True
    seats_free = problem.capacity - problem.seats_used(chosen)
    guid_free = problem.budget - problem.guidance_used(chosen)
    org = problem.edge_org
    need = problem.edge_need
    open_e = ~placed[problem.cand]
    fits = need <= guid_free[org]
    seat_e = open_e & (seats_free[problem.opt] <= 0) & fits
    guid_e = open_e & (seats_free[problem.opt] > 0) & ~fits

    def distinct(mask: np.ndarray, group: np.ndarray, n: int) -> np.ndarray:
        key = np.unique(group[mask].astype(np.int64) * problem.n_candidates + problem.cand[mask])
        return np.bincount(key // problem.n_candidates, minlength=n)

    return (distinct(seat_e, problem.opt, problem.n_options),
            distinct(guid_e, org, problem.n_organisations))


def _rank(df: pd.DataFrame, id_col: str) -> pd.DataFrame:
    """Highest dual first (else highest multiplier, else most people waiting); ties by id."""
    if df["lp_dual"].notna().any():
        key = df["lp_dual"].fillna(-1.0)
    elif "multiplier" in df and df["multiplier"].notna().any():
        key = df["multiplier"].fillna(-1.0)
    else:
        key = df["waiting"]
    order = np.lexsort((df[id_col].to_numpy().astype(str), -key.to_numpy()))
    out = df.iloc[order].reset_index(drop=True)
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    return out
