"""`matcher verify`: re-check a written round from its files (`matcher.verify`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from matcher.cli.app import app, console, err_console
from matcher.cli.round_commands import fail
from matcher.errors import InputError
from matcher.i18n import N_, _
from matcher.verify import verify_round

#: Exit status when a check fails (the round does not hold what its files claim).
EXIT_FAILED = 1

CHECK_NAMES = {
    "input": N_("input"), "files": N_("files"), "pairs": N_("eligible pairs"),
    "decisions": N_("decisions"), "assignment": N_("assignment"),
    "certificate": N_("certificate"),
}


@app.command()
def verify(
    data_dir: Annotated[Path, typer.Argument(help="The round's data folder.")],
    round_dir: Annotated[Path, typer.Argument(help="The round's output folder (round.json, "
                                                   "edges.csv, assignments.csv, ...).")],
) -> None:
    """Re-check a round from its files, without matcher's solver: its pairs are exactly those
    the hard rules allow, its assignment keeps every limit, and its certificate proves the bound
    it reports (docs/solver.md, "For auditors"). Exit 1 when a check fails."""
    try:
        checks = verify_round(data_dir, round_dir)
    except InputError as exc:
        raise fail(exc) from None
    table = Table(title=_("Verification of {path}").format(path=round_dir))
    table.add_column(_("check"))
    table.add_column(_("result"))
    table.add_column(_("detail"))
    for c in checks:
        table.add_row(_(CHECK_NAMES[c.name]), _("ok") if c.ok else _("FAILED"), c.detail)
    console.print(table, highlight=False)
    failed = [c for c in checks if not c.ok]
    if failed:
        err_console.print(_("verification failed: {names}").format(
            names=", ".join(_(CHECK_NAMES[c.name]) for c in failed)), highlight=False)
        raise typer.Exit(EXIT_FAILED)
    console.print(_("every check holds"), highlight=False)
