"""`matcher run`, `matcher validate` and `matcher shortlist`."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from matcher.atomic import check_apart
from matcher.cli.app import EXIT_BAD_INPUT, app, console, err_console, setup_logging
from matcher.errors import InputError, Problem
from matcher.explain_words import reason_label
from matcher.i18n import _, ngettext, problem_text, severity_word
from matcher.load import load_instance, table_file
from matcher.parallel import Mapper, ProcessMapper
from matcher.policy import load_policy
from matcher.prewrite import EdgesPrewrite
from matcher.progress import progress_hook
from matcher.round import (
    CSV_DIALECTS,
    Round,
    check_out_dir,
    round_date,
    run_round,
    write_round,
)
from matcher.shortlist import shortlist
from matcher.stability import load_previous

if TYPE_CHECKING:
    import pandas as pd

    from matcher.model import Instance

DataDir = Annotated[
    Path | None,
    typer.Argument(help="Folder with organisations.csv, options.csv, candidates.csv "
                        "[, decisions.csv, protected.csv], or one Excel workbook with a sheet "
                        "named like each file. Default: the shipped pilot data."),
]
PolicyOpt = Annotated[
    Path | None, typer.Option("--policy", help="Policy TOML file (default: shipped policy).")
]
Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Log progress.")]
ForceOpt = Annotated[bool, typer.Option(
    "--force", help="Replace the --out folder even if it holds files this command did not write "
                    "(never an input of the command).")]


def pilot_dir(chain: bool = False) -> Path:
    """The shipped pilot data; `chain`: the same pilot with the coalition's routes, language
    gains and durations (matcher/data/pilot_chain, fictional figures)."""
    return Path(str(resources.files("matcher.data").joinpath("pilot_chain" if chain else "pilot")))


def report_problems(problems: list[Problem], title: str) -> None:
    """Each problem with its file, sheet, row and column, in the current language."""
    for p in problems:
        style = "red" if p.severity == "error" else "yellow"
        # escape: a user's value such as '[x]' must be shown, not read as rich markup
        err_console.print(f"[{style}]{severity_word(p.severity)}[/{style}]: {escape(problem_text(p))}",
                          highlight=False)
    if problems:
        err_console.print(title, highlight=False)


def fail(exc: InputError) -> typer.Exit:
    n = len(exc.problems)
    report_problems(exc.problems + exc.warnings,
                    ngettext("{n} problem in the input; nothing was written.",
                             "{n} problems in the input; nothing was written.", n).format(n=n))
    return typer.Exit(EXIT_BAD_INPUT)


@app.command()
def run(
    data_dir: DataDir = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder (all or nothing).")] =
    Path("matcher-output/round"),
    policy: PolicyOpt = None,
    csv_dialect: Annotated[str, typer.Option(
        "--csv-dialect", help="standard (, and .) or excel-nl (; decimal comma, BOM)")] =
    "standard",
    fmt: Annotated[str, typer.Option(
        "--format", help="csv (the CSV files) or xlsx (the CSV files and round.xlsx: the "
                         "proposal, unmatched and utilisation as one Excel workbook)")] = "csv",
    workers: Annotated[int, typer.Option(
        "--workers", min=1,
        help="Processes for the regions of a round solved by region (large rounds only; the "
             "answer is the same for any number).")] = 1,
    dask: Annotated[str | None, typer.Option(
        "--dask", metavar="SCHEDULER_ADDRESS",
        help="Solve the regions of a round solved by region, and score its chunks, on the "
             "Dask cluster at this scheduler address (tcp://host:8786; `dask scheduler`, "
             "`dask worker`): the same answer, bound and certificate as in one process. "
             "Needs matcher[dask].")] = None,
    force: ForceOpt = False,
    chain_pilot: Annotated[bool, typer.Option(
        "--chain-pilot", help="Without a data folder: the shipped pilot with the coalition's "
                              "routes (a programme with a guaranteed follow-on place).")] = False,
    date: Annotated[str | None, typer.Option(
        "--date", help="The round's date (ISO, e.g. 2027-01-11): the start of a programme "
                       "without its own start_date, for the follow-on places' next_start; "
                       "recorded in round.json.")] = None,
    previous: Annotated[Path | None, typer.Option(
        "--previous", metavar="PREV_ROUND_DIR",
        help="The previous round's output folder: everyone keeps the proposal it made them "
             "while it is still possible, unless moving people gains more than the policy's "
             "objective.stability_bonus per person moved; moves.csv says who moved and why.")]
    = None,
    verbose: Verbose = False,
) -> None:
    """Run a matching round and write assignments, unmatched reasons, edges, utilisation."""
    setup_logging(verbose)
    if csv_dialect not in CSV_DIALECTS:
        err_console.print(f"error: --csv-dialect must be one of {', '.join(CSV_DIALECTS)}")
        raise typer.Exit(EXIT_BAD_INPUT)
    if fmt not in ("csv", "xlsx"):
        err_console.print("error: --format must be csv or xlsx")
        raise typer.Exit(EXIT_BAD_INPUT)
    data_dir = data_dir or pilot_dir(chain_pilot)
    if dask is not None and workers > 1:
        err_console.print("error: --dask and --workers: choose one (the cluster's workers do "
                          "the parts)")
        raise typer.Exit(EXIT_BAD_INPUT)
    try:
        date = round_date(date)
        # before the round's work, not after it
        check_apart({"--out": out}, {"data folder": data_dir, "--policy": policy,
                                     "--previous": previous})
        check_out_dir(out, force)
        t = time.perf_counter()
        pol = load_policy(policy)
        prev, prev_warnings = load_previous(previous) if previous is not None else (None, [])
        inst, warnings = load_instance(data_dir)
        warnings = [*warnings, *prev_warnings]
        audit_input = load_audit_input(inst, data_dir)
        load_s = time.perf_counter() - t
        with EdgesPrewrite(out, CSV_DIALECTS[csv_dialect]) as edges:
            with score_progress(), round_mapper(workers, dask) as mapper:
                # edges.csv does not depend on the answer: in a round solved by region a
                # low-priority process writes it during the solve, on CPU time left idle.
                rnd = run_round(inst, pol, warnings, score_mapper=mapper, solve_mapper=mapper,
                                by_region=edges.start, date=date, previous=prev)
            extra = round_extra_files(rnd, audit_input)
            if fmt == "xlsx":
                extra["round.xlsx"] = round_workbook(rnd)
            meta = write_round(rnd, out, {"load": load_s}, dialect=csv_dialect,
                               extra_files=extra, edges=edges, force=force)
    except InputError as exc:
        raise fail(exc) from None
    report_problems(rnd.warnings, "")
    print_summary(rnd, meta, out)


@contextmanager
def round_mapper(workers: int, dask: str | None) -> Iterator[Mapper | None]:
    """Where a round's parts run: this process (None), `workers` local processes, or the Dask
    cluster at `dask`."""
    if dask is not None:
        from matcher.parallel.dask_mapper import connect
        with connect(dask) as mapper:
            yield mapper
        return
    with ProcessMapper(workers) as pool:
        yield pool if workers > 1 else None


def load_audit_input(inst: Instance, data_dir: Path) -> tuple[Path, pd.DataFrame, str] | None:
    """The data folder's protected.csv, read and checked before the round (a bad file stops the
    round before its work, not after it); None when there is none."""
    from matcher.audit import PROTECTED_FILE, load_protected

    with table_file(Path(data_dir), PROTECTED_FILE.removesuffix(".csv")) as path:
        if path is None:
            return None
        return (path, *load_protected(path, inst.candidates["candidate_id"]))


def round_workbook(rnd: Round) -> bytes:
    """The round's proposal, unmatched people and utilisation as one workbook (round.xlsx)."""
    from matcher.xlsxio import workbook_bytes

    return workbook_bytes({"assignments": rnd.assignments, "unmatched": rnd.unmatched,
                           "utilisation": rnd.utilisation})


