"""The layers' boundary on the import graph: the library (`matcher/` apart from `matcher/cli`)
imports nothing from the service (`api/`) nor any web or database package; the service never
imports the command line. `matcher.cli` is the one place that imports both (the commands that
start the service or manage its database import `api` inside the command).
(The audit's own separation is tested beside it, tests/test_audit_separation.py.)"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Web and database packages the library must not import (top-level names).
WEB_DB = {"api", "fastapi", "starlette", "uvicorn", "sqlalchemy", "alembic", "psycopg",
          "psycopg2", "asyncpg", "httpx", "redis", "multipart", "prometheus_client"}


def imports(path: Path, root: Path = ROOT) -> set[str]:
    """Every module `path` imports, anywhere in the file (inside functions too); relative
    imports resolved against its package."""
    package = ".".join(path.relative_to(root).with_suffix("").parts[:-1])
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            out |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                out.add(".".join([*base, node.module or ""]).rstrip("."))
            elif node.module:
                out.add(node.module)
    return out


def library_files() -> list[Path]:
    """`matcher/` without the command line (`matcher/cli/` and `python -m matcher`'s
    `matcher/__main__.py`, its entry)."""
    cli = ROOT / "matcher" / "cli"
    return [p for p in sorted((ROOT / "matcher").rglob("*.py"))
            if cli not in p.parents and p != ROOT / "matcher" / "__main__.py"]


def test_the_walk_sees_imports_inside_functions(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "mod.py").write_text("def f():\n    from api.db import Database\n"
                                             "    import sqlalchemy.orm\n"
                                             "    from .sib import x\n")
    assert imports(tmp_path / "pkg" / "mod.py", tmp_path) == {"api.db", "sqlalchemy.orm",
                                                              "pkg.sib"}
    assert len(library_files()) > 50
    assert all("matcher/cli/" not in p.as_posix() for p in library_files())


@pytest.mark.parametrize("path", library_files(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_the_library_imports_no_service_web_or_database_code(path: Path) -> None:
    bad = {m for m in imports(path) if m.split(".")[0] in WEB_DB}
    bad |= {m for m in imports(path) if m == "matcher.cli" or m.startswith("matcher.cli.")}
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


def test_the_service_never_imports_the_command_line() -> None:
    for path in sorted((ROOT / "api").rglob("*.py")):
        bad = {m for m in imports(path) if m == "matcher.cli" or m.startswith("matcher.cli.")}
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"
