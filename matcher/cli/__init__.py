"""The `matcher` command line: a thin layer over the library functions.

Each sub-module registers its commands on the shared Typer app in `matcher.cli.app`.
"""

# Command modules register themselves on import.
import matcher.cli.api_commands  # noqa: F401
from matcher.cli import round_commands  # noqa: F401
from matcher.cli.app import app


def main() -> None:
    app()


__all__ = ["app", "main"]
