"""What proves a round's bound: round.json's ``solver.certificate`` (docs/solver.md, "For
auditors"), in the objective's units (weight, floats), keyed by the data's ids.

- ``{"kind": "lagrangian", "budget_prices": {ORG: price}}``: for prices >= 0 per guidance unit,
  ``bound = sum price_g * guidance_capacity_g + max over seat-feasible assignments (at most one
  option per person, option capacities, locks kept, forbids excluded) of sum (weight -
  price_org(option) * guidance_need)``; one min-cost flow re-checks it.
- ``{"kind": "dual", "budget_prices", "candidate_duals", "option_duals"}``: ``u_c + v_o +
  price_org(o) * need_c >= weight_co`` on every pair a person may still get, and ``bound = sum u
  + sum capacity_o * v_o + sum price_g * guidance_capacity_g``; one pass over the pairs
  re-checks it. A locked person's only pair is the locked one: its ``u`` is that pair's weight
  minus its prices (it may be negative: the person's row is an equality).
- ``{"kind": "exact", "method": ...}``: an optimum proven by ``method``; `matcher verify`
  re-proves it with an exact solve of its own. With prices (the three maps of ``dual``), a pair
  whose reduced cost ``u_c + v_o + price * need_c - weight`` is above ``dual bound - bound``
  cannot be in an assignment worth the bound, so only the others need that solve.

`certificate_of` derives a result's certificate from how its bound was found (the solver's
`Certificate`, its multipliers, or the flow without budgets); the solver's own code is never
needed to check one (`matcher.verify`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from matcher.model import Instance
from matcher.scoring import SCALE
from matcher.solver.problem import AssignmentProblem
from matcher.solver.result import Certificate, Method, SolveResult, Status

#: Kinds of certificate (round.json's ``solver.certificate.kind``).
KINDS = ("lagrangian", "dual", "exact", "chain_lagrangian")


def certificate_of(problem: AssignmentProblem, result: SolveResult) -> Certificate | None:
    """What proves `result`'s bound (None for a round that was not solved: replayed or none)."""
    method, details = result.method, result.details
    base = method.base
    if base in (Method.NONE, Method.REPLAYED):
        return None
    if base is Method.CHAIN_LAGRANGIAN and details.certificate is not None:
        return details.certificate  # prices per kind of the chain's rows (matcher.chain.lagrange)
    if base is Method.CHAIN_MILP:  # routes, hours, cohorts: the chain model's own optimum
        return Certificate("exact", method=str(method))
    if method is not base and details.fairness is not None and result.status is Status.OPTIMAL:
        return Certificate("exact", method=str(method))  # proven with the fairness options
    zeros = Certificate("lagrangian", np.zeros(problem.n_organisations))
    if details.certificate is not None:
        return details.certificate
    if base is Method.MIN_COST_FLOW or details.stats.get("relaxation_bound") == result.bound:
        return zeros  # the flow without budgets: the lagrangian certificate at prices 0
    if base is Method.CP_SAT and (result.status is Status.OPTIMAL
                                  or result.bound < details.stats.get("lagrangian_bound",
                                                                      math.inf)):
        return Certificate("exact", method=str(Method.CP_SAT))
    lam = np.asarray(details.multipliers or np.zeros(problem.n_organisations), dtype=np.float64)
    return Certificate("lagrangian", lam)


def candidate_duals(problem: AssignmentProblem, lam: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Per candidate, in micro-units: a free person's best priced pair (0 when none is
    positive), a locked person's locked pair's priced weight (`lam`, `v` in micro-units)."""
    priced = (problem.weight - v[problem.opt]
              - lam[problem.edge_org] * problem.edge_need).astype(np.float64)
    free = problem.residual()[0]
    u = np.zeros(problem.n_candidates)
    np.maximum.at(u, problem.cand[free], priced[free])
    locked = np.flatnonzero(problem.locked)
    u[problem.cand[locked]] = priced[locked]
    return u


def _by_id(ids: Any, values: np.ndarray) -> dict[str, float]:
    return {str(k): float(x) / SCALE for k, x in zip(ids.tolist(), values.tolist(), strict=True)}


def certificate_json(inst: Instance, problem: AssignmentProblem,
                     cert: Certificate) -> dict[str, Any]:
    """The certificate as round.json holds it: weight units, keyed by the data's ids."""
    out: dict[str, Any] = {"kind": cert.kind}
    if cert.method is not None:
        out["method"] = cert.method
    if cert.prices is not None:
        return out | chain_prices_json(inst, cert.prices)
    if cert.budget_prices is None:
        return out
    lam = np.maximum(np.asarray(cert.budget_prices, dtype=np.float64), 0.0)
    out["budget_prices"] = _by_id(inst.organisations["organisation_id"], lam)
    if cert.option_duals is not None:
        v = np.maximum(np.asarray(cert.option_duals, dtype=np.float64), 0.0)
        out["candidate_duals"] = _by_id(inst.candidates["candidate_id"],
                                        candidate_duals(problem, lam, v))
        out["option_duals"] = _by_id(inst.options["option_id"], v)
    return out


def chain_prices_json(inst: Instance, prices: dict[str, np.ndarray]) -> dict[str, Any]:
    """A ``chain_lagrangian`` certificate's price maps (weight units per seat, route seat,
    weekly hour, guidance unit), keyed by option, ``PROGRAMME->PLACE``, option, organisation;
    which kinds were priced and which dropped (``min_participants``)."""
    from matcher.chain.lagrange import DROPPED, PRICED

    oid = inst.options["option_id"]
    rid = inst.routes["programme_id"].astype(str) + "->" + inst.routes["place_id"].astype(str)
    keys = {"seats": oid, "route_seats": rid, "hours": oid,
            "guidance": inst.organisations["organisation_id"]}
    return {"priced": list(PRICED), "dropped": list(DROPPED),
            "prices": {k: {i: p for i, p in _by_id(keys[k], prices[k]).items() if p}
                       for k in PRICED}}
