"""All-or-nothing outputs: write into a temporary folder beside the target, then swap; and the
checks made before anything is written or removed (docs/security.md, "outputs never delete
inputs").

Every command that writes checks each output path against each input path first
(`check_apart`): an output may not be an input, hold one, or lie inside an input folder. An
output folder that exists is replaced only when it is empty or holds an earlier output of the
same kind and nothing else (`check_replaceable`); ``--force`` replaces any other folder (never an
input). A symlinked output folder is followed: its target is replaced and the link kept.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from matcher.errors import InputError, Problem

#: How many names a refusal lists before "and N more".
SHOW_NAMES = 10


def real_path(path: Path) -> Path:
    """`path` absolute, with every symlink followed (also where it does not exist yet)."""
    return Path(os.path.realpath(Path(path)))


def check_apart(outputs: Mapping[str, Path | None], inputs: Mapping[str, Path | None]) -> None:
    """Refuse (an InputError naming both) any output (name -> path, e.g. ``"--out"``) that is an
    input, holds one (replacing it would delete the input) or lies inside an input folder."""
    problems = []
    for oname, out in outputs.items():
        if out is None:
            continue
        ro = real_path(out)
        for iname, inp in inputs.items():
            if inp is None:
                continue
            ri = real_path(inp)
            if ro == ri:
                how = f"is the {iname} ({inp}): writing it would overwrite the input"
            elif ro in ri.parents:
                how = f"holds the {iname} ({inp}): replacing it would delete the input"
            elif ri in ro.parents:
                how = f"lies inside the {iname} ({inp}): outputs are kept apart from inputs"
            else:
                continue
            problems.append(Problem(str(out), None, None, f"{oname} {how}; choose another {oname}",
                                    code="output_overlaps_input",
                                    params={"option": oname, "input": str(inp)}))
    if problems:
        raise InputError(problems)


def _names(names: list[str]) -> str:
    more = len(names) - SHOW_NAMES
    return ", ".join(names[:SHOW_NAMES]) + (f" and {more} more" if more > 0 else "")


def check_replaceable(out_dir: Path, marker: str, what: str, own: Iterable[str] = (),
                      force: bool = False) -> None:
    """An output folder may be replaced only if it is empty or holds an earlier output of the
    same kind (its `marker` file) and no file but the `marker` and `own` (what such an output
    writes); otherwise an input error naming the folder and the files in the way. `force`
    replaces any folder (`check_apart` still keeps inputs safe); a file is never replaced."""
    out_dir = real_path(out_dir)
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise InputError([Problem(str(out_dir), None, None,
                                  "output path exists and is not a folder; choose another --out",
                                  code="output_not_folder")])
    entries = sorted(p.name for p in out_dir.iterdir())
    if not entries or force:
        return
    if marker not in entries:
        raise InputError([Problem(
            str(out_dir), None, None,
            f"output folder exists and does not hold {what} (it holds {_names(entries)}); "
            "choose another --out, or give --force to replace it",
            code="output_not_replaceable", params={"files": _names(entries)})])
    foreign = [e for e in entries if e not in {marker, *own}]
    if foreign:
        raise InputError([Problem(
            str(out_dir), None, None,
            f"output folder holds files that {what} did not write: {_names(foreign)}; move them "
            "away, choose another --out, or give --force to replace the folder with them",
            code="output_foreign_files", params={"files": _names(foreign)})])


def staging_dir(out_dir: Path) -> Path:
    """A new empty temporary folder beside `out_dir` (same file system, so the swap is a rename;
    beside a symlinked folder's target)."""
    out_dir = real_path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))


def replace_dir(tmp: Path, out_dir: Path) -> None:
    """Move the finished `tmp` folder to `out_dir`, replacing an earlier one by renames only (a
    symlinked `out_dir`: its target, keeping the link)."""
    out_dir = real_path(out_dir)
    old = None
    if out_dir.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=out_dir.parent))
        old.rmdir()
        out_dir.rename(old)
    tmp.rename(out_dir)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def replace_file(data: bytes, path: Path) -> None:
    """Write `data` to `path` all or nothing: a temporary file beside it, moved in at the end."""
    path = real_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
