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
from matcher.policy import Policy, nest_solver_keys, policy_from_flat
from matcher.prewrite import EdgesPrewrite
from matcher.round import CSV_DIALECTS, Round, run_round, write_round
from matcher.synth import generate, write_generated

SOLVER = {"exact_max_pairs": 0, "prove_max_pairs": 0, "lagrangian_iterations": 6,
          "polish_deterministic_time": 0.1, "decompose_rounds": 1, "decompose_sweeps": 1,
          "decompose_auction_iterations": 2}


def _policy(decompose: bool) -> Policy:
    return policy_from_flat({"solver": SOLVER | {"decompose_min_pairs": 1 if decompose else 0}})


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_generated(generate(900, "all", 5), tmp_path_factory.mktemp("prewrite") / "data")


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.name != "round.json"}


def _round(data: Path, decompose: bool, pre: EdgesPrewrite | None,
           mapper: object = map) -> Round:
    inst, warnings = load_instance(data)
    return run_round(inst, _policy(decompose), warnings,
                     score_mapper=mapper, solve_mapper=mapper,  # type: ignore[arg-type]
                     by_region=pre.start if pre is not None else None)


@pytest.mark.parametrize(("dialect", "mapper"),
                         [("standard", map), ("excel-nl", map), ("standard", None)])
def test_background_edges_are_the_bytes_write_round_writes(
        data: Path, tmp_path: Path, dialect: str, mapper: object,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """edges.csv written by the background process for a round solved by region (with a mapper
    or without) is the file write_round writes itself, and write_round takes it instead of
    writing it again."""
    import matcher.round as rmod

    out, plain = tmp_path / "round", tmp_path / "plain"
    with EdgesPrewrite(out, CSV_DIALECTS[dialect], wait=True) as pre:
        rnd = _round(data, True, pre, mapper)
        assert rnd.result.method == "decomposed"
        with monkeypatch.context() as m:
            m.setattr(rmod, "write_edges", None)
            meta = write_round(rnd, out, dialect=dialect, edges=pre)
        assert pre.seconds is not None  # run_round started it; write_round waited for it
        assert pre.move_to(tmp_path / "again") is None  # taken once
    write_round(rnd, plain, dialect=dialect)
    assert _files(out) == _files(plain)
    digest = hashlib.sha256((out / "edges.csv").read_bytes()).hexdigest()
    assert meta["outputs"]["edges.csv"] == digest
    assert meta["run"]["timings_s"]["edges_csv_during_solve"] >= 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plain", "round"]  # no staging left


@pytest.mark.parametrize("hook", [True, False])
def test_a_round_solved_whole_writes_edges_at_the_end(data: Path, tmp_path: Path,
                                                      hook: bool) -> None:
    """A city's round (solved whole) gets no background write, even with the hook: there it
    slowed the solve by more than it saved. write_round writes edges.csv itself."""
    out = tmp_path / "round"
    with EdgesPrewrite(out, CSV_DIALECTS["standard"]) as pre:
        rnd = _round(data, False, pre if hook else None, map)
        assert rnd.result.method != "decomposed"
        assert pre._proc is None and pre.move_to(tmp_path / "x") is None  # never started
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
          EdgesPrewrite(out, CSV_DIALECTS["standard"], wait=True) as pre):
        write_round(_round(data, True, pre), out, edges=pre)
    assert list(tmp_path.iterdir()) == []


def test_an_unfinished_background_write_is_stopped_and_written_here(
        data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On a busy machine the idle-priority writer may not be done when write_round needs the
    file: it is stopped and write_round writes the file itself (same bytes), without waiting."""
    import os
    import time

    parent = os.getpid()
    real = prewrite.write_csv_frames

    def slow_in_the_child(frames, path, **kw):  # type: ignore[no-untyped-def]
        if os.getpid() != parent:
            time.sleep(60)
        return real(frames, path, **kw)

    monkeypatch.setattr(prewrite, "write_csv_frames", slow_in_the_child)
    out, plain = tmp_path / "round", tmp_path / "plain"
    with EdgesPrewrite(out, CSV_DIALECTS["standard"]) as pre:
        rnd = _round(data, True, pre)
        child = pre._proc
        assert child is not None and child.is_alive()
        t = time.perf_counter()
        meta = write_round(rnd, out, edges=pre)
        assert time.perf_counter() - t < 30  # did not wait for the sleeping writer
        assert not child.is_alive() and pre.seconds is None
    write_round(rnd, plain)
    assert _files(out) == _files(plain)
    assert "edges_csv_during_solve" not in meta["run"]["timings_s"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plain", "round"]


def test_an_abandoned_round_leaves_nothing(data: Path, tmp_path: Path) -> None:
    out = tmp_path / "round"
    with EdgesPrewrite(out, CSV_DIALECTS["standard"]) as pre:
        rnd = _round(data, True, pre)
        assert rnd.result.method == "decomposed"  # the round fails here, before write_round
    assert list(tmp_path.iterdir()) == []


def test_the_writer_runs_at_the_lowest_priority(data: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The child that writes edges.csv asks for the lowest CPU priority before it writes."""
    import os

    seen: list[tuple[int, int]] = []

    def record(frames, path, **kw):  # type: ignore[no-untyped-def]
        seen.append((os.sched_getscheduler(0), os.getpriority(os.PRIO_PROCESS, 0)))
        raise OSError(5, f"policy {seen[-1]}")

    monkeypatch.setattr(prewrite, "write_csv_frames", record)
    out = tmp_path / "round"
    with (pytest.raises(OSError) as err,
          EdgesPrewrite(out, CSV_DIALECTS["standard"], wait=True) as pre):
        write_round(_round(data, True, pre), out, edges=pre)
    # The policy was recorded in the child (the error carries it back).
    assert f"policy ({os.SCHED_IDLE}," in str(err.value) or str(err.value).endswith(", 19)")


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
    """`matcher run` on a round solved by region, with 2 worker processes and with none: the
    same outputs (edges.csv from the background writer or, if it was not done, written at the
    end) and no temporary folder left."""
    pol = tmp_path / "p.toml"
    solver = nest_solver_keys({"solver": SOLVER | {"decompose_min_pairs": 1}})["solver"]
    pol.write_text("".join(f"[{'.'.join(['solver', *([t] if t else [])])}]\n" + "".join(
        f"{k} = {json.dumps(v)}\n" for k, v in table.items())
        for t, table in [("", {k: v for k, v in solver.items() if not isinstance(v, dict)}),
                         *((t, v) for t, v in solver.items() if isinstance(v, dict))]))
    runner = CliRunner()
    for name, workers in (("two", "2"), ("one", "1")):
        result = runner.invoke(app, ["run", str(data), "--out", str(tmp_path / name),
                                     "--policy", str(pol), "--workers", workers])
        assert result.exit_code == 0, result.output
    two = json.loads((tmp_path / "two" / "round.json").read_text())
    one = json.loads((tmp_path / "one" / "round.json").read_text())
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
