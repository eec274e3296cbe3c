"""The files of a chart folder as chartgen looks at them: one walker, links never followed,
and the umbrella's copies of its sub-charts told apart from its own files."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Container

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


def linked_files(source: Path) -> dict[str, tuple[str, int]]:
    """What an umbrella links of the sub-chart at `source`: relative path -> (file, inode
    number as the folder listing gives it), every regular file but Chart.yaml and the marker."""
    return {rel: (entry.path, entry.inode()) for rel, entry in walk_entries(source)
            if entry.is_file(follow_symlinks=False) and rel not in (MARKER, "Chart.yaml")}


def file_inodes(folder: Path, prune: Container[str] = ()) -> dict[str, int] | None:
    """Relative path -> inode number of everything under `folder` (-1: not a regular file),
    without descending into the folders named in `prune`; None when it cannot be listed."""
    try:
        return {rel: entry.inode() if entry.is_file(follow_symlinks=False) else -1
                for rel, entry in walk_entries(folder, lambda rel, entry: rel not in prune)}
    except OSError:
        return None
