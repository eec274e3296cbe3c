"""Output stamps: whether a folder chartgen wrote (a chart, the umbrella) is still as it left it.

A stamp hashes the size, modification time and inode number of the folder, of every folder
in it and of every file in it. The list of what to look at (the folder's *entries*) is
recorded with the stamp, so a later run stats those paths instead of listing every folder
again: a file edited in place changes its own stamp, and a file added, removed or replaced
changes the modification time of its folder (POSIX updates it for every entry created,
removed or renamed), so nothing escapes that a walk would see. At 1,000 workflows a rerun
with nothing to do stats ~33k paths this way instead of listing ~20k folders.

The umbrella's copies of its sub-charts are hard links to the sub-charts' own files (which
each workflow's stamp looks at): of those only the folders are stamped; a copy that is not
such a link (a checkout makes copies) is stamped as any file.
"""

from __future__ import annotations

import array
import hashlib
import operator
import os
from pathlib import Path
from typing import Iterable

# Between the entries of a stamp: the one character no file name holds (a name may hold a
# line break, and an entry split in two would never be stat-ed).
SEP = "\0"

# Walks of this run, until a stage writes there (`forget`): top folder -> files, folders.
_SCANS: dict[tuple[str, bool], list] = {}
_FOLDERS: dict[tuple[str, bool], list[str]] = {}
# Stamped in this run: folder -> (entries, stamp, [size, mtime, inode] of each entry in a row).
_TREES: dict[str, tuple] = {}
_BEFORE: dict[str, tuple] = {}           # the same, of folders written since (see `umbrella_entries`)
_FRESH: dict[str, dict[str, tuple]] = {}   # folder -> entry -> stat taken just before its stamp


def forget(under: Iterable[Path | str] | None = None, *, intact: bool = False) -> None:
    """Folders were written since they were looked at: look again. `under`: only the folders
    at or below these paths were written (one changed workflow's chart, not the thousand
    others). `intact`: their stamps matched their records before the write (the stamps are
    kept for `umbrella_entries`)."""
    if under is None:
        for known in (_SCANS, _FOLDERS, _TREES, _BEFORE, _FRESH):
            known.clear()
        return
    tops = [os.fspath(path) for path in under]

    def below(path: str) -> bool:
        return any(path == top or path.startswith(top + os.sep) for top in tops)

    for known in (_SCANS, _FOLDERS):
        for key in [key for key in known if below(key[0])]:
            del known[key]
    for key in [key for key in _FRESH if below(key)]:
        del _FRESH[key]
    for key in [key for key in _TREES if below(key)]:
        before = _TREES.pop(key)
        if intact:
            _BEFORE[key] = before
        else:
            _BEFORE.pop(key, None)


def scan(top: str, skip_hidden: bool) -> list:
    """(relative path, path, os.stat_result or None) of every file under `top`, sorted by path
    parts, links to folders not followed. Remembered until `forget()`: a run with nothing to
    do looks at each folder once, not once per question."""
    known = _SCANS.get((top, skip_hidden))
    if known is not None:
        return known
    found: list = []
    folders: list[str] = []
    by_name = operator.attrgetter("name")

    def walk(folder: str, prefix: str) -> None:
        try:
            with os.scandir(folder) as listing:
                entries = sorted(listing, key=by_name)
        except OSError:
            return
        dirs = []
        for entry in entries:              # as os.walk: a folder's files before its sub-folders
            try:
                is_dir = entry.is_dir()
            except OSError:
                is_dir = False
            if is_dir:
                if not (skip_hidden and entry.name[:1] == "."):
                    dirs.append(entry)
                continue
            try:
                found.append((prefix + entry.name, entry.path, entry.stat()))
            except OSError:
                found.append((prefix + entry.name, entry.path, None))
        for entry in dirs:
            folders.append(prefix + entry.name + "/")
            if not entry.is_symlink():
                walk(entry.path, prefix + entry.name + "/")

    walk(top, "")
    _SCANS[(top, skip_hidden)] = found
    _FOLDERS[(top, skip_hidden)] = folders
    return found


def current_files() -> dict[str, list | None]:
    """The files this run looked at, by path: [size, mtime, inode] for those a walk saw, None
    for those a stamp vouches for (unchanged since the run that recorded its entries)."""
    current: dict[str, list | None] = {}
    for top, (entries, _, _) in _TREES.items():
        prefix = top + os.sep
        current.update(dict.fromkeys([prefix + rel for rel in entries.split(SEP) if rel and rel[-1] != "/"]))
    for found in _SCANS.values():
        for _, path, info in found:
            if info is not None:
                current[path] = [info.st_size, info.st_mtime_ns, info.st_ino]
    return current


def tree_entries(root: Path | str, skip_hidden: bool = False) -> str | None:
    """What the stamp of the folder `root` looks at, from a walk: "" (the folder itself), its
    folders ("a/", "a/b/") and files ("a/b/c"), joined by SEP, sorted; None: not a folder.
    `skip_hidden`: not below hidden folders (as `scan`)."""
    top = os.fspath(root)
    if not os.path.isdir(top):
        return None
    files = scan(top, skip_hidden)
    return SEP.join(sorted(["", *_FOLDERS[(top, skip_hidden)], *(rel for rel, _, _ in files)]))


