"""`matcher audit`: the equal-chances audit of a round already written, from its files."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated

import typer

from matcher.atomic import check_apart, check_replaceable, replace_dir, staging_dir
from matcher.audit import PROTECTED_FILE
from matcher.audit.report import audit_written_round
from matcher.cli.app import app, console
from matcher.cli.round_commands import ForceOpt, fail
from matcher.errors import InputError
from matcher.i18n import _
from matcher.load import load_instance, table_file

#: What an audit folder holds besides audit.json.
AUDIT_FILES = ("audit.md",)


@app.command()
def audit(
    data_dir: Annotated[Path, typer.Argument(help="The round's data folder (with protected.csv).")],
    round_dir: Annotated[Path, typer.Argument(help="The round's output folder (round.json, ...).")],
    protected: Annotated[Path | None, typer.Option(
        "--protected", help="Protected attributes file (default: DATA_DIR/protected.csv).")] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="Write audit.json and audit.md to this folder (all or nothing).")] =
    None,
    force: ForceOpt = False,
) -> None:
    """Audit a written round for equal chances; prints audit.md (or writes both files with --out)."""
    try:
        check_apart({"--out": out}, {"data folder": data_dir, "round folder": round_dir,
                                     "--protected": protected})
        if out is not None:
            check_replaceable(out, "audit.json", "an earlier audit", AUDIT_FILES, force)
        inst, _warnings = load_instance(data_dir)
        if protected is not None:
            files = audit_written_round(inst, round_dir, protected)
        else:
            with table_file(data_dir, PROTECTED_FILE.removesuffix(".csv")) as path:
                files = audit_written_round(inst, round_dir, path or data_dir / PROTECTED_FILE)
    except InputError as exc:
        raise fail(exc) from None
    if out is None:
        console.print(files["audit.md"].decode(), highlight=False, markup=False, soft_wrap=True)
        return
    tmp = staging_dir(out)
    try:
        for name, content in files.items():
            (tmp / name).write_bytes(content)
        replace_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    console.print(_("written to {path}").format(path=out))


@app.command()
def evaluate(
    round_dirs: Annotated[list[Path], typer.Argument(
        help="Output folders of written rounds (assignments.csv, edges.csv).")],
    outcomes: Annotated[Path, typer.Option(
        "--outcomes", help="outcomes.csv: candidate_id, option_id, event (started | "
                           "dropped_out | in_work_3m | in_work_6m), date, optional reason.")],
    protected: Annotated[Path | None, typer.Option(
        "--protected", help="Protected attributes: outcomes per group (equal chances).")] = None,
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="Evaluation date YYYY-MM-DD (default: the last date in the outcomes): "
                        "retention counts placements started 91/182 days before.")] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="Write evaluation.json/.md/.html and score_bands.png here (all or "
                            "nothing).")] = None,
    force: ForceOpt = False,
) -> None:
    """Judge the score the rounds proposed by what happened: placement and retention by score
    band and component (AUC), per option, organisation and protected group."""
    from matcher.audit.evaluate import EVALUATION_FILES, evaluate_cli_date, evaluation_files
    from matcher.audit.evaluate import evaluate as run_evaluation

    try:
        check_apart({"--out": out}, {f"round folder {d}": d for d in round_dirs}
                    | {"--outcomes": outcomes, "--protected": protected})
        if out is not None:
            check_replaceable(out, "evaluation.json", "an earlier evaluation",
                              EVALUATION_FILES[1:], force)
        report = run_evaluation(round_dirs, outcomes, protected, evaluate_cli_date(as_of))
        files = evaluation_files(report)
    except InputError as exc:
        raise fail(exc) from None
    if out is None:
        console.print(files["evaluation.md"].decode(), highlight=False, markup=False,
                      soft_wrap=True)
        return
    tmp = staging_dir(out)
    try:
        for name, content in files.items():
            (tmp / name).write_bytes(content)
        replace_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    console.print(_("written to {path}").format(path=out))
