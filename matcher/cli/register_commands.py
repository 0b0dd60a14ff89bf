"""`matcher register`: the public algorithm register entry and the instructions for use."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from matcher.atomic import check_apart, replace_file
from matcher.cli.app import app, console
from matcher.cli.round_commands import PolicyOpt, fail
from matcher.errors import InputError
from matcher.i18n import _
from matcher.policy import load_policy
from matcher.register import register_entry, register_markdown

DEFAULT_SOURCE = "(set the public source link with --source-url)"


@app.command()
def register(
    policy: PolicyOpt = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write to this file "
                                             "(.json for data, else Markdown).")] = None,
    source_url: Annotated[str, typer.Option("--source-url", help="Public link to the source.")] =
    DEFAULT_SOURCE,
) -> None:
    """Write the Algoritmeregister entry, generated from the code and the active policy."""
    try:
        check_apart({"--out": out}, {"--policy": policy})
        entry = register_entry(load_policy(policy), source_url)
    except InputError as exc:
        raise fail(exc) from None
    text = (json.dumps(entry, indent=2) + "\n" if out is not None and out.suffix == ".json"
            else register_markdown(entry))
    if out is None:
        console.print(text, highlight=False, markup=False, soft_wrap=True)
        return
    replace_file(text.encode("utf-8"), out)
    console.print(_("written to {path}").format(path=out))
