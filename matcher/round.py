"""A matching round: load and validate -> score -> solve -> report, and its all-or-nothing output."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import platform
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from matcher import __version__
from matcher.atomic import check_replaceable, real_path, replace_dir, staging_dir
from matcher.carry_over import carry_over, same_problem, warm_start
from matcher.certificate import certificate_json, certificate_of
from matcher.chain import report as chain_report
from matcher.chain.checks import lock_problems
from matcher.chain.model import ChainSolution, chain_active, solve_chain_round
from matcher.csvout import write_csv
from matcher.errors import InputError, Problem
from matcher.explain import main_reasons, unmatched_reasons
from matcher.locks import lock_conflicts
from matcher.model import Instance
from matcher.parallel import Mapper
from matcher.policy import Policy
from matcher.prewrite import EDGES_FILE, EdgesPrewrite, write_edges
from matcher.progress import report
from matcher.scoring import SCALE, EdgeTable, build_edges
from matcher.scoring.table import FORBID, LOCK
from matcher.solver import AssignmentProblem, Method, SolveDetails, SolveResult, Status, strategy
from matcher.solver.decompose import organisation_regions
from matcher.solver.fairness import target_groups
from matcher.stability import (
    MOVES_FILE,
    PROPOSALS_FILE,
    Previous,
    Stability,
    Targets,
    bonus_micro,
    pair_bonus,
    stability,
    with_bonus,
)
from matcher.stability import targets as stability_targets

log = logging.getLogger(__name__)

OUTPUT_FILES = ("assignments.csv", "unmatched.csv", "edges.csv", "utilisation.csv")


@dataclass(frozen=True)
class Round:
    instance: Instance
    policy: Policy
    edges: EdgeTable
    usable: np.ndarray  # edges given to the solver (not forbidden)
    problem: AssignmentProblem  # the solver's arrays (weights with the stability bonus, if any)
    result: SolveResult
    chosen: np.ndarray  # over all edges
    timings: dict[str, float]
    warnings: list[Problem] = field(default_factory=list)
    chain: ChainSolution | None = None  # routes, single pairs and cohorts (chain inputs only)
    date: str | None = None  # the round's date (`matcher run --date`), ISO
    stability: Stability | None = None  # who kept and who moved (`--previous` only)

    @property
    def assignments(self) -> pd.DataFrame:
        return assignments_frame(self)

    @property
    def unmatched(self) -> pd.DataFrame:
        use = None if self.chain is None else chain_report.chain_use(
            self.instance, self.problem, self.chain, self.edges.cand, self.edges.opt)
        return unmatched_reasons(self.instance, self.edges, self.usable, self.chosen, use)

    @property
    def utilisation(self) -> pd.DataFrame:
        if self.chain is not None:
            return chain_report.utilisation(self.instance, self.problem, self.chain)
        return utilisation_frame(self)

    @property
    def has_routes(self) -> bool:
        return self.chain is not None and not self.instance.routes.empty

    @property
    def output_files(self) -> tuple[str, ...]:
        """The CSV files this round writes (route_edges.csv only in a round with routes,
        moves.csv only with a previous round)."""
        return (OUTPUT_FILES + ((chain_report.ROUTE_EDGES_FILE,) if self.has_routes else ())
                + ((MOVES_FILE, PROPOSALS_FILE) if self.stability is not None else ()))


def make_problem(inst: Instance, edges: EdgeTable) -> tuple[AssignmentProblem, np.ndarray]:
    """The solver's arrays; forbidden pairs are left out. Returns (problem, usable edge mask)."""
    usable = edges.decision != FORBID
    # Without forbidden pairs the solver's arrays are the edge table's own (no copies).
    idx: np.ndarray | slice = slice(None) if usable.all() else np.flatnonzero(usable)
    problem = AssignmentProblem(
        cand=edges.cand[idx],
        opt=edges.opt[idx],
        weight=edges.weight_int[idx],
        locked=edges.decision[idx] == LOCK,
        capacity=inst.options["capacity"].to_numpy(np.int64),
        option_org=inst.options["org"].to_numpy(np.int32),
        budget=inst.organisations["guidance_capacity"].to_numpy(np.int64),
        need=inst.candidates["guidance_need"].to_numpy(np.int64),
    )
    return problem, usable


