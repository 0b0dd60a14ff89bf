"""Options within a radius of candidates, by a latitude/longitude grid scanned in compiled code.

The same pairs as a KD-tree range query in chord distance (:meth:`Blocks.near`'s other path):
every option whose chord distance from the person on the unit sphere is at most
``km_to_chord(radius) * (1 + 1e-9) + 1e-12``, a superset of the options within the radius
along the great circle, which the callers then test exactly. It only scans fewer places: the
options are bucketed by sector and grid cell, and a person's query visits the cells of the
bounding box of their spherical cap (latitude within the cap's angle; longitude within
``asin(sin(angle) / cos(latitude))``, or every longitude where the cap holds a pole).

Why: at 1.3 million candidates a person has about 7,000 options within travel distance and the
KD-tree queries (one per sector and per group of similar radii, each building a tree of the
people) took about half of the scoring time; here each person gets their own radius, so no
group's largest radius is searched for everyone in it.

Used when every point lies within less than 180 degrees of longitude of every other (no pair
straddles the antimeridian); otherwise the KD-trees answer.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from matcher.geo import km_to_chord

#: The grid's cell side in degrees of latitude (about 5.6 km); a cell's longitude side is about
#: as long at the options' middle latitude. Larger when that would make too many cells.
CELL_DEG = 0.05
#: At most this many cells per sector.
_MAX_CELLS = 2_000_000


def usable(lon: np.ndarray) -> bool:
    """True when the points' longitudes lie within less than 180 degrees (no wrap-around)."""
    return len(lon) == 0 or float(lon.max() - lon.min()) < 180.0


class Grid:
    """Option rows bucketed by (sector, latitude cell, longitude cell); sector ``n_sectors``
    holds every option."""

    def __init__(self, lat: np.ndarray, lon: np.ndarray, xyz: np.ndarray, sector: np.ndarray,
                 n_sectors: int) -> None:
        self.n_groups = n_sectors + 1
        mid = float(np.radians((lat.max() + lat.min()) / 2)) if len(lat) else 0.0
        self.lat0 = float(lat.min()) if len(lat) else 0.0
        self.lon0 = float(lon.min()) if len(lon) else 0.0
        cs_lat = CELL_DEG
        cs_lon = CELL_DEG / max(np.cos(mid), 0.1)
        span_lat = (float(lat.max()) - self.lat0) if len(lat) else 0.0
        span_lon = (float(lon.max()) - self.lon0) if len(lon) else 0.0
        while (span_lat / cs_lat + 1) * (span_lon / cs_lon + 1) > _MAX_CELLS:
            cs_lat, cs_lon = cs_lat * 2, cs_lon * 2
        self.cs_lat, self.cs_lon = cs_lat, cs_lon
        self.n_lat = int(span_lat // cs_lat) + 1
        self.n_lon = int(span_lon // cs_lon) + 1
        cell = (np.minimum(((lat - self.lat0) // cs_lat).astype(np.int64), self.n_lat - 1)
                * self.n_lon
                + np.minimum(((lon - self.lon0) // cs_lon).astype(np.int64), self.n_lon - 1))
        n_cells = self.n_lat * self.n_lon
        rows = np.arange(len(lat), dtype=np.int64)
        key = np.concatenate([sector.astype(np.int64) * n_cells + cell,
                              n_sectors * n_cells + cell])
        rows = np.concatenate([rows, rows])
        order = np.argsort(key, kind="stable")
        self.rows = rows[order]
        self.xyz = np.ascontiguousarray(np.tile(xyz, (2, 1))[order])
        self.starts = np.searchsorted(key[order], np.arange(self.n_groups * n_cells + 1))

    def near(self, lat: np.ndarray, lon: np.ndarray, xyz: np.ndarray, group: np.ndarray,
             radius_km: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(query index, option row) of every option of each query's group (a sector, or
        ``n_sectors`` for all) within the chord superset of its radius; queries in order, each
        one's options in cell order."""
        chord = km_to_chord(radius_km) * (1 + 1e-9) + 1e-12
        angle = 2 * np.arcsin(np.minimum(chord / 2, 1.0)) + 1e-9
        phi = np.radians(lat)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.sin(angle) / np.cos(phi)
        whole = (np.abs(phi) + angle >= np.pi / 2) | ~(ratio < 1.0)
        dlon = np.degrees(np.where(whole, np.pi, np.arcsin(np.minimum(ratio, 1.0))))
        dlat = np.degrees(angle)
        # Cell ranges (inclusive), clipped to the grid.
        lat_lo = np.clip(np.floor((lat - dlat - self.lat0) / self.cs_lat), 0, self.n_lat - 1)
        lat_hi = np.clip(np.floor((lat + dlat - self.lat0) / self.cs_lat), -1, self.n_lat - 1)
        lon_lo = np.clip(np.floor((lon - dlon - self.lon0) / self.cs_lon), 0, self.n_lon - 1)
        lon_hi = np.clip(np.floor((lon + dlon - self.lon0) / self.cs_lon), -1, self.n_lon - 1)
        box = np.column_stack([lat_lo, lat_hi, lon_lo, lon_hi]).astype(np.int64)
        # Queries entirely outside the grid: an empty range.
        box[(lat + dlat < self.lat0) | (lon + dlon < self.lon0), 1] = -1
        args = (np.ascontiguousarray(xyz, dtype=np.float64), group.astype(np.int64),
                chord * chord, box, self.starts, self.xyz, self.n_lat, self.n_lon)
        counts = _count(*args)
        offsets = np.zeros(len(counts) + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        q = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
        pos = _fill(*args, offsets)
        return q, self.rows[pos]


@njit(cache=True, nogil=True)
def _count(xyz: np.ndarray, group: np.ndarray, r2: np.ndarray, box: np.ndarray,
           starts: np.ndarray, oxyz: np.ndarray, n_lat: int, n_lon: int) -> np.ndarray:
    out = np.zeros(len(group), dtype=np.int64)
    n_cells = n_lat * n_lon
    for i in range(len(group)):
        x, y, z, lim = xyz[i, 0], xyz[i, 1], xyz[i, 2], r2[i]
        base = group[i] * n_cells
        n = 0
        for a in range(box[i, 0], box[i, 1] + 1):
            first = base + a * n_lon
            for j in range(starts[first + box[i, 2]], starts[first + box[i, 3] + 1]):
                dx, dy, dz = oxyz[j, 0] - x, oxyz[j, 1] - y, oxyz[j, 2] - z
                if dx * dx + dy * dy + dz * dz <= lim:
                    n += 1
        out[i] = n
    return out


@njit(cache=True, nogil=True)
def _fill(xyz: np.ndarray, group: np.ndarray, r2: np.ndarray, box: np.ndarray,
          starts: np.ndarray, oxyz: np.ndarray, n_lat: int, n_lon: int,
          offsets: np.ndarray) -> np.ndarray:
    out = np.empty(offsets[-1], dtype=np.int64)
    n_cells = n_lat * n_lon
    for i in range(len(group)):
        x, y, z, lim = xyz[i, 0], xyz[i, 1], xyz[i, 2], r2[i]
        base = group[i] * n_cells
        k = offsets[i]
        for a in range(box[i, 0], box[i, 1] + 1):
            first = base + a * n_lon
            for j in range(starts[first + box[i, 2]], starts[first + box[i, 3] + 1]):
                dx, dy, dz = oxyz[j, 0] - x, oxyz[j, 1] - y, oxyz[j, 2] - z
                if dx * dx + dy * dy + dz * dz <= lim:
                    out[k] = j
                    k += 1
    return out
