"""`matcher generate`: write a synthetic region (or the whole country) as a data folder."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from matcher.cli.app import app, console, setup_logging
from matcher.cli.round_commands import ForceOpt, fail
from matcher.errors import InputError
from matcher.synth import generate, region_table, write_generated


@app.command("generate")
def generate_cmd(
    candidates: Annotated[int, typer.Option("--candidates", "-n", min=1, max=5_000_000,
                                            help="Number of candidates.")] = 2000,
    region: Annotated[str, typer.Option(
        "--region", help="A region name (see --list-regions), 'all' (the whole country in 35 "
                         "regions) or 'auto' (utrecht up to 100,000 candidates, else all).")] =
    "auto",
    seed: Annotated[int, typer.Option("--seed", help="Random seed: same seed, same files.")] = 0,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output data folder (all or nothing).")] =
    Path("matcher-output/synthetic"),
    no_protected: Annotated[bool, typer.Option("--no-protected",
                                               help="Do not write protected.csv.")] = False,
    no_decisions: Annotated[bool, typer.Option("--no-decisions",
                                               help="Do not write decisions.csv.")] = False,
    chain: Annotated[bool, typer.Option(
        "--chain", help="Also write routes.csv and the chain's option columns (language_gain, "
                        "duration_weeks, min_participants, capacity_hours); see "
                        "docs/synthetic-data.md.")] = False,
    list_regions: Annotated[bool, typer.Option("--list-regions",
                                               help="List the regions and exit.")] = False,
    force: ForceOpt = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress.")] = False,
) -> None:
    """Generate a realistic synthetic data folder (organisations, options, candidates, ...)."""
    setup_logging(verbose)
    if list_regions:
        regions = region_table()
        table = Table(title="Regions (k-means on PC4 centroids, see docs/synthetic-data.md)")
        for col in regions.columns:
            table.add_column(col)
        for row in regions.itertuples(index=False):
            table.add_row(*[str(v) for v in row])
        console.print(table)
        return
    t = time.perf_counter()
    try:
        gen = generate(candidates, region, seed, protected=not no_protected,
                       decisions=not no_decisions, chain=chain)
        write_generated(gen, out, force=force)
    except InputError as exc:
        raise fail(exc) from None
    m = gen.meta
    console.print(
        f"[green]generated[/green] {m['candidates']} candidates, {m['options']} options "
        f"({m['seats']} seats), {m['organisations']} organisations, region {m['region']}, "
        f"seed {m['seed']} -> {out} in {time.perf_counter() - t:.1f} s", highlight=False)