def check_locks(inst: Instance) -> None:
    """Coordinators' locks must fit the seats and guidance capacity they use: InputError naming
    the conflicting locks and what would have to change (`matcher.locks`), before any solving."""
    if bad := lock_conflicts(inst):
        raise InputError(bad)


def region_labels(inst: Instance, problem: AssignmentProblem) -> np.ndarray | None:
    """Per organisation: its region (the options.csv region column, first in id order among its
    options' regions), or None when the options name fewer than two regions."""
    if "region" not in inst.options.columns:
        return None
    codes, names = pd.factorize(inst.options["region"].astype(str), sort=True)
    if len(names) < 2:
        return None
    return organisation_regions(problem, codes)


def round_date(text: str | None) -> str | None:
    """A round's date (`--date`) as ISO text; InputError naming the option when it is not one."""
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        raise InputError([Problem("--date", None, None, f"expected an ISO date such as "
                                  f"2027-01-11, got {text!r}")]) from None


def run_round(inst: Instance, policy: Policy, warnings: list[Problem] | None = None, *,
              score_mapper: Mapper | None = None, solve_mapper: Mapper | None = None,
              by_region: Callable[[EdgeTable, Instance], object] | None = None,
              date: str | None = None, previous: Previous | None = None) -> Round:
    """Score and solve a round (`date`: the round's ISO date, for the follow-on places'
    start; `previous`: the previous round's proposals, kept unless moving people gains more
    than ``objective.stability_bonus`` each, :mod:`matcher.stability`); the solve is
    `solve_round`'s. `score_mapper` scores chunks of candidates in its workers, `solve_mapper`
    solves the parts of a round solved by region (`matcher.parallel`; each sequential by
    default, the same answer with any). `by_region(edges, instance)` is called before the
    solve when the round is solved by region (a large round): the CLI starts edges.csv's write
    then (`EdgesPrewrite`), which does not depend on the answer. (In a city's round that write,
    at idle priority, slowed the solve by more than it saved: 2-3 s against 1 s, session 13.)"""
    check_locks(inst)
    if chain_active(inst) and (bad := lock_problems(inst)):
        raise InputError(bad)
    t = time.perf_counter()
    edges = build_edges(inst, policy, score_mapper)
    timings = {"score": time.perf_counter() - t}
    warn = list(warnings or [])
    off_rules = np.flatnonzero(~edges.eligible)
    for e in off_rules.tolist():
        warn.append(Problem(
            "decisions.csv", None, None,
            f"lock of candidate {inst.candidates['candidate_id'].iat[edges.cand[e]]!r} to option "
            f"{inst.options['option_id'].iat[edges.opt[e]]!r} is outside the hard rules; kept",
            "warning"))
    return solve_round(inst, policy, edges, timings, warn, mapper=solve_mapper,
                       by_region=by_region, date=date, previous=previous)