def stamp_values(root: Path | str, entries: str | None) -> tuple[str, array.array | None]:
    """The stamp of `root` over `entries` (as `tree_entries` gives them), and the size,
    modification time and inode of each entry in a row."""
    if entries is None:
        return "<missing>", None
    values = array.array("q")
    fresh = _FRESH.pop(os.fspath(root), {})
    try:
        folder = os.open(os.fspath(root), os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return "<missing>", None
    try:
        for rel in entries.split(SEP):
            if rel in fresh:
                values.extend(fresh[rel])
                continue
            try:           # relative to the open folder: the kernel walks two names, not ten
                info = os.stat(rel or ".", dir_fd=folder)
            except OSError:
                values.extend((-1, -1, -1))
                continue
            values.extend((info.st_size, info.st_mtime_ns, info.st_ino))
    finally:
        os.close(folder)
    digest = hashlib.sha256(entries.encode("utf-8", "surrogateescape") + b"\0")
    digest.update(values.tobytes())
    return digest.hexdigest(), values


def tree_stamp(root: Path | str, entries: str | None = None) -> tuple[str, str | None]:
    """(stamp, entries) of the folder `root`: over the recorded `entries` when given (what a
    previous run saw there), else over what a walk finds. Remembered until `forget()`."""
    top = os.fspath(root)
    known = _TREES.get(top)
    if known is not None and (entries is None or known[0] == entries):
        return known[1], known[0]
    if entries is None:
        entries = tree_entries(top)
    result, values = stamp_values(top, entries)
    if entries is not None:
        _TREES[top] = (entries, result, values)
    return result, entries


def umbrella_entries(root: Path | str, charts_dir: Path | str) -> str | None:
    """`tree_entries` of an umbrella chart whose `charts/<name>/` folders hold copies of the
    charts in `charts_dir`: the copies' files that are hard links to the sub-chart's own file
    (same inode number) are left out, their folders kept."""
    top = os.fspath(root)
    if not os.path.isdir(top):
        return None
    from chartgen.chart.tree import walk_entries

    sources = os.fspath(charts_dir)
    inodes: dict[str, dict[str, int]] = {}
    kept = _unchanged_copies(top)
    found = [""]

    def descend(rel: str, entry) -> bool:
        found.append(rel + "/")
        reused = kept(rel + "/") if rel.startswith("charts/") and rel.count("/") == 1 else []
        found.extend(reused)
        return not reused

    for rel, entry in walk_entries(top, descend, skip_unreadable=True):
        if rel.startswith("charts/") and entry.is_file(follow_symlinks=False):
            name, _, inner = rel[len("charts/"):].partition("/")
            if name not in inodes:
                inodes[name] = _inodes(os.path.join(sources, name))
            if inodes[name].get(inner, -1) == entry.inode():
                continue           # a link to the sub-chart's own file
        found.append(rel)
    return SEP.join(sorted(found))


def _unchanged_copies(top: str):
    """For the umbrella `top` just written: a function giving, for a sub-chart copy folder
    ("charts/<name>/"), the entries below it as the stamp taken before the write saw them,
    when every folder of the copy is still the same (inode, modification time: the umbrella
    moves an unchanged copy as it is, so its listing and links are those found before), else
    an empty list (walk it)."""
    before = _BEFORE.get(top)
    position: dict[str, int] = {}
    groups: dict[str, list[str]] = {}
    if before is not None and before[2] is not None:
        entries = before[0].split(SEP)
        if len(before[2]) == 3 * len(entries):
            position = {rel: index for index, rel in enumerate(entries)}
            for rel in entries:
                if rel.startswith("charts/") and rel.count("/") >= 2:
                    folder = rel[:rel.index("/", len("charts/")) + 1]
                    if rel != folder:
                        groups.setdefault(folder, []).append(rel)

    fresh = _FRESH.setdefault(top, {})     # stat-ed here: the stamp that follows takes them

    def unchanged(rel: str) -> bool:
        index = position.get(rel)
        if index is None:
            return False
        try:
            info = os.stat(os.path.join(top, rel))
        except OSError:
            return False
        fresh[rel] = (info.st_size, info.st_mtime_ns, info.st_ino)
        return tuple(before[2][3 * index:3 * index + 3]) == fresh[rel]

    def kept(folder: str) -> list[str]:
        own = groups.get(folder, [])
        if own and all(unchanged(rel) for rel in [folder, *(rel for rel in own if rel[-1] == "/")]):
            return own
        return []

    return kept


def _inodes(top: str) -> dict[str, int]:
    """Relative path -> inode number of the files of the folder `top`, as this run's stamp of
    it saw them (else as a walk finds them)."""
    known = _TREES.get(top)
    if known is not None and known[2] is not None:
        entries, values = known[0].split(SEP), known[2]
        return {rel: values[3 * i + 2] for i, rel in enumerate(entries) if rel and rel[-1] != "/"}
    return {rel: info.st_ino for rel, _, info in scan(top, False) if info is not None}
