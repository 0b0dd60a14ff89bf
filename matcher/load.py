"""Load and validate a data folder (or tables already in memory) into an :class:`Instance`.

`read_raw` reads the CSV files as strings; `build_instance` parses and validates string tables
from any source (files, the API's JSON, a what-if edit), reporting every problem at once.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from matcher.chain import data as chain_data
from matcher.csvio import (
    ROW,
    check_choice,
    check_ids,
    check_refs,
    on_uniques,
    parse_float,
    parse_int,
    read_table,
)
from matcher.errors import InputError, Problem, Problems
from matcher.geo import resolve_postcodes
from matcher.levels import ACCEPTED, parse_levels
from matcher.model import DECISION_KINDS, OPTION_KINDS, ORGANISATION_KINDS, Instance
from matcher.xlsxio import Sheet, find_sheets, locate, read_sheet, workbooks

log = logging.getLogger(__name__)

REQUIRED: dict[str, tuple[str, ...]] = {
    "organisations": ("organisation_id", "name", "kind", "guidance_capacity"),
    "options": (
        "option_id", "organisation_id", "kind", "sector", "capacity", "hours_min", "hours_max",
        "min_dutch_level", "skills",
    ),
    "candidates": (
        "candidate_id", "skills", "sectors", "hours_available", "dutch_level", "guidance_need",
        "max_travel_km",
    ),
    "decisions": ("candidate_id", "option_id", "decision"),
    "routes": ("programme_id", "place_id"),
}
LOCATION = ("lat", "lon", "postcode")
OPTIONAL = {"options": ("name", *LOCATION, "region", *chain_data.OPTION_COLUMNS),
            "candidates": (*LOCATION, "region", "target_group", "available_from"),
            "organisations": (),
            "decisions": ("reason", "next_option_id"),
            "routes": ("seats",)}
#: Tables of REQUIRED a data folder may leave out.
OPTIONAL_TABLES = ("decisions", "routes")
ID = {"organisations": "organisation_id", "options": "option_id", "candidates": "candidate_id"}


#: Tables a data folder may hold besides REQUIRED's (read by other parts: the audit).
OTHER_TABLES = ("protected",)


def read_raw(data_dir: Path, problems: Problems) -> dict[str, pd.DataFrame]:
    """The folder's CSV files, or the sheets of its Excel workbook, as string tables;
    decisions are optional. A table read from a workbook carries its `Sheet` in
    ``df.attrs["sheet"]``."""
    raw: dict[str, pd.DataFrame] = {}
    if not data_dir.is_dir():
        problems.add(str(data_dir), None, None, "data folder not found", code="folder_not_found")
        return raw
    if workbooks(data_dir):
        return _read_workbook(data_dir, problems)
    for name, required in REQUIRED.items():
        path = data_dir / f"{name}.csv"
        if name in OPTIONAL_TABLES and not path.exists():
            continue
        # decisions.csv (routes.csv) may be a header only: no decisions (routes) yet
        df = read_table(path, problems, required, allow_empty=name in OPTIONAL_TABLES)
        if df is not None:
            raw[name] = df
    return raw


def _read_workbook(data_dir: Path, problems: Problems) -> dict[str, pd.DataFrame]:
    """The tables of the folder's workbook (a folder with CSV files as well is refused)."""
    books = workbooks(data_dir)
    csvs = [f"{t}.csv" for t in (*REQUIRED, *OTHER_TABLES) if (data_dir / f"{t}.csv").exists()]
    if csvs:
        problems.add(str(data_dir), None, None,
                     f"the folder holds both CSV files ({', '.join(csvs)}) and an Excel workbook "
                     f"({', '.join(b.name for b in books)}): keep one of the two",
                     code="csv_and_xlsx",
                     params={"csv": ", ".join(csvs), "xlsx": ", ".join(b.name for b in books)})
        return {}
    sheets = find_sheets(data_dir, (*REQUIRED, *OTHER_TABLES), problems)
    raw: dict[str, pd.DataFrame] = {}
    for name, required in REQUIRED.items():
        src = sheets.get(name)
        if src is None:
            if name not in OPTIONAL_TABLES:
                problems.add(", ".join(b.name for b in books), None, None,
                             f"no sheet named {name}", code="sheet_missing",
                             params={"sheet": name})
            continue
        df = read_sheet(src, problems, required, allow_empty=name in OPTIONAL_TABLES)
        if df is not None:
            df.attrs["sheet"] = src
            raw[name] = df
    return raw


