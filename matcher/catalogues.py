"""Maintain the gettext catalogues with Babel: ``python -m matcher.catalogues`` (docs/i18n.md).

Extracts every message from the code and the web templates (``babel.cfg``) into
``matcher/locale/matcher.pot``, updates ``nl`` and ``en`` from it and compiles the ``.mo``
files that ship in the package (so an install needs no build step). ``--check`` changes
nothing and exits 1 when a catalogue is stale or a Dutch translation is missing.
Babel is a development tool here (the ``dev`` extra); at run time :mod:`gettext` reads the
compiled files.
"""

from __future__ import annotations

import datetime
import io
import sys
from pathlib import Path
from typing import Any

from matcher.i18n import DOMAIN, LANGUAGES, LOCALE_DIR

ROOT = LOCALE_DIR.parents[1]
_FIXED = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)


def _po(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def extract() -> Any:
    """The catalogue of every message in the code and templates (Babel's extraction)."""
    from babel.messages.catalog import Catalog
    from babel.messages.extract import extract_from_dir
    from babel.messages.frontend import parse_mapping_cfg

    with open(ROOT / "babel.cfg", encoding="utf-8") as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    cat = Catalog(project="matcher", fuzzy=False)
    for _file, _line, message, comments, context in extract_from_dir(
            str(ROOT), method_map, options_map, strip_comment_tags=True):
        cat.add(message, None, auto_comments=comments, context=context)
    return cat


def _plain(message: Any) -> None:
    """Brace-format messages only: a literal `%` (as in "75% of") is not a printf placeholder."""
    if "python-brace-format" in message.flags:
        message.flags.discard("python-format")


def updated(lang: str, template: Any) -> Any:
    """The `lang` catalogue brought up to date with `template` (new messages untranslated)."""
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import read_po

    path = _po(lang)
    if path.exists():
        with open(path, "rb") as fh:
            cat = read_po(fh, locale=lang)
    else:
        cat = Catalog(locale=lang, project="matcher", fuzzy=False)
    cat.update(template, no_fuzzy_matching=True)
    cat.obsolete.clear()
    cat.creation_date = cat.revision_date = _FIXED  # the compiled files repeat byte for byte
    for m in cat:
        _plain(m)
    return cat


def po_bytes(cat: Any) -> bytes:
    from babel.messages.pofile import write_po

    buf = io.BytesIO()
    write_po(buf, cat, no_location=True, sort_output=True, width=100, omit_header=True)
    return buf.getvalue()


def mo_bytes(cat: Any) -> bytes:
    from babel.messages.mofile import write_mo

    buf = io.BytesIO()
    write_mo(buf, cat)
    return buf.getvalue()


def missing(cat: Any) -> list[str]:
    """Messages of `cat` without a translation."""
    out = []
    for m in cat:
        if not m.id:
            continue
        done = m.string if isinstance(m.string, str) else bool(m.string) and all(m.string)
        if not done:
            out.append(m.id if isinstance(m.id, str) else m.id[0])
    return out


def main(argv: list[str]) -> int:
    check = "--check" in argv
    template = extract()
    stale = []
    for lang in LANGUAGES:
        cat = updated(lang, template)
        files = {_po(lang): po_bytes(cat), _po(lang).with_suffix(".mo"): mo_bytes(cat)}
        for path, data in files.items():
            if path.exists() and path.read_bytes() == data:
                continue
            stale.append(str(path.relative_to(ROOT)))
            if not check:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
        if lang != "en":
            for m in missing(cat):
                print(f"{lang}: no translation for {m!r}")
                stale.append(f"{lang}:{m}")
    if check and stale:
        print("stale catalogues (run python -m matcher.catalogues):", ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