def solve_round(inst: Instance, policy: Policy, edges: EdgeTable,
                timings: dict[str, float] | None = None, warnings: list[Problem] | None = None,
                *, prev: Round | None = None, warm: bool = True, regions: bool = True,
                mapper: Mapper | None = None,
                by_region: Callable[[EdgeTable, Instance], object] | None = None,
                date: str | None = None, previous: Previous | None = None) -> Round:
    """Solve a round on its scored edge table: the one solve path of the CLI, the API, what-if,
    the price of decisions and the benchmarks. Encodes the table (`make_problem`), lets
    `matcher.solver.strategy` plan and run the solve, and decodes the answer (`decode`).

    A round with chain inputs is solved by the chain model (`chain_round`). `regions`: the
    round may be solved by region (`strategy.solves_by_region`); `by_region(edges, instance)`
    is called first when it is. With `prev` (a related round: a what-if's baseline) the solver
    is warm-started from it (`carry_over.warm_start`, unless `warm` is False) and its
    assignment carried over (`carry_over.carry_over`) is a second candidate answer, so a
    scenario that only adds capacity never scores below the baseline and people do not move
    for nothing; when nothing the solver sees changed (`same_problem`), `prev`'s answer is the
    answer (the solver is deterministic). `previous` (another thing than `prev`: an earlier
    round's proposals, `matcher run --previous`) adds ``objective.stability_bonus`` to each
    person's previous proposal in the solver's objective (:mod:`matcher.stability`); the round
    reports who kept and who moved. Raises InputError when the locks are infeasible."""
    timings = dict(timings or {})
    warn = list(warnings or [])
    check_locks(inst)
    stable = None if previous is None else (
        stability_targets(inst, previous), bonus_micro(policy.objective.stability_bonus))
    if chain_active(inst):  # routes, hours or cohorts: the exact chain model, never warm
        return with_stability(chain_round(inst, policy, edges, timings, warn, date, stable),
                              previous)
    t = time.perf_counter()
    problem, usable = make_problem(inst, edges)
    solved = problem if stable is None else with_bonus(problem, pair_bonus(problem, *stable),
                                                       stable[1])
    if prev is not None and same_problem(prev, inst, policy, solved):
        result = prev.result
    else:
        start = carry_over(prev, inst, solved) if prev is not None else None
        ws = warm_start(prev, inst, solved, start) if prev is not None and warm else None
        labels = region_labels(inst, solved) if regions else None
        how = strategy.plan(solved, policy, labels, ws, start)
        if by_region is not None and how.route is strategy.Route.BY_REGION:
            by_region(edges, inst)
        groups = target_groups(inst.candidates, policy) if how.fairness else None
        result = strategy.execute(solved, policy, how, mapper, groups)
    timings["solve"] = time.perf_counter() - t
    if result.status is Status.INFEASIBLE:  # check_locks should have caught it
        raise InputError([Problem("decisions.csv", None, None, r)
                          for r in result.details.reasons])
    # the solver's arrays (with the stability bonus): what the certificate's prices are for
    return with_stability(Round(inst, policy, edges, usable, solved, result,
                                decode(len(edges), usable, result.chosen), timings, warn, None,
                                date), previous)


def with_stability(rnd: Round, previous: Previous | None) -> Round:
    """The round with who kept and who moved against `previous` (the round itself without)."""
    if previous is None:
        return rnd
    bonus = bonus_micro(rnd.policy.objective.stability_bonus)
    return replace(rnd, stability=stability(rnd, previous, bonus))


def decode(n_edges: int, usable: np.ndarray, chosen: np.ndarray) -> np.ndarray:
    """The solver's answer (`chosen`, over the usable edges) as a mask over all `n_edges`
    edges of the round's table (`make_problem` encodes: forbidden pairs left out)."""
    out = np.zeros(n_edges, dtype=bool)
    out[np.flatnonzero(usable)[chosen]] = True
    return out


def chain_round(inst: Instance, policy: Policy, edges: EdgeTable, timings: dict[str, float],
                warnings: list[Problem], date: str | None = None,
                stable: tuple[Targets, int] | None = None) -> Round:
    """Solve a round with chain inputs (routes, hours, cohorts) on its edge table by the exact
    chain model (:mod:`matcher.chain`); locks that cannot fit are refused (InputError).
    `stable`: the previous round's proposals and the stability bonus."""
    if bad := lock_problems(inst):
        raise InputError(bad)
    t = time.perf_counter()
    problem, usable = make_problem(inst, edges)
    result, chain, chain_warn = solve_chain_round(inst, policy, edges, usable, problem, stable)
    timings["solve"] = time.perf_counter() - t
    chosen = decode(len(edges), usable, result.chosen)
    return Round(inst, policy, edges, usable, problem, result, chosen, timings,
                 [*warnings, *chain_warn], chain, date)