def sheet_sources(raw: dict[str, pd.DataFrame]) -> dict[str, Sheet]:
    """Table -> the workbook sheet it was read from (empty for CSV files)."""
    return {t: df.attrs["sheet"] for t, df in raw.items() if "sheet" in df.attrs}


def load_instance(data_dir: Path) -> tuple[Instance, list[Problem]]:
    """Read and validate a data folder (CSV files or one Excel workbook); raises InputError
    listing every problem found, each named by file (and sheet), row and column."""
    problems = Problems()
    raw = read_raw(Path(data_dir), problems)
    problems.raise_if_errors()
    sources = sheet_sources(raw)
    try:
        instance = build_instance(raw, problems, source=str(data_dir))
    except InputError as exc:
        if not sources:
            raise
        raise InputError(locate(exc.problems + exc.warnings, sources)) from None
    return instance, locate(problems.warnings, sources)


@contextmanager
def table_file(data_dir: Path, name: str) -> Iterator[Path | None]:
    """The folder's ``NAME.csv``; for a folder with a workbook, its sheet NAME written as a CSV
    file for the time of the block (problems raised in the block about it are moved to the
    workbook and sheet). None when the folder has no such table."""
    data_dir = Path(data_dir)
    if not workbooks(data_dir):
        path = data_dir / f"{name}.csv"
        yield path if path.exists() else None
        return
    problems = Problems()
    src = find_sheets(data_dir, (*REQUIRED, *OTHER_TABLES), Problems()).get(name)
    if src is None:
        yield None
        return
    df = read_sheet(src, problems, ())
    problems.raise_if_errors()
    assert df is not None
    with tempfile.TemporaryDirectory(prefix="matcher-sheet-") as tmp:
        path = Path(tmp) / f"{name}.csv"
        df.drop(columns=[ROW]).to_csv(path, index=False)
        try:
            yield path
        except InputError as exc:
            raise InputError(locate(exc.problems + exc.warnings, {name: src})) from None


