"""Problems found in input data, each naming the file, row and column it concerns."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True, order=True)
class Problem:
    """One problem in the input.

    ``row`` is the spreadsheet row number: the header is row 1, the first data row is row 2,
    so a coordinator finds the same row in Excel. ``sheet`` names the sheet when ``file`` is
    an Excel workbook. ``message`` is English; ``code`` and ``params`` say the same for
    translation (:mod:`matcher.i18n`); a problem without a code is shown by its message.
    """

    file: str
    row: int | None
    column: str | None
    message: str
    severity: Severity = "error"
    sheet: str | None = None
    code: str | None = field(default=None, compare=False)
    params: Mapping[str, Any] | None = field(default=None, compare=False, hash=False)

    def moved(self, file: str, sheet: str | None, message: str | None = None) -> Problem:
        """The same problem in another file (and sheet)."""
        return replace(self, file=file, sheet=sheet,
                       message=self.message if message is None else message)

    def __str__(self) -> str:
        where = [self.file]
        if self.sheet is not None:
            where.append(f"sheet {self.sheet}")
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {self.column}")
        return f"{', '.join(where)}: {self.message}"


def _order(p: Problem) -> tuple[str, str, int, str, str]:
    """File, sheet, row, column, message; a missing row or column sorts first (None is not
    comparable)."""
    return (p.file, p.sheet or "", -1 if p.row is None else p.row, p.column or "", p.message)


class InputError(Exception):
    """Raised when the input cannot be used; carries every problem found, not only the first."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        problems = list(problems)
        self.problems = sorted((p for p in problems if p.severity == "error"), key=_order)
        self.warnings = sorted((p for p in problems if p.severity == "warning"), key=_order)
        lines = [str(p) for p in self.problems[:20]]
        if len(self.problems) > 20:
            lines.append(f"... and {len(self.problems) - 20} more problems")
        super().__init__("\n".join(lines) or "invalid input")


class Problems:
    """Collects problems while a loader keeps going, so all of them are reported at once."""

    #: At most this many problems are kept per (file, column, message kind); the rest are counted.
    PER_KIND = 25

    def __init__(self) -> None:
        self.items: list[Problem] = []
        self._counts: dict[tuple[str, str | None, str], int] = {}

    def add(
        self,
        file: str,
        row: int | None,
        column: str | None,
        message: str,
        severity: Severity = "error",
        kind: str | None = None,
        *,
        sheet: str | None = None,
        code: str | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> None:
        key = (f"{file}:{sheet}" if sheet else file, column, kind or message)
        n = self._counts.get(key, 0) + 1
        self._counts[key] = n
        if n <= self.PER_KIND:
            self.items.append(Problem(file, row, column, message, severity, sheet, code, params))
        elif n == self.PER_KIND + 1:
            self.items.append(
                Problem(file, None, column, f"more rows with the same problem ({kind or message})",
                        severity, sheet, "more_rows", {"what": kind or message})
            )

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.items if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.items if p.severity == "warning"]

    def raise_if_errors(self) -> None:
        if self.errors:
            raise InputError(self.items)
