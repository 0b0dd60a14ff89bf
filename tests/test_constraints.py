"""constraints.txt (the versions the README and CI install) pins every declared dependency."""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]


def _pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            req = Requirement(line)
            (spec,) = req.specifier
            assert spec.operator == "==", line
            pins[canonicalize_name(req.name)] = spec.version
    return pins


def test_every_dependency_is_pinned_within_its_range() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        declared += extra
    pins = _pins()
    for text in declared:
        req = Requirement(text)
        name = canonicalize_name(req.name)
        if req.marker is not None and not req.marker.evaluate():
            continue
        assert name in pins, f"{req.name} is not in constraints.txt"
        assert req.specifier.contains(pins[name], prereleases=True), \
            f"constraints.txt pins {req.name}=={pins[name]} outside {req.specifier}"


def test_the_solver_stack_runs_at_the_pinned_versions() -> None:
    """The packages a large round's numbers come from are installed at the pinned versions
    (the README's and CI's install use constraints.txt)."""
    pins = _pins()
    for name in ("numpy", "numba", "llvmlite", "ortools", "scipy", "pandas"):
        assert metadata.version(name) == pins[name], name
