"""The assignment problem as whole arrays, independent of where the data came from.

Maximise sum(weight[e] * x[e]) subject to
- each candidate at most one chosen edge;
- each option at most ``capacity`` chosen edges;
- each organisation: sum of ``need`` of candidates on its options' chosen edges <= ``budget``;
- ``locked`` edges chosen.
Weights are integers (micro-units), so objective values are exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np


@dataclass(frozen=True)
class AssignmentProblem:
    cand: np.ndarray  # int32[E], sorted by (cand, opt)
    opt: np.ndarray  # int32[E]
    weight: np.ndarray  # int64[E] > 0
    locked: np.ndarray  # bool[E]
    capacity: np.ndarray  # int64[n_options]
    option_org: np.ndarray  # int32[n_options]
    budget: np.ndarray  # int64[n_organisations]
    need: np.ndarray  # int64[n_candidates]

    @property
    def n_edges(self) -> int:
        return len(self.cand)

    @property
    def n_candidates(self) -> int:
        return len(self.need)

    @property
    def n_options(self) -> int:
        return len(self.capacity)

    @property
    def n_organisations(self) -> int:
        return len(self.budget)

    # Per-edge organisation and need, computed once per problem (the solver asks for them
    # hundreds of times; at 1.3 million candidates each is a gather over 62 million edges).
    # Read-only views: the arrays are shared by every caller. Not pickled (recomputed).
    @cached_property
    def edge_org(self) -> np.ndarray:
        out = self.option_org[self.opt]
        out.flags.writeable = False
        return out

    @cached_property
    def edge_need(self) -> np.ndarray:
        out = self.need[self.cand]
        out.flags.writeable = False
        return out

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("edge_org", None)
        state.pop("edge_need", None)
        return state

    def seats_used(self, chosen: np.ndarray) -> np.ndarray:
        return np.bincount(self.opt[_positions(chosen)],
                           minlength=self.n_options).astype(np.int64)

    def guidance_used(self, chosen: np.ndarray) -> np.ndarray:
        idx = _positions(chosen)
        return np.bincount(self.edge_org[idx], weights=self.edge_need[idx],
                           minlength=self.n_organisations).astype(np.int64)

    def objective(self, chosen: np.ndarray) -> int:
        return int(self.weight[_positions(chosen)].sum())

    def violations(self, chosen: np.ndarray) -> list[str]:
        """Every constraint the selection breaks, in words (empty when feasible)."""
        out = []
        per_cand = np.bincount(self.cand[chosen], minlength=self.n_candidates)
        for c in np.flatnonzero(per_cand > 1):
            out.append(f"candidate {c} has {per_cand[c]} options")
        seats = self.seats_used(chosen)
        for o in np.flatnonzero(seats > self.capacity):
            out.append(f"option {o} uses {seats[o]} of {self.capacity[o]} seats")
        used = self.guidance_used(chosen)
        for g in np.flatnonzero(used > self.budget):
            out.append(f"organisation {g} uses {used[g]} of {self.budget[g]} guidance")
        for e in np.flatnonzero(self.locked & ~chosen):
            out.append(f"locked edge {e} not chosen")
        return out

    def residual(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """After the locked edges: (free edge mask, seats left, budget left, candidate is free)."""
        locked = self.locked
        seats_left = self.capacity - self.seats_used(locked)
        budget_left = self.budget - self.guidance_used(locked)
        cand_free = np.ones(self.n_candidates, dtype=bool)
        cand_free[self.cand[locked]] = False
        free = ~locked & cand_free[self.cand]
        return free, seats_left, budget_left, cand_free

    def guidance_can_bind(self) -> np.ndarray:
        """Per organisation: could any assignment exceed its (residual) budget?

        Upper bound on guidance an organisation can be asked for: the largest needs among the
        distinct free candidates with an edge into it, as many as it has free seats.
        """
        free, seats_left, budget_left, _ = self.residual()
        seats_org = np.bincount(self.option_org, weights=np.maximum(seats_left, 0),
                                minlength=self.n_organisations)
        # Quick exclusion first: an organisation whose seats, all filled by the neediest
        # person, stay within its budget cannot bind (no per-pair work for it).
        maybe = seats_org * int(self.need.max(initial=0)) > budget_left
        if not maybe.any():
            return maybe
        free &= maybe[self.edge_org]
        org = self.edge_org[free]
        cand = self.cand[free]
        key = np.sort(org.astype(np.int64) * self.n_candidates + cand)  # sort-based unique:
        key = key[np.r_[True, key[1:] != key[:-1]]] if len(key) else key  # faster than np.unique
        o, c = key // self.n_candidates, key % self.n_candidates
        need = self.need[c]
        order = np.lexsort((-need, o))
        o, need = o[order], need[order]
        start = np.searchsorted(o, np.arange(self.n_organisations))
        rank = np.arange(len(o)) - start[o]
        within = rank < seats_org[o]
        demand = np.bincount(o[within], weights=need[within], minlength=self.n_organisations)
        return (demand > budget_left) & maybe


def _positions(chosen: np.ndarray) -> np.ndarray:
    """The edges a bool mask over every edge selects, as positions (an index array is returned
    as it is). A selection has few edges against the mask's length: finding them once and reading
    the per-edge arrays there is about twice as fast as indexing two arrays with the mask."""
    return np.flatnonzero(chosen) if chosen.dtype == bool else chosen
