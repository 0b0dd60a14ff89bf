"""Generate a synthetic region (or the whole country) in the core input format.

Whole-array NumPy: 1.3 million candidates generate in seconds. The same (candidates, region,
seed) gives byte-identical files. The folder is written all or nothing.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from matcher.atomic import check_replaceable, replace_dir, staging_dir
from matcher.errors import InputError, Problem
from matcher.synth import distributions as D
from matcher.synth.regions import postcode_areas

#: Up to this many candidates, region "auto" means the Utrecht region; above it, all regions.
AUTO_SINGLE_REGION_MAX = 100_000
GENERATOR_VERSION = 1


@dataclass(frozen=True)
class Generated:
    organisations: pd.DataFrame
    options: pd.DataFrame
    candidates: pd.DataFrame
    protected: pd.DataFrame
    decisions: pd.DataFrame
    meta: dict
    routes: pd.DataFrame | None = None  # with --chain only

    def frames(self) -> dict[str, pd.DataFrame]:
        return {"organisations": self.organisations, "options": self.options,
                "candidates": self.candidates, "protected": self.protected,
                "decisions": self.decisions} | (
            {"routes": self.routes} if self.routes is not None else {})


def resolve_region(region: str, n_candidates: int) -> str:
    """'auto' -> 'utrecht' for up to AUTO_SINGLE_REGION_MAX candidates, else 'all'."""
    region = region.strip().lower()
    if region == "auto":
        return "utrecht" if n_candidates <= AUTO_SINGLE_REGION_MAX else "all"
    names = postcode_areas().names
    if region != "all" and region not in names:
        raise InputError([Problem("--region", None, None,
                                  f"unknown region {region!r}; choose all, auto or one of "
                                  f"{', '.join(names)}")])
    return region


def _choice(rng: np.random.Generator, n: int, p: np.ndarray) -> np.ndarray:
    """Indices drawn with probabilities p (inverse CDF on one uniform draw each)."""
    cdf = np.cumsum(p / p.sum())
    return np.minimum(np.searchsorted(cdf, rng.random(n), side="right"), len(p) - 1)


def _ids(prefix: str, n: int) -> np.ndarray:
    width = max(4, len(str(n)))
    digits = np.strings.zfill(np.arange(1, n + 1).astype(f"U{width}"), width)
    return np.strings.add(prefix, digits).astype(object)


def _join_codes(matrix: np.ndarray, render) -> np.ndarray:
    """Render each row of a small-integer matrix once per distinct row; returns strings per row.

    Rows are packed into one int64 key (4 bits per cell, values -1..14), so finding the distinct
    rows is a fast 1-D unique.
    """
    if len(matrix) == 0:
        return np.zeros(0, dtype=object)
    assert matrix.shape[1] <= 15
    key = np.zeros(len(matrix), dtype=np.int64)
    for j in range(matrix.shape[1]):
        key = key * 16 + (matrix[:, j].astype(np.int64) + 1)
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    texts = np.array([render(matrix[i]) for i in first.tolist()], dtype=object)
    return texts[inverse.ravel()]


def _skill_text(levels: np.ndarray) -> np.ndarray:
    """`skill:level;...` per row of a (rows x skills) level matrix (packed 15 skills a part)."""
    names = D.SKILLS
    out = np.full(len(levels), "", dtype=object)
    for lo in range(0, levels.shape[1], 15):
        part = _join_codes(levels[:, lo:lo + 15], lambda row, lo=lo: ";".join(
            f"{names[lo + j]}:{int(v)}" for j, v in enumerate(row) if v > 0))
        both = (out != "") & (part != "")
        out = out + np.where(both, ";", "") + part
    return out


def _sector_skill_mask() -> np.ndarray:
    mask = np.zeros((len(D.SECTORS), len(D.SKILLS)), dtype=bool)
    for s, sector in enumerate(D.SECTORS):
        for skill in D.SECTOR_SKILLS[sector]:
            mask[s, D.SKILLS.index(skill)] = True
    return mask


def _pick_areas(rng: np.random.Generator, n: int, pool: np.ndarray, power: float) -> np.ndarray:
    areas = postcode_areas()
    w = areas.town_size[pool].astype(float) ** power
    return pool[_choice(rng, n, w)]


def _areas_in_town(rng: np.random.Generator, home: np.ndarray, pool: np.ndarray) -> np.ndarray:
    """For each home area, a random area of the same town (place) within the pool (region)."""
    areas = postcode_areas()
    order = pool[np.argsort(areas.town[pool], kind="stable")]
    start = np.searchsorted(areas.town[order], np.arange(areas.town.max() + 2))
    t = areas.town[home]
    size = start[t + 1] - start[t]
    return order[start[t] + np.floor(rng.random(len(home)) * size).astype(np.int64)]


def _area_text(values: np.ndarray, fmt: str = "%.4f") -> np.ndarray:
    """Per postcode area, its value as text (formatted once, then indexed per row)."""
    return np.array([fmt % v for v in values.tolist()], dtype=object)


def generate(n_candidates: int, region: str = "auto", seed: int = 0,
             protected: bool = True, decisions: bool = True, chain: bool = False) -> Generated:
    """A synthetic data set; see docs/synthetic-data.md for the distributions and why. `chain`:
    also routes, language gains, hour capacities and cohort minimums (:mod:`matcher.synth.chain`,
    from a random stream of their own: every other table is the same as without)."""
    if n_candidates < 1:
        raise InputError([Problem("--candidates", None, None, "must be at least 1")])
    region = resolve_region(region, n_candidates)
    areas = postcode_areas()
    pool = (np.arange(len(areas.pc4)) if region == "all"
            else np.flatnonzero(areas.region == areas.names.index(region)))
    rng = np.random.default_rng([GENERATOR_VERSION, seed, n_candidates])
    n = n_candidates
    mean_cap = float((D.CAPACITY * D.CAPACITY_P).sum())
    n_opt = max(1, round(D.SEATS_PER_CANDIDATE * n / mean_cap))
    n_org = max(1, n_opt // D.OPTIONS_PER_ORGANISATION)
    skill_mask = _sector_skill_mask()
    n_sec = len(D.SECTORS)

    # Organisations: a kind, a main sector and a home in a (preferably larger) town.
    org_kind = _choice(rng, n_org, D.ORG_KIND_P)
    org_sector = _choice(rng, n_org, D.OPTION_SECTOR_P)
    org_home = _pick_areas(rng, n_org, pool, D.ORG_TOWN_POWER)

    # Options: every organisation has at least one; the rest are spread at random.
    opt_org = np.sort(np.concatenate([np.arange(n_org),
                                      rng.integers(0, n_org, max(0, n_opt - n_org))]))
    own = rng.random(n_opt) < D.MAIN_SECTOR_SHARE
    opt_sector = np.where(own, org_sector[opt_org], _choice(rng, n_opt, D.OPTION_SECTOR_P))
    capacity = D.CAPACITY[_choice(rng, n_opt, D.CAPACITY_P)]
    is_programme = D.ORG_KINDS[0] == np.array(D.ORG_KINDS)[org_kind[opt_org]]
    is_programme |= org_kind[opt_org] == D.ORG_KINDS.index("intake")
    opt_level = np.where(is_programme, _choice(rng, n_opt, D.PROGRAMME_LEVEL_P),
                         _choice(rng, n_opt, D.PLACE_LEVEL_P))
    for sector, lvl in D.SECTOR_MIN_LEVEL.items():
        s = D.SECTORS.index(sector)
        opt_level = np.where(opt_sector == s, np.maximum(opt_level, lvl), opt_level)
    hours_min = D.OPTION_HOURS_MIN[_choice(rng, n_opt, D.OPTION_HOURS_MIN_P)]
    hours_max = np.minimum(40, hours_min + D.OPTION_HOURS_SPAN[rng.integers(0, 4, n_opt)])
    want = skill_mask[opt_sector] & (rng.random((n_opt, len(D.SKILLS))) < 0.7)
    first = np.argmax(skill_mask[opt_sector], axis=1)  # at least the sector's first skill
    want[np.arange(n_opt), first] = True
    want_level = np.where(want, 1 + _choice(rng, want.size, np.array([.6, .35, .05]))
                          .reshape(want.shape), 0).astype(np.int8)
    opt_area = _areas_in_town(rng, org_home[opt_org], pool)

    # Guidance capacity: a share of what the organisation's seats would need at the mean need.
    mean_need = float((np.arange(4) * D.NEED_P).sum())
    demand = np.bincount(opt_org, weights=capacity * mean_need, minlength=n_org)
    lo, hi = D.BUDGET_SHARE
    budget = np.maximum(1, np.rint(demand * rng.uniform(lo, hi, n_org))).astype(np.int64)

    # Candidates.
    cand_area = _pick_areas(rng, n, pool, D.CAND_TOWN_POWER)
    level = _choice(rng, n, D.CAND_LEVEL_P)
    hours = D.HOURS[_choice(rng, n, D.HOURS_P)]
    need = _choice(rng, n, D.NEED_P)
    travel = D.TRAVEL_KM[_choice(rng, n, D.TRAVEL_P)]
    n_wish = _choice(rng, n, D.N_WISHES_P)
    gumbel = np.log(D.WISH_SECTOR_P)[None, :] - np.log(-np.log(rng.random((n, n_sec))))
    ranked = np.argsort(-gumbel, axis=1, kind="stable")[:, :3].astype(np.int8)
    wishes = np.where(np.arange(3)[None, :] < n_wish[:, None], ranked, -1).astype(np.int8)
    sectors_text = _join_codes(wishes, lambda row: ";".join(D.SECTORS[s] for s in row if s >= 0))
    primary = ranked[:, 0]
    has = skill_mask[primary] & (rng.random((n, len(D.SKILLS))) < 0.6)
    second = np.where(n_wish >= 2, ranked[:, 1], primary)
    has |= skill_mask[second] & (rng.random((n, len(D.SKILLS))) < 0.25)
    general = np.array([D.SKILLS.index(s) for s in D.GENERAL_SKILLS])
    extra = rng.random(n) < 0.3
    has[np.flatnonzero(extra), general[rng.integers(0, len(general), int(extra.sum()))]] = True
    cand_skill = np.where(has, 1 + _choice(rng, has.size, np.array([.5, .35, .15]))
                          .reshape(has.shape), 0).astype(np.int8)

    cand_ids = _ids("C", n)
    opt_ids = _ids("O", n_opt)
    org_ids = _ids("G", n_org)

    # Decisions: a few locks (on pairs made eligible by construction) and forbids.
    lock_opts = np.zeros(0, dtype=np.int64)
    lock_cands = np.zeros(0, dtype=np.int64)
    forbid = np.zeros((0, 2), dtype=np.int64)
    if decisions and n >= 2:
        n_lock = max(1, n // 10_000)
        _, first_of_org = np.unique(opt_org, return_index=True)
        lock_opts = np.sort(rng.permutation(first_of_org)[:n_lock])
        lock_cands = np.sort(rng.choice(n, len(lock_opts), replace=False))
        cand_area[lock_cands] = opt_area[lock_opts]
        level[lock_cands] = np.maximum(level[lock_cands], opt_level[lock_opts])
        hours[lock_cands] = np.clip(hours[lock_cands], hours_min[lock_opts], hours_max[lock_opts])
        need[lock_cands] = np.minimum(need[lock_cands], 1)
        budget[opt_org[lock_opts]] = np.maximum(budget[opt_org[lock_opts]], 1)
        n_forbid = max(1, n // 5_000)
        free = np.setdiff1d(np.arange(n), lock_cands)
        fc = rng.choice(free, min(n_forbid, len(free)), replace=False)
        fo = rng.integers(0, n_opt, len(fc))
        forbid = np.unique(np.column_stack([fc, fo]), axis=0)

    region_names = np.array(areas.names, dtype=object)
    lat_text, lon_text = _area_text(areas.lat), _area_text(areas.lon)
    organisations = pd.DataFrame({
        "organisation_id": org_ids,
        "name": np.char.add(np.char.add("Synthetic ", np.array(D.SECTORS)[org_sector]),
                            np.char.add(" ", np.char.zfill(np.arange(1, n_org + 1).astype(str),
                                                           4))).astype(object),
        "kind": np.array(D.ORG_KINDS, dtype=object)[org_kind],
        "guidance_capacity": budget,
    })
    options = pd.DataFrame({
        "option_id": opt_ids,
        "organisation_id": org_ids[opt_org],
        "kind": np.where(is_programme, "programme", "place").astype(object),
        "sector": np.array(D.SECTORS, dtype=object)[opt_sector],
        "capacity": capacity,
        "hours_min": hours_min,
        "hours_max": hours_max,
        "min_dutch_level": np.array(D.LEVELS, dtype=object)[opt_level],
        "skills": _skill_text(want_level),
        "lat": lat_text[opt_area],
        "lon": lon_text[opt_area],
        "postcode": areas.pc4[opt_area].astype(object),
        "region": region_names[areas.region[opt_area]],
    })
    candidates = pd.DataFrame({
        "candidate_id": cand_ids,
        "skills": _skill_text(cand_skill),
        "sectors": sectors_text,
        "hours_available": hours,
        "dutch_level": np.array(D.LEVELS, dtype=object)[level],
        "guidance_need": need,
        "max_travel_km": travel,
        "lat": lat_text[cand_area],
        "lon": lon_text[cand_area],
        "postcode": areas.pc4[cand_area].astype(object),
        "region": region_names[areas.region[cand_area]],
    })
    prot = pd.DataFrame({"candidate_id": cand_ids})
    if protected:
        for col, dist in (("gender", D.GENDER), ("age_band", D.AGE_BAND),
                          ("migration_background", D.MIGRATION), ("disability", D.DISABILITY)):
            values = np.array([v for v, _ in dist], dtype=object)
            prot[col] = values[_choice(rng, n, np.array([p for _, p in dist]))]
    dec = pd.DataFrame({
        "candidate_id": np.concatenate([cand_ids[lock_cands], cand_ids[forbid[:, 0]]]),
        "option_id": np.concatenate([opt_ids[lock_opts], opt_ids[forbid[:, 1]]]),
        "decision": ["lock"] * len(lock_cands) + ["forbid"] * len(forbid),
        "reason": ["synthetic: placement already agreed"] * len(lock_cands)
        + ["synthetic: earlier placement ended"] * len(forbid),
    }).sort_values(["candidate_id", "option_id"], kind="stable").reset_index(drop=True)
    meta = {"generator_version": GENERATOR_VERSION, "candidates": n, "region": region,
            "seed": seed, "options": n_opt, "organisations": n_org,
            "seats": int(capacity.sum()), "guidance_capacity": int(budget.sum()),
            "locks": len(lock_cands), "forbids": len(forbid)}
    routes = None
    if chain:
        from matcher.synth.chain import add_chain

        options, routes, meta["chain"] = add_chain(
            options, np.random.default_rng([GENERATOR_VERSION, seed, n_candidates, 28]))
    return Generated(organisations, options, candidates, prot, dec, meta, routes)


#: The tables a generated data folder may hold (besides generator.json).
GENERATED_TABLES = ("organisations", "options", "candidates", "protected", "decisions", "routes")


def write_generated(gen: Generated, out_dir: Path, files: Sequence[str] | None = None,
                    force: bool = False) -> Path:
    """Write the data folder all or nothing (temporary folder beside it, renamed at the end).

    An existing `out_dir` is replaced only if it is empty or holds an earlier generated set
    (generator.json) and nothing else, or with `force`.
    """
    out_dir = Path(out_dir)
    check_replaceable(out_dir, "generator.json", "generated data",
                      [f"{t}.csv" for t in GENERATED_TABLES], force)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = staging_dir(out_dir)
    try:
        for name, df in gen.frames().items():
            if files is not None and name not in files:
                continue
            if name == "decisions" and df.empty:
                continue
            if name == "protected" and df.shape[1] == 1:
                continue
            df.to_csv(tmp / f"{name}.csv", index=False, lineterminator="\n")
        (tmp / "generator.json").write_text(json.dumps(gen.meta, indent=2) + "\n", "utf-8")
        replace_dir(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir
