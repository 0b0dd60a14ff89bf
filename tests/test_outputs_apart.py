"""Outputs never delete or overwrite inputs (issue #33, case 1; docs/security.md).

The class, not only the example: every command that writes (run, whatif, audit, explain --all,
register, generate) checks each output path against each input path before anything is written
or removed; an output folder that holds files the command did not write is refused (naming them)
unless --force; a symlinked output folder is replaced through its link, leaving nothing behind.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from matcher.cli import app

runner = CliRunner()


def digest(folder: Path) -> dict[str, str]:
    """Every file under `folder` (relative name -> sha256)."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, [str(a) for a in args])
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def a_round(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The pilot data and a round written from it (read-only for the tests below)."""
    from tests.conftest import PILOT

    base = tmp_path_factory.mktemp("apart")
    data = base / "data"
    shutil.copytree(PILOT, data)
    code, text = invoke("run", data, "--out", base / "round")
    assert code == 0, text
    return data, base / "round"


def _commands(data: Path, rnd: Path, policy: Path, out: Path) -> dict[str, list[object]]:
    """Each writing command with its inputs (data, round folder, policy) and `out` as output."""
    return {
        "run": ["run", data, "--policy", policy, "--out", out],
        "whatif": ["whatif", data, "--policy", policy, "--no-marginal", "--no-decisions",
                   "--out", out],
        "audit": ["audit", data, rnd, "--out", out],
        "explain": ["explain", data, "--policy", policy, "--all", out],
        "register": ["register", "--policy", policy, "--out", out],
    }


#: Which inputs each command reads (by the names used in `_where`).
READS = {"run": ("data", "policy"), "whatif": ("data", "policy"), "audit": ("data", "round"),
         "explain": ("data", "policy"), "register": ("policy",)}


def _where(inputs: dict[str, Path], which: str, relation: str) -> Path:
    """An output path that is (`same`), holds (`ancestor`) or lies in (`inside`) an input."""
    inp = inputs[which]
    if relation == "same":
        return inp
    if relation == "ancestor":
        return inp.parent
    return inp / "out" if inp.is_dir() else inp  # a file has nothing inside: the same path


@pytest.mark.parametrize("relation", ["same", "ancestor", "inside"])
@pytest.mark.parametrize("command", sorted(READS))
def test_no_output_touches_an_input(command: str, relation: str, tmp_path: Path,
                                    a_round: tuple[Path, Path]) -> None:
    src_data, src_round = a_round
    # each input in a folder of its own, whose parent (an ancestor output) holds round.json,
    # report.json, audit.json and generator.json: the markers that once let it be replaced
    inputs = {}
    for name in ("data", "round", "policy"):
        home = tmp_path / name
        home.mkdir()
        for marker in ("round.json", "report.json", "audit.json"):
            (home / marker).write_text("{}")
        inputs[name] = home / name
    shutil.copytree(src_data, inputs["data"])
    shutil.copytree(src_round, inputs["round"])
    inputs["policy"] = tmp_path / "policy" / "policy.toml"
    inputs["policy"].write_text("[weights]\nskills = 0.5\n")
    for which in READS[command]:
        before = {n: digest(p.parent) for n, p in inputs.items()}
        out = _where(inputs, which, relation)
        args = _commands(inputs["data"], inputs["round"], inputs["policy"], out)[command]
        code, text = invoke(*args)
        assert code == 2, (which, text)
        assert "choose another" in text and str(inputs[which].name) in text, text
        assert {n: digest(p.parent) for n, p in inputs.items()} == before, which


def test_a_round_into_its_own_data_folder_keeps_the_input(tmp_path: Path,
                                                          a_round: tuple[Path, Path]) -> None:
    """The issue's example: `run P --out r && cp P/*.csv r/ && run r --out r`."""
    data, rnd = a_round
    r = tmp_path / "r"
    shutil.copytree(rnd, r)
    for f in data.glob("*.csv"):
        shutil.copy(f, r)
    before = digest(r)
    code, text = invoke("run", r, "--out", r)
    assert code == 2 and "is the data folder" in text
    assert digest(r) == before


@pytest.mark.parametrize("command,marker", [("run", "round.json"), ("whatif", "report.json"),
                                            ("audit", "audit.json"),
                                            ("generate", "generator.json")])
def test_a_foreign_file_is_refused_by_name_unless_force(command: str, marker: str,
                                                       tmp_path: Path,
                                                       a_round: tuple[Path, Path]) -> None:
    data, rnd = a_round
    out = tmp_path / "out"
    args: list[object] = {
        "run": ["run", data, "--out", out],
        "whatif": ["whatif", data, "--no-marginal", "--no-decisions", "--out", out],
        "audit": ["audit", data, rnd, "--out", out],
        "generate": ["generate", "-n", "30", "--out", out],
    }[command]
    code, text = invoke(*args)
    assert code == 0, text
    assert (out / marker).is_file()
    (out / "my notes.txt").write_text("keep me")
    code, text = invoke(*args)
    assert code == 2 and "my notes.txt" in text and "--force" in text, text
    assert (out / "my notes.txt").read_text() == "keep me"
    code, text = invoke(*args, "--force")
    assert code == 0, text
    assert (out / marker).is_file() and not (out / "my notes.txt").exists()


def test_a_folder_of_other_files_is_refused_naming_them(tmp_path: Path,
                                                        a_round: tuple[Path, Path]) -> None:
    data, _ = a_round
    out = tmp_path / "mine"
    out.mkdir()
    (out / "budget.xlsx").write_text("x")
    code, text = invoke("run", data, "--out", out)
    assert code == 2 and "does not hold an earlier round" in text and "budget.xlsx" in text
    assert [p.name for p in out.iterdir()] == ["budget.xlsx"]


def test_replacing_an_earlier_round_keeps_its_own_extra_files_apart(
        tmp_path: Path, a_round: tuple[Path, Path]) -> None:
    """A round with audit.json/audit.md (extra outputs listed in round.json) is replaced by the
    next round without --force: those files are the round's own."""
    data, _ = a_round
    out = tmp_path / "r"
    for _ in range(2):
        code, text = invoke("run", data, "--out", out, "--format", "xlsx")
        assert code == 0, text
    assert {"audit.json", "round.xlsx"} <= {p.name for p in out.iterdir()}


def test_a_symlinked_out_is_replaced_through_the_link(tmp_path: Path,
                                                      a_round: tuple[Path, Path]) -> None:
    data, _ = a_round
    real = tmp_path / "real"
    link = tmp_path / "link"
    assert invoke("run", data, "--out", real)[0] == 0
    link.symlink_to(real)
    code, text = invoke("run", data, "--out", link)
    assert code == 0, text
    assert link.is_symlink() and (link / "round.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link", "real"]


def test_an_output_path_that_is_a_file_is_refused(tmp_path: Path,
                                                  a_round: tuple[Path, Path]) -> None:
    data, _ = a_round
    f = tmp_path / "afile"
    f.write_text("mine")
    code, text = invoke("run", data, "--out", f)
    assert code == 2 and "not a folder" in text and f.read_text() == "mine"
