"""Hard eligibility: which candidate-option pairs may be matched at all, and why not.

The shipped rules, each with a reason code:

- ``language``: the person's Dutch level is below the option's minimum
  (A0 < A1 < A2 < B1 < B2 < C1 < C2, with 1F = A2, 2F = B1, 3F = B2);
- ``hours``: the person's available hours a week are below the option's ``hours_min``;
- ``travel``: the great-circle distance is beyond the person's ``max_travel_km``;
- ``guidance``: the person's guidance need is above the whole guidance capacity of the
  option's organisation.

Exactly the pairs that pass all four are eligible. :func:`eligible_pairs` generates them without
enumerating all pairs: blocking (:class:`Blocks`: KD-trees, or a compiled grid scan in larger
rounds) finds the pairs within travel distance, chunk by chunk of candidates, and the other
rules filter those arrays.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np
from scipy.spatial import cKDTree

from matcher.geo import haversine_km, haversine_rad, km_to_chord, radians_cos, unit_xyz
from matcher.model import Instance
from matcher.progress import report

if TYPE_CHECKING:
    from matcher.scoring.grid import Grid

log = logging.getLogger(__name__)

FILTERS = ("language", "hours", "travel", "guidance")


def distances_km(inst: Instance, cand: np.ndarray, opt: np.ndarray) -> np.ndarray:
    c, o = inst.candidates, inst.options
    return haversine_km(
        c["lat"].to_numpy()[cand], c["lon"].to_numpy()[cand],
        o["lat"].to_numpy()[opt], o["lon"].to_numpy()[opt],
    )


def filter_failures(
    inst: Instance, cand: np.ndarray, opt: np.ndarray, dist_km: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """For each rule, a boolean array: True where the pair fails that rule."""
    c, o = inst.candidates, inst.options
    if dist_km is None:
        dist_km = distances_km(inst, cand, opt)
    budget = inst.organisations["guidance_capacity"].to_numpy()[o["org"].to_numpy()[opt]]
    return {
        "language": c["level"].to_numpy()[cand] < o["level"].to_numpy()[opt],
        "hours": c["hours_available"].to_numpy()[cand] < o["hours_min"].to_numpy()[opt],
        "travel": dist_km > c["max_travel_km"].to_numpy()[cand],
        "guidance": c["guidance_need"].to_numpy()[cand] > budget,
    }


def is_eligible(failures: dict[str, np.ndarray]) -> np.ndarray:
    fails = np.zeros_like(next(iter(failures.values())), dtype=bool)
    for f in failures.values():
        fails |= f
    return ~fails


#: Target number of pairs within travel distance per chunk of candidates (bounds memory).
CHUNK_PAIRS = 4_000_000
#: Instances with at least this many candidates find the options near a person with a
#: :class:`~matcher.scoring.grid.Grid` (compiled on first use, about 2 s, then cached) instead
#: of KD-trees; the pairs found are the same.
GRID_MIN_CANDIDATES = 5_000
#: At most this many distinct KD-tree radii per query (larger radii groups share a query).
_MAX_RADII = 12


def _radius_groups(travel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(group per candidate, radius in km per group): each group's radius covers its members."""
    values = np.unique(travel)
    if len(values) > _MAX_RADII:
        values = np.unique(np.quantile(travel, np.linspace(0, 1, _MAX_RADII + 1)[1:],
                                       method="higher"))
    group = np.minimum(np.searchsorted(values, travel, side="left"), len(values) - 1)
    return group, values


