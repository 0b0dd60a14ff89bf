"""Every text a person reads, in Dutch (the default) or English, through gettext catalogues.

The messages are written in English in the code (``_("...")``); ``matcher/locale/nl`` holds
their Dutch translations and ``matcher/locale/en`` the English catalogue (empty translations:
the English text is the message itself). The catalogues are maintained with Babel
(``python -m matcher.i18n`` extracts, updates and compiles them, see docs/i18n.md) and the
compiled ``.mo`` files ship inside the package, so ``pip install`` is the only step.

The language is a setting of the reader, not of the matching: it comes from ``--lang`` on the
command line, the web page's choice, or the environment variable ``MATCHER_LANG``, never from
the policy, so it cannot change a round's policy hash. The files a round writes (CSV, JSON)
are records for machines and keep their column names, ids, codes and English text cells in
every language.
"""

from __future__ import annotations

import gettext
import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar, Token
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matcher.errors import Problem

log = logging.getLogger(__name__)

LANGUAGES = ("nl", "en")
DEFAULT_LANGUAGE = "nl"
DOMAIN = "matcher"
LOCALE_DIR = Path(__file__).parent / "locale"
ENV = "MATCHER_LANG"

_current: ContextVar[str | None] = ContextVar("matcher_language", default=None)


def default_language() -> str:
    """``MATCHER_LANG`` when it names a known language (``nl_NL.UTF-8`` counts as nl), else nl."""
    value = os.environ.get(ENV, "")
    lang = value.split("_")[0].split(".")[0].lower()
    if lang in LANGUAGES:
        return lang
    if value:
        log.warning("%s=%r is not one of %s; using %s", ENV, value, ", ".join(LANGUAGES),
                    DEFAULT_LANGUAGE)
    return DEFAULT_LANGUAGE


def current_language() -> str:
    """The language of this context (set by :func:`set_language` or :func:`language`)."""
    return _current.get() or default_language()


def check_language(lang: str) -> str:
    """`lang` when it is known; ValueError naming the choices otherwise."""
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}: choose one of {', '.join(LANGUAGES)}")
    return lang


def set_language(lang: str | None) -> Token[str | None]:
    """Use `lang` from now on in this context (None: back to the default); the token undoes it
    (:func:`reset_language`)."""
    return _current.set(None if lang is None else check_language(lang))


def reset_language(token: Token[str | None]) -> None:
    _current.reset(token)


@contextmanager
def language(lang: str | None) -> Iterator[None]:
    """Use `lang` inside the block (None: the current language)."""
    token = _current.set(check_language(lang) if lang else _current.get())
    try:
        yield
    finally:
        _current.reset(token)


@cache
def translations(lang: str) -> gettext.NullTranslations:
    """The compiled catalogue of `lang` (English falls back to the messages themselves)."""
    return gettext.translation(DOMAIN, LOCALE_DIR, languages=[lang], fallback=lang == "en")


