"""What an output folder (`dist/`) already holds for one chart: its archives' Chart.yaml
annotations by version, read only when asked (`chartgen.chart.recovery` decides with them)."""

from __future__ import annotations

import glob
from pathlib import Path
from typing import Mapping

from chartgen.chart.recovery import ArchivedVersions
from chartgen.errors import ChartgenError


def _annotations(path: Path, name: str, version: str | None = None) -> tuple[str, Mapping[str, str]] | None:
    from chartgen.repo.archive import read_archive

    try:
        info = read_archive(path)
    except ChartgenError:
        return None   # a broken archive is reported where it is packaged or published
    if info.name != name or (version is not None and info.version != version):
        return None
    notes = info.metadata.get("annotations")
    return info.version, ({str(k): str(v) for k, v in notes.items()} if isinstance(notes, dict) else {})


def archived_versions(folder: Path, name: str) -> ArchivedVersions:
    """The archives `<folder>/<name>-<version>.tgz` of chart `name`."""
    folder = Path(folder)

    def lookup(version: str) -> Mapping[str, str] | None:
        path = folder / f"{name}-{version}.tgz"
        found = _annotations(path, name, version) if path.is_file() else None
        return found[1] if found else None

    def every() -> dict[str, Mapping[str, str]]:
        found = (_annotations(path, name) for path in sorted(folder.glob(f"{glob.escape(name)}-*.tgz")))
        return dict(item for item in found if item is not None)

    return ArchivedVersions(lookup, every)
