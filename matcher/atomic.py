"""All-or-nothing output folders: write into a temporary folder beside the target, then swap."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from matcher.errors import InputError, Problem


def check_replaceable(out_dir: Path, marker: str, what: str) -> None:
    """An output folder may be replaced only if it is empty or holds an earlier output of the
    same kind (its `marker` file); otherwise an input error naming the folder."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not (out_dir.is_dir() and (
            (out_dir / marker).exists() or not any(out_dir.iterdir()))):
        raise InputError([Problem(str(out_dir), None, None,
                                  f"output folder exists and does not hold {what}; "
                                  "choose another --out")])


def staging_dir(out_dir: Path) -> Path:
    """A new empty temporary folder beside `out_dir` (same file system, so the swap is a rename)."""
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))


def replace_dir(tmp: Path, out_dir: Path) -> None:
    """Move the finished `tmp` folder to `out_dir`, replacing an earlier one by renames only."""
    old = None
    if out_dir.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=out_dir.parent))
        old.rmdir()
        out_dir.rename(old)
    tmp.rename(out_dir)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
