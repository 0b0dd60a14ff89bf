"""The shared Typer application and console helpers for all commands."""

from __future__ import annotations

import logging

import typer
from rich.console import Console

app = typer.Typer(
    name="matcher",
    help="Match people to their next step towards work: score, assign optimally, explain.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True, soft_wrap=True)

#: Exit status for bad input (a file, row or field the user must fix).
EXIT_BAD_INPUT = 2


def setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