def replay_round(inst: Instance, policy: Policy, candidate_ids: list[str],
                 option_ids: list[str], status: Status = Status.FEASIBLE,
                 method: Method = Method.REPLAYED) -> Round:
    """A finished round rebuilt from the pairs it chose, without solving again: the same scores,
    edges and reasons as the round that chose them (e.g. to explain a round that was stored).
    Raises InputError naming a pair that is not one of the round's usable pairs."""
    edges = build_edges(inst, policy)
    problem, usable = make_problem(inst, edges)
    n_opt = max(inst.n_options, 1)
    cand = pd.Index(inst.candidates["candidate_id"]).get_indexer(candidate_ids)
    opt = pd.Index(inst.options["option_id"]).get_indexer(option_ids)
    pos = pd.Index(edges.cand.astype(np.int64) * n_opt + edges.opt).get_indexer(
        cand.astype(np.int64) * n_opt + opt)
    bad = (cand < 0) | (opt < 0) | (pos < 0)
    bad[~bad] = ~usable[pos[~bad]]
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError([Problem("assignments.csv", None, None,
                                  f"candidate {candidate_ids[i]!r} and option {option_ids[i]!r} "
                                  "are not a pair this round could choose")])
    chosen = np.zeros(len(edges), dtype=bool)
    chosen[pos] = True
    objective = int(edges.weight_int[chosen].sum())
    result = SolveResult(status, method, chosen[usable], objective, objective,
                         guidance_binding=False, details=SolveDetails(stats={"replayed": True}))
    return Round(inst, policy, edges, usable, problem, result, chosen, {})


def assignments_frame(rnd: Round) -> pd.DataFrame:
    inst = rnd.instance
    sub = rnd.edges.take(np.flatnonzero(rnd.chosen))
    main, reasons = main_reasons(inst, sub, rnd.policy)
    opts = inst.options
    df = pd.DataFrame({
        "candidate_id": inst.candidates["candidate_id"].to_numpy()[sub.cand],
        "option_id": opts["option_id"].to_numpy()[sub.opt],
        "organisation_id": opts["organisation_id"].to_numpy()[sub.opt],
        "option_kind": opts["kind"].to_numpy()[sub.opt],
        "score": sub.score,
        "weight": sub.weight,
        "locked": sub.decision == LOCK,
        "main_reason": main,
        "reasons": reasons,
    })
    if rnd.chain is not None and rnd.has_routes:  # the guaranteed follow-on place
        nxt, start = chain_report.follow_on(inst, sub.cand, rnd.chain, rnd.date)
        df.insert(4, "next_option_id", nxt)
        df.insert(5, "next_start", start)
    return df


def utilisation_frame(rnd: Round) -> pd.DataFrame:
    inst = rnd.instance
    opts, orgs = inst.options, inst.organisations
    e = rnd.edges
    need = inst.candidates["guidance_need"].to_numpy()
    seats = np.bincount(e.opt[rnd.chosen], minlength=inst.n_options)
    guid_opt = np.bincount(e.opt[rnd.chosen], weights=need[e.cand[rnd.chosen]],
                           minlength=inst.n_options).astype(np.int64)
    org = opts["org"].to_numpy()
    option_rows = pd.DataFrame({
        "level": "option",
        "id": opts["option_id"].to_numpy(),
        "organisation_id": opts["organisation_id"].to_numpy(),
        "seats": opts["capacity"].to_numpy(),
        "seats_used": seats,
        "guidance_capacity": pd.array([pd.NA] * len(opts), dtype="Int64"),
        "guidance_used": guid_opt,
    })
    org_rows = pd.DataFrame({
        "level": "organisation",
        "id": orgs["organisation_id"].to_numpy(),
        "organisation_id": orgs["organisation_id"].to_numpy(),
        "seats": np.bincount(org, weights=opts["capacity"].to_numpy(),
                             minlength=len(orgs)).astype(np.int64),
        "seats_used": np.bincount(org, weights=seats, minlength=len(orgs)).astype(np.int64),
        "guidance_capacity": orgs["guidance_capacity"].to_numpy(),
        "guidance_used": np.bincount(org, weights=guid_opt, minlength=len(orgs)).astype(np.int64),
    })
    return pd.concat([org_rows, option_rows], ignore_index=True)