class Blocks:
    """Whole-instance arrays and KD-trees for blocking, built once per instance.

    ``trees[key]`` is a KD-tree over a subset of options (``None``: all options; an int: the
    options of that sector) with the option rows it holds.
    """

    def __init__(self, inst: Instance) -> None:
        c, o = inst.candidates, inst.options
        self.inst = inst
        self.xyz = unit_xyz(c["lat"].to_numpy(), c["lon"].to_numpy())
        self.opt_xyz = unit_xyz(o["lat"].to_numpy(), o["lon"].to_numpy())
        self.travel = c["max_travel_km"].to_numpy(np.float64)
        self.c_level, self.o_level = c["level"].to_numpy(), o["level"].to_numpy()
        self.c_hours, self.o_hours_min = c["hours_available"].to_numpy(), o["hours_min"].to_numpy()
        self.c_need = c["guidance_need"].to_numpy()
        self.o_budget = inst.organisations["guidance_capacity"].to_numpy()[o["org"].to_numpy()]
        self._trees: dict[int | None, tuple[cKDTree, np.ndarray]] = {}
        self.c_lat, self.c_lon = c["lat"].to_numpy(np.float64), c["lon"].to_numpy(np.float64)
        o_lat, o_lon = o["lat"].to_numpy(np.float64), o["lon"].to_numpy(np.float64)
        self._grid: Grid | None = None
        if inst.n_candidates >= GRID_MIN_CANDIDATES:  # small rounds do not import numba
            from matcher.scoring.grid import Grid, usable

            if usable(np.concatenate([self.c_lon, o_lon])):
                self._grid = Grid(o_lat, o_lon, self.opt_xyz, inst.opt_sector,
                                  len(inst.sector_names))
        self.c_rad = radians_cos(c["lat"].to_numpy(), c["lon"].to_numpy())
        self.o_rad = radians_cos(o["lat"].to_numpy(), o["lon"].to_numpy())

    def distances(self, cand: np.ndarray, opt: np.ndarray) -> np.ndarray:
        """:func:`distances_km` (the same values) with the per-point parts computed once."""
        (p1, l1, c1), (p2, l2, c2) = self.c_rad, self.o_rad
        return haversine_rad(p1[cand], l1[cand], c1[cand], p2[opt], l2[opt], c2[opt])

    def tree(self, sector: int | None = None) -> tuple[cKDTree, np.ndarray]:
        if sector not in self._trees:
            rows = (np.arange(self.inst.n_options) if sector is None
                    else np.flatnonzero(self.inst.opt_sector == sector))
            self._trees[sector] = (cKDTree(self.opt_xyz[rows]), rows)
        return self._trees[sector]

    def near(self, cands: np.ndarray, sector: int | None = None,
             radius_km: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Pairs (candidate, option) within a superset of each candidate's radius: its travel
        distance, or `radius_km` (one per candidate) where given."""
        if self._grid is not None:
            groups = np.full(len(cands), self._grid.n_groups - 1 if sector is None else sector)
            return self.near_sectors(cands, groups, radius_km)
        tree, rows = self.tree(sector)
        if len(rows) == 0 or len(cands) == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        group, radii = _radius_groups(self.travel[cands] if radius_km is None else radius_km)
        out_c, out_o = [], []
        for g, r in enumerate(radii.tolist()):
            members = cands[group == g]
            if len(members) == 0:
                continue
            radius = float(km_to_chord(r)) * (1 + 1e-9) + 1e-12
            pairs = cKDTree(self.xyz[members]).sparse_distance_matrix(
                tree, radius, output_type="ndarray")
            out_c.append(members[pairs["i"]].astype(np.int64))
            out_o.append(rows[pairs["j"]].astype(np.int64))
        if not out_c:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        return np.concatenate(out_c), np.concatenate(out_o)

    def near_sectors(self, cands: np.ndarray, sectors: np.ndarray,
                     radius_km: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`near` for (candidate, sector, radius) triples: each candidate's options of its
        sector (a sector number; the number of sectors for every option) within a superset of
        its radius (default: its travel distance)."""
        cands = np.asarray(cands, dtype=np.int64)
        radius = self.travel[cands] if radius_km is None else np.asarray(radius_km, np.float64)
        if self._grid is not None:
            q, rows = self._grid.near(self.c_lat[cands], self.c_lon[cands], self.xyz[cands],
                                      np.asarray(sectors, dtype=np.int64), radius)
            return cands[q], rows
        parts_c, parts_o = [np.zeros(0, dtype=np.int64)], [np.zeros(0, dtype=np.int64)]
        every = len(self.inst.sector_names)
        for sector in np.unique(sectors).tolist():
            on = sectors == sector
            c, o = self.near(cands[on], None if sector == every else sector, radius[on])
            parts_c.append(c)
            parts_o.append(o)
        return np.concatenate(parts_c), np.concatenate(parts_o)

    def eligible(self, cand: np.ndarray, opt: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The four hard rules on candidate pairs (any order): the cheap ones first."""
        keep = ((self.c_level[cand] >= self.o_level[opt])
                & (self.c_hours[cand] >= self.o_hours_min[opt])
                & (self.c_need[cand] <= self.o_budget[opt]))
        cand, opt = cand[keep], opt[keep]
        dist = self.distances(cand, opt)
        keep = ~(dist > self.travel[cand])
        return cand[keep], opt[keep], dist[keep]


def iter_eligible_pairs(
    inst: Instance, chunk_size: int | None = None, blocks: Blocks | None = None
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Eligible (candidate, option, distance_km) arrays, one chunk of candidates at a time.

    Blocking: :meth:`Blocks.near` finds only the pairs within travel distance (KD-trees: one
    query per group of similar travel radii); the language, hours and guidance rules then filter
    those arrays before any distance is computed. Chunks are sized adaptively so that about
    ``CHUNK_PAIRS`` pairs are in memory at once (or exactly `chunk_size` candidates if given).
    Pairs come sorted by (candidate, option), chunk after chunk.
    """
    blocks = blocks or Blocks(inst)
    chunks = Chunks(inst.n_candidates, chunk_size)
    for start, stop in chunks:
        cand, opt = blocks.near(np.arange(start, stop))
        n_near = len(cand)
        cand, opt, dist = blocks.eligible(cand, opt)
        order = np.argsort(cand * inst.n_options + opt)  # by (candidate, option); keys unique
        log.debug("candidates %d-%d: %d near, %d eligible pairs", start, stop, n_near, len(cand))
        yield cand[order].astype(np.int32), opt[order].astype(np.int32), dist[order]
        report("score", stop, inst.n_candidates)
        chunks.observe(n_near, stop - start)


class Chunks:
    """Chunks (start, stop) of candidates: `chunk_size` each, or adaptive, about CHUNK_PAIRS
    near pairs each (call `observe` after each chunk). Deterministic for the same data."""

    def __init__(self, n: int, chunk_size: int | None = None) -> None:
        self.n, self.chunk_size = n, chunk_size
        self.per_cand = 0.0

    def observe(self, pairs: int, cands: int) -> None:
        self.per_cand = max(pairs / max(cands, 1), 1.0)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        start, n = 0, self.n
        while start < n:
            if self.chunk_size:
                size = self.chunk_size
            elif self.per_cand == 0.0:
                size = 2_000
            else:
                size = int(min(max(CHUNK_PAIRS / self.per_cand, 100), 60_000))
            stop = min(start + size, n)
            yield start, stop
            start = stop


def eligible_pairs(inst: Instance) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All eligible pairs, sorted by (candidate, option)."""
    parts = list(iter_eligible_pairs(inst))
    if not parts:
        empty = np.zeros(0, dtype=np.int32)
        return empty, empty.copy(), np.zeros(0)
    return tuple(np.concatenate(p) for p in zip(*parts, strict=True))  # type: ignore[return-value]


def failure_counts(inst: Instance, cand: np.ndarray,
                   blocks: Blocks | None = None) -> dict[str, np.ndarray]:
    """For each given candidate, how many options each rule excludes (of all options).

    The same counts as checking every (candidate, option) pair with :func:`filter_failures`
    (tests/test_scoring_scale.py does), without looking at every option: the
    language, hours and guidance rules compare one number of the person with one of the option,
    so a sorted array of the options' numbers answers each; travel excludes every option but
    those within the person's travel distance, which blocking finds (exact distances on that
    superset, as everywhere else).
    """
    o = inst.options
    n_opt = inst.n_options
    c = inst.candidates
    counts: dict[str, np.ndarray] = {}
    o_level = np.sort(o["level"].to_numpy())
    counts["language"] = n_opt - np.searchsorted(o_level, c["level"].to_numpy()[cand],
                                                 side="right")
    o_hours = np.sort(o["hours_min"].to_numpy())
    counts["hours"] = n_opt - np.searchsorted(o_hours, c["hours_available"].to_numpy()[cand],
                                              side="right")
    budget = np.sort(inst.organisations["guidance_capacity"].to_numpy()[o["org"].to_numpy()])
    counts["guidance"] = np.searchsorted(budget, c["guidance_need"].to_numpy()[cand],
                                         side="left")
    blocks = blocks or Blocks(inst)
    near_c, near_o = blocks.near(np.asarray(cand, dtype=np.int64))
    within = ~(blocks.distances(near_c, near_o) > blocks.travel[near_c])
    pos = np.searchsorted(np.sort(cand), near_c[within])
    inside = np.bincount(np.argsort(cand, kind="stable")[pos], minlength=len(cand))
    counts["travel"] = n_opt - inside
    return {name: counts[name].astype(np.int64) for name in FILTERS}

