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
    verify_commands,
    whatif_commands,
)
from matcher.cli.app import EXIT_BAD_INPUT, app, err_console


def os_error_line(exc: OSError) -> str:
    """One line naming the path and the cause (no traceback): a full disk, a file-size limit, a
    read-only or missing folder, a path under a file."""
    where = exc.filename if exc.filename is not None else ""
    cause = exc.strerror or str(exc)
    return f"error: {where}: {cause}" if where else f"error: {cause}"


def main() -> None:
    try:
        app()
    except OSError as exc:  # outputs are all or nothing; the message is one line
        err_console.print(os_error_line(exc), highlight=False, markup=False)
        raise SystemExit(EXIT_BAD_INPUT) from None
    except Exception as exc:  # a database the command cannot reach or use: one line
        line = api_commands.database_error_line(exc)
        if line is None:
            raise
        err_console.print(line, highlight=False, markup=False)
        raise SystemExit(EXIT_BAD_INPUT) from None


__all__ = ["app", "main"]
