"""The files of a chart folder as chartgen looks at them: one walker, links never followed,
and the umbrella's copies of its sub-charts told apart from its own files."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Container, Mapping

from chartgen.fsutil import MARKER


def walk_entries(folder: Path, descend=None, *, skip_unreadable: bool = False):
    """(relative path, os.DirEntry) of every entry under `folder` but folders, links never
    followed; `descend(rel, entry)` says whether to look into a folder (default: always). A
    folder that cannot be listed raises OSError, or is passed over with `skip_unreadable`."""
    stack = [("", os.fspath(folder))]
    while stack:
        prefix, path = stack.pop()
        try:
            with os.scandir(path) as listing:
                listed = list(listing)
        except OSError:
            if skip_unreadable:
                continue
            raise
        for entry in listed:
            rel = prefix + entry.name
            if not entry.is_dir(follow_symlinks=False):
                yield rel, entry
            elif descend is None or descend(rel, entry):
                stack.append((rel + "/", entry.path))


def chart_file_names(chart_dir: Path, umbrella: bool = False) -> list[str]:
    """Relative paths of the files of a chart folder (regular files and symbolic links, the
    marker left out). For an umbrella, of each `charts/<sub>/` folder only its Chart.yaml: the rest
    are links to the sub-chart's own files, not the umbrella's to hash or report."""
    found: list[str] = []

    def descend(rel: str, entry) -> bool:
        if umbrella and rel.count("/") == 1 and rel.startswith("charts/"):
            inner = os.path.join(entry.path, "Chart.yaml")
            if os.path.isfile(inner) and not os.path.islink(inner):
                found.append(rel + "/Chart.yaml")
            return False
        return True

    for rel, entry in walk_entries(chart_dir, descend, skip_unreadable=True):
        if rel != MARKER and (entry.is_file(follow_symlinks=False) or entry.is_symlink()) and \
                not (umbrella and rel.count("/") == 1 and rel.startswith("charts/")):
            found.append(rel)    # a link added by hand is reported, never followed
    return sorted(found)


def file_inodes(folder: Path, prune: Container[str] = ()) -> dict[str, int] | None:
    """Relative path -> inode number of everything under `folder` (-1: not a regular file),
    without descending into the folders named in `prune`; None when it cannot be listed."""
    try:
        return {rel: entry.inode() if entry.is_file(follow_symlinks=False) else -1
                for rel, entry in walk_entries(folder, lambda rel, entry: rel not in prune)}
    except OSError:
        return None


def _stamps(root: str, folders: list[str]) -> str | None:
    """"inode.mtime_ns" of each of `folders` (relative to `root`, "" itself), joined; None when
    one is gone. An entry made, removed or renamed in a folder changes its time."""
    out = []
    for rel in folders:
        try:
            info = os.lstat(f"{root}/{rel}" if rel else root)
        except OSError:
            return None
        out.append(f"{info.st_ino}.{info.st_mtime_ns}")
    return ",".join(out)


def _stamped_walk(root: str) -> tuple[dict[str, object], list[str], str, bool]:
    """(relative path -> os.DirEntry of everything under `root` but folders, the folders, their
    stamps as `_stamps` gives them, whether all settled), each folder stat'ed before it is
    listed; links never followed. Raises OSError."""
    from chartgen.fsutil import is_settled

    entries: dict[str, object] = {}
    folders: list[str] = []
    stamps: list[str] = []
    settled = True
    stack = [("", root)]
    while stack:
        rel, path = stack.pop()
        info = os.lstat(path)
        folders.append(rel)
        stamps.append(f"{info.st_ino}.{info.st_mtime_ns}")
        settled = settled and is_settled(info.st_mtime_ns)
        prefix = rel + "/" if rel else ""
        with os.scandir(path) as listing:
            for entry in listing:
                if entry.is_dir(follow_symlinks=False):
                    stack.append((prefix + entry.name, entry.path))
                else:
                    entries[prefix + entry.name] = entry
    return entries, folders, ",".join(stamps), settled


def _read_or_none(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def current_copies(target: Path, subtrees: Mapping[str, Path], chart_yamls: Mapping[str, bytes | None],
                   memo=None) -> tuple[set[str], dict[str, dict[str, tuple[str, int]]]]:
    """Of the umbrella `target`'s copies of its sub-charts (`subtrees`: `charts/<name>` -> the
    sub-chart folder), (those current: holding exactly `chart_yamls[rel]` as Chart.yaml and
    links to the sub-chart's other files (same inodes), and for each other one what to link:
    relative path -> (file, inode) of every regular file of its sub-chart but Chart.yaml and
    the marker). A checkout turns links into copies: those are linked again once.

    `memo` (optional, a store as `chartgen.chart.lintcache.LintCache`): what a copy found
    current was, the inode and time of each folder of it and of its sub-chart. While none of
    them changed, no entry was made, removed or renamed in them: the same names have the same
    inodes, and only the copy's Chart.yaml is read. A folder changed in the last seconds is
    listed every time (an edit to come could keep its time: `chartgen.fsutil.is_settled`)."""
    import hashlib

    target = Path(target)
    key = memo.key("umbrella-copies", hashlib.sha256(os.fsencode(os.path.realpath(target))).digest()) \
        if memo is not None else None
    known = memo.get(key) if key is not None else None
    known = known if isinstance(known, dict) else {}
    recorded: dict[str, list] = {}
    current: set[str] = set()
    links: dict[str, dict[str, tuple[str, int]]] = {}
    for rel, source in subtrees.items():
        copy, source_path, wanted = os.fspath(target / rel), os.fspath(source), chart_yamls.get(rel)
        entry = known.get(rel)
        if isinstance(entry, list) and len(entry) == 5 and entry[0] == source_path and \
                isinstance(entry[1], list) and isinstance(entry[3], list) and \
                _stamps(source_path, entry[1]) == entry[2] and _stamps(copy, entry[3]) == entry[4] and \
                wanted is not None and _read_or_none(target / rel / "Chart.yaml") == wanted:
            current.add(rel)
            recorded[rel] = entry
            continue
        found, folders, stamps, settled = _stamped_walk(source_path)
        linked = {name: (entry.path, entry.inode()) for name, entry in found.items()
                  if entry.is_file(follow_symlinks=False) and name not in (MARKER, "Chart.yaml")}
        try:
            present, copy_folders, copy_stamps, copy_settled = _stamped_walk(copy)
        except OSError:
            links[rel] = linked
            continue
        inodes = {name: entry.inode() if entry.is_file(follow_symlinks=False) else -1
                  for name, entry in present.items()}
        if inodes.pop("Chart.yaml", None) is None or inodes != {name: ino for name, (_, ino) in linked.items()} \
                or _read_or_none(target / rel / "Chart.yaml") != wanted:
            links[rel] = linked
            continue
        current.add(rel)
        if settled and copy_settled:
            recorded[rel] = [source_path, folders, stamps, copy_folders, copy_stamps]
    if key is not None and recorded != known:
        memo.put(key, recorded)
    return current, links
