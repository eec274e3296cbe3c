"""File-system edges: atomic output directories and safe paths.

Generated directories are written to a temporary sibling and swapped into place, so a
failure never leaves a half-written output. A directory chartgen wrote carries a marker
file; a non-empty directory without it is refused rather than replaced, so chartgen
never deletes what it did not write.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, Mapping

from chartgen.errors import ChartgenError

MARKER = ".chartgen"


def is_inside(path: Path, root: Path) -> bool:
    """True when `path` (symlinks resolved) lies inside `root`. Never raises: a symlink loop
    stays unresolved (os.path.realpath; Path.resolve raises RuntimeError), and reading it then
    reports the loop."""
    real, top = os.path.realpath(path), os.path.realpath(root)
    return real == top or real.startswith(top.rstrip(os.sep) + os.sep)


def check_replaceable(target: Path, *, marker: str = MARKER) -> None:
    """Refuse to replace a non-empty directory that chartgen did not write."""
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise ChartgenError(f"{target} exists and is not a directory; refusing to replace it",
                            path=target, code="output-not-dir")
    if target.is_dir() and any(target.iterdir()) and not (target / marker).exists():
        raise ChartgenError(
            f"{target} is not empty and was not written by chartgen (no {marker} marker); "
            "refusing to delete it. Choose an empty or new directory.",
            path=target, code="output-not-ours")


@contextmanager
def atomic_directory(target: Path, *, marker: str = MARKER, marker_text: str = "") -> Iterator[Path]:
    """Yield a fresh temp directory; on success it replaces `target` in one swap.

    On any exception the temp directory is removed and `target` is left as it was.
    """
    target = Path(target)
    check_replaceable(target, marker=marker)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        yield tmp
        (tmp / marker).write_text(marker_text or "written by chartgen; the whole directory is regenerated\n")
        os.chmod(tmp, 0o755)
        old = None
        if target.exists():
            old = target.parent / f".{target.name}.old-{os.getpid()}"
            os.rename(target, old)
        try:
            os.rename(tmp, target)
        except BaseException:
            if old is not None:
                os.rename(old, target)  # put the previous output back
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_tree(root: Path, files: Mapping[str, str | bytes]) -> None:
    """Write relative-path -> content pairs under `root` (which must exist)."""
    for rel, content in sorted(files.items()):
        dest = root / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            dest.write_bytes(content)
        else:
            dest.write_text(content, encoding="utf-8")


def _replace_atomic(path: Path, fill: Callable[[str], None]) -> None:
    """Write a temp file in `path`'s folder with `fill(temp_path)`, then rename it over `path`:
    readers see the old file or the new one, never half of it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        fill(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_atomic(path: Path, content: str | bytes) -> None:
    """Replace one file atomically with `content`."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    _replace_atomic(path, lambda tmp: Path(tmp).write_bytes(data))


def copy_atomic(source: Path, dest: Path) -> None:
    """Replace `dest` atomically with a copy of `source`."""
    _replace_atomic(dest, lambda tmp: shutil.copyfile(source, tmp))
