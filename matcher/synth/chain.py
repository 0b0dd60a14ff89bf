"""`matcher generate --chain`: routes, language gains, hour capacities and cohort minimums at
realistic rates, on top of a generated data set (docs/synthetic-data.md, "The chain").

Drawn from a random stream of their own, after every other table is drawn: without ``--chain``
every seed's files stay byte-identical, and with it the other tables are the same as without.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from matcher.geo import unit_xyz

#: Language gain of a programme (CEFR steps): many teach Dutch on the job.
GAIN = np.array([0, 1, 2])
GAIN_P = np.array([.5, .4, .1])
#: Programme length in weeks.
WEEKS = np.array([8, 12, 16, 26])
WEEKS_P = np.array([.2, .4, .3, .1])
#: Share of programmes with a cohort minimum (a third of their seats, at least 2).
COHORT_SHARE = 0.25
#: Share of places with an hour capacity: 60-90% of capacity x hours_max.
HOURS_SHARE = 0.4
HOURS_FILL = (0.6, 0.9)
#: Routes per programme (1-3), to the nearest places of its sector (else the nearest places).
ROUTES = np.array([1, 2, 3])
ROUTES_P = np.array([.5, .3, .2])
#: Share of routes with their own seats (1 or 2, at most the place's capacity); the rest take
#: the default (the place's capacity).
ROUTE_SEATS_SHARE = 0.6


def _choice(rng: np.random.Generator, n: int, values: np.ndarray, p: np.ndarray) -> np.ndarray:
    cdf = np.cumsum(p / p.sum())
    return values[np.minimum(np.searchsorted(cdf, rng.random(n), side="right"), len(p) - 1)]


def _routes(rng: np.random.Generator, options: pd.DataFrame) -> pd.DataFrame:
    prog = np.flatnonzero((options["kind"] == "programme").to_numpy())
    place = np.flatnonzero((options["kind"] == "place").to_numpy())
    if not len(prog) or not len(place):
        return pd.DataFrame({"programme_id": [], "place_id": [], "seats": []})
    xyz = unit_xyz(options["lat"].astype(float).to_numpy(), options["lon"].astype(float).to_numpy())
    sector = options["sector"].to_numpy()
    k = _choice(rng, len(prog), ROUTES, ROUTES_P)
    rows: list[tuple[int, int]] = []
    everywhere = cKDTree(xyz[place])
    trees = {s: (cKDTree(xyz[place[sector[place] == s]]), place[sector[place] == s])
             for s in np.unique(sector[place])}
    for p, n in zip(prog.tolist(), k.tolist(), strict=True):
        tree, ids = trees.get(sector[p], (everywhere, place))
        n = min(n, len(ids))
        _, hit = tree.query(xyz[p], k=n)
        rows += [(p, int(ids[h])) for h in np.atleast_1d(hit)]
    pairs = np.array(sorted(set(rows)), dtype=np.int64).reshape(-1, 2)
    cap = options["capacity"].to_numpy()[pairs[:, 1]]
    own = rng.random(len(pairs)) < ROUTE_SEATS_SHARE
    seats = np.minimum(cap, 1 + rng.integers(0, 2, len(pairs)))
    ids = options["option_id"].to_numpy()
    return pd.DataFrame({"programme_id": ids[pairs[:, 0]], "place_id": ids[pairs[:, 1]],
                         "seats": np.where(own, seats.astype(str), "").astype(object)})


def add_chain(options: pd.DataFrame, rng: np.random.Generator
              ) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, int]]:
    """(options with the chain's columns, routes, counts for generator.json)."""
    opts = options.copy()
    n = len(opts)
    programme = (opts["kind"] == "programme").to_numpy()
    cap = opts["capacity"].to_numpy()
    gain = _choice(rng, n, GAIN, GAIN_P)
    weeks = _choice(rng, n, WEEKS, WEEKS_P)
    cohort = programme & (rng.random(n) < COHORT_SHARE) & (cap >= 2)
    minimum = np.minimum(cap, np.maximum(2, cap // 3))
    limited = ~programme & (rng.random(n) < HOURS_SHARE)
    fill = rng.uniform(*HOURS_FILL, n)
    hours = np.rint(cap * opts["hours_max"].to_numpy() * fill).astype(np.int64)
    opts["language_gain"] = np.where(programme, gain.astype(str), "").astype(object)
    opts["duration_weeks"] = np.where(programme, weeks.astype(str), "").astype(object)
    opts["min_participants"] = np.where(cohort, minimum.astype(str), "").astype(object)
    opts["capacity_hours"] = np.where(limited, hours.astype(str), "").astype(object)
    routes = _routes(rng, opts)
    meta = {"routes": len(routes), "programmes_with_gain": int((programme & (gain > 0)).sum()),
            "cohort_minimums": int(cohort.sum()), "hour_capacities": int(limited.sum())}
    return opts, routes, meta
