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

from chartgen.errors import ChartgenError, UsageError

MARKER = ".chartgen"


def is_inside(path: Path, root: Path) -> bool:
    """True when `path` (symlinks resolved) lies inside `root`. Never raises: a symlink loop
    stays unresolved (os.path.realpath; Path.resolve raises RuntimeError), and reading it then
    reports the loop."""
    real, top = os.path.realpath(path), os.path.realpath(root)
    return real == top or real.startswith(top.rstrip(os.sep) + os.sep)


def _kind(path: Path) -> str:
    import stat

    try:
        mode = os.stat(path).st_mode
    except OSError:
        return "a broken symbolic link" if os.path.islink(path) else "unreadable"
    for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISREG, "a file"), (stat.S_ISCHR, "a device"),
                       (stat.S_ISBLK, "a device"), (stat.S_ISFIFO, "a pipe"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a file"


def unwritable(path: Path, *, folder: bool = True) -> str | None:
    """Why chartgen cannot write `path`, an output folder (or, folder=False, a file it replaces),
    as the end of a sentence about it (`is a device, not a folder`), or None when it can. A path that exists must be a folder (a regular file); otherwise its
    nearest existing ancestor must be a folder (chartgen creates the missing ones). The folder
    written in is tried by creating and removing a temporary file: permission bits say nothing
    for root, a read-only mount or /proc."""
    path = Path(path)
    if os.path.lexists(path):
        if folder and not path.is_dir():
            return f"is {_kind(path)}, not a folder"
        if not folder and not path.is_file():
            return f"is {_kind(path)}, not a regular file"
    existing = path if folder and path.is_dir() else path.parent
    while not os.path.lexists(existing) and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return f"cannot be created: {existing} is {_kind(existing)}, not a folder"
    try:
        fd, probe = tempfile.mkstemp(prefix=".chartgen-probe-", dir=existing)
    except OSError as exc:
        return f"cannot be written: {existing}: {exc.strerror or exc}"
    os.close(fd)
    os.unlink(probe)
    return None


def check_replaceable(target: Path, *, marker: str = MARKER) -> None:
    """Refuse to replace a non-empty directory that chartgen did not write."""
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise UsageError(f"{target} exists and is not a directory; refusing to replace it",
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
