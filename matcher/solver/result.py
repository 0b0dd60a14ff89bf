"""Typed solver results: a status, the chosen edges, objective, a valid upper bound and the gap."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np


class Status(StrEnum):
    OPTIMAL = "optimal"  # proven: objective == bound
    FEASIBLE = "feasible"  # a valid assignment; bound and gap say how far from optimal at most
    INFEASIBLE = "infeasible"  # the coordinators' locks cannot all be kept


@dataclass(frozen=True)
class SolveResult:
    status: Status
    method: str
    chosen: np.ndarray  # bool over the problem's edges
    objective: int  # micro-units
    bound: int  # micro-units; no assignment can exceed it
    guidance_binding: bool
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def gap(self) -> float:
        """Relative gap (bound - objective) / bound; 0 when proven optimal."""
        if self.bound <= 0:
            return 0.0
        return max(0.0, (self.bound - self.objective) / self.bound)
