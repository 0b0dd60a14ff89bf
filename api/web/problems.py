"""Bad-input problems as the pages show them: where (file, sheet, row, column) and what, in the
reader's language, from the problems' codes (the same texts as the command line's)."""

from __future__ import annotations

from dataclasses import replace

from api.importing import STORED_ROW
from matcher.errors import Problem
from matcher.i18n import _, problem_message, severity_word


def shown(p: Problem) -> dict[str, str | int | None]:
    """One problem for a table on a page; a problem in a stored record (not the upload) says so."""
    stored = p.row is not None and p.row >= STORED_ROW
    if stored:
        p = replace(p, row=None)
    message = problem_message(p) + (" " + _("(in a record stored earlier)") if stored else "")
    return {"file": p.file, "sheet": p.sheet, "row": p.row, "column": p.column,
            "message": message, "severity": severity_word(p.severity),
            "error": p.severity == "error"}
