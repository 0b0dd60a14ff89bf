"""`matcher whatif`: planners' scenarios against a baseline round, with a report."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from matcher.atomic import check_apart
from matcher.cli.app import app, console, err_console, setup_logging
from matcher.cli.round_commands import (
    ForceOpt,
    PolicyOpt,
    Verbose,
    fail,
    pilot_dir,
    report_problems,
)
from matcher.errors import InputError
from matcher.i18n import _
from matcher.policy import load_policy
from matcher.whatif import (
    Scenario,
    diff_outcome,
    load_baseline,
    load_scenario_file,
    marginal_values,
    parse_sweep,
    price_of_decisions,
    run_scenario,
    run_sweep,
)
from matcher.whatif.report import (
    build_report,
    check_out_dir,
    make_plots,
    report_tables,
    write_report,
)
from matcher.whatif.sections import FIGURE, Names, word


@app.command()
def whatif(
    data_dir: Annotated[Path | None, typer.Argument(
        help="Data folder (default: the shipped pilot data).")] = None,
    set_: Annotated[list[str] | None, typer.Option(
        "--set", help="TABLE.ID.FIELD=VALUE or policy.SECTION.KEY=VALUE; +N/-N is relative. "
                      "Repeatable.")] = None,
    remove: Annotated[list[str] | None, typer.Option(
        "--remove", help="options.ID, organisations.ID (with its options) or candidates.ID.")] = None,
    add_option: Annotated[list[str] | None, typer.Option(
        "--add-option", help="key=value,key=value,... (options.csv columns) or a CSV file.")] = None,
    add_organisation: Annotated[list[str] | None, typer.Option(
        "--add-organisation", help="key=value,... (organisations.csv columns) or a CSV file.")] = None,
    scenario_file: Annotated[Path | None, typer.Option(
        "--scenario", help="TOML scenario file with variant and sweep tables (docs/whatif.md).")] = None,
    sweep: Annotated[list[str] | None, typer.Option(
        "--sweep", help="TARGET=VALUES, e.g. organisations.TCK.guidance_capacity=+0..+10 or "
                        "'organisations.*.guidance_capacity=+1' (each in turn).")] = None,
    marginal: Annotated[bool, typer.Option(
        "--marginal/--no-marginal", help="Marginal value of a seat / a guidance unit.")] = True,
    marginal_top: Annotated[int, typer.Option(
        "--marginal-top", min=0, max=1000,
        help="Above 5,000 candidates: re-solve this many of each by estimate (and every other "
             "that could beat them); up to 5,000 all are re-solved.")] = 20,
    decisions: Annotated[bool, typer.Option(
        "--decisions/--no-decisions", help="Price of coordinators' locks and forbids.")] = True,
    out: Annotated[Path, typer.Option("--out", "-o", help="Report folder (all or nothing).")] =
    Path("matcher-output/whatif"),
    policy: PolicyOpt = None,
    force: ForceOpt = False,
    verbose: Verbose = False,
) -> None:
    """What if capacities, budgets, requirements or the coalition change? Diff against the
    baseline, sweeps, marginal values and the price of decisions, as Markdown/HTML/JSON."""
    setup_logging(verbose)
    data_dir = data_dir or pilot_dir()
    started = time.perf_counter()
    try:
        added = {f"--add-option/--add-organisation file {i + 1}": Path(a) for i, a in
                 enumerate([*(add_option or ()), *(add_organisation or ())]) if "=" not in a}
        check_apart({"--out": out}, {"data folder": data_dir, "--policy": policy,
                                     "--scenario": scenario_file, **added})
        check_out_dir(out, force)
        quick = Scenario("command line", tuple(set_ or ()), tuple(remove or ()),
                         tuple(add_option or ()), tuple(add_organisation or ()))
        variants, sweeps = ([], []) if scenario_file is None else load_scenario_file(scenario_file)
        sweeps += [parse_sweep(s) for s in sweep or ()]
        pol = load_policy(policy)
        base = load_baseline(data_dir, pol)
        timings = {"baseline": time.perf_counter() - started}
        scenarios = [quick] if not quick.is_empty else []
        scenarios += variants
        with _progress() as progress:
            done = []
            for sc in scenarios:
                task = progress.add_task(f"scenario {sc.name}", total=1)
                o = run_scenario(base, sc)
                done.append((o, diff_outcome(base, o)))
                progress.update(task, completed=1)
            swept = {}
            for sw in sweeps:
                outs = run_sweep(base, sw, quick if not quick.is_empty else None,
                                 _callback(progress, f"sweep {sw.name}"))
                swept[sw.name] = [(o, diff_outcome(base, o))
                                  for o in outs]
            timings["scenarios"] = time.perf_counter() - started - timings["baseline"]
            t = time.perf_counter()
            marg = marginal_values(base, marginal_top,
                                   progress=_callback(progress, "marginal values")) \
                if marginal else None
            timings["marginal"] = time.perf_counter() - t
            t = time.perf_counter()
            price = price_of_decisions(base.round, progress=_callback(progress, "decisions")) \
                if decisions and len(base.round.instance.decisions) else None
            timings["decisions"] = time.perf_counter() - t
        report = build_report(base, done, swept, marg, price)
        plots = make_plots(base, done, swept, marg)
        timings["total"] = time.perf_counter() - started
        write_report(out, report, plots, report_tables(done, marg, price),
                     run={"finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                          "timings_s": {k: round(v, 3) for k, v in timings.items()}},
                     force=force)
    except InputError as exc:
        raise fail(exc) from None
    report_problems(base.warnings, "")
    print_summary(report, out)


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=err_console, transient=False)


def _callback(progress: Progress, title: str) -> Callable[[int, int, str], None]:
    task = None

    def update(k: int, n: int, what: str) -> None:
        nonlocal task
        if task is None:
            task = progress.add_task(title, total=n)
        progress.update(task, completed=k, total=n)

    return update


def print_summary(report: dict, out: Path) -> None:
    b = report["baseline"]
    table = Table(title=_("What-if against {source}").format(source=report["source"]))
    cols = [(_("scenario"), "left"), (_("people placed"), "right"), ("\u0394", "right"),
            (_("objective"), "right"), ("\u0394", "right"), (_("mean score"), "right"),
            (_("people who change"), "right"), (_("solver"), "left")]
    for col, justify in cols:
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    table.add_row(_("baseline"), str(b["matched"]), "", f"{b['objective']:.2f}", "",
                  f"{b['mean_score']:.2f}", "", f"{b['status']} ({b['method']})")
    names = Names(report)
    rows = [(s["name"], s) for s in report["scenarios"]]
    rows += [(names.point(sw["name"], p.get("x")), p) for sw in report["sweeps"]
             for p in sw["points"]]
    for name, s in rows:
        t, d = s["summary"], s["diff"]
        moves = d["moves"] if isinstance(d["moves"], int) else len(d["moves"])
        table.add_row(name, str(t["matched"]), f"{d['totals']['matched']['change']:+d}",
                      f"{t['objective']:.2f}", f"{d['totals']['objective']['change']:+.2f}",
                      f"{t['mean_score']:.2f}", str(moves), f"{t['status']} ({t['method']})")
    console.print(table)
    if "marginal" in report:
        m = Table(title=_("One more guidance unit: where it helps most (top 5)"))
        for col in (_("organisation"), _("more people placed"), _("change in objective"),
                    _("figure"), _("solver's gap")):
            m.add_column(col)
        for r in report["marginal"]["guidance"][:5]:
            m.add_row(r["organisation"], _num(r["people"]),
                      _("within the solver's tolerance") if r["reading"] else
                      _num(r["objective"] if r["value"] == "exact" else r["estimate"]),
                      word(FIGURE, r["value"]), f"{r['gap']:.2f}")
        console.print(m)
    if "decisions" in report:
        t = report["decisions"]["together"]
        console.print(_("Coordinators' locks and forbids together cost {objective} objective and "
                        "{people} place(s), against the same round without them ({matched} "
                        "people placed).").format(
            objective=f"{t['objective_lost']:.2f}", people=t["placements_lost"],
            matched=report["decisions"]["unconstrained"]["matched"]), highlight=False)
    console.print(_("Report written to {path} (and report.md, report.json)").format(
        path=f"{out}/report.html"), highlight=False)


def _num(v: object) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return ""
    return f"{v:+.2f}" if isinstance(v, float) else f"{v:+d}" if isinstance(v, int) else str(v)
