"""Labour-market regions for synthetic data, derived deterministically from the PC4 centroids.

The Netherlands has 35 labour-market regions (arbeidsmarktregio's). Their official boundaries are
not shipped, so the generator derives 35 regions of its own: k-means (Lloyd's algorithm) on the
PC4 centroids projected to kilometres, started from a farthest-point seeding that begins at the
lowest postcode, run to convergence. Each region is named after the place that owns most of its
postcode areas (lower case, spaces as ``-``; a clash takes the next most common place). No
randomness is involved, so every machine derives the same regions.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from matcher.geo import pc4_table

N_REGIONS = 35
_LAT0 = 52.2  # reference latitude for the equirectangular projection


@dataclass(frozen=True)
class PostcodeAreas:
    """The shipped PC4 table as arrays, with each area's region and town."""

    pc4: np.ndarray  # str
    place: np.ndarray  # str
    lat: np.ndarray
    lon: np.ndarray
    region: np.ndarray  # int, index into names
    names: tuple[str, ...]  # region names, sorted
    town: np.ndarray  # int, index of the area's place among all places
    town_size: np.ndarray  # per area: how many PC4 areas its place has (a proxy for its size)


def _project(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    return np.column_stack((lat * 111.2, lon * 111.2 * np.cos(np.radians(_LAT0))))


def _kmeans(xy: np.ndarray, k: int, iterations: int = 100) -> np.ndarray:
    """Deterministic k-means: farthest-point seeding from point 0, then Lloyd's iterations."""
    centres = [0]
    d = np.linalg.norm(xy - xy[0], axis=1)
    for _ in range(1, k):
        nxt = int(np.argmax(d))
        centres.append(nxt)
        d = np.minimum(d, np.linalg.norm(xy - xy[nxt], axis=1))
    c = xy[centres].copy()
    label = np.zeros(len(xy), dtype=np.int64)
    for _ in range(iterations):
        dist = ((xy[:, None, :] - c[None, :, :]) ** 2).sum(axis=2)
        new = dist.argmin(axis=1)
        if _ > 0 and np.array_equal(new, label):
            break
        label = new
        for j in range(k):
            members = xy[label == j]
            if len(members):
                c[j] = members.mean(axis=0)
    return label


@lru_cache(maxsize=1)
def postcode_areas() -> PostcodeAreas:
    table = pc4_table().reset_index().sort_values("pc4", kind="stable").reset_index(drop=True)
    lat, lon = table["lat"].to_numpy(float), table["lon"].to_numpy(float)
    place = table["place"].fillna("").astype(str).to_numpy()
    label = _kmeans(_project(lat, lon), N_REGIONS)
    names_by_label: dict[int, str] = {}
    taken: set[str] = set()
    # Name the largest clusters first so the big towns name their own region.
    sizes = np.bincount(label, minlength=N_REGIONS)
    for j in sorted(range(N_REGIONS), key=lambda j: (-sizes[j], j)):
        counts = pd.Series(place[label == j]).value_counts()
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        for name, _n in ranked:
            slug = str(name).strip().lower().replace(" ", "-") or f"region-{j}"
            if slug not in taken:
                break
        else:  # pragma: no cover - every cluster has a distinct top place in practice
            slug = f"region-{j}"
        taken.add(slug)
        names_by_label[j] = slug
    names = tuple(sorted(names_by_label.values()))
    to_sorted = np.array([names.index(names_by_label[j]) for j in range(N_REGIONS)])
    _names, town = np.unique(place, return_inverse=True)
    town_size = np.bincount(town)[town]
    return PostcodeAreas(
        pc4=table["pc4"].astype(str).to_numpy(), place=place, lat=lat, lon=lon,
        region=to_sorted[label], names=names, town=town, town_size=town_size,
    )


def region_names() -> tuple[str, ...]:
    return postcode_areas().names


def region_table() -> pd.DataFrame:
    """One row per region: name, postcode areas, largest places (for the docs and the CLI)."""
    a = postcode_areas()
    rows = []
    for j, name in enumerate(a.names):
        m = a.region == j
        top = pd.Series(a.place[m]).value_counts().head(3).index.tolist()
        rows.append({"region": name, "postcode_areas": int(m.sum()),
                     "lat": round(float(a.lat[m].mean()), 3),
                     "lon": round(float(a.lon[m].mean()), 3), "largest_places": ", ".join(top)})
    return pd.DataFrame(rows)
