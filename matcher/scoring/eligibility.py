"""Hard eligibility: which candidate-option pairs may be matched at all, and why not.

The shipped rules, each with a reason code:

- ``language``: the person's Dutch level is below the option's minimum
  (A0 < A1 < A2 < B1 < B2 < C1 < C2, with 1F = A2, 2F = B1, 3F = B2);
- ``hours``: the person's available hours a week are below the option's ``hours_min``;
- ``travel``: the great-circle distance is beyond the person's ``max_travel_km``;
- ``guidance``: the person's guidance need is above the whole guidance capacity of the
  option's organisation.

Exactly the pairs that pass all four are eligible. :func:`eligible_pairs` generates them without
enumerating all pairs: a KD-tree over locations finds the pairs within travel distance, chunk by
chunk of candidates, and the other rules filter those arrays.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import numpy as np
from scipy.spatial import cKDTree

from matcher.geo import haversine_km, km_to_chord, unit_xyz
from matcher.model import Instance

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


def _travel_candidates(
    inst: Instance, start: int, stop: int, opt_tree: cKDTree
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of candidates start..stop-1 with options within a superset of their travel radius."""
    c = inst.candidates.iloc[start:stop]
    xyz = unit_xyz(c["lat"].to_numpy(), c["lon"].to_numpy())
    radius = float(km_to_chord(c["max_travel_km"].max())) * (1 + 1e-9) + 1e-12
    tree = cKDTree(xyz)
    pairs = tree.sparse_distance_matrix(opt_tree, radius, output_type="ndarray")
    return pairs["i"].astype(np.int64) + start, pairs["j"].astype(np.int64)


def iter_eligible_pairs(
    inst: Instance, chunk_size: int = 50_000
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Eligible (candidate, option, distance_km) arrays, one chunk of candidates at a time."""
    o = inst.options
    opt_tree = cKDTree(unit_xyz(o["lat"].to_numpy(), o["lon"].to_numpy()))
    for start in range(0, inst.n_candidates, chunk_size):
        stop = min(start + chunk_size, inst.n_candidates)
        cand, opt = _travel_candidates(inst, start, stop, opt_tree)
        order = np.lexsort((opt, cand))  # sorted by (candidate, option)
        cand, opt = cand[order], opt[order]
        dist = distances_km(inst, cand, opt)
        keep = is_eligible(filter_failures(inst, cand, opt, dist))
        log.debug("candidates %d-%d: %d eligible pairs", start, stop, keep.sum())
        yield cand[keep].astype(np.int32), opt[keep].astype(np.int32), dist[keep]


def eligible_pairs(inst: Instance) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All eligible pairs, sorted by (candidate, option)."""
    parts = list(iter_eligible_pairs(inst))
    if not parts:
        empty = np.zeros(0, dtype=np.int32)
        return empty, empty.copy(), np.zeros(0)
    return tuple(np.concatenate(p) for p in zip(*parts, strict=True))  # type: ignore[return-value]


def failure_counts(inst: Instance, cand: np.ndarray) -> dict[str, np.ndarray]:
    """For each given candidate, how many options each rule excludes (dense over options)."""
    counts = {name: np.zeros(len(cand), dtype=np.int64) for name in FILTERS}
    n_opt = inst.n_options
    step = max(1, 2_000_000 // max(n_opt, 1))
    for s in range(0, len(cand), step):
        cc = np.repeat(cand[s:s + step], n_opt)
        oo = np.tile(np.arange(n_opt), len(cand[s:s + step]))
        for name, fails in filter_failures(inst, cc, oo).items():
            counts[name][s:s + step] = fails.reshape(-1, n_opt).sum(axis=1)
    return counts
