"""A chart's version when its folder is gone or behind the archives already packaged.

`charts/<name>/` can go missing after a build packaged it: a run killed between the two
renames of the folder swap (`chartgen.fsutil` puts the folder back when it can), or simply
`git checkout charts/`. The version decided from what is left (git HEAD, or the first
version) may then name an archive the output folder (`dist/`) already holds with other
content, and every rerun would stop at `[version-immutable]`. So the archives of the chart
decide too: when the folder is missing, one whose recorded content hash equals the chart
about to be written gives its version (and source commit), so the rerun rebuilds that very
archive; otherwise the new version goes above every archived one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

from chartgen.chart.settings import A_CONTENT_HASH, A_SOURCE_COMMIT
from chartgen.chart.versioning import next_version, parse
from chartgen.errors import ChartgenError

Annotations = Mapping[str, str]


@dataclass(frozen=True)
class ArchivedVersions:
    """The archives of one chart in an output folder, read on demand (`chartgen.repo.archived`):
    `lookup(version)` the Chart.yaml annotations of that version's archive or None; `every()`
    version -> annotations of all of them."""

    lookup: Callable[[str], Annotations | None]
    every: Callable[[], Mapping[str, Annotations]]


@dataclass(frozen=True)
class Decision:
    version: str
    changed: bool
    source_commit: str | None


def reconcile(decision: Decision, digest: str, archived: ArchivedVersions, *, folder_missing: bool,
              previous_version: str | None, source_commit: str | None, policy: str, label: str) -> Decision:
    """`decision` (from the chart folder or git HEAD) checked against the archives: kept
    unless the folder is missing or the version's archive holds other content."""
    clash = archived.lookup(decision.version)
    if not folder_missing and (clash is None or clash.get(A_CONTENT_HASH) == digest):
        return decision
    archives = archived.every()
    same = [v for v, notes in archives.items() if notes.get(A_CONTENT_HASH) == digest and _valid(v)]
    if same and folder_missing:     # (a folder that is there never goes back to an older version)
        version = max(same, key=parse)
        return Decision(version, version != previous_version, archives[version].get(A_SOURCE_COMMIT))
    versions = [v for v in archives if _valid(v)]
    newest = max(versions, key=parse) if versions else None
    if newest is None or (parse(decision.version).compare(parse(newest)) > 0 and decision.version not in archives):
        return decision
    return Decision(next_version(newest, policy, label), True, source_commit)


def _valid(version: str) -> bool:
    try:
        parse(version)
    except ChartgenError:   # an archive with a version chartgen cannot order takes no part
        return False
    return True
