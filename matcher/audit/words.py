"""The words of audit.md, marked for the gettext catalogues (`matcher.i18n`): audit.md is
written in the reader's language; audit.json keeps its English keys, codes and flag texts."""

from __future__ import annotations

from matcher.i18n import N_, _

#: Protected attributes (protected.csv columns) in words.
ATTRIBUTE_WORDS = {
    "gender": N_("gender"),
    "age_band": N_("age group"),
    "migration_background": N_("migration background"),
    "disability": N_("disability"),
}
#: Scoring inputs of the proxy table (matcher.audit.proxies.PROXY_INPUTS) in words.
INPUT_WORDS = {
    "dutch_level": N_("Dutch language level"),
    "hours_available": N_("hours available a week"),
    "max_travel_km": N_("maximum travel distance"),
    "guidance_need": N_("guidance need"),
    "skills_count": N_("number of skills"),
    "region": N_("where the person lives (about 10 km area)"),
    "first_sector_wish": N_("first sector wish"),
}
MEASURE_WORDS = {"correlation ratio": N_("correlation ratio"), "Cramer's V": N_("Cramer's V")}
LEVEL_WORDS = {"strong": N_("strong"), "moderate": N_("moderate"), "weak": N_("weak"),
               "insufficient data": N_("insufficient data")}


def attribute(name: str) -> str:
    """An attribute ("gender") or an intersection ("gender x age_band") in words."""
    return " \u00d7 ".join(_(ATTRIBUTE_WORDS[p]) if p in ATTRIBUTE_WORDS else p
                           for p in name.split(" x "))


def words(table: dict[str, str], key: str) -> str:
    """`key` in words from `table`, or `key` itself where the table has none."""
    return _(table[key]) if key in table else key


#: Common values of protected.csv in words (other values are shown as they are).
VALUE_WORDS = {"female": N_("female"), "male": N_("male"), "other": N_("other"),
               "yes": N_("yes"), "no": N_("no")}


def group(label: str | None) -> str:
    """A group label ("female", or "female & 18-24" for an intersection) in words."""
    return " & ".join(words(VALUE_WORDS, p) for p in str(label or "").split(" & "))
