"""edges.csv written while a round is solved (matcher.prewrite): the same bytes, all or nothing."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import matcher.prewrite as prewrite
from matcher.cli import app
from matcher.load import load_instance
from matcher.policy import Policy, policy_from_dict
from matcher.prewrite import EdgesPrewrite
from matcher.round import CSV_DIALECTS, Round, run_round, write_round
from matcher.synth import generate, write_generated

SOLVER = {"exact_max_pairs": 0, "prove_max_pairs": 0, "lagrangian_iterations": 6,
          "polish_deterministic_time": 0.1, "decompose_rounds": 1, "decompose_sweeps": 1,
          "decompose_auction_iterations": 2}


def _policy(decompose: bool) -> Policy:
    return policy_from_dict({"solver": SOLVER | {"decompose_min_pairs": 1 if decompose else 0}})


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_generated(generate(900, "all", 5), tmp_path_factory.mktemp("prewrite") / "data")


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.name != "round.json"}


def _round(data: Path, decompose: bool, pre: EdgesPrewrite | None,
           mapper: object = map) -> Round:
    inst, warnings = load_instance(data)
    return run_round(inst, _policy(decompose), warnings, mapper,  # type: ignore[arg-type]
                     while_waiting=pre.start if pre is not None else None)


@pytest.mark.parametrize("dialect", ["standard", "excel-nl"])
def test_background_edges_are_the_bytes_write_round_writes(
        data: Path, tmp_path: Path, dialect: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import matcher.round as rmod

    out, plain = tmp_path / "round", tmp_path / "plain"
    with EdgesPrewrite(out, CSV_DIALECTS[dialect]) as pre:
        rnd = _round(data, True, pre)
        assert rnd.result.method == "decomposed"
        with monkeypatch.context() as m:  # write_round must take the file, not write it again
            m.setattr(rmod, "write_edges", None)
            meta = write_round(rnd, out, dialect=dialect, edges=pre)
        assert pre.seconds is not None  # run_round started it; write_round waited for it
    write_round(rnd, plain, dialect=dialect)
    assert _files(out) == _files(plain)
    digest = hashlib.sha256((out / "edges.csv").read_bytes()).hexdigest()
    assert meta["outputs"]["edges.csv"] == digest
    assert meta["run"]["timings_s"]["edges_csv_during_solve"] >= 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plain", "round"]  # no staging left


@pytest.mark.parametrize(("decompose", "mapper"), [(False, map), (True, None)])
def test_no_background_write_where_this_process_does_the_solving(
        data: Path, tmp_path: Path, decompose: bool, mapper: object) -> None:
    """A round solved whole, or by region without worker processes, keeps this process busy:
    edges.csv is then written by write_round itself (same bytes)."""
    out = tmp_path / "round"
    with EdgesPrewrite(out, CSV_DIALECTS["standard"]) as pre:
        rnd = _round(data, decompose, pre, mapper)
        assert pre.seconds is None and pre.move_to(tmp_path / "x") is None
        meta = write_round(rnd, out, edges=pre)
    assert "edges_csv_during_solve" not in meta["run"]["timings_s"]
    assert meta["outputs"]["edges.csv"] == hashlib.sha256(
        (out / "edges.csv").read_bytes()).hexdigest()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["round"]


def test_a_failed_background_write_leaves_nothing(data: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(frames, path, **kw):  # type: ignore[no-untyped-def]
        path.write_bytes(b"half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(prewrite, "write_csv_frames", broken)
    out = tmp_path / "round"
    with (pytest.raises(OSError, match="No space"),
          EdgesPrewrite(out, CSV_DIALECTS["standard"]) as pre):
        write_round(_round(data, True, pre), out, edges=pre)
    assert list(tmp_path.iterdir()) == []


def test_an_abandoned_round_leaves_nothing(data: Path, tmp_path: Path) -> None:
    out = tmp_path / "round"
    with EdgesPrewrite(out, CSV_DIALECTS["standard"]) as pre:
        rnd = _round(data, True, pre)
        assert rnd.result.method == "decomposed"  # the round fails here, before write_round
    assert list(tmp_path.iterdir()) == []


def test_cancel_stops_before_the_next_piece(data: Path, tmp_path: Path) -> None:
    import threading

    inst, warnings = load_instance(data)
    rnd = run_round(inst, _policy(False), warnings)
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(prewrite.Cancelled):
        prewrite.write_edges(rnd.edges, inst, tmp_path / "e.csv", CSV_DIALECTS["standard"],
                             cancel)


def test_cli_checks_the_output_folder_before_the_round(data: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import matcher.cli.round_commands as rc

    def no_round(*a: object, **k: object) -> None:
        raise AssertionError("the round ran although --out cannot be written")

    monkeypatch.setattr(rc, "run_round", no_round)
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    result = CliRunner().invoke(app, ["run", str(data), "--out", str(out)])
    assert result.exit_code == 2 and "does not hold an earlier round" in result.output
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


def test_cli_with_workers_writes_edges_during_the_solve(data: Path, tmp_path: Path) -> None:
    """`matcher run --workers 2` on a round solved by region: edges.csv is written in the
    background and is the file a one-process run writes."""
    pol = tmp_path / "p.toml"
    pol.write_text("[solver]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in
                                          (SOLVER | {"decompose_min_pairs": 1}).items()))
    runner = CliRunner()
    for name, workers in (("two", "2"), ("one", "1")):
        result = runner.invoke(app, ["run", str(data), "--out", str(tmp_path / name),
                                     "--policy", str(pol), "--workers", workers])
        assert result.exit_code == 0, result.output
    two = json.loads((tmp_path / "two" / "round.json").read_text())
    one = json.loads((tmp_path / "one" / "round.json").read_text())
    assert "edges_csv_during_solve" in two["run"]["timings_s"]
    assert "edges_csv_during_solve" not in one["run"]["timings_s"]
    assert two["outputs"] == one["outputs"]
    assert _files(tmp_path / "two") == _files(tmp_path / "one")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one", "p.toml", "two"]


def test_cli_checks_protected_csv_before_the_round(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A bad protected.csv stops `matcher run` before the round's work (exit 2, the file, row
    and column named), not after a long solve."""
    import shutil

    import matcher.cli.round_commands as rc
    from matcher.cli.round_commands import pilot_dir

    def no_round(*a: object, **k: object) -> None:
        raise AssertionError("the round ran although protected.csv is bad")

    data = tmp_path / "data"
    shutil.copytree(pilot_dir(), data)
    lines = (data / "protected.csv").read_text().splitlines()
    header = lines[0].split(",")
    row = lines[1].split(",")
    row[0] = "nobody-with-this-id"
    (data / "protected.csv").write_text("\n".join([lines[0], ",".join(row), *lines[2:]]) + "\n")
    monkeypatch.setattr(rc, "run_round", no_round)
    result = CliRunner().invoke(app, ["run", str(data), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2, result.output
    assert "protected.csv" in result.output and "nobody-with-this-id" in result.output
    assert header[0] == "candidate_id"
    assert not (tmp_path / "o").exists()