def build_instance(
    raw: dict[str, pd.DataFrame], problems: Problems | None = None, source: str = ""
) -> Instance:
    """Parse and validate string tables into an Instance (raises InputError on any error)."""
    problems = problems if problems is not None else Problems()
    raw = {name: _with_rows(df) for name, df in raw.items()}
    optional_present = tuple(t for t in OPTIONAL_TABLES if t in raw)
    for name in ("organisations", "options", "candidates", *optional_present):
        if name not in raw:
            problems.add(f"{name}.csv", None, None, "table is missing", code="table_missing")
        else:
            missing = [c for c in REQUIRED[name] if c not in raw[name].columns]
            for col in missing:
                problems.add(f"{name}.csv", 1, col, "required column is missing",
                             code="column_missing")
            if not missing and raw[name].empty and name not in OPTIONAL_TABLES:
                problems.add(f"{name}.csv", None, None, "table has no rows", code="table_empty")
    problems.raise_if_errors()

    orgs = _organisations(raw["organisations"], problems)
    opts = _options(raw["options"], orgs, problems)
    cands = _candidates(raw["candidates"], problems)
    routes = chain_data.parse_routes(raw.get("routes"), opts, problems)
    decisions = _decisions(raw.get("decisions"), cands, opts, problems)
    decisions, route_decisions = chain_data.split_route_decisions(decisions, opts, routes,
                                                                  problems)
    for name, df in raw.items():
        if name not in REQUIRED:  # e.g. protected: never read here (the audit reads it)
            problems.add(f"{name}.csv", None, None, "table is not used to score or match",
                         "warning", code="table_unused")
            continue
        extra = [c for c in df.columns if c != ROW and c not in REQUIRED[name] + OPTIONAL[name]]
        for col in extra:
            problems.add(f"{name}.csv", 1, col, "column is not used by matcher (kept, ignored)",
                         "warning", code="column_unused")
    problems.raise_if_errors()

    skill_names, cand_skills, opt_skills = _skill_matrices(cands, opts, problems)
    sector_names, opt_sector, cand_rank = _sector_ranks(cands, opts)
    problems.raise_if_errors()
    orgs, opts, cands, decisions, routes, route_decisions = (
        df.drop(columns=[ROW]) for df in (orgs, opts, cands, decisions, routes, route_decisions))
    chain_tables = [df for df in (routes, route_decisions) if not df.empty]
    return Instance(
        organisations=orgs,
        options=opts,
        candidates=cands,
        decisions=decisions,
        skill_names=skill_names,
        cand_skills=cand_skills,
        opt_skills=opt_skills,
        sector_names=sector_names,
        opt_sector=opt_sector,
        cand_sector_rank=cand_rank,
        content_hash=_content_hash(
            [orgs, opts.drop(columns=["skills"]),
             cands.drop(columns=["skills", "sectors"]), decisions, *chain_tables],
            [skill_names, sector_names], [cand_skills, opt_skills, cand_rank], opt_sector),
        source=source,
        routes=routes,
        route_decisions=route_decisions,
    )


def _with_rows(df: pd.DataFrame) -> pd.DataFrame:
    """String table with a spreadsheet row column (tables from JSON get one here)."""
    stripped = bool(df.attrs.get("stripped"))  # read_table stripped every field already
    df = df.copy()
    if ROW not in df.columns:
        df.insert(0, ROW, np.arange(2, len(df) + 2))
    for col in df.columns:
        if col != ROW:
            s = df[col] if stripped else df[col].astype(str).str.strip()
            df[col] = s.replace({"nan": "", "None": ""})
    return df


def _content_hash(
    tables: list[pd.DataFrame],
    vocabularies: list[tuple[str, ...]],
    matrices: list[sp.csr_matrix],
    opt_sector: np.ndarray,
) -> str:
    """SHA-256 of the parsed content: the same data in any row or column order, separator or
    decimal mark hashes the same (and an all-empty optional column the same as none); any
    change of a value used by a round changes it."""
    h = hashlib.sha256()
    for df in tables:
        # An optional text column left empty everywhere says nothing: the same as no column
        # (a service that stores every known column hashes like the files it came from).
        blank = [c for c in df.columns
                 if (df[c].dtype == object or pd.api.types.is_string_dtype(df[c]))
                 and bool((df[c] == "").all())]
        df = df[sorted(c for c in df.columns if c not in blank)]
        h.update(df.to_csv(index=False, lineterminator="\n").encode())
    for vocab in vocabularies:
        h.update("\x1f".join(vocab).encode() + b"\x1e")
    for m in matrices:
        for part in (m.indptr, m.indices, m.data):
            h.update(np.ascontiguousarray(part, dtype=np.int64).tobytes())
    h.update(np.ascontiguousarray(opt_sector, dtype=np.int64).tobytes())
    return h.hexdigest()


def _sorted_by(df: pd.DataFrame, col: str) -> pd.DataFrame:
    return df.sort_values([col, ROW], kind="stable").reset_index(drop=True)


def _organisations(df: pd.DataFrame, problems: Problems) -> pd.DataFrame:
    f = "organisations.csv"
    df = _sorted_by(df, "organisation_id")
    check_ids(df, "organisation_id", problems, f)
    df["kind"] = check_choice(df, "kind", ORGANISATION_KINDS, problems, f)
    df["guidance_capacity"] = parse_int(df, "guidance_capacity", problems, f)
    return df


