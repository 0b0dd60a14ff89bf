"""Marginal values: what one more seat per option, or one more guidance unit per organisation,
adds to the round, in people placed and in objective.

The figures come from **re-solving**: the scenario ``+1`` is run through the what-if engine
(`run_scenario`: edges reused, rescored where eligibility changes, solver warm-started from the
baseline), exactly as a sweep's ``+1`` point is, and the difference is taken. Up to
``EXACT_MAX_CANDIDATES`` candidates every option and every organisation is re-solved; above it
the ``top`` rows by estimate are, plus every other row whose estimate's upper bound reaches the
``top``-th estimate (at most ``max_extra`` of them; the note says how many were left).

Estimates (ranking aids, and the figure for rows not re-solved):

- ``LP dual``: the dual value of the option's seat row and the organisation's guidance row in
  the LP relaxation of the round (OR-Tools GLOP, built from sparse arrays in one call; up to
  `lp_max_pairs` pairs). The LP is concave in its right-hand side, so the dual bounds what one
  more unit adds to the LP; its upper bound for the round adds the LP's distance above the
  baseline's answer (a re-solve can never end above the LP of ``b + 1``).
- ``solver multiplier`` (guidance, no LP): the baseline solve's Lagrangian multiplier of the
  organisation's budget: the Lagrangian bound rises by exactly that much per unit.
- ``best person waiting`` (seats, no LP): the multiplier-adjusted score of the best unplaced
  person who could take one more seat of a full option; its upper bound is the best such score
  of anyone eligible for the option (a seat's price in the relaxation never exceeds it).

Every row says whether its figure is ``exact`` (re-solved) or an ``estimate``, and the solver's
gap in objective units beside it: the re-solved difference is known only up to the two solves'
gaps added, so a +1 below that is reported as "within the solver's tolerance".
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
from matcher.whatif import words as W
from matcher.whatif.engine import Baseline, Progress, run_scenario
from matcher.whatif.scenario import Scenario
from matcher.whatif.words import Note

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


EXACT_MAX_CANDIDATES = 5_000
TOP = 20
MAX_EXTRA = 40
LP_MAX_PAIRS = 400_000
EXACT, ESTIMATE = "exact", "estimate"
TOLERANCE = "within the solver's tolerance"
NOT_RESOLVED = "not re-solved"
SEAT_SPEC = "options.{}.capacity=+1"
GUIDANCE_SPEC = "organisations.{}.guidance_capacity=+1"


def _frames(base: Baseline) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One row per option and per organisation: ids, names, capacity and use."""
    rnd = base.round
    inst, problem, chosen = rnd.instance, rnd.problem, rnd.result.chosen
    opts, orgs = inst.options, inst.organisations
    org_name = dict(zip(orgs["organisation_id"], display_names(orgs, "organisation_id"), strict=True))
    seat = pd.DataFrame({"option_id": opts["option_id"].to_numpy(),
                         "option": display_names(opts, "option_id"),
                         "organisation_id": opts["organisation_id"].to_numpy(),
                         "organisation": opts["organisation_id"].map(org_name).to_numpy(),
                         "seats": opts["capacity"].to_numpy(),
                         "seats_used": problem.seats_used(chosen)})
    guid = pd.DataFrame({"organisation_id": orgs["organisation_id"].to_numpy(),
                         "organisation": display_names(orgs, "organisation_id"),
                         "guidance_capacity": orgs["guidance_capacity"].to_numpy(),
                         "guidance_used": problem.guidance_used(chosen)})
    seat["waiting"], guid["waiting"] = waiting_demand(problem, chosen)
    return seat, guid


def display_names(df: pd.DataFrame, id_col: str) -> np.ndarray:
    """The `name` column where given, else the id."""
    ids = df[id_col].astype(str)
    if "name" not in df:
        return ids.to_numpy()
    name = df["name"].fillna("").astype(str).str.strip()
    return np.where(name != "", name, ids)


def _estimates(base: Baseline, seat: pd.DataFrame, guid: pd.DataFrame,
               lp_max_pairs: int) -> Note:
    """Fill `estimate`, `estimate_upper` and `estimate_from`; returns a note on the method."""
    rnd = base.round
    problem, result = rnd.problem, rnd.result
    obj = result.objective / SCALE
    lam = guidance_multipliers(result, problem.n_organisations)
    if problem.n_edges <= lp_max_pairs:
        d = lp_duals(problem)
        above = max(d.value - obj, 0.0) if np.isfinite(d.value) else np.nan
        for df, dual in ((seat, d.seat), (guid, d.guidance)):
            df["estimate"] = np.round(dual, 6)
            df["estimate_upper"] = np.round(dual + above, 6)
            df["estimate_from"] = "LP dual"
        return [[W.NOTE_LP, {"lp": d.value, "status": d.status, "answer": obj}]]
    guid["estimate"] = guid["estimate_upper"] = np.nan_to_num(lam)
    guid["estimate_from"] = "solver multiplier"
    best_wait, best_any = _seat_prices(problem, result.chosen, np.nan_to_num(lam))
    seat["estimate"], seat["estimate_upper"] = best_wait, best_any
    seat["estimate_from"] = "best person waiting"
    return [[W.NOTE_NO_LP, {"pairs": problem.n_edges, "max_pairs": lp_max_pairs}]]