def versions() -> dict[str, str]:
    out = {"matcher": __version__, "python": platform.python_version()}
    # numba and llvmlite compile the auction (matcher.solver.auction): part of the answer.
    for dist in ("ortools", "numpy", "scipy", "pandas", "numba", "llvmlite"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "unknown"
    return out


def summary(rnd: Round, unmatched: pd.DataFrame | None = None) -> dict[str, Any]:
    """The deterministic part of round.json (`unmatched`: rnd.unmatched if already computed)."""
    r, inst = rnd.result, rnd.instance
    matched = int(rnd.chosen.sum())
    unmatched = rnd.unmatched if unmatched is None else unmatched
    return {
        "input_hash": inst.content_hash,
        "policy_hash": rnd.policy.hash,
        "policy": rnd.policy.model_dump(mode="json"),
        "versions": versions(),
        "counts": {
            "candidates": inst.n_candidates,
            "options": inst.n_options,
            "organisations": inst.n_organisations,
            "seats": int(inst.options["capacity"].sum()),
            "eligible_pairs": int(rnd.edges.eligible.sum()),
            "locks": int((inst.decisions["decision"] == "lock").sum()),
            "forbids": int((inst.decisions["decision"] == "forbid").sum()),
            "matched": matched,
            "unmatched": inst.n_candidates - matched,
            "unmatched_by_reason": {k: int(v) for k, v in
                                    sorted(unmatched["reason"].value_counts().items())},
        },
        "solver": {
            "status": str(r.status),
            "method": r.method,
            "objective": r.objective / SCALE,
            "bound": r.bound / SCALE,
            "gap": round(r.gap, 9),
            "guidance_binding": r.guidance_binding,
            "objective_micro": r.objective,
            "bound_micro": r.bound,
        } | _certificate(rnd),
        "warnings": [str(w) for w in rnd.warnings],
    } | ({"fairness": r.details.fairness} if r.details.fairness is not None else {}) | (
        {"chain": chain_report.counts(inst, rnd.chain)} if rnd.chain is not None else {}) | (
        {"date": rnd.date} if rnd.date is not None else {}) | (
        {"stability": rnd.stability.summary()} if rnd.stability is not None else {})


def _certificate(rnd: Round) -> dict[str, Any]:
    """round.json's ``solver.certificate`` (`matcher.certificate`), when the round was solved."""
    cert = certificate_of(rnd.problem, rnd.result)
    return {} if cert is None else {"certificate": certificate_json(rnd.instance, rnd.problem,
                                                                   cert)}


CSV_DIALECTS = {
    "standard": {"sep": ",", "decimal": ".", "encoding": "utf-8"},
    "excel-nl": {"sep": ";", "decimal": ",", "encoding": "utf-8-sig"},
}


def _write_csv(df: pd.DataFrame, path: Path, dialect: str) -> str:
    """Write one output table (bytes as ``to_csv`` writes them); returns its sha256."""
    return write_csv(df, path, **CSV_DIALECTS[dialect])


def round_files(out_dir: Path) -> set[str]:
    """The files an earlier round in `out_dir` wrote (as its round.json lists them)."""
    own = {*OUTPUT_FILES, "round.json"}
    try:
        meta = json.loads((real_path(out_dir) / "round.json").read_text("utf-8"))
        own |= set(meta.get("outputs", {})) | set(meta.get("run", {}).get("extra_outputs", {}))
    except (OSError, ValueError, AttributeError, TypeError):
        pass  # not readable: the files every round writes
    return own


def check_out_dir(out_dir: Path, force: bool = False) -> None:
    """An output folder may be replaced only if it is empty or holds an earlier round and no
    file that round did not write (any folder with `force`)."""
    check_replaceable(out_dir, "round.json", "an earlier round", round_files(out_dir), force)


def write_round(rnd: Round, out_dir: Path, extra_timings: dict[str, float] | None = None,
                dialect: str = "standard",
                extra_files: dict[str, bytes] | None = None,
                edges: EdgesPrewrite | None = None, force: bool = False) -> dict[str, Any]:
    """Write the round's files into `out_dir`, all or nothing; returns round.json's content.

    `extra_files` (name -> content, e.g. the audit's audit.json and audit.md) are written with
    the round; their hashes go into the `run` section, so the rest of round.json does not depend
    on them. `edges` is edges.csv written in the background while the round was solved (made
    with the same dialect); without it, or when that write was not started or is not finished,
    edges.csv is written here.

    Files are written to a temporary folder beside `out_dir` and moved in at the end. An
    existing `out_dir` is replaced only if it is empty or holds an earlier round (a round.json)
    and no file that round did not write, or with `force`.
    """
    out_dir = Path(out_dir)
    check_out_dir(out_dir, force)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    tmp = staging_dir(out_dir)
    try:
        frames = {
            "assignments.csv": rnd.assignments,
            "unmatched.csv": rnd.unmatched,
            "utilisation.csv": rnd.utilisation,
        }
        if rnd.chain is not None and rnd.has_routes:
            frames[chain_report.ROUTE_EDGES_FILE] = chain_report.route_edges_frame(
                rnd.instance, rnd.chain.routes)
        if rnd.stability is not None:
            frames[MOVES_FILE] = rnd.stability.moves
            frames[PROPOSALS_FILE] = rnd.stability.previous.proposals
        files = rnd.output_files
        written: dict[str, str] = {}
        # edges.csv last: a background write (`edges`) has the most time to finish.
        for name in sorted(files, key=lambda n: n == EDGES_FILE):
            if name == EDGES_FILE:  # the largest table: written piece by piece
                digest = edges.move_to(tmp / name) if edges is not None else None
                if digest is None:
                    digest = write_edges(rnd.edges, rnd.instance, tmp / name,
                                         CSV_DIALECTS[dialect])
                written[name] = digest
            else:
                written[name] = _write_csv(frames[name], tmp / name, dialect)
            report("write", len(written), len(files))
        meta = summary(rnd, frames["unmatched.csv"])
        meta["outputs"] = {name: written[name] for name in files}
        timings = dict(rnd.timings) | dict(extra_timings or {})
        timings["write"] = time.perf_counter() - t
        if edges is not None and edges.seconds is not None:
            timings["edges_csv_during_solve"] = edges.seconds
        meta["run"] = {
            "source": rnd.instance.source,
            "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "timings_s": {k: round(v, 4) for k, v in timings.items()},
            "solver_details": _jsonable(rnd.result.details.as_dict()),
        }
        for name, content in (extra_files or {}).items():
            if name in files or name == "round.json" or Path(name).name != name:
                raise ValueError(f"extra file name {name!r} is not allowed")
            (tmp / name).write_bytes(content)
            meta["run"].setdefault("extra_outputs", {})[name] = hashlib.sha256(content).hexdigest()
        (tmp / "round.json").write_text(json.dumps(meta, indent=2, sort_keys=False) + "\n",
                                        encoding="utf-8")
        replace_dir(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return meta


def _jsonable(d: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, (np.integer,)):
            out[k] = int(v)
        elif isinstance(v, (np.floating, float)):
            out[k] = round(float(v), 6)
        elif isinstance(v, dict):
            out[k] = _jsonable(v)
        elif isinstance(v, (int, str, bool, list)) or v is None:
            out[k] = v
        else:
            out[k] = str(v)
    return out
