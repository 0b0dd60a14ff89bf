"""Typed solver results: a status, the method, the chosen edges, objective, a valid upper bound,
the gap, and typed details."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np


class Status(StrEnum):
    OPTIMAL = "optimal"  # proven: objective == bound
    FEASIBLE = "feasible"  # a valid assignment; bound and gap say how far from optimal at most
    INFEASIBLE = "infeasible"  # the coordinators' locks cannot all be kept


FAIRNESS_SUFFIX = "+fairness_cp_sat"
CARRY_OVER_SUFFIX = "+carry_over"


class Method(StrEnum):
    """How an answer was found; the values are the strings round.json and the API show.

    A base method may be followed by a refinement of its answer: ``+fairness_cp_sat`` (the
    policy's fairness options, `matcher.solver.fairness`) or ``+carry_over`` (a what-if kept the
    baseline's assignment carried over, `matcher.whatif.engine`). A new base method adds its
    member here, and its two refinements when they apply to it."""

    NONE = "none"  # nothing solved (the locks are infeasible)
    MIN_COST_FLOW = "min_cost_flow"
    LAGRANGIAN = "lagrangian"
    CP_SAT = "cp_sat"
    HIGHS_CORE = "highs_core"  # LP prices, a core of pairs, HiGHS (`matcher.solver.exact`)
    DECOMPOSED = "decomposed"
    REPLAYED = "replayed"  # a stored round rebuilt from its pairs (`matcher.round.replay_round`)
    CHAIN_MILP = "chain_milp"  # a round with chain inputs (`matcher.chain.model`)
    CHAIN_LAGRANGIAN = "chain_lagrangian"  # a large one (`matcher.chain.lagrange`)
    MIN_COST_FLOW_FAIRNESS = "min_cost_flow+fairness_cp_sat"
    LAGRANGIAN_FAIRNESS = "lagrangian+fairness_cp_sat"
    CP_SAT_FAIRNESS = "cp_sat+fairness_cp_sat"
    HIGHS_CORE_FAIRNESS = "highs_core+fairness_cp_sat"
    DECOMPOSED_FAIRNESS = "decomposed+fairness_cp_sat"
    MIN_COST_FLOW_CARRY_OVER = "min_cost_flow+carry_over"
    LAGRANGIAN_CARRY_OVER = "lagrangian+carry_over"
    CP_SAT_CARRY_OVER = "cp_sat+carry_over"
    HIGHS_CORE_CARRY_OVER = "highs_core+carry_over"
    DECOMPOSED_CARRY_OVER = "decomposed+carry_over"

    @property
    def base(self) -> Method:
        """The method that found the answer before any refinement."""
        return Method(self.value.split("+", 1)[0])

    def with_fairness(self) -> Method:
        return Method(self.base.value + FAIRNESS_SUFFIX)

    def carried_over(self) -> Method:
        return Method(self.base.value + CARRY_OVER_SUFFIX)


@dataclass(frozen=True)
class Certificate:
    """What proves a result's bound, in micro-units (`matcher.certificate` turns it into
    round.json's ``solver.certificate``).

    - ``lagrangian``: guidance prices ``budget_prices`` (per organisation, per unit); the bound
      is the prices times the residual budgets plus one min-cost flow under priced weights;
    - ``dual``: also ``option_duals`` per option (per seat); each free candidate's dual is
      recomputed from them, the bound is one pass over the pairs;
    - ``exact``: an optimum proven by ``method``; with prices, the pairs they price out (reduced
      cost above the dual bound minus the bound) need no re-solve.
    """

    kind: str
    budget_prices: np.ndarray | None = None  # float64[n_organisations] >= 0
    option_duals: np.ndarray | None = None  # float64[n_options] >= 0
    method: str | None = None
    # ``chain_lagrangian``: micro-units per row of each priced kind (matcher.chain.lagrange)
    prices: dict[str, np.ndarray] | None = None


@dataclass
class SolveDetails:
    """What a solve found besides its answer. The typed fields are read back by code (warm
    starts, marginal values, round.json, errors); `stats` holds diagnostics only (iterations'
    traces, per-part figures, timings), written to round.json's ``run.solver_details`` and read
    by the benchmarks and tests."""

    #: Shadow price of guidance per organisation (micro-units per unit): a later warm start.
    multipliers: list[int] | None = None
    #: A value of an assignment that keeps the seats (not the budgets): a lower bound on the
    #: optimum of the flow without budgets (`matcher.solver.strategy` skips that flow with it).
    relaxation_lower: int | None = None
    #: Why the problem is infeasible (Status.INFEASIBLE only).
    reasons: list[str] = field(default_factory=list)
    #: The price of the fairness options (`matcher.solver.fairness`), when they are active.
    fairness: dict[str, Any] | None = None
    #: The Lagrangian iterations run.
    iterations: int | None = None
    #: What proves the bound, when the method knows better than its multipliers
    #: (`matcher.certificate.certificate_of` derives it otherwise).
    certificate: Certificate | None = None
    stats: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Everything as one mapping (round.json's ``run.solver_details``), unset fields left out."""
        out = dict(self.stats)
        for name in ("iterations", "relaxation_lower", "fairness", "multipliers"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        if self.reasons:
            out["reasons"] = self.reasons
        return out


@dataclass(frozen=True)
class SolveResult:
    status: Status
    method: Method
    chosen: np.ndarray  # bool over the problem's edges
    objective: int  # micro-units
    bound: int  # micro-units; no assignment can exceed it
    guidance_binding: bool
    details: SolveDetails = field(default_factory=SolveDetails)

    @property
    def gap(self) -> float:
        """Relative gap (bound - objective) / bound; 0 when proven optimal."""
        if self.bound <= 0:
            return 0.0
        return max(0.0, (self.bound - self.objective) / self.bound)
