"""`chartgen validate [PATH...]`: report every problem of workflow folders at once.

Exit 0 without errors (warnings allowed unless --strict), 1 with errors, 2 for bad usage.
A PATH is a workflow folder, a workflow name under the sources folder, or a folder of
workflow folders (such as workflow_sources/). Without PATH: every folder of the sources
folder of chartgen.yaml.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from chartgen.commands._common import display_path, emit_findings, load_config


def _is_workflow_folder(path: Path) -> bool:
    from chartgen.sources import MAIN_SUFFIXES

    try:
        return any(entry.name.lower().endswith(MAIN_SUFFIXES) for entry in path.iterdir())
    except OSError:
        return False


def _folders(paths: tuple[str, ...], config) -> tuple[list[Path], list[Path]]:
    """(folders to validate, folders describing the whole repository)."""
    from chartgen.errors import UsageError
    from chartgen.sources import MAIN_SUFFIXES, discover, resolve_workflow

    sources_dir = config.sources_dir
    shared = config.shared_dir if config.shared_dir.is_dir() else None
    if not paths:
        folders = discover(sources_dir, shared)
        return folders, folders
    selected: list[Path] = []
    for arg in paths:
        if Path(arg).is_file() and Path(arg).name.lower().endswith(MAIN_SUFFIXES):
            selected.append(Path(arg).parent)   # a workflow file: its folder
            continue
        path = resolve_workflow(arg, sources_dir)
        if shared is not None and path.resolve() == shared.resolve():
            # `chartgen validate workflow_sources/*` passes the shared folder too: it holds
            # resources, not a workflow; its files are checked with the workflows that use them.
            click.echo(f"{path}: skipped: the shared resources folder (chartgen.yaml `shared`)", err=True)
            continue
        if not _is_workflow_folder(path) and path.is_dir() and any(
                _is_workflow_folder(child) for child in discover(path, shared)):
            selected.extend(discover(path, shared))   # a folder of workflow folders
        else:
            selected.append(path)
    if not selected:
        raise UsageError("no workflow folders to validate", code="no-workflows")
    repository = discover(sources_dir, shared) if sources_dir.is_dir() else []
    return list(dict.fromkeys(selected)), repository


@click.command(name="validate", help=(
    "Check workflow folders and report every problem.\n\n"
    "PATHS are workflow folders, workflow names under the sources folder, workflow files, or folders of "
    "workflow folders; default: every folder of the sources folder (chartgen.yaml `sources`). "
    "Exit status: 0 no errors, 1 errors (or warnings with --strict), 2 bad usage."))
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="Findings as `path:line:col: severity: message [code]` lines or a JSON list.")
@click.option("--strict", is_flag=True, help="Warnings fail too (exit 1).")
@click.pass_context
def command(ctx: click.Context, paths: tuple[str, ...], fmt: str, strict: bool) -> None:
    from chartgen.errors import ChartgenError, UsageError
    from chartgen.sources import load_workflow
    from chartgen.validation import RepositoryContext, summary, validate_repository

    config = load_config(ctx)
    jq_functions = config.validate.jq_functions
    folders, repository_folders = _folders(paths, config)

    def load(folder: Path):
        # The configured shared folder serves the folders of the sources folder; a folder
        # elsewhere uses the shared/ (or _shared/) folder next to it, if any.
        inside = config.sources_dir.is_dir() and folder.resolve().parent == config.sources_dir.resolve()
        shared = config.shared_dir if inside and config.shared_dir.is_dir() else (None if inside else True)
        return load_workflow(display_path(folder), shared_dir=shared)

    loaded, unreadable = [], {}
    for folder in folders:
        try:
            loaded.append(load(folder))
        except UsageError:
            raise
        except ChartgenError as exc:  # a folder that cannot even be listed: report, go on
            unreadable[str(display_path(folder))] = exc.findings
    by_root = {folder.root.resolve() for folder in loaded}
    # The other folders of the repository only contribute their ids (for workflowOptions,
    # subflows and uniqueness), so validating one folder still knows the rest of the repository.
    others = [folder for folder in repository_folders if folder.resolve() not in by_root]
    from dataclasses import replace

    context = replace(RepositoryContext.scan(others, loaded), umbrella_chart=config.chart.umbrella_name,
                      charts=tuple((w.workflow, w.chart) for w in config.settings.workflows if w.chart))
    results = validate_repository(loaded, context=context, jq_functions=jq_functions)
    for key, extra in _cross_check_ids(loaded, others, results):
        results[key] = tuple(sorted(results[key] + (extra,), key=lambda f: (f.path, f.line, f.column, f.code)))
    results.update(unreadable)
    findings = [finding for name in results for finding in results[name]]
    errors = any(f.is_error for f in findings)
    warnings = any(not f.is_error for f in findings)
    failed = errors or (strict and warnings)
    emit_findings(findings, fmt, ok=not failed)
    click.echo(summary(results), err=True)
    sys.exit(1 if failed else 0)


def _cross_check_ids(loaded, others, results):
    """(results key, finding) for ids of the validated folders that a folder outside the selection uses."""
    from chartgen.errors import Finding
    from chartgen.names import workflow_name
    from chartgen.validation.base import scan_ids

    taken = {}
    for root in others:
        for workflow_id in scan_ids(root)[0]:
            taken.setdefault(workflow_name(workflow_id), display_path(root))
    keys = {folder.root: key for folder, key in zip(loaded, results)}
    for folder in loaded:
        name = workflow_name(folder.workflow_id) if folder.workflow_id else ""
        if name and name in taken and folder.document is not None:
            line, col = folder.document.where(("id",))
            yield keys[folder.root], Finding(
                folder.main.display, line, col, "error", f"workflow id {folder.workflow_id!r} (Kubernetes name "
                f"{name!r}) is also used by {taken[name]}; ids must be unique across the repository", "duplicate-id")