def _location(df: pd.DataFrame, problems: Problems, f: str) -> None:
    has_latlon = "lat" in df.columns and "lon" in df.columns
    if not has_latlon and "postcode" not in df.columns:
        problems.add(f, 1, "lat", "needs columns lat and lon, or a postcode column",
                     code="location_columns")
        return
    lat = np.full(len(df), np.nan)
    lon = np.full(len(df), np.nan)
    if has_latlon:
        lat = parse_float(df, "lat", problems, f, minimum=-90, maximum=90, required=False)
        lon = parse_float(df, "lon", problems, f, minimum=-180, maximum=180, required=False)
        half = np.isnan(lat) != np.isnan(lon)
        for row in df.loc[half, ROW].tolist():
            problems.add(f, int(row), "lat", "give both lat and lon, or neither",
                         code="lat_lon_pair")
    need_pc = np.isnan(lat) | np.isnan(lon)
    if need_pc.any():
        if "postcode" not in df.columns:
            for row in df.loc[need_pc, ROW].tolist():
                problems.add(f, int(row), "lat", "location missing (no lat/lon)", kind="noloc",
                             code="location_missing")
        else:
            pc = df.loc[need_pc, "postcode"]
            plat, plon, ok = resolve_postcodes(pc)
            lat[need_pc], lon[need_pc] = plat, plon
            for row, value in zip(df.loc[need_pc, ROW][~ok].tolist(), pc[~ok].tolist(),
                                  strict=True):
                if value == "":
                    problems.add(f, int(row), "postcode", "location missing (no lat/lon, no postcode)",
                                 kind="postcode", code="postcode_missing")
                else:
                    problems.add(f, int(row), "postcode",
                                 f"unknown postcode {value!r} (not a Dutch 4-digit postcode area)",
                                 kind="postcode", code="postcode_unknown", params={"value": repr(value)})
    df["lat"], df["lon"] = lat, lon


def _level(df: pd.DataFrame, col: str, problems: Problems, f: str) -> np.ndarray:
    levels = parse_levels(df[col])
    for row, value in zip(df.loc[levels < 0, ROW].tolist(), df.loc[levels < 0, col].tolist(),
                          strict=True):
        problems.add(f, int(row), col, f"unknown language level {value!r} (expected {ACCEPTED})",
                     kind="level", code="unknown_level",
                     params={"value": repr(value), "expected": ACCEPTED})
    df[col] = on_uniques(df[col], lambda u: u.str.upper())
    return levels


def _options(df: pd.DataFrame, orgs: pd.DataFrame, problems: Problems) -> pd.DataFrame:
    f = "options.csv"
    df = _sorted_by(df, "option_id")
    check_ids(df, "option_id", problems, f)
    df.insert(2, "org", check_refs(df, "organisation_id", pd.Index(orgs["organisation_id"]),
                                   "organisations.csv", problems, f))
    df["kind"] = check_choice(df, "kind", ("programme", "place"), problems, f)
    assert OPTION_KINDS == ("programme", "place")
    df["sector"] = on_uniques(df["sector"], lambda u: u.str.lower())
    empty = (df["sector"] == "").to_numpy()
    for row in df.loc[empty, ROW].tolist():
        problems.add(f, int(row), "sector", "sector is empty", kind="sector", code="sector_empty")
    df["capacity"] = parse_int(df, "capacity", problems, f)
    df["hours_min"] = parse_float(df, "hours_min", problems, f, maximum=168)
    df["hours_max"] = parse_float(df, "hours_max", problems, f, maximum=168)
    inverted = (df["hours_min"] > df["hours_max"]).to_numpy()
    for row in df.loc[inverted, ROW].tolist():
        problems.add(f, int(row), "hours_max", "hours_max is below hours_min", kind="hours",
                     code="hours_order")
    df["level"] = _level(df, "min_dutch_level", problems, f)
    _location(df, problems, f)
    chain_data.parse_option_columns(df, problems, f)
    return df


