"""Protected attributes stay out of the score: structurally (imports, file reads) and in outputs."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fairness_cohort import make_cohort
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from matcher.cli import app

ROOT = Path(__file__).resolve().parents[1]
PILOT = ROOT / "matcher" / "data" / "pilot"
CORE = ("matcher.load", "matcher.scoring", "matcher.solver", "matcher.round", "matcher.explain",
        "matcher.model", "matcher.policy")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def import_graph() -> dict[str, set[str]]:
    """Every matcher module -> the matcher modules it imports (at any place in the file)."""
    graph: dict[str, set[str]] = {}
    for path in sorted((ROOT / "matcher").rglob("*.py")):
        name = _module_name(path)
        is_pkg = path.name == "__init__.py"
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Import):
                deps.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = name.split(".")
                    base = base[:len(base) - node.level + (1 if is_pkg else 0)]
                    mod = ".".join(base + ([node.module] if node.module else []))
                else:
                    mod = node.module or ""
                deps.add(mod)
                deps.update(f"{mod}.{a.name}" for a in node.names)
        graph[name] = {d for d in deps if d == "matcher" or d.startswith("matcher.")}
    return graph


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    """Modules imported, directly or not, by `start` and its submodules (parents included)."""
    todo = [m for m in graph if m == start or m.startswith(start + ".")]
    seen: set[str] = set()
    while todo:
        m = todo.pop()
        if m in seen:
            continue
        seen.add(m)
        parts = m.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]  # importing runs parents
        todo += [d for d in graph.get(m, ()) if d in graph]
    return seen


def test_import_graph_is_parsed() -> None:
    graph = import_graph()
    assert "matcher.audit.report" in graph
    assert "matcher.round" in graph["matcher.audit.report"]  # the audit reads the round
    assert "matcher.scoring.components" in reachable(graph, "matcher.round")


@pytest.mark.parametrize("core", CORE)
def test_core_never_imports_audit(core: str) -> None:
    reach = reachable(import_graph(), core)
    assert not {m for m in reach if m == "matcher.audit" or m.startswith("matcher.audit.")}


@pytest.mark.parametrize("core", ["matcher/load.py", "matcher/scoring", "matcher/solver"])
def test_core_names_no_protected_attribute(core: str) -> None:
    """No scoring, solving or loading source mentions a protected attribute's column."""
    from matcher.audit import ATTRIBUTES

    paths = [ROOT / core] if core.endswith(".py") else sorted((ROOT / core).rglob("*.py"))
    for path in paths:
        strings = {n.value for n in ast.walk(ast.parse(path.read_text("utf-8")))
                   if isinstance(n, ast.Constant) and isinstance(n.value, str)}
        assert not strings & set(ATTRIBUTES), path


RUNTIME_CHECK = r"""
import builtins, io, pathlib, sys
from pathlib import Path
opened = []
def guard(name):
    if str(name).endswith("protected.csv"):
        raise AssertionError(f"core read {name}")
_open = builtins.open
def open_(file, *a, **k):
    guard(file); return _open(file, *a, **k)
builtins.open = open_
io.open = open_
for meth in ("open", "read_bytes", "read_text"):
    orig = getattr(pathlib.Path, meth)
    def wrapped(self, *a, _orig=orig, **k):
        guard(self); return _orig(self, *a, **k)
    setattr(pathlib.Path, meth, wrapped)
from matcher.load import load_instance
from matcher.policy import default_policy
from matcher.round import run_round, write_round
data = Path(sys.argv[1])
assert (data / "protected.csv").exists()
inst, warnings = load_instance(data)
rnd = run_round(inst, default_policy(), warnings)
write_round(rnd, Path(sys.argv[2]))
loaded = sorted(m for m in sys.modules if m.startswith("matcher"))
assert not [m for m in loaded if m.startswith("matcher.audit")], loaded
assert "matcher.scoring" in loaded and "matcher.solver" in loaded
print("clean")
"""


def test_core_run_never_reads_protected_file(tmp_path: Path) -> None:
    """Loading, scoring, solving and writing a round with protected.csv present never open it."""
    out = subprocess.run([sys.executable, "-c", RUNTIME_CHECK, str(PILOT), str(tmp_path / "r")],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "clean"


def _outputs(folder: Path) -> dict[str, bytes]:
    out = {p.name: p.read_bytes() for p in sorted(folder.glob("*.csv"))}
    meta = json.loads((folder / "round.json").read_text())
    meta.pop("run")
    out["round.json"] = json.dumps(meta, sort_keys=True).encode()
    return out


def _run(data: Path, out: Path) -> dict[str, bytes]:
    result = CliRunner().invoke(app, ["run", str(data), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return _outputs(out)


@pytest.fixture(scope="module")
def pilot_baseline(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, bytes]]:
    base = tmp_path_factory.mktemp("pilot")
    data = base / "data"
    shutil.copytree(PILOT, data)
    outputs = _run(data, base / "out")
    assert (base / "out" / "audit.json").exists()
    return data, outputs


def test_dropping_protected_changes_no_output_byte(pilot_baseline, tmp_path: Path) -> None:
    data, baseline = pilot_baseline
    copy = tmp_path / "data"
    shutil.copytree(data, copy)
    (copy / "protected.csv").unlink()
    assert _run(copy, tmp_path / "out") == baseline
    assert not (tmp_path / "out" / "audit.json").exists()


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**31 - 1))
def test_permuting_protected_columns_changes_no_output_byte(pilot_baseline, tmp_path_factory,
                                                            seed: int) -> None:
    data, baseline = pilot_baseline
    work = tmp_path_factory.mktemp("perm")
    copy = work / "data"
    shutil.copytree(data, copy)
    rng = np.random.default_rng(seed)
    prot = pd.read_csv(copy / "protected.csv", dtype=str, keep_default_na=False)
    for col in prot.columns[1:]:
        prot[col] = rng.permutation(prot[col].to_numpy())
    prot = prot.iloc[rng.permutation(len(prot))]
    prot.to_csv(copy / "protected.csv", index=False)
    assert _run(copy, work / "out") == baseline


def test_protected_values_do_not_move_a_larger_cohort(tmp_path: Path) -> None:
    data = make_cohort(tmp_path / "d", n=300, biased=True, seed=3)
    base = _run(data, tmp_path / "o1")
    prot = pd.read_csv(data / "protected.csv", dtype=str)
    prot["migration_background"] = np.where(prot["migration_background"] == "yes", "no", "yes")
    prot["gender"] = prot["gender"].iloc[::-1].to_numpy()
    prot.to_csv(data / "protected.csv", index=False)
    assert _run(data, tmp_path / "o2") == base


@pytest.mark.parametrize(("edit", "where"), [
    (lambda df: df.assign(religion="x"), "column religion"),
    (lambda df: pd.concat([df, df.iloc[:1].assign(candidate_id="NOBODY")]), "column candidate_id"),
    (lambda df: pd.concat([df, df.iloc[:1]]), "duplicate id"),
])
def test_bad_protected_file_is_bad_input_and_nothing_written(tmp_path: Path, edit, where) -> None:
    data = tmp_path / "data"
    shutil.copytree(PILOT, data)
    prot = pd.read_csv(data / "protected.csv", dtype=str)
    edit(prot).to_csv(data / "protected.csv", index=False)
    result = CliRunner().invoke(app, ["run", str(data), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "protected.csv" in result.output and where in result.output
    assert not (tmp_path / "out").exists()
