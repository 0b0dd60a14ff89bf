"""`matcher verify`: re-check a written round from its files, without the solver's code path.

From the data folder and the round's folder alone (docs/solver.md, "For auditors"):

1. the data is the round's (``input_hash``) and every file is the one round.json lists (sha256);
2. the pairs in edges.csv are exactly the pairs the four hard rules allow (re-derived here over
   every candidate-option pair), plus the locked pairs outside them, with the decisions of
   decisions.csv;
3. the assignment keeps every limit: one option per person, seats, guidance capacity, every lock
   kept, no forbidden pair; its value is the objective reported;
4. the bound the certificate proves (`matcher.certificate`) is at most the bound reported
   (relative tolerance 1e-6): one OR-Tools min-cost flow for ``lagrangian``, one pass over the
   pairs for ``dual``, an exact solve of this module's own (HiGHS through SciPy) for ``exact``.

Nothing here calls matcher's scoring or solver: the pairs and weights come from edges.csv, the
limits from the data folder (read and validated by `matcher.load`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from ortools.graph.python import min_cost_flow
from scipy.optimize import Bounds, LinearConstraint, milp

from matcher.errors import InputError, Problem
from matcher.geo import haversine_km
from matcher.i18n import _
from matcher.load import load_instance
from matcher.model import Instance

#: A certificate holds when the bound it proves is at most the reported bound times 1 + this.
REL_TOL = 1e-6
#: Slack (weight units) on each dual constraint: floating-point rounding of the prices.
DUAL_TOL = 1e-9
#: Pairs per chunk when the hard rules are applied to every candidate-option pair.
CHUNK_PAIRS = 2_000_000
#: Largest number of pairs `matcher verify` re-solves exactly (kind ``exact``).
EXACT_MAX_PAIRS = 200_000
#: Work limit of that solve, in branch-and-bound nodes (its bound is valid when it stops).
EXACT_MAX_NODES = 200_000
SCALE = 1_000_000  # micro-units per weight unit (the flow's integer costs)


@dataclass(frozen=True)
class Check:
    """One line of the verification: what was checked, whether it held, and in words why."""

    name: str
    ok: bool
    detail: str


@dataclass
class Pairs:
    """The round's usable pairs (edges.csv without the forbidden ones) and the data's limits."""

    cand: np.ndarray  # int64 row of candidates.csv
    opt: np.ndarray  # int64 row of options.csv
    weight: np.ndarray  # float64, weight units
    locked: np.ndarray  # bool
    need: np.ndarray  # per candidate
    capacity: np.ndarray  # per option
    option_org: np.ndarray  # per option
    budget: np.ndarray  # per organisation
    edge_org: np.ndarray = field(init=False)
    edge_need: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.edge_org = self.option_org[self.opt]
        self.edge_need = self.need[self.cand].astype(np.float64)

    def lock_free(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(pairs of people without a lock, seats left after the locks, people with a lock)."""
        locked_people = np.zeros(len(self.need), dtype=bool)
        locked_people[self.cand[self.locked]] = True
        seats_left = self.capacity - np.bincount(self.opt[self.locked],
                                                 minlength=len(self.capacity))
        return ~locked_people[self.cand], seats_left, locked_people


# --- the pairs the hard rules allow -------------------------------------------------------------

