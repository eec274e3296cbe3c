"""Adoption: take over an existing workflows repository and its chart repository without
breaking anyone who installed the charts.

- `chartgen init` (`layout`): finds where the workflow folders and the shared folder are,
  an existing chart repository or published index, and writes a commented chartgen.yaml, a
  .gitignore for dist/ and .chartgen/, and the GitHub Actions workflows.
- `chartgen adopt` (`adopt_repository`): reads the chart repository (`chartrepo`), matches
  every workflow folder to the chart it continues (`mapping`) and records in chartgen.yaml
  (`configfile`) the chart names and folders that differ from the defaults, the newest
  version published of each chart (`versionFloors:`), and where the chart repository and
  its index are (`pr.configRepo`, `publish.target`) when chartgen.yaml does not say yet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from chartgen.adopt.chartrepo import ChartRepository, fetch_chart_repository
from chartgen.adopt.mapping import AdoptPlan, Workflow, plan_adoption
from chartgen.errors import UsageError

__all__ = ["AdoptResult", "adopt_repository", "source_workflows"]


@dataclass(frozen=True)
class AdoptResult:
    plan: AdoptPlan
    repository: ChartRepository | None
    index_target: str                       # where the published index was read ("" none)
    changes: tuple[str, ...] = ()           # what was written into chartgen.yaml
    config_path: Path | None = None
    notes: tuple[str, ...] = field(default=())


def source_workflows(config) -> list[Workflow]:
    """The workflow folders of the sources, with their ids (read as every command reads them)."""
    from chartgen.sources import discover, load_workflow

    shared = config.shared_dir if config.shared_dir.is_dir() else None
    workflows = []
    for folder in discover(config.sources_dir, shared):
        try:
            loaded = load_workflow(folder, shared_dir=shared if shared else False)
            workflow_id = loaded.workflow_id
        except Exception:  # noqa: BLE001 - an unreadable folder still has a name to match by
            workflow_id = ""
        try:
            rel = folder.resolve().relative_to(config.root.resolve()).as_posix()
        except ValueError:
            rel = folder.name
        workflows.append(Workflow(folder.name, workflow_id, rel))
    return workflows


def adopt_repository(config, config_repo: str = "", *, base: str | None = None, charts_dir: str | None = None,
                     index: str | None = None, dry_run: bool = False, credentials=None,
                     workdir: Path | None = None) -> AdoptResult:
    """Read the chart repository `config_repo` (default pr.configRepo) and the published index
    (`index`: a publish target or a repository URL; default the chart repository's gh-pages
    branch, else publish.target / publish.url), plan the adoption and record it in
    chartgen.yaml (unless `dry_run`)."""
    from chartgen.adopt.configfile import update_settings_file
    from chartgen.repo.published import index_locations

    if config.path is None and not dry_run:
        raise UsageError("no chartgen.yaml to record the adoption in: run `chartgen init` first",
                         code="adopt-no-config")
    url = config_repo or config.pr.config_repo
    base = base or config.pr.base
    charts_dir = (charts_dir or config.pr.charts_dir).strip("/") or "charts"
    notes: list[str] = []
    repository = None
    if url:
        if credentials is None:
            from chartgen.gitops.auth import credentials_from_env
            from chartgen.gitops.git import check_url

            credentials = credentials_from_env(config.pr, check_url(url))
        repository = fetch_chart_repository(url, base=base, charts_dir=charts_dir, credentials=credentials,
                                            index_target=index or "", workdir=workdir)
        notes += repository.notes
    elif not index and not index_locations(config):
        raise UsageError("nothing to adopt from: give --config-repo URL (the chart repository) or --index "
                         "(its published index), or set pr.configRepo or publish.target", code="adopt-no-source")
    published_index = repository.index if repository is not None else None
    target = repository.index_target if repository is not None else ""
    if published_index is None:
        for location in ([index] if index else index_locations(config)):
            published_index = _read_index(location, config, url, credentials)
            if published_index is not None:
                target = location
                break
        else:
            notes.append("no published index found (no gh-pages branch with index.yaml or docs/index.yaml in the "
                         "chart repository, no publish.target or publish.url): floors come from the chart "
                         "repository's Chart.yaml versions only")
    current = {w.workflow: (config.chart_of(w.workflow).name, config.chart_of(w.workflow).folder)
               for w in config.settings.workflows}
    plan = plan_adoption(source_workflows(config), repository, published_index,
                         umbrella=config.chart.umbrella_name, current=current,
                         source_repository=config.repository)
    fill = {}
    if url:
        fill[("pr", "configRepo")] = url
        if charts_dir != config.pr.charts_dir:
            fill[("pr", "chartsDir")] = charts_dir
    if target and target.startswith(("git:", "dir:", "oci://")):
        fill[("publish", "target")] = target
    changes: list[str] = []
    if not dry_run:
        changes = update_settings_file(config.path, mapping=plan.mapping, floors=plan.floors, fill=fill)
    return AdoptResult(plan, repository, target, tuple(changes), config.path, tuple(notes))


def _read_index(location: str, config, config_repo: str, credentials):
    """The index at `location` (None when nothing is published there, or an OCI registry)."""
    from chartgen.gitops.auth import target_credentials
    from chartgen.repo.published import read_index_at

    index = read_index_at(location, credentials=target_credentials(config.pr, location, config_repo))
    return index if index is not None and len(index) else None