def round_extra_files(rnd: Round,
                      audit_input: tuple[Path, pd.DataFrame, str] | None) -> dict[str, bytes]:
    """The equal-chances audit (audit.json, audit.md) where the data folder has protected.csv
    (`audit_input`: as `load_audit_input` read it before the round; None: no audit)."""
    from matcher.audit import audit_files

    if audit_input is None:
        return {}
    path, protected, digest = audit_input
    return audit_files(rnd, path, (protected, digest))


#: What each progress stage counts (matcher.progress reports).
PROGRESS_UNITS = {"score": "candidates", "solve": "steps", "bound": "regions",
                  "write": "files"}


@contextmanager
def score_progress() -> Iterator[None]:
    """A rich progress bar (on stderr, gone when done) fed by matcher.progress reports."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err_console, transient=True) as bar:
        tasks: dict[str, TaskID] = {}

        def hook(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                unit = PROGRESS_UNITS.get(stage, "")
                tasks[stage] = bar.add_task(f"{stage} ({unit})" if unit else stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        with progress_hook(hook):
            yield


def print_summary(rnd: Round, meta: dict, out: Path) -> None:
    s, c = meta["solver"], meta["counts"]
    table = Table(title=_("Matching round: {source}").format(source=rnd.instance.source),
                  show_header=False)
    table.add_column("", style="bold")
    table.add_column("")
    table.add_row(_("candidates"), str(c["candidates"]))
    table.add_row(_("options / seats"), f"{c['options']} / {c['seats']}")
    table.add_row(_("eligible pairs"), str(c["eligible_pairs"]))
    table.add_row(_("matched"), str(c["matched"]))
    for reason, n in c["unmatched_by_reason"].items():
        table.add_row(_("unmatched: {reason}").format(reason=reason_label(reason)), str(n))
    table.add_row(_("solver"), f"{s['status']} ({s['method']})")
    table.add_row(_("objective / bound"), f"{s['objective']:.6f} / {s['bound']:.6f}")
    table.add_row(_("gap"), f"{s['gap']:.4%}")
    table.add_row(_("policy hash"), meta["policy_hash"][:16])
    table.add_row(_("input hash"), meta["input_hash"][:16])
    if "fairness" in meta:
        f = meta["fairness"]
        table.add_row(_("fairness price"), _("{price:.6f} ({relative:.4%}) below the unconstrained "
                                              "optimum").format(price=f["price_micro"] / 1e6,
                                                                relative=f["price_relative"]))
    if "stability" in meta:
        st = meta["stability"]
        table.add_row(_("previous round: kept / moved"), f"{st['kept']} / {st['moved']}")
    extra = meta["run"].get("extra_outputs", {})
    if "audit.json" in extra:
        table.add_row(_("equal-chances audit"), "audit.json, audit.md")
    table.add_row(_("written to"), str(out))
    console.print(table)


@app.command()
def validate(data_dir: DataDir = None, policy: PolicyOpt = None) -> None:
    """Check a data folder and report every problem at once (exit 2 if any)."""
    data_dir = data_dir or pilot_dir()
    try:
        load_policy(policy)
        inst, warnings = load_instance(data_dir)
        from matcher.round import check_locks

        check_locks(inst)
    except InputError as exc:
        raise fail(exc) from None
    report_problems(warnings, ngettext("{n} warning.", "{n} warnings.", len(warnings)).format(
        n=len(warnings)))
    console.print("[green]" + _("valid") + "[/green]: " + _(
        "{organisations} organisations, {options} options, {candidates} candidates, "
        "{decisions} decisions").format(organisations=inst.n_organisations, options=inst.n_options,
                                        candidates=inst.n_candidates, decisions=len(inst.decisions)),
        highlight=False)


@app.command("shortlist")
def shortlist_cmd(
    data_dir: Annotated[Path, typer.Argument(help="Data folder.")],
    option_id: Annotated[str, typer.Argument(help="The option to shortlist for.")],
    k: Annotated[int, typer.Option("-k", min=1, max=1000, help="How many candidates.")] = 10,
    policy: PolicyOpt = None,
) -> None:
    """The best eligible candidates for one option, with their scores and reasons."""
    try:
        inst, _warnings = load_instance(data_dir)
        top = shortlist(inst, load_policy(policy), option_id, k)
    except InputError as exc:
        raise fail(exc) from None
    table = Table(title=_("Shortlist for {option}").format(option=option_id))
    for col in ("rank", "candidate_id", "score", "main_reason", "reasons"):
        table.add_column(col)
    for row in top.itertuples(index=False):
        table.add_row(str(row.rank), row.candidate_id, f"{row.score:.3f}", row.main_reason,
                      row.reasons)
    console.print(table)
    if top.empty:
        console.print(_("no eligible candidates"))