def rule_pairs(inst: Instance) -> Iterator[np.ndarray]:
    """Keys ``candidate * n_options + option`` of every pair that passes the four hard rules
    (language, hours, travel, guidance), over every candidate-option pair, chunk by chunk."""
    c, o = inst.candidates, inst.options
    n_opt = inst.n_options
    o_level, o_hours = o["level"].to_numpy(), o["hours_min"].to_numpy()
    o_lat, o_lon = o["lat"].to_numpy(np.float64), o["lon"].to_numpy(np.float64)
    o_budget = inst.organisations["guidance_capacity"].to_numpy()[o["org"].to_numpy()]
    step = max(1, CHUNK_PAIRS // max(n_opt, 1))
    for start in range(0, inst.n_candidates, step):
        rows = np.arange(start, min(start + step, inst.n_candidates))
        cand = np.repeat(rows, n_opt)
        opt = np.tile(np.arange(n_opt), len(rows))
        ok = c["level"].to_numpy()[cand] >= o_level[opt]
        ok &= c["hours_available"].to_numpy()[cand] >= o_hours[opt]
        ok &= c["guidance_need"].to_numpy()[cand] <= o_budget[opt]
        dist = haversine_km(c["lat"].to_numpy(np.float64)[cand], c["lon"].to_numpy(np.float64)[cand],
                            o_lat[opt], o_lon[opt])
        ok &= dist <= c["max_travel_km"].to_numpy(np.float64)[cand]
        yield cand[ok].astype(np.int64) * n_opt + opt[ok]


# --- the bound each kind of certificate proves ---------------------------------------------------

def lagrangian_bound(pairs: Pairs, lam: np.ndarray) -> float:
    """``sum lam * capacity`` plus the locked pairs' priced weights plus one min-cost flow of
    the others' priced weights under the seats left (weight units)."""
    free, seats_left, _ = pairs.lock_free()
    priced = pairs.weight - lam[pairs.edge_org] * pairs.edge_need
    micro = np.rint(priced * SCALE).astype(np.int64)
    arcs = np.flatnonzero(free & (micro > 0))
    n_c, n_o = len(pairs.need), len(pairs.capacity)
    source, sink = n_c + n_o, n_c + n_o + 1
    people = np.unique(pairs.cand[arcs])
    flow = min_cost_flow.SimpleMinCostFlow()
    tails = np.concatenate([np.full(len(people), source), pairs.cand[arcs],
                            n_c + np.arange(n_o), [source]])
    heads = np.concatenate([people, n_c + pairs.opt[arcs], np.full(n_o, sink), [sink]])
    caps = np.concatenate([np.ones(len(people) + len(arcs), dtype=np.int64),
                           np.maximum(seats_left, 0), [len(people)]])
    costs = np.concatenate([np.zeros(len(people), dtype=np.int64), -micro[arcs],
                            np.zeros(n_o + 1, dtype=np.int64)])
    flow.add_arcs_with_capacity_and_unit_cost(tails.astype(np.int32), heads.astype(np.int32),
                                              caps.astype(np.int64), costs.astype(np.int64))
    supplies = np.zeros(n_c + n_o + 2, dtype=np.int64)
    supplies[source], supplies[sink] = len(people), -len(people)
    flow.set_nodes_supplies(np.arange(len(supplies), dtype=np.int32), supplies)
    if flow.solve() != flow.OPTIMAL:
        raise RuntimeError("the min-cost flow found no optimum")
    return math.fsum([float((lam * pairs.budget).sum()), float(priced[pairs.locked].sum()),
                      -flow.optimal_cost() / SCALE])


def dual_check(pairs: Pairs, lam: np.ndarray, v: np.ndarray,
               u: np.ndarray) -> tuple[float, float, int]:
    """(bound, worst violation, its pair) of dual prices: ``u + v + lam * need >= weight`` on
    every pair of a person without a lock and on each locked pair (a locked person's u may be
    negative); the bound is ``sum u + sum capacity * v + sum budget * lam``."""
    free, _, locked_people = pairs.lock_free()
    reduced = (u[pairs.cand] + v[pairs.opt] + lam[pairs.edge_org] * pairs.edge_need
               - pairs.weight)
    checked = free | pairs.locked
    slack = np.where(checked, reduced, np.inf)
    worst = int(np.argmin(slack)) if len(slack) else -1
    violation = max(0.0, -float(slack[worst])) if worst >= 0 else 0.0
    negative = np.flatnonzero(~locked_people & (u < -DUAL_TOL))
    if len(negative):
        violation = max(violation, -float(u[negative].min()))
    bound = math.fsum([math.fsum(u.tolist()), float((pairs.capacity * v).sum()),
                       float((pairs.budget * lam).sum())])
    return bound, violation, worst


def exact_bound(pairs: Pairs, keep: np.ndarray) -> tuple[float, bool]:
    """An exact solve (HiGHS's MIP through SciPy, this module's own model) over the pairs
    `keep` and the locked pairs: (a bound on their best assignment in weight units, proven)."""
    keep = keep | pairs.locked
    idx = np.flatnonzero(keep)
    n, n_c, n_o = len(idx), len(pairs.need), len(pairs.capacity)
    if n == 0:
        return 0.0, True
    cols = np.arange(n)
    rows = np.concatenate([pairs.cand[idx], n_c + pairs.opt[idx], n_c + n_o + pairs.edge_org[idx]])
    vals = np.concatenate([np.ones(2 * n), pairs.edge_need[idx]])
    matrix = sp.csc_matrix((vals, (rows, np.tile(cols, 3))),
                           shape=(n_c + n_o + len(pairs.budget), n))
    upper = np.concatenate([np.ones(n_c), pairs.capacity, pairs.budget]).astype(np.float64)
    weight = np.rint(pairs.weight[idx] * SCALE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # mip_abs_gap: passed to HiGHS as it is
        res = milp(-weight, integrality=np.ones(n),
                   bounds=Bounds(pairs.locked[idx].astype(np.float64), np.ones(n)),
                   constraints=LinearConstraint(matrix, -np.inf, upper),
                   options={"node_limit": EXACT_MAX_NODES, "mip_rel_gap": 0.0,
                            "mip_abs_gap": 0.5, "presolve": True})
    if res.status == 2:  # infeasible: no assignment keeps the locks
        return -math.inf, True
    proven = res.status == 0 and res.x is not None
    dual = -float(res.mip_dual_bound) if res.mip_dual_bound is not None else math.inf
    best = -float(res.fun) if proven else dual
    return math.floor(best + 1e-3) / SCALE, proven


def exact_certificate_bound(pairs: Pairs, cert: dict[str, Any], reported: float,
                            lam: np.ndarray, v: np.ndarray | None,
                            u: np.ndarray | None) -> tuple[float, str]:
    """The bound an ``exact`` certificate proves: with prices, the pairs they price out need no
    solve (an assignment using one is worth less than `reported`), the rest is solved exactly."""
    keep = np.ones(len(pairs.cand), dtype=bool)
    note = ""
    if v is not None and u is not None:
        dual, violation, _worst = dual_check(pairs, lam, v, u)
        if violation > DUAL_TOL:
            return math.inf, _("the prices break a dual constraint by {v:.3g}").format(v=violation)
        reduced = (u[pairs.cand] + v[pairs.opt] + lam[pairs.edge_org] * pairs.edge_need
                   - pairs.weight)
        keep = reduced <= dual - reported * (1 - REL_TOL) + DUAL_TOL
        note = _("{k} of {n} pairs priced in").format(k=int(keep.sum()), n=len(keep))
    if int(keep.sum()) > EXACT_MAX_PAIRS:
        return math.inf, _("{k} pairs: more than {m} to re-solve").format(
            k=int(keep.sum()), m=EXACT_MAX_PAIRS)
    bound, proven = exact_bound(pairs, keep)
    if not proven:
        note += (", " if note else "") + _("not proven within {n} nodes").format(n=EXACT_MAX_NODES)
    return bound, note


# --- reading a round ------------------------------------------------------------------------------

def _csv(path: Path) -> pd.DataFrame:
    """A round's CSV file in either dialect (standard or excel-nl)."""
    with path.open(encoding="utf-8-sig") as fh:
        header = fh.readline()
    if ";" in header:
        return pd.read_csv(path, sep=";", decimal=",", encoding="utf-8-sig",
                           keep_default_na=False, dtype={"candidate_id": str, "option_id": str})
    return pd.read_csv(path, keep_default_na=False, dtype={"candidate_id": str, "option_id": str})


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _positions(ids: pd.Series, index: pd.Index) -> np.ndarray:
    return np.asarray(index.get_indexer(ids.astype(str)), dtype=np.int64)


def _bool(col: pd.Series) -> np.ndarray:
    return col.astype(str).str.lower().isin(("true", "1", "waar")).to_numpy()


@dataclass
class RoundFiles:
    meta: dict[str, Any]
    edges: pd.DataFrame
    assignments: pd.DataFrame


def read_round(round_dir: Path) -> RoundFiles:
    """round.json, edges.csv and assignments.csv of a written round (InputError naming the file
    that is missing or unreadable)."""
    round_dir = Path(round_dir)
    try:
        meta = json.loads((round_dir / "round.json").read_text("utf-8"))
        edges = _csv(round_dir / "edges.csv")
        assignments = _csv(round_dir / "assignments.csv")
    except (OSError, ValueError) as exc:
        name = getattr(exc, "filename", None) or "round.json"
        raise InputError([Problem(Path(str(name)).name, None, None,
                                  f"cannot read the round: {exc}")]) from None
    for name, df, cols in (("edges.csv", edges, ("candidate_id", "option_id", "weight",
                                                 "eligible", "decision")),
                           ("assignments.csv", assignments, ("candidate_id", "option_id"))):
        missing = [c for c in cols if c not in df.columns]
        if missing:
            raise InputError([Problem(name, None, missing[0], "column missing")])
    return RoundFiles(meta, edges, assignments)


# --- the checks -----------------------------------------------------------------------------------

def check_files(round_dir: Path, meta: dict[str, Any], inst: Instance) -> list[Check]:
    out = [Check("input", inst.content_hash == meta.get("input_hash"),
                 _("the data folder is the round's input") if inst.content_hash ==
                 meta.get("input_hash") else _("the data folder is not the round's input "
                                               "(input_hash differs)"))]
    changed = [name for name, digest in sorted(meta.get("outputs", {}).items())
               if not (round_dir / name).is_file() or _sha256(round_dir / name) != digest]
    out.append(Check("files", not changed, _("every file as round.json lists it") if not changed
                     else _("changed or missing: {names}").format(names=", ".join(changed))))
    return out


def _examples(keys: np.ndarray, inst: Instance) -> str:
    n_opt = max(inst.n_options, 1)
    ids = [f"{inst.candidates['candidate_id'].iat[int(k) // n_opt]}/"
           f"{inst.options['option_id'].iat[int(k) % n_opt]}" for k in keys[:3]]
    return ", ".join(ids) + (", ..." if len(keys) > 3 else "")


def check_pairs(inst: Instance, edges: pd.DataFrame, meta: dict[str, Any]
                ) -> tuple[Check, Check, np.ndarray, np.ndarray]:
    """edges.csv against the hard rules and decisions.csv; returns the two checks and
    (edges.csv's keys, their decision codes: 0 none, 1 lock, 2 forbid)."""
    n_opt = max(inst.n_options, 1)
    cand = _positions(edges["candidate_id"], pd.Index(inst.candidates["candidate_id"]))
    opt = _positions(edges["option_id"], pd.Index(inst.options["option_id"]))
    unknown = (cand < 0) | (opt < 0)
    keys = np.where(unknown, -1, cand * n_opt + opt)
    eligible = _bool(edges["eligible"])
    decision = edges["decision"].astype(str).map({"": 0, "lock": 1, "forbid": 2})
    rules = np.unique(np.concatenate(list(rule_pairs(inst)) or [np.zeros(0, np.int64)]))
    written = np.unique(keys[eligible & ~unknown])
    missing = np.setdiff1d(rules, written)
    extra = np.setdiff1d(written, rules)
    top_k = int(meta.get("policy", {}).get("eligibility", {}).get("max_options_per_candidate", 0))
    if top_k > 0:
        missing = np.zeros(0, np.int64)  # each person's best K: a subset of the eligible pairs
    problems = []
    if unknown.any():
        problems.append(_("{n} rows name an unknown candidate or option").format(
            n=int(unknown.sum())))
    if len(np.unique(keys)) != len(keys):
        problems.append(_("a pair is written twice"))
    if len(missing):
        problems.append(_("{n} eligible pairs missing ({ex})").format(
            n=len(missing), ex=_examples(missing, inst)))
    if len(extra):
        problems.append(_("{n} pairs marked eligible break a hard rule ({ex})").format(
            n=len(extra), ex=_examples(extra, inst)))
    off_rules = ~eligible & (decision.to_numpy() != 1)
    if off_rules.any():
        problems.append(_("{n} pairs outside the hard rules that are not locks").format(
            n=int(off_rules.sum())))
    detail = _("{n} pairs, exactly those the hard rules allow").format(n=len(rules))
    if top_k > 0:
        detail = _("{n} pairs, each person's best {k} of those the hard rules allow").format(
            n=len(written), k=top_k)
    pairs_check = Check("pairs", not problems, "; ".join(problems) or detail)
    codes = decision.fillna(-1).to_numpy(np.int64)
    dec = inst.decisions
    wanted = pd.Series(np.where(dec["decision"] == "lock", 1, 2),
                       index=dec["cand"].to_numpy(np.int64) * n_opt + dec["opt"].to_numpy(np.int64))
    written_dec = pd.Series(codes, index=keys)
    written_dec = written_dec[written_dec != 0]
    # A forbid of a pair outside the hard rules is not written (nothing to forbid); every
    # eligible pair is (the pairs check), so a forbid missing from edges.csv is of such a pair.
    absent = ~wanted.index.isin(keys)
    wanted_written = wanted[~(absent & (wanted == 2))]
    wrong = sorted(set(wanted_written.index[wanted_written.ne(written_dec.reindex(
        wanted_written.index))].tolist())
                   | set(written_dec.index[written_dec.ne(wanted.reindex(
                       written_dec.index))].tolist()))
    dec_check = Check("decisions", not wrong, _("{n} decisions, as decisions.csv has them").format(
        n=len(wanted)) if not wrong else _("decisions not as in decisions.csv: {ex}").format(
        ex=_examples(np.asarray(wrong, dtype=np.int64), inst)))
    return pairs_check, dec_check, keys, codes


def build_pairs(inst: Instance, keys: np.ndarray, codes: np.ndarray,
                edges: pd.DataFrame) -> Pairs:
    usable = (codes != 2) & (keys >= 0)
    n_opt = max(inst.n_options, 1)
    k = keys[usable]
    order = np.argsort(k, kind="stable")
    return Pairs(cand=(k // n_opt)[order], opt=(k % n_opt)[order],
                 weight=edges["weight"].to_numpy(np.float64)[usable][order],
                 locked=(codes[usable] == 1)[order],
                 need=inst.candidates["guidance_need"].to_numpy(np.float64),
                 capacity=inst.options["capacity"].to_numpy(np.int64),
                 option_org=inst.options["org"].to_numpy(np.int64),
                 budget=inst.organisations["guidance_capacity"].to_numpy(np.float64))


def check_assignment(inst: Instance, pairs: Pairs, assignments: pd.DataFrame,
                     meta: dict[str, Any]) -> tuple[Check, float]:
    """The assignment's limits and value; returns the check and the value (weight units)."""
    n_opt = max(inst.n_options, 1)
    cand = _positions(assignments["candidate_id"], pd.Index(inst.candidates["candidate_id"]))
    opt = _positions(assignments["option_id"], pd.Index(inst.options["option_id"]))
    keys = pairs.cand * n_opt + pairs.opt
    pos = np.searchsorted(keys, cand * n_opt + opt)
    pos = np.minimum(pos, max(len(keys) - 1, 0))
    known = (cand >= 0) & (opt >= 0) & (len(keys) > 0)
    known &= keys[pos] == cand * n_opt + opt if len(keys) else known
    problems = []
    if not known.all():
        problems.append(_("{n} assignments are not a usable pair (unknown, forbidden or not "
                          "eligible)").format(n=int((~known).sum())))
    chosen = np.zeros(len(keys), dtype=bool)
    chosen[pos[known]] = True
    twice = np.flatnonzero(np.bincount(cand[cand >= 0], minlength=inst.n_candidates) > 1)
    if len(twice):
        problems.append(_("{n} people have more than one option ({ids})").format(
            n=len(twice), ids=", ".join(inst.candidates["candidate_id"].iloc[twice[:3]])))
    seats = np.bincount(pairs.opt[chosen], minlength=len(pairs.capacity))
    for o in np.flatnonzero(seats > pairs.capacity)[:3]:
        problems.append(_("option {id} has {n} people for {cap} seats").format(
            id=inst.options["option_id"].iat[o], n=int(seats[o]), cap=int(pairs.capacity[o])))
    used = np.bincount(pairs.edge_org[chosen], weights=pairs.edge_need[chosen],
                       minlength=len(pairs.budget))
    for g in np.flatnonzero(used > pairs.budget + 1e-9)[:3]:
        problems.append(_("organisation {id} uses {n:g} guidance units of {cap:g}").format(
            id=inst.organisations["organisation_id"].iat[g], n=used[g], cap=pairs.budget[g]))
    dropped = int((pairs.locked & ~chosen).sum())
    if dropped:
        problems.append(_("{n} locks not kept").format(n=dropped))
    value = math.fsum(pairs.weight[chosen].tolist())
    reported = float(meta.get("solver", {}).get("objective", math.nan))
    if not math.isclose(value, reported, rel_tol=1e-9, abs_tol=1e-6):
        problems.append(_("value {v:.6f}, round.json says {r:.6f}").format(v=value, r=reported))
    return Check("assignment", not problems, "; ".join(problems) or _(
        "{n} people placed, every limit kept, value {v:.6f}").format(n=int(chosen.sum()),
                                                                     v=value)), value


def _prices(cert: dict[str, Any], key: str, ids: pd.Series) -> np.ndarray:
    """A certificate's price map as an array in the data's order (InputError when it names an
    id the data does not have or is not a number)."""
    table = cert.get(key, {})
    if not isinstance(table, dict):
        raise InputError([Problem("round.json", None, f"solver.certificate.{key}",
                                  "expected a map from id to number")])
    unknown = sorted(set(table) - set(ids.astype(str)))
    if unknown:
        raise InputError([Problem("round.json", None, f"solver.certificate.{key}",
                                  f"unknown id {unknown[0]!r}")])
    out = np.asarray([float(table.get(str(i), 0.0)) for i in ids.tolist()], dtype=np.float64)
    if not np.isfinite(out).all():
        raise InputError([Problem("round.json", None, f"solver.certificate.{key}",
                                  "not a finite number")])
    return out


def check_certificate(inst: Instance, pairs: Pairs, meta: dict[str, Any],
                      value: float) -> Check:
    """The bound the certificate proves against the bound reported."""
    cert = meta.get("solver", {}).get("certificate")
    reported = float(meta.get("solver", {}).get("bound", math.nan))
    if not isinstance(cert, dict) or cert.get("kind") not in ("lagrangian", "dual", "exact"):
        return Check("certificate", False, _("round.json has no certificate of a known kind"))
    kind = str(cert["kind"])
    lam = _prices(cert, "budget_prices", inst.organisations["organisation_id"])
    v = u = None
    if "option_duals" in cert:
        v = _prices(cert, "option_duals", inst.options["option_id"])
        u = _prices(cert, "candidate_duals", inst.candidates["candidate_id"])
    note = ""
    if (lam < 0).any() or (v is not None and (v < 0).any()):
        return Check("certificate", False, _("a price is negative"))
    if kind == "lagrangian":
        bound = lagrangian_bound(pairs, lam)
    elif kind == "dual":
        if v is None or u is None:
            return Check("certificate", False, _("a dual certificate without its dual prices"))
        bound, violation, worst = dual_check(pairs, lam, v, u)
        if violation > DUAL_TOL:
            c, o = int(pairs.cand[worst]), int(pairs.opt[worst])
            return Check("certificate", False, _(
                "dual constraint broken by {v:.3g} at {c}/{o}").format(
                v=violation, c=inst.candidates["candidate_id"].iat[c],
                o=inst.options["option_id"].iat[o]))
    else:
        if str(cert.get("method", "")).startswith("chain_milp") or "+" in str(cert.get("method")):
            return Check("certificate", False, _(
                "an exact optimum of method {m}: not re-provable by matcher verify").format(
                m=cert.get("method")))
        bound, note = exact_certificate_bound(pairs, cert, reported, lam, v, u)
    holds = bound <= reported * (1 + REL_TOL) + 1e-9
    detail = _("{kind}: bound from the certificate {b:.6f} <= reported bound {r:.6f}").format(
        kind=kind, b=bound, r=reported) if holds else _(
        "{kind}: bound from the certificate {b:.6f} > reported bound {r:.6f}").format(
        kind=kind, b=bound, r=reported)
    if bound < value - 1e-6 * max(1.0, abs(value)):
        holds = False
        detail = _("{kind}: bound from the certificate {b:.6f} is below the assignment's value "
                   "{v:.6f}: the certificate is wrong").format(kind=kind, b=bound, v=value)
    return Check("certificate", holds, detail + (f" ({note})" if note else ""))


def with_stability_bonus(inst: Instance, pairs: Pairs, round_dir: Path,
                         meta: dict[str, Any]) -> Pairs:
    """A round with a previous round (``matcher run --previous``) maximised its weights plus
    ``stability_bonus`` on each person's previous proposal (matcher.stability): the same
    weights here, from the proposals it wrote (previous.csv, checked by its hash)."""
    from matcher.stability import PROPOSALS_FILE, bonus_weights

    stab = meta.get("stability")
    if not isinstance(stab, dict) or not stab.get("stability_bonus"):
        return pairs
    try:
        proposals = _csv(round_dir / PROPOSALS_FILE).astype(str)
    except (OSError, ValueError) as exc:
        raise InputError([Problem(PROPOSALS_FILE, None, None,
                                  f"cannot read the round: {exc}")]) from None
    bonus = bonus_weights(inst, pairs.cand, pairs.opt, proposals,
                          round(float(stab["stability_bonus"]) * SCALE))
    return dataclasses.replace(pairs, weight=pairs.weight + bonus / SCALE)


def verify_round(data_dir: Path, round_dir: Path) -> list[Check]:
    """Every check of the module docstring, in order (InputError when a file cannot be read)."""
    inst, _warnings = load_instance(Path(data_dir))
    files = read_round(Path(round_dir))
    checks = check_files(Path(round_dir), files.meta, inst)
    pairs_check, dec_check, keys, codes = check_pairs(inst, files.edges, files.meta)
    checks += [pairs_check, dec_check]
    pairs = with_stability_bonus(inst, build_pairs(inst, keys, codes, files.edges),
                                 Path(round_dir), files.meta)
    assignment, value = check_assignment(inst, pairs, files.assignments, files.meta)
    checks.append(assignment)
    checks.append(check_certificate(inst, pairs, files.meta, value))
    return checks
