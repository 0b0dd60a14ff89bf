"""`matcher explain`: why one person got this proposal, in plain words."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from matcher.atomic import check_apart, replace_file
from matcher.cli.app import EXIT_BAD_INPUT, app, console, err_console, setup_logging
from matcher.cli.round_commands import PolicyOpt, Verbose, fail
from matcher.csvout import safe_frame
from matcher.errors import InputError
from matcher.explain_person import explain_all, explain_candidate
from matcher.explain_words import explanation_text
from matcher.i18n import _
from matcher.load import load_instance
from matcher.policy import load_policy
from matcher.round import round_date, run_round


@app.command()
def explain(
    data_dir: Annotated[Path, typer.Argument(help="Data folder of the round.")],
    candidate_id: Annotated[str | None, typer.Argument(help="The person to explain.")] = None,
    policy: PolicyOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the data, not the words.")] = False,
    all_out: Annotated[Path | None, typer.Option(
        "--all", help="Write a CSV with every person's explanation codes to this file.")] = None,
    date: Annotated[str | None, typer.Option(
        "--date", help="The round's date (ISO), as given to matcher run --date: the start of "
                       "a guaranteed follow-on place.")] = None,
    verbose: Verbose = False,
) -> None:
    """Explain one person's proposal: why this match, the best other option, what would help.

    The round is computed again from the data and policy (the same input gives the same round).
    With --all FILE, writes one row per person: match or reason code, the best option not chosen
    and why, and for unmatched people how many options each change would open.
    """
    setup_logging(verbose)
    if (candidate_id is None) == (all_out is None):
        err_console.print(_("error: give a CANDIDATE_ID or --all FILE (one of the two)"))
        raise typer.Exit(EXIT_BAD_INPUT)
    try:
        check_apart({"--all": all_out}, {"data folder": data_dir, "--policy": policy})
        inst, warnings = load_instance(data_dir)
        rnd = run_round(inst, load_policy(policy), warnings, date=round_date(date))
        if all_out is not None:
            _write_csv(explain_all(rnd), all_out)
            console.print(_("written to {path}").format(path=all_out))
            return
        assert candidate_id is not None
        x = explain_candidate(rnd, candidate_id)
    except InputError as exc:
        raise fail(exc) from None
    if as_json:
        console.print_json(json.dumps(x))
    else:
        console.print(explanation_text(x), highlight=False, markup=False, soft_wrap=True)


def _write_csv(df: pd.DataFrame, path: Path) -> None:
    """All or nothing: a temporary file beside `path`, moved in at the end."""
    replace_file(safe_frame(df).to_csv(index=False, lineterminator="\n").encode("utf-8"), path)
