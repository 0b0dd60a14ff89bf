"""Reading a page's form strictly: a field the form does not have is refused, never ignored,
and each problem names the field in the reader's language."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import Request

from api.web.session import CSRF_FIELD, PageError
from matcher.i18n import _


@dataclass
class FormProblems:
    """Problems by field name (shown beside the field and in a summary at the top)."""

    by_field: dict[str, str] = field(default_factory=dict)

    def add(self, name: str, message: str) -> None:
        self.by_field.setdefault(name, message)

    def __bool__(self) -> bool:
        return bool(self.by_field)


async def read_form(request: Request, allowed: set[str]) -> dict[str, str]:
    """The form's text fields, stripped. A field not in `allowed` (besides the CSRF token), a
    repeated field or a file is refused with a 422 page naming it."""
    form = await request.form()
    out: dict[str, str] = {}
    for name, value in form.multi_items():
        if name == CSRF_FIELD:
            continue
        if name not in allowed:
            raise PageError(422, _("This form has no field {field}.").format(field=name))
        if name in out or not isinstance(value, str):
            raise PageError(422, _("The field {field} was sent more than once, or as a file.")
                            .format(field=name))
        out[name] = value.strip()
    return out


def whole_number(values: dict[str, str], name: str, problems: FormProblems, low: int,
                 high: int) -> int | None:
    """The field as a whole number in [low, high]; None when empty (or wrong, with a problem)."""
    text = values.get(name, "")
    if text == "":
        return None
    try:
        number = int(text)
    except ValueError:
        problems.add(name, _("Fill in a whole number."))
        return None
    if not low <= number <= high:
        problems.add(name, _("Fill in a number from {low} to {high}.").format(low=low, high=high))
        return None
    return number


def decimal_number(values: dict[str, str], name: str, problems: FormProblems, low: float,
                   high: float) -> float | None:
    """The field as a number above `low` and at most `high` (a comma as decimal sign is fine)."""
    text = values.get(name, "").replace(",", ".")
    if text == "":
        return None
    try:
        number = float(text)
    except ValueError:
        problems.add(name, _("Fill in a number."))
        return None
    if not (low < number <= high):
        problems.add(name, _("Fill in a number above {low} and at most {high}.")
                     .format(low=low, high=high))
        return None
    return number


def choice(values: dict[str, str], name: str, problems: FormProblems,
           allowed: list[str] | tuple[str, ...]) -> str | None:
    """The field as one of `allowed`; None when empty."""
    text = values.get(name, "")
    if text == "":
        return None
    if text not in allowed:
        problems.add(name, _("Choose one of the values in the list."))
        return None
    return text
