"""Charts whose workflow folder is gone from the sources.

A chart chartgen generated records where it came from (`chartgen.io/source-repository`,
`chartgen.io/source-path`). When that folder no longer exists and no current workflow makes
a chart of that name, the chart is stale: the umbrella chart must not keep deploying it. The
same rule decides what `chartgen build`/`chartgen chart` remove from this repository's charts
folder and what `chartgen pr --prune` proposes to remove from the chart repository.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Collection, Mapping

from chartgen.chart.settings import A_SOURCE_PATH, A_SOURCE_REPO
from chartgen.names import chart_name
from chartgen.errors import UsageError
from chartgen.fsutil import MARKER, temp_prefix


@dataclass(frozen=True)
class StaleChart:
    name: str
    path: Path
    version: str
    source_path: str


def source_is_gone(annotations: Mapping, name: str, *, root: Path, repository: str,
                   chart_names: Collection[str]) -> bool:
    """A chart made from `repository` (compared exactly; "" matches a chart that records
    none) whose source folder under `root` is gone and whose name no current workflow makes.
    A workflow that moved to another folder keeps its chart: its update regenerates it."""
    if str(annotations.get(A_SOURCE_REPO) or "") != (repository or ""):
        return False
    source_path = str(annotations.get(A_SOURCE_PATH) or "")
    parts = Path(source_path).parts
    if not source_path or Path(source_path).is_absolute() or ".." in parts:
        return False
    return not (Path(root) / source_path).exists() and name not in chart_names


def current_chart_names(config) -> frozenset[str] | None:
    """Folder and chart names of every workflow of the sources; None when the sources folder
    holds no workflow (a wrong config or an empty checkout must not make every chart stale)."""
    from chartgen.sources import discover

    try:
        found = discover(config.sources_dir, config.shared_dir if config.shared_dir.is_dir() else None)
    except UsageError:
        return None
    if not found:
        return None
    names = {Path(folder).name for folder in found}
    return frozenset(names | {chart_name(name) for name in names} | {config.chart_of(name).name for name in names})


def stale_charts(config, charts_dir: Path, keep: Collection[str] = ()) -> list[StaleChart]:
    """The stale charts among those chartgen wrote (marker) in `charts_dir`; hand-written
    charts, the umbrella chart, other repositories' charts and the charts named in `keep`
    (those this run was asked for, by path too) are never stale."""
    from chartgen.chart.versioning import chart_yaml_view

    charts_dir = Path(charts_dir)
    if not charts_dir.is_dir():
        return []
    settings = config.chart
    root = os.fspath(config.root)
    gone = []          # their source folder is gone: stale unless a current workflow makes their name
    with os.scandir(charts_dir) as listing:
        entries = sorted(listing, key=lambda entry: entry.name)
    for entry in entries:
        if not entry.is_dir() or entry.name == settings.umbrella_name or \
                not os.path.isfile(os.path.join(entry.path, MARKER)):
            continue
        meta = chart_yaml_view(entry.path)
        annotations = meta.get("annotations") or {}
        if not isinstance(annotations, dict) or not meta.get("name"):
            continue
        source_path = annotations.get(A_SOURCE_PATH)
        if isinstance(source_path, str) and source_path and os.path.exists(os.path.join(root, source_path)):
            continue        # not gone (the common case, told by one stat)
        if source_is_gone(annotations, str(meta["name"]), root=config.root,
                          repository=settings.source_repository or "", chart_names=()):
            gone.append(StaleChart(str(meta["name"]), Path(entry.path), str(meta.get("version", "")),
                                   str(annotations.get(A_SOURCE_PATH))))
    names = current_chart_names(config) if gone else None     # the sources are listed only then
    if names is None:
        return []
    names = names | frozenset(keep)
    return [chart for chart in gone if chart.name not in names]


def remove_stale_charts(config, charts_dir: Path, keep: Collection[str] = ()) -> list[StaleChart]:
    """Delete the stale charts of `charts_dir` (never those named in `keep`). Each folder is
    first moved aside in one rename, so an interrupted run leaves either the whole chart or
    none of it."""
    removed = []
    for chart in stale_charts(config, charts_dir, keep):
        trash = Path(tempfile.mkdtemp(prefix=temp_prefix(f".{chart.path.name}.removed-"), dir=chart.path.parent))
        chart.path.rename(trash / chart.path.name)
        shutil.rmtree(trash)
        removed.append(chart)
    return removed
