"""The shared Typer application and console helpers for all commands."""

from __future__ import annotations

import logging
from typing import Annotated

import typer
from rich.console import Console

from matcher.i18n import ENV, LANGUAGES, reset_language, set_language

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


@app.callback()
def _options(
    ctx: typer.Context,
    lang: Annotated[str | None, typer.Option(
        "--lang", envvar=ENV, show_envvar=True,
        help=f"Language of what matcher prints and reports: {' or '.join(LANGUAGES)} (default nl). "
             "Never part of the policy; the files of a round are the same in every language.")] = None,
) -> None:
    """Match people to their next step towards work: score, assign optimally, explain."""
    if lang is not None:
        code = lang.split("_")[0].split(".")[0].lower()
        if code not in LANGUAGES:
            err_console.print(f"error: --lang must be one of {', '.join(LANGUAGES)}, got {lang!r}")
            raise typer.Exit(EXIT_BAD_INPUT)
        token = set_language(code)
        ctx.call_on_close(lambda: reset_language(token))  # for this command only
