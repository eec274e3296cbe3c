"""Pruning: propose removing the charts whose workflow is gone from the sources, then close
the pull requests of stale branches under the branch prefix (see `chartgen.gitops.engine`)."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from chartgen.chart.settings import A_SOURCE_PATH, A_SOURCE_REPO
from chartgen.names import chart_name as _chart_name
from chartgen.errors import ChartgenError, Finding, UsageError
from chartgen.fsutil import MARKER
from chartgen.gitops.git import Git
from chartgen.gitops.model import REMOVE_PREFIX, UMBRELLA, Removal, Run, Sources, Unit
from chartgen.gitops.propose import close_stale, propose_unit


def prune_sources(config, folders: list) -> Sources:
    """Refuse to prune when the comparison could be wrong: no `repository:` (chartgen's charts
    could not be told from another repository's), no workflow in the sources folder (a wrong
    --config or an empty checkout would remove every chart), or workflows from elsewhere."""
    from chartgen.sources import discover

    repository = config.repository
    if not repository:
        raise UsageError("--prune needs `repository:` in chartgen.yaml: it is how chartgen tells the charts it "
                         "made from this repository (annotation chartgen.io/source-repository) from others",
                         code="pr-prune-no-repository")
    sources_dir = config.sources_dir
    shared = config.shared_dir if config.shared_dir.is_dir() else None
    found = discover(sources_dir, shared) if sources_dir.is_dir() else []
    if not found:
        raise UsageError(f"refusing to prune: the sources folder {sources_dir} has no workflow folder, so every "
                         "chart of this repository would be removed (wrong --config or an incomplete checkout?)",
                         path=str(sources_dir), code="pr-prune-no-sources")
    resolved = {Path(f).resolve() for f in found}
    outside = [f for f in folders if Path(f.root).resolve() not in resolved]
    if outside:
        raise UsageError(f"--prune compares the chart repository with the sources folder {sources_dir}, but "
                         f"workflow {outside[0].root} is not one of its folders; run --prune with that folder's "
                         "chartgen.yaml (--config), or without --prune", path=str(outside[0].root),
                         code="pr-prune-outside-sources")
    names = {Path(f).name for f in found} | {f.name for f in folders}
    return Sources(Path(config.root), repository, frozenset(names),
                    frozenset(names | {_chart_name(n) for n in names}
                              | {part for n in names for part in (config.chart_of(n).name, config.chart_of(n).folder)}))


def prunes_in_build(config, folders: list) -> bool:
    """Whether `chartgen build --pr` prunes: only a run over every workflow folder of the
    sources (`--all`, none failed before the PR stage), with pr.prune on and `repository:` set.
    A partial run (`build mta`, `--since`) never prunes: it was asked about its workflows only."""
    from chartgen.sources import discover

    if not config.pr.prune or not config.repository:
        return False
    try:
        everything = discover(config.sources_dir, config.shared_dir if config.shared_dir.is_dir() else None)
    except UsageError:
        return False
    given = {Path(f if isinstance(f, (str, os.PathLike)) else f.root).resolve() for f in folders}
    return bool(everything) and {Path(f).resolve() for f in everything} <= given


def prune_charts(run: Run, current_branches: set[str]) -> list[Finding]:
    """Propose the removals, then close the stale pull requests. Returns the failures."""
    failures: list[Finding] = []
    prefix = run.settings.branch_prefix
    try:
        removals = _removals(run)
    except ChartgenError as exc:
        return list(exc.findings)
    workflow_branches = {f"{prefix}{name}" for name in run.sources.folder_names} | current_branches
    proposed: set[str] = set()
    for removal in removals:
        branch = f"{prefix}{REMOVE_PREFIX}{removal.name}"
        try:
            if branch in workflow_branches:
                raise UsageError(f"the removal branch of chart {removal.name} would be {branch}, the branch of "
                                 f"workflow {branch[len(prefix):]}; rename one of them", code="pr-branch-clash")
            proposed.add(branch)
            run.results.append(propose_unit(run, Unit(branch, removal=removal)))
        except ChartgenError as exc:
            failures.extend(f if f.path else replace(f, path=removal.source_path) for f in exc.findings)
    before = len(run.results)
    try:
        _sweep(run, workflow_branches | proposed | {f"{prefix}{UMBRELLA}"}, removals)
    except ChartgenError as exc:
        failures.extend(exc.findings)
    if not removals and len(run.results) == before and not failures:
        run.log(f"prune: every chart of {run.sources.repository} in {run.base} still has its workflow; "
                "no stale branch; nothing to remove or close")
    return failures


def _removals(run: Run) -> list[Removal]:
    """Charts of the base that chartgen made from this repository and whose source is gone."""
    git = run.git
    if run.base not in git.ls_remote("origin", [run.base]):
        raise ChartgenError(f"the chart repository {run.url} has no branch {run.base!r}", code="pr-no-base")
    git.fetch("origin", [run.base])
    ref = f"refs/remotes/origin/{run.base}"
    files = set(git.out("ls-tree", "-r", "--name-only", ref, "--", run.charts_dir).splitlines())
    names = set()
    for path in files:
        parts = path[len(run.charts_dir) + 1:].split("/")
        if parts[-1] == "Chart.yaml" and (len(parts) == 2 or parts[:2] == [UMBRELLA, "charts"] and len(parts) == 4):
            names.add(parts[-2])
    names.discard(UMBRELLA)
    removals = []
    for name in sorted(names):
        meta = _chart_meta(git, ref, run.charts_dir, name, files)
        if meta is None or not _gone(run, meta, name):
            continue
        layout = run.settings.layout
        places = {"standalone": f"{run.charts_dir}/{name}", "umbrella": f"{run.charts_dir}/{UMBRELLA}/charts/{name}"}
        # only where this configuration manages charts, as updates do
        paths = tuple(path for where, path in places.items() if where in layout and f"{path}/Chart.yaml" in files)
        if not paths:
            continue
        removals.append(Removal(name, str(meta.get("version", "")), _annotation(meta, A_SOURCE_PATH), paths))
    return removals


def _annotation(meta: dict, key: str) -> str:
    notes = meta.get("annotations")
    return str(notes.get(key, "") or "") if isinstance(notes, dict) else ""


def _chart_meta(git: Git, ref: str, charts_dir: str, name: str, files: set[str] | None = None) -> dict | None:
    """Chart.yaml of chart `name` at `ref` when chartgen made it (the marker beside it, or the
    umbrella's for a chart that lives only inside the umbrella), else None."""
    from chartgen.yamlio import load_data

    def exists(path: str) -> bool:
        if files is not None:
            return path in files
        return git.run("cat-file", "-e", f"{ref}:{path}", check=False).returncode == 0

    for chart, marker in ((f"{charts_dir}/{name}", f"{charts_dir}/{name}/{MARKER}"),
                          (f"{charts_dir}/{UMBRELLA}/charts/{name}", f"{charts_dir}/{UMBRELLA}/{MARKER}")):
        if not exists(f"{chart}/Chart.yaml"):
            continue
        if not exists(marker):
            return None  # written by hand (or by the old pipeline): never ours to remove
        text = git.run("show", f"{ref}:{chart}/Chart.yaml", check=False).stdout
        try:
            data = load_data(text, f"{chart}/Chart.yaml")
        except ChartgenError:
            return None
        return data if isinstance(data, dict) else None
    return None


def _gone(run: Run, meta: dict, name: str) -> bool:
    """A chart of ours (this source repository) whose workflow folder no longer exists."""
    from chartgen.chart.stale import source_is_gone

    sources = run.sources
    annotations = meta.get("annotations") if isinstance(meta.get("annotations"), dict) else {}
    return source_is_gone(annotations, name, root=sources.root, repository=sources.repository,
                          chart_names=sources.chart_names)


def _sweep(run: Run, current: set[str], removals: list[Removal]) -> None:
    """Close the pull requests of stale branches under the branch prefix and delete them."""
    git = run.git
    prefix = run.settings.branch_prefix
    if not prefix:  # without a prefix chartgen cannot tell its branches from anybody's
        return
    remote = git.ls_remote("origin", [f"{prefix}*"])
    removed = {r.name for r in removals}
    base_ref = f"refs/remotes/origin/{run.base}"
    for branch, sha in sorted(remote.items()):
        suffix = branch[len(prefix):]
        if branch in current or branch == run.base or not suffix or "/" in suffix:
            continue
        git.fetch("origin", [branch], depth=2)
        ref = f"refs/remotes/origin/{branch}"
        reason = None
        name = suffix[len(REMOVE_PREFIX):] if suffix.startswith(REMOVE_PREFIX) else ""
        had = _chart_meta(git, f"{ref}^", run.charts_dir, name) if name else None
        if had is not None and _annotation(had, A_SOURCE_REPO) == run.sources.repository \
                and _chart_meta(git, ref, run.charts_dir, name) is None:
            if _chart_meta(git, base_ref, run.charts_dir, name) is None:
                reason = f"{run.base} no longer has chart {name}: its removal was merged or done another way"
            else:
                reason = (f"the workflow of chart {name} is back in the sources "
                          f"({_annotation(had, A_SOURCE_PATH)}); its removal is withdrawn")
            names = (name,)
        else:
            names = (suffix,)
            for chart in dict.fromkeys((suffix, _chart_name(suffix))):
                meta = _chart_meta(git, ref, run.charts_dir, chart)
                if meta is not None and _gone(run, meta, chart):
                    reason = f"workflow {suffix} was removed from the sources ({_annotation(meta, A_SOURCE_PATH)})"
                    if chart in removed:
                        reason += f"; the removal of its chart is proposed on {prefix}{REMOVE_PREFIX}{chart}"
                    break
        if reason:
            run.results.append(close_stale(run, branch, names, sha, "close", reason))
