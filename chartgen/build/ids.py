"""Workflow ids of the whole repository, for the cross-workflow validation rules."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from chartgen import limits
from chartgen.errors import ChartgenError


def workflow_ids(folder: Path, memo: dict | None = None, seen: dict | None = None) -> list[str]:
    """Ids of a folder's main workflow and subflows, read cheaply (no positions, no specs).

    `memo` (kept in the build cache) maps a file to (size, mtime, ids): unchanged files are
    not parsed again."""
    from chartgen.sources import MAIN_SUFFIXES
    from chartgen.yamlio import load_data

    files = [folder / e for e in sorted(os.listdir(folder)) if e.lower().endswith(MAIN_SUFFIXES)]
    subflows = folder / "subflows"
    if subflows.is_dir():
        files += [subflows / e for e in sorted(os.listdir(subflows)) if e.lower().endswith(MAIN_SUFFIXES)]
    ids = []
    for path in files:
        try:
            info = path.stat()
        except OSError:
            continue
        stamp = [info.st_size, info.st_mtime_ns]
        known = memo.get(str(path)) if memo is not None else None
        if known and known[:2] == stamp:
            ids.extend(known[2])
            if seen is not None:
                seen[str(path)] = known
            continue
        found = []
        try:
            data = load_data(limits.read_file(path), str(path))
        except (OSError, ChartgenError, ValueError, RecursionError):
            data = None
        if isinstance(data, dict) and isinstance(data.get("id"), str) and data["id"]:
            found.append(data["id"])
        if seen is not None:
            seen[str(path)] = stamp + [found]
        ids.extend(found)
    return ids


def repository_ids(folders: Iterable[Path], memo: dict | None = None,
                   seen: dict | None = None) -> dict[str, tuple[str, ...]]:
    """workflow id -> folder names, for the cross-workflow validation rules."""
    ids: dict[str, list[str]] = {}
    for folder in folders:
        for workflow_id in workflow_ids(Path(folder), memo, seen):
            ids.setdefault(workflow_id, []).append(Path(folder).name)
    return {k: tuple(v) for k, v in sorted(ids.items())}
