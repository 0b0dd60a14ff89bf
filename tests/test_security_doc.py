"""docs/security.md names a test for each threat: every test file and test function it names
exists (a renamed or deleted test fails here, not silently in the threat model)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NAME = re.compile(r"`((tests/[\w/]+\.py)?(?:::(\w+))?)`")


def named_tests() -> list[tuple[str, str | None]]:
    """(file, function or None) for every test reference; `::name` alone continues the file
    named last."""
    out: list[tuple[str, str | None]] = []
    current = None
    for m in NAME.finditer((ROOT / "docs" / "security.md").read_text(encoding="utf-8")):
        path, name = m.group(2), m.group(3)
        current = path or current
        if current is not None and (path or name):
            out.append((current, name))
    return out


def functions(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}


def test_every_test_named_in_the_threat_model_exists() -> None:
    refs = named_tests()
    assert len(refs) >= 30, refs  # the page names tests (the pattern still finds them)
    missing = [f"{f}::{n}" if n else f for f, n in refs
               if not (ROOT / f).is_file() or (n is not None and n not in functions(ROOT / f))]
    assert missing == []
