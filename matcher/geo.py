"""Locations: Dutch four-digit postcode centroids and great-circle distances."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import numpy as np
import pandas as pd

EARTH_RADIUS_KM = 6371.0088
POSTCODE_PATTERN = r"^\s*(\d{4})\s*(?:[A-Za-z]{2})?\s*$"


@lru_cache(maxsize=1)
def pc4_table() -> pd.DataFrame:
    """The shipped PC4 centroid table (GeoNames, CC BY 4.0), indexed by the 4-digit code."""
    with resources.files("matcher.data").joinpath("nl_pc4.csv").open("rb") as fh:
        table = pd.read_csv(fh, dtype={"pc4": str, "place": str})
    return table.set_index("pc4")


def resolve_postcodes(postcodes: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lat, lon, ok) for each postcode (`3511` or `3511 AB`); ok is False where unknown."""
    pc4 = postcodes.astype(str).str.extract(POSTCODE_PATTERN, expand=False)
    table = pc4_table()
    lat = pc4.map(table["lat"]).to_numpy(dtype=float, na_value=np.nan)
    lon = pc4.map(table["lon"]).to_numpy(dtype=float, na_value=np.nan)
    ok = ~np.isnan(lat)
    return lat, lon, ok


def haversine_km(
    lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray
) -> np.ndarray:
    """Great-circle distance in km between arrays of points given in degrees."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    return haversine_rad(p1, np.radians(lon1), np.cos(p1), p2, np.radians(lon2), np.cos(p2))


def radians_cos(lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(latitude, longitude in radians, cos of latitude) of points, for :func:`haversine_rad`."""
    phi = np.radians(lat)
    return phi, np.radians(lon), np.cos(phi)


def haversine_rad(phi1: np.ndarray, lmb1: np.ndarray, cos1: np.ndarray,
                  phi2: np.ndarray, lmb2: np.ndarray, cos2: np.ndarray) -> np.ndarray:
    """:func:`haversine_km` (the same values) from radians and cosines of the latitudes, which
    callers can compute once per point instead of once per pair."""
    dphi = phi2 - phi1
    dlmb = lmb2 - lmb1
    a = np.sin(dphi / 2) ** 2 + cos1 * cos2 * np.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def unit_xyz(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Points on the unit sphere, for KD-tree range queries in chord distance."""
    phi, lmb = np.radians(lat), np.radians(lon)
    return np.column_stack((np.cos(phi) * np.cos(lmb), np.cos(phi) * np.sin(lmb), np.sin(phi)))


def km_to_chord(km: np.ndarray | float) -> np.ndarray:
    """Chord length on the unit sphere of a great-circle distance in km."""
    return 2 * np.sin(np.minimum(np.asarray(km, dtype=float), np.pi * EARTH_RADIUS_KM)
                      / (2 * EARTH_RADIUS_KM))


def chord_to_km(chord: np.ndarray) -> np.ndarray:
    """Great-circle distance in km of a chord length on the unit sphere."""
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.clip(np.asarray(chord) / 2, 0.0, 1.0))
