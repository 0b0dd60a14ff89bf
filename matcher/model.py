"""The domain model of one matching round's input, held as whole arrays.

Tables are pandas DataFrames sorted by id, so the position of a row is its canonical index and
the same data in any row order gives the same instance. Skills and sector wishes are sparse
matrices over a shared vocabulary. Protected attributes are *not* part of an instance: they
live in :mod:`matcher.audit`, which scoring and solving never import.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

ORGANISATION_KINDS = ("intake", "programme_provider", "employer", "municipality")
OPTION_KINDS = ("programme", "place")
DECISION_KINDS = ("lock", "forbid")
SKILL_LEVELS = (1, 2, 3)

RAW_FILES = ("organisations", "options", "candidates", "decisions")


@dataclass(frozen=True)
class Instance:
    """Validated input of a round.

    organisations: organisation_id, name, kind, guidance_capacity (int)
    options: option_id, organisation_id, org (row of its organisation), kind, sector,
        capacity (int), hours_min, hours_max, min_dutch_level, level (rank), skills, lat, lon
    candidates: candidate_id, skills, sectors, hours_available, dutch_level, level (rank),
        guidance_need (int), max_travel_km, lat, lon
    decisions: candidate_id, option_id, decision, cand, opt (rows in the tables above); a lock
        of a whole route is here too, as a lock of its programme
    routes: programme_id, place_id, seats (int), prog, place (option rows); empty without
        routes.csv
    route_decisions: candidate_id, option_id, next_option_id, decision, cand, opt, next: the
        decisions.csv rows that name a ``next_option_id`` (a lock or forbid of a whole route)

    options gains the chain's optional columns (language_gain, duration_weeks, start_date,
    min_participants, capacity_hours) only where options.csv gives them: see
    :mod:`matcher.chain.data`.
    """

    organisations: pd.DataFrame
    options: pd.DataFrame
    candidates: pd.DataFrame
    decisions: pd.DataFrame
    skill_names: tuple[str, ...]
    cand_skills: sp.csr_matrix  # n_candidates x n_skills, level 1..3 (0 = absent)
    opt_skills: sp.csr_matrix  # n_options x n_skills, desired level 1..3
    sector_names: tuple[str, ...]
    opt_sector: np.ndarray  # n_options, index into sector_names
    cand_sector_rank: sp.csr_matrix  # n_candidates x n_sectors, 1 = most wanted (0 = not wished)
    content_hash: str
    source: str = ""
    routes: pd.DataFrame = field(default_factory=lambda: _empty_chain("routes"))
    route_decisions: pd.DataFrame = field(default_factory=lambda: _empty_chain("decisions"))

    @property
    def n_candidates(self) -> int:
        return len(self.candidates)

    @property
    def n_options(self) -> int:
        return len(self.options)

    @property
    def n_organisations(self) -> int:
        return len(self.organisations)

    def locks(self) -> pd.DataFrame:
        return self.decisions[self.decisions["decision"] == "lock"]

    def forbids(self) -> pd.DataFrame:
        return self.decisions[self.decisions["decision"] == "forbid"]


def _empty_chain(table: str) -> pd.DataFrame:
    from matcher.chain import data

    df = data.empty_routes() if table == "routes" else data.empty_route_decisions()
    return df.drop(columns=["_row"])
