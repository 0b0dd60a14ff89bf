"""Operating-system errors become one line naming the path and the cause, exit 2 (issue #33,
case 5; part: the command line)."""

from __future__ import annotations

import errno
import subprocess
import sys
from pathlib import Path

import pytest

from matcher.cli import main


def run_main(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    monkeypatch.setattr(sys, "argv", ["matcher", *args])
    with pytest.raises(SystemExit) as exc:
        main()
    return int(exc.value.code or 0)


def test_out_under_a_file(tmp_path: Path) -> None:
    f = tmp_path / "afile"
    f.write_text("mine")
    r = subprocess.run([sys.executable, "-m", "matcher", "run", "--out", str(f / "round")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert str(f) in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert f.read_text() == "mine"


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EFBIG, errno.EROFS])
def test_a_full_disk_or_read_only_folder_is_one_line(tmp_path: Path, code: int,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    import matcher.round

    def fail(*a: object, **k: object) -> str:
        raise OSError(code, errno.errorcode[code] + " " + __import__("os").strerror(code),
                      str(tmp_path / "out" / "assignments.csv"))

    monkeypatch.setattr(matcher.round, "_write_csv", fail)
    assert run_main(monkeypatch, "run", "--out", str(tmp_path / "out")) == 2
    err = capsys.readouterr().err
    assert "assignments.csv" in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # all or nothing


def test_a_policy_file_that_is_not_utf8(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    pol = tmp_path / "latin.toml"
    pol.write_bytes("# caf\xe9\n[weights]\nskills = 0.3\n".encode("latin-1"))
    assert run_main(monkeypatch, "validate", "--policy", str(pol)) == 2
    assert "latin.toml" in capsys.readouterr().err
