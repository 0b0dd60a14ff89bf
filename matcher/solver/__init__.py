"""Solver: assign candidates to options under seats, guidance budgets and coordinators' decisions.

`matcher.solver.strategy` decides how a problem is solved (`plan`, `execute`) and solves one
whole problem (`solve`: flow, exact, Lagrangian, CP-SAT; its docstring lists the steps);
`matcher.solver.decompose` solves by parts (regions, components) and merges.
`matcher.round.solve_round` is the one caller for a round's edge table.
"""

from __future__ import annotations

from matcher.solver.problem import AssignmentProblem
from matcher.solver.result import Method, SolveDetails, SolveResult, Status
from matcher.solver.strategy import locks_infeasibility, solve
from matcher.solver.warm import WarmStart

__all__ = ["AssignmentProblem", "Method", "SolveDetails", "SolveResult", "Status", "WarmStart",
           "locks_infeasibility", "solve"]
