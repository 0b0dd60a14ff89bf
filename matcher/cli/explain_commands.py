"""`matcher explain`: why one person got this proposal, in plain words."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from matcher.cli.app import app, console, setup_logging
from matcher.cli.round_commands import PolicyOpt, Verbose, fail
from matcher.errors import InputError
from matcher.explain_person import explain_candidate
from matcher.explain_words import explanation_text
from matcher.load import load_instance
from matcher.policy import load_policy
from matcher.round import run_round


@app.command()
def explain(
    data_dir: Annotated[Path, typer.Argument(help="Data folder of the round.")],
    candidate_id: Annotated[str, typer.Argument(help="The person to explain.")],
    policy: PolicyOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the data, not the words.")] = False,
    verbose: Verbose = False,
) -> None:
    """Explain one person's proposal: why this match, the best other option, what would help.

    The round is computed again from the data and policy (the same input gives the same round).
    """
    setup_logging(verbose)
    try:
        inst, warnings = load_instance(data_dir)
        rnd = run_round(inst, load_policy(policy), warnings)
        x = explain_candidate(rnd, candidate_id)
    except InputError as exc:
        raise fail(exc) from None
    if as_json:
        console.print_json(json.dumps(x))
    else:
        console.print(explanation_text(x), highlight=False, markup=False, soft_wrap=True)