def _(message: str) -> str:
    """`message` in the current language."""
    return translations(current_language()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural form of a message for `n`, in the current language."""
    return translations(current_language()).ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Marks a message for the catalogue without translating it now (tables of messages)."""
    return message


#: Bad-input problems by code: the English template, formatted with the problem's params.
PROBLEM_MESSAGES: dict[str, str] = {
    "folder_not_found": N_("data folder not found"),
    "csv_and_xlsx": N_("the folder holds both CSV files ({csv}) and an Excel workbook ({xlsx}): "
                       "keep one of the two"),
    "sheet_missing": N_("no sheet named {sheet}"),
    "duplicate_columns": N_("duplicate column names: {columns}"),
    "column_missing": N_("required column is missing"),
    "no_rows": N_("file has a header but no data rows"),
    "file_not_found": N_("file not found in {folder}"),
    "not_utf8": N_("file is not UTF-8; read as Windows-1252"),
    "file_empty": N_("file is empty (no header row)"),
    "not_csv": N_("cannot be read as CSV: {detail}"),
    "table_missing": N_("table is missing"),
    "table_empty": N_("table has no rows"),
    "table_unused": N_("table is not used to score or match"),
    "column_unused": N_("column is not used by matcher (kept, ignored)"),
    "bad_value": N_("{what}, got {value}"),
    "duplicate_id": N_("duplicate id {value} (first on row {first})"),
    "location_columns": N_("needs columns lat and lon, or a postcode column"),
    "lat_lon_pair": N_("give both lat and lon, or neither"),
    "location_missing": N_("location missing (no lat/lon)"),
    "postcode_missing": N_("location missing (no lat/lon, no postcode)"),
    "postcode_unknown": N_("unknown postcode {value} (not a Dutch 4-digit postcode area)"),
    "unknown_level": N_("unknown language level {value} (expected {expected})"),
    "sector_empty": N_("sector is empty"),
    "hours_order": N_("hours_max is below hours_min"),
    "decision_twice": N_("a second decision for candidate {candidate} and option {option}"),
    "locked_twice": N_("candidate {candidate} is locked to more than one option"),
    "bad_skill": N_("expected skill:level with level 1, 2 or 3, got {value}"),
    "unknown_candidate": N_("unknown candidate {value}"),
    "more_rows": N_("more rows with the same problem ({what})"),
    "internal_column": N_("column name {column} is matcher's own (the spreadsheet row); the "
                          "column is ignored"),
    # numbers in a policy (matcher.policy: finite, within the key's bounds or the common ones)
    "policy_not_finite": N_("must be a finite number, got {value}"),
    "policy_too_large": N_("must be at most {cap} in size, got {value}"),
    "policy_whole_too_large": N_("must be a whole number of at most {cap} in size, got {value}"),
    "policy_at_least": N_("must be at least {limit}"),
    "policy_above": N_("must be above {limit}"),
    "policy_at_most": N_("must be at most {limit}"),
    "policy_below": N_("must be below {limit}"),
    "policy_unknown_key": N_("unknown key (not a policy setting; check its spelling)"),
    "policy_not_number": N_("expected a number, got {value}"),
    "policy_not_whole": N_("expected a whole number, got {value}"),
    "xlsx_unreadable": N_("cannot be read as an Excel workbook: {detail}"),
    "xlsx_sheet_unknown": N_("sheet {sheet} is not read (its name is not one of the tables)"),
    "xlsx_table_twice": N_("table {table} is given twice (also {other})"),
    "xlsx_formula": N_("cell {cell} holds a formula ({formula}); type the value itself"),
    "sheet_empty": N_("sheet is empty (no header row)"),
    "xlsx_spill": N_("values right of the last named column (give it a header)"),
    # the participation chain (matcher.chain; docs/data-format.md, "The participation chain")
    "bad_date": N_("expected an ISO date such as 2027-01-11, got {value}"),
    "programme_only": N_("{column} is for programmes; option {option} is a place"),
    "min_above_capacity": N_("min_participants {minimum} is above the option's capacity "
                             "{capacity}"),
    "route_from_place": N_("option {option} is a place: a route starts at a programme"),
    "route_to_programme": N_("option {option} is a programme: a route leads to a place"),
    "route_twice": N_("a second route from {programme} to {place}"),
    "route_unknown": N_("routes.csv has no route from {programme} to {place}"),
    "route_lock_forbidden": N_("a lock of a route whose programme is forbidden for the same "
                               "person"),
    "route_lock_outside_rules": N_("lock of candidate {candidate} to the route {programme} -> "
                                   "{place} is outside the hard rules; kept"),
    "locks_seats": N_("the locks {locks} take {n} seats at {option}, which has {capacity}"),
    "locks_hours": N_("the locks {locks} take {hours} hours a week at {option}, which offers "
                      "{capacity} (capacity_hours)"),
    "locks_route_seats": N_("the locks {locks} take {n} seats of the route {programme} -> "
                            "{place}, which has {seats}"),
    "locks_guidance": N_("the locks {locks} need {units} guidance units at {organisation}, "
                         "which has {capacity}"),
    "locks_cohort": N_("the locks {locks} need {option} to run, but it runs from {minimum} "
                       "people (min_participants) and only {n} could take it"),
    "locks_over_seats": N_("{n} locks at {option} take {n} seats, {option} has {capacity}: "
                           "raise its capacity to {n} (options.csv) or undo {undo} of these "
                           "locks: {locks}"),
    "locks_over_guidance": N_("{n} locks at {organisation} need {units} guidance units, "
                              "{organisation} has {capacity}: raise its guidance_capacity to "
                              "{units} (organisations.csv) or undo locks that need {excess} "
                              "units or more (at least {undo}; guidance need in brackets): "
                              "{locks}"),
    "chain_locks_infeasible": N_("the locks cannot all be kept together with the options' "
                                 "min_participants and capacity_hours"),
    "chain_fairness": N_("the fairness options are not available in a round with chain inputs "
                         "(routes, capacity_hours or min_participants)"),
    "chain_route_weight": N_("chain.place_share + chain.guarantee_bonus ({extra}) must be below "
                             "objective.match_bonus ({bonus}) in a round with routes: what a "
                             "route adds to its programme must be worth less than another "
                             "placement"),
    "upload_unknown_file": N_("this file is not read: name it after one of the tables ({tables})"),
    "upload_mixed": N_("give one Excel workbook or CSV files, not both"),
    "upload_empty": N_("choose a workbook or the CSV files to upload"),
    # rounds that stay stable (matcher.stability, --previous)
    "previous_not_round": N_("{folder} is not a round's folder (it has no round.json)"),
    "previous_twice": N_("candidate {candidate} has a second proposal"),
    "previous_changed": N_("is not the file its round wrote (round.json lists another "
                           "SHA-256); its proposals are used as they are"),
}
def _params(params: Mapping[str, Any]) -> dict[str, str]:
    """The parameters as text; `what` (the kind of a bad value) is itself a message template,
    translated and filled in with the other parameters. User values are left as they are."""
    out = {k: str(v) for k, v in params.items()}
    what = params.get("what")
    if isinstance(what, str):
        out["what"] = _(what).format(**out)
    return out


def problem_message(p: Problem) -> str:
    """The problem's message in the current language (its English message without a code)."""
    template = PROBLEM_MESSAGES.get(p.code or "")
    if template is None:
        return _(p.message)
    try:
        return _(template).format(**_params(p.params or {}))
    except (KeyError, IndexError, ValueError):
        log.warning("problem %s: params %r do not fit its message", p.code, p.params)
        return p.message


def where(p: Problem) -> str:
    """File, sheet, row and column of a problem, in the current language."""
    parts = [p.file]
    if p.sheet is not None:
        parts.append(_("sheet {sheet}").format(sheet=p.sheet))
    if p.row is not None:
        parts.append(_("row {row}").format(row=p.row))
    if p.column is not None:
        parts.append(_("column {column}").format(column=p.column))
    return ", ".join(parts)


def problem_text(p: Problem) -> str:
    """``where: message`` in the current language."""
    return f"{where(p)}: {problem_message(p)}"


def severity_word(severity: str) -> str:
    return {"error": _("error"), "warning": _("warning")}.get(severity, severity)