def _candidates(df: pd.DataFrame, problems: Problems) -> pd.DataFrame:
    f = "candidates.csv"
    df = _sorted_by(df, "candidate_id")
    check_ids(df, "candidate_id", problems, f)
    df["hours_available"] = parse_float(df, "hours_available", problems, f, maximum=168)
    df["level"] = _level(df, "dutch_level", problems, f)
    df["guidance_need"] = parse_int(df, "guidance_need", problems, f, minimum=0, maximum=3)
    df["max_travel_km"] = parse_float(df, "max_travel_km", problems, f, maximum=1000)
    chain_data.parse_dates(df, "available_from", problems, f)  # read by shortlist filters only
    _location(df, problems, f)
    return df


def _decisions(
    df: pd.DataFrame | None, cands: pd.DataFrame, opts: pd.DataFrame, problems: Problems
) -> pd.DataFrame:
    cols = ["candidate_id", "option_id", "decision", "cand", "opt", ROW]
    if df is None:
        return pd.DataFrame({c: pd.Series(dtype=int if c in ("cand", "opt", ROW) else str)
                             for c in cols})
    f = "decisions.csv"
    df = df.sort_values(["candidate_id", "option_id", ROW], kind="stable").reset_index(drop=True)
    df["cand"] = check_refs(df, "candidate_id", pd.Index(cands["candidate_id"]),
                            "candidates.csv", problems, f)
    df["opt"] = check_refs(df, "option_id", pd.Index(opts["option_id"]), "options.csv",
                           problems, f)
    df["decision"] = check_choice(df, "decision", DECISION_KINDS, problems, f)
    key = ["candidate_id", "option_id"] + (["next_option_id"] if "next_option_id" in df else [])
    pair_dup = df.duplicated(key, keep="first").to_numpy()
    for row, c, o in zip(df.loc[pair_dup, ROW].tolist(), df.loc[pair_dup, "candidate_id"],
                         df.loc[pair_dup, "option_id"], strict=True):
        problems.add(f, int(row), "option_id",
                     f"a second decision for candidate {c!r} and option {o!r}", kind="dup",
                     code="decision_twice", params={"candidate": repr(c), "option": repr(o)})
    locks = df[df["decision"] == "lock"]
    two = locks.duplicated("candidate_id", keep="first").to_numpy()
    for row, c in zip(locks.loc[two, ROW].tolist(), locks.loc[two, "candidate_id"], strict=True):
        problems.add(f, int(row), "candidate_id",
                     f"candidate {c!r} is locked to more than one option", kind="lock2",
                     code="locked_twice", params={"candidate": repr(c)})
    return df[cols + [c for c in df.columns if c not in cols]]


def _parse_skill_lists(df: pd.DataFrame, problems: Problems, f: str) -> pd.DataFrame:
    """Long table (i, skill, level) from `skill:level;skill:level` cells; a bare skill is level 1.

    A skill named twice in one cell keeps its highest level. Each distinct cell is parsed once
    (skill lists repeat across many rows), then expanded to the rows that hold it.
    """
    codes, uniq = pd.factorize(df["skills"], use_na_sentinel=False)
    s = pd.Series(uniq, dtype=object).str.split(";").explode()
    s = s.str.strip()
    s = s[s.notna() & (s != "")]
    if s.empty:
        return pd.DataFrame({"i": np.zeros(0, np.int64), "skill": np.zeros(0, str),
                             "level": np.zeros(0, np.int8)})
    parts = s.str.split(":", n=1, expand=True).reindex(columns=[0, 1])
    skill = parts[0].str.strip().str.lower()
    level_txt = parts[1].fillna("1").str.strip()
    ok = (level_txt.isin(["1", "2", "3"]) & (skill != "")).to_numpy()
    if (~ok).any():
        bad = pd.DataFrame({"u": s.index.to_numpy()[~ok], "item": s[~ok].to_numpy()})
        rows = pd.DataFrame({"u": codes, "pos": np.arange(len(codes))})
        hits = rows.merge(bad.reset_index(), on="u").sort_values(["pos", "index"], kind="stable")
        row_numbers = df[ROW].to_numpy()[hits["pos"].to_numpy()]
        for row, item in zip(row_numbers.tolist(), hits["item"].tolist(), strict=True):
            problems.add(f, int(row), "skills",
                         f"expected skill:level with level 1, 2 or 3, got {item!r}", kind="skill",
                         code="bad_skill", params={"value": repr(item)})
    long = pd.DataFrame({"u": s.index.to_numpy()[ok], "skill": skill.to_numpy()[ok],
                         "level": level_txt.to_numpy()[ok].astype(np.int8)})
    long = long.groupby(["u", "skill"], sort=True)["level"].max().reset_index()
    # Expand per distinct cell to every row holding it, rows in order.
    start = np.searchsorted(long["u"].to_numpy(), np.arange(len(uniq) + 1))
    count = np.diff(start)[codes]
    i = np.repeat(np.arange(len(codes)), count)
    item = np.arange(len(i)) - np.repeat(np.cumsum(count) - count, count) + start[codes][i]
    return pd.DataFrame({"i": i, "skill": long["skill"].to_numpy()[item],
                         "level": long["level"].to_numpy()[item]})


