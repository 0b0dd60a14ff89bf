"""The `matcher` command line: a thin layer over the library functions.

Each sub-module registers its commands on the shared Typer app in `matcher.cli.app`.
"""

# Command modules register themselves on import.
from matcher.cli import (  # noqa: F401
    api_commands,
    audit_commands,
    explain_commands,
    generate_commands,
    ops_commands,
    register_commands,
    round_commands,
    whatif_commands,
)
from matcher.cli.app import app


def main() -> None:
    app()


__all__ = ["app", "main"]