def _seat_prices(problem: AssignmentProblem, chosen: np.ndarray, lam: np.ndarray,
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Per option: the best multiplier-adjusted score of an unplaced person who could take one
    more seat of a full option (0 if none), and of anyone eligible (its upper bound)."""
    w = problem.weight / SCALE - lam[problem.edge_org] * problem.edge_need
    w = np.maximum(w, 0.0)
    placed = np.zeros(problem.n_candidates, dtype=bool)
    placed[problem.cand[chosen]] = True
    full = problem.seats_used(chosen) >= problem.capacity
    waiting = ~placed[problem.cand] & full[problem.opt]
    best_wait = np.zeros(problem.n_options)
    np.maximum.at(best_wait, problem.opt[waiting], w[waiting])
    best_any = np.zeros(problem.n_options)
    np.maximum.at(best_any, problem.opt, w)
    return np.round(best_wait, 6), np.round(best_any, 6)


def _pick(df: pd.DataFrame, top: int, max_extra: int) -> tuple[np.ndarray, int]:
    """Rows to re-solve at city size: the `top` by estimate, and every other whose upper bound
    reaches the top-th estimate (the best `max_extra` of them). Also returns how many such
    rows were left out."""
    order = np.lexsort((df.iloc[:, 0].astype(str).to_numpy(), -df["estimate"].to_numpy()))
    head = order[:top]
    if len(order) <= top:
        return head, 0
    bar = float(df["estimate"].to_numpy()[order[top - 1]]) if top else np.inf
    rest = order[top:]
    could = rest[df["estimate_upper"].to_numpy()[rest] >= bar]
    could = could[np.argsort(-df["estimate_upper"].to_numpy()[could], kind="stable")]
    return np.concatenate([head, could[:max_extra]]), max(len(could) - max_extra, 0)


def _resolve(base: Baseline, specs: list[str], progress: Progress | None,
             ) -> dict[str, tuple[int, float, float]]:
    """spec -> (people placed change, objective change, tolerance) from warm re-solves."""
    rnd = base.round
    r0 = rnd.result
    gap0 = (r0.bound - r0.objective) / SCALE if r0.status is not Status.OPTIMAL else 0.0
    out = {}
    for k, spec in enumerate(specs):
        if progress:
            progress(k, len(specs), spec)
        o = run_scenario(base, Scenario(spec, (spec,)))
        r1 = o.round.result
        gap1 = (r1.bound - r1.objective) / SCALE if r1.status is not Status.OPTIMAL else 0.0
        out[spec] = (int(o.round.chosen.sum()) - int(rnd.chosen.sum()),
                     (r1.objective - r0.objective) / SCALE, max(gap0, 0.0) + max(gap1, 0.0))
    if progress:
        progress(len(specs), len(specs), "done")
    return out


def _fill(df: pd.DataFrame, id_col: str, spec: str, done: dict[str, tuple[int, float, float]],
          baseline_gap: float) -> pd.DataFrame:
    """The re-solved figures, the row's kind and reading, and the ranking: re-solved rows by
    people placed, then objective; the others after them by estimate; ties by id."""
    keys = [spec.format(i) for i in df[id_col]]
    got = [done.get(k) for k in keys]
    df["people"] = pd.array([g[0] if g else None for g in got], dtype="Int64")
    df["objective"] = [round(g[1], 6) if g else np.nan for g in got]
    df["value"] = [EXACT if g else ESTIMATE for g in got]
    df["gap"] = [round(g[2], 6) if g else round(baseline_gap, 6) for g in got]
    df["reading"] = [NOT_RESOLVED if not g else TOLERANCE if g[2] > 0 and abs(g[1]) < g[2]
                     else "" for g in got]
    resolved = np.array([g is not None for g in got])
    people = np.array([g[0] if g else 0 for g in got], dtype=float)
    objective = np.array([g[1] if g else 0.0 for g in got])
    est = df["estimate"].fillna(-1.0).to_numpy()
    order = np.lexsort((df[id_col].astype(str).to_numpy(), -est, -objective, -people, ~resolved))
    out = df.iloc[order].reset_index(drop=True)
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    return out


def marginal_values(base: Baseline, top: int = TOP, lp_max_pairs: int = LP_MAX_PAIRS,
                    progress: Progress | None = None,
                    exact_max_candidates: int = EXACT_MAX_CANDIDATES,
                    max_extra: int = MAX_EXTRA) -> dict[str, Any]:
    """Ranked marginal values per option (one more seat) and organisation (one more guidance
    unit): re-solved for all of them up to `exact_max_candidates` candidates, else for the
    `top` by estimate and those whose estimate's upper bound could beat the top-th."""
    rnd = base.round
    seat, guid = _frames(base)
    note = _estimates(base, seat, guid, lp_max_pairs)
    r0 = rnd.result
    baseline_gap = max((r0.bound - r0.objective) / SCALE, 0.0)
    every = rnd.instance.n_candidates <= exact_max_candidates
    left = 0
    picks = []
    for df in (seat, guid):
        if every:
            picks.append(np.arange(len(df)))
        else:
            rows, more = _pick(df, top, max_extra)
            picks.append(rows)
            left += more
    specs = ([SEAT_SPEC.format(i) for i in seat["option_id"].to_numpy()[picks[0]]]
             + [GUIDANCE_SPEC.format(i) for i in guid["organisation_id"].to_numpy()[picks[1]]])
    done = _resolve(base, specs, progress)
    if every:
        note.append([W.NOTE_EVERY, {"n": len(specs)}])
    else:
        note.append([W.NOTE_PICKED, {"top": top, "n": len(specs)}])
        if left:
            note.append([W.NOTE_LEFT, {"left": left}])
    return {"seats": _fill(seat, "option_id", SEAT_SPEC, done, baseline_gap),
            "guidance": _fill(guid, "organisation_id", GUIDANCE_SPEC, done, baseline_gap),
            "note": W.note_text(note, translate=False), "note_parts": note}


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
