"""Which existing chart each workflow folder continues, and the versions already published.

A workflow folder is matched to a chart of the chart repository by what the chart deploys,
strongest first: the chart chartgen made from that very folder (`chartgen.io/source-path`),
the workflow id chartgen recorded (`chartgen.io/workflow-id`), then the SonataFlow the
chart's templates hold (its `metadata.name` is the workflow id lower-cased, which is how
`kn workflow gen-manifest` and the old pipeline named it). Several charts deploying the
same workflow are told apart by folder and chart name; when that still leaves several, the
workflow is not mapped and the report says why. A workflow that matches no chart keeps its
default chart name; what the published index holds under that name is still its floor.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable

from chartgen.adopt.chartrepo import ChartRepository, ExistingChart
from chartgen.names import chart_name, workflow_name
from chartgen.repo.versions import is_newer


@dataclass(frozen=True)
class Workflow:
    """What adoption knows of a workflow folder of the sources."""

    name: str               # folder name
    workflow_id: str        # "" when the workflow cannot be read
    source_path: str        # relative to chartgen.yaml's folder


@dataclass(frozen=True)
class Adoption:
    workflow: str
    chart: str              # the chart name it publishes as
    folder: str             # the chart's folder under the charts folder
    how: str                # why this chart (or "no chart in the chart repository")
    existing: ExistingChart | None = None
    floor: str = ""         # the newest version published or in the chart repository ("": none)
    floor_from: str = ""


@dataclass(frozen=True)
class AdoptPlan:
    adoptions: tuple[Adoption, ...]
    umbrella: str                                   # the umbrella chart's name
    umbrella_floor: str = ""
    umbrella_floor_from: str = ""
    unclaimed: tuple[ExistingChart, ...] = ()       # charts of the chart repository no workflow claims
    problems: tuple[str, ...] = ()                  # workflows left unmapped, and why
    floors: dict = field(default_factory=dict)      # chart name -> version to record
    mapping: dict = field(default_factory=dict)     # workflow folder -> {chart, folder}, non-default only


# A version chartgen.yaml accepts as a floor (the `versionFloors` schema's pattern).
_FLOOR = re.compile(r"^v?[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$")
_CHART = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_FOLDER = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]*$")


def usable(chart: ExistingChart) -> bool:
    """A chart whose name and folder chartgen.yaml can record (others are never matched)."""
    return bool(_CHART.match(chart.name)) and len(chart.name) <= 63 and bool(_FOLDER.match(chart.folder))


def _higher(candidates: Iterable[tuple[str, str]]) -> tuple[str, str]:
    """The highest (version, where) of `candidates`; ("", "") when none is a X.Y.Z version."""
    best = ("", "")
    for version, where in candidates:
        if version and _FLOOR.match(version) and is_newer(version, best[0]):
            best = (version, where)
    return best


def _candidates(workflow: Workflow, charts: tuple[ExistingChart, ...]) -> tuple[list[ExistingChart], str]:
    """The charts that deploy `workflow`, by the strongest evidence any chart gives, and that evidence."""
    by_path = [c for c in charts if c.source_path and c.source_path == workflow.source_path]
    if by_path:
        return by_path, "made by chartgen from {path}"
    if workflow.workflow_id:
        by_id = [c for c in charts if c.workflow_id == workflow.workflow_id]
        if by_id:
            return by_id, "workflow id {id} (chartgen.io/workflow-id)"
        cr = workflow_name(workflow.workflow_id)
        by_cr = [c for c in charts if cr in c.sonataflows]
        if by_cr:
            return by_cr, "SonataFlow {cr} in {evidence}"
    return [], ""


def plan_adoption(workflows: list[Workflow], repository: ChartRepository | None, index, *,
                  umbrella: str, current: dict | None = None, source_repository: str = "") -> AdoptPlan:
    """Match every workflow to its chart and find each chart's floor. `index` is the
    published IndexFile (or None); `current` the `workflows:` mapping chartgen.yaml already
    has (folder -> (chart, folder)), which adoption keeps. Floors are the history before
    chartgen: what chartgen made from `source_repository` itself is left out (builds read it
    from the published index as they go), so adopting again changes nothing."""
    from chartgen.repo.published import newest

    every = repository.charts if repository else ()
    charts = tuple(c for c in every if c.name != umbrella and not c.umbrella and usable(c))
    published = newest(index, not_from=source_repository) if index is not None else {}

    def version_of(chart: ExistingChart | None) -> str:
        ours = chart is not None and source_repository and chart.source_repository == source_repository
        return chart.version if chart is not None and not ours else ""
    claims: dict[str, list[str]] = {}
    chosen: dict[str, tuple[ExistingChart | None, str]] = {}
    problems: list[str] = []
    current = current or {}
    for workflow in workflows:
        default = chart_name(workflow.name)
        if workflow.name in current:          # the user's (or an earlier adopt's) mapping stays
            name, folder = current[workflow.name]
            match = next((c for c in charts if c.folder == folder), None)
            chosen[workflow.name] = (match, "workflows: in chartgen.yaml")
            continue
        found, evidence = _candidates(workflow, charts)
        if len(found) > 1:
            narrowed = [c for c in found if c.folder == workflow.name] or [c for c in found if c.name == default]
            if len(narrowed) == 1:
                found = narrowed
            else:
                problems.append(f"{workflow.name}: charts {', '.join(c.folder for c in found)} all deploy its "
                                "workflow; not mapped (set workflows.{0}.chart and .folder in chartgen.yaml)"
                                .format(workflow.name))
                found = []
        match = found[0] if found else None
        if match is None:
            same = next((c for c in charts if c.folder == workflow.name or c.name == default), None)
            if same is not None and not same.sonataflows and not same.workflow_id:
                match, evidence = same, "same name (its templates name no SonataFlow)"
        how = evidence.format(path=workflow.source_path, id=workflow.workflow_id,
                              cr=workflow_name(workflow.workflow_id or ""),
                              evidence=match.evidence if match else "") if match else "no chart in the chart repository"
        chosen[workflow.name] = (match, how)
        if match is not None:
            claims.setdefault(match.folder, []).append(workflow.name)
    for folder, names in claims.items():
        if len(names) > 1:                    # one chart, several workflows: the folder's namesake keeps it
            keep = [n for n in names if n == folder]
            for name in names:
                if name not in keep:
                    problems.append(f"{name}: chart {folder} is claimed by {', '.join(names)}; not mapped")
                    chosen[name] = (None, "no chart in the chart repository")

    adoptions, floors, mapping = [], {}, {}
    claimed = set()
    for workflow in workflows:
        match, how = chosen[workflow.name]
        if workflow.name in current:
            name, folder = current[workflow.name]
        elif match is not None:
            name, folder = match.name, match.folder
        else:
            name = chart_name(workflow.name)
            folder = name
        if match is not None:
            claimed.add(match.folder)
        floor, where = _higher([(version_of(match), f"Chart.yaml in {folder}"),
                                (published.get(name, ("", ""))[0], "the published index")])
        if floor:
            floors[name] = floor
        if workflow.name not in current and (name != chart_name(workflow.name) or folder != name):
            mapping[workflow.name] = {"chart": name, "folder": folder}
        adoptions.append(Adoption(workflow.name, name, folder, how, match, floor, where))
    umbrella_charts = [c for c in every if c.name == umbrella]
    umbrella_floor, umbrella_from = _higher([*((version_of(c), f"Chart.yaml in {c.folder}") for c in umbrella_charts),
                                             (published.get(umbrella, ("", ""))[0], "the published index")])
    if umbrella_floor:
        floors[umbrella] = umbrella_floor
    unclaimed = tuple(c for c in charts if c.folder not in claimed)
    problems += [f"chart folder {c.folder!r} (chart {c.name!r}): not a name chartgen.yaml can record; skipped"
                 for c in every if not usable(c) and c.name != umbrella]
    return AdoptPlan(tuple(adoptions), umbrella, umbrella_floor, umbrella_from, unclaimed, tuple(problems),
                     floors, mapping)