def _skill_matrices(
    cands: pd.DataFrame, opts: pd.DataFrame, problems: Problems
) -> tuple[tuple[str, ...], sp.csr_matrix, sp.csr_matrix]:
    c_long = _parse_skill_lists(cands, problems, "candidates.csv")
    o_long = _parse_skill_lists(opts, problems, "options.csv")
    names = tuple(sorted(set(pd.unique(c_long["skill"])) | set(pd.unique(o_long["skill"]))))
    index = pd.Index(names)

    def matrix(long: pd.DataFrame, n: int) -> sp.csr_matrix:
        # Rows are unique (i, skill) already (see _parse_skill_lists).
        codes, uniq = pd.factorize(long["skill"])
        m = sp.csr_matrix(
            (long["level"].to_numpy(np.int8),
             (long["i"].to_numpy(), index.get_indexer(uniq)[codes])),
            shape=(n, len(names)), dtype=np.int8,
        )
        m.sort_indices()
        return m

    return names, matrix(c_long, len(cands)), matrix(o_long, len(opts))


def _sector_ranks(
    cands: pd.DataFrame, opts: pd.DataFrame
) -> tuple[tuple[str, ...], np.ndarray, sp.csr_matrix]:
    codes, uniq = pd.factorize(cands["sectors"], use_na_sentinel=False)
    wishes = pd.Series(uniq, dtype=object).str.lower().str.split(";").explode().str.strip()
    wishes = wishes[wishes.notna() & (wishes != "")]
    long = pd.DataFrame({"u": wishes.index.to_numpy(), "sector": wishes.to_numpy()})
    long = long.drop_duplicates(["u", "sector"], keep="first")  # first mention is the rank
    long["rank"] = long.groupby("u").cumcount() + 1
    names = tuple(sorted(set(opts["sector"]) | set(long["sector"])))
    index = pd.Index(names)
    u_rank = sp.csr_matrix(
        (long["rank"].clip(upper=127).to_numpy(np.int8),
         (long["u"].to_numpy(), index.get_indexer(long["sector"]))),
        shape=(len(uniq), len(names)), dtype=np.int8,
    )
    rank = u_rank[codes] if len(codes) else sp.csr_matrix((0, len(names)), dtype=np.int8)
    rank = sp.csr_matrix(rank)
    rank.sort_indices()
    return names, index.get_indexer(opts["sector"]).astype(np.int32), rank


def instance_from_frames(frames: dict[str, pd.DataFrame], source: str = "") -> Instance:
    """Build an instance from in-memory tables of any dtype (values are read as text)."""
    return build_instance({k: v.astype(str) for k, v in frames.items()}, source=source)


__all__ = ["InputError", "build_instance", "instance_from_frames", "load_instance", "read_raw",
           "table_file"]
