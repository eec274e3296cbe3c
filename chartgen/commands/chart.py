"""`chartgen chart FOLDER... [--out charts/]`: Helm charts of workflow folders + the umbrella."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from chartgen.commands._common import (DISCARD_EDITS_HELP, check_output, check_user_references, continue_published,
                                      discarding_edits, display_path, emit_findings, load_config)


def describe(result, out: Path) -> str:
    where = display_path(result.path)
    if result.previous_version is None:
        state = "new"
    elif result.changed:
        state = f"was {result.previous_version}"
    else:
        state = "unchanged"
    return f"{where}: {result.name} {result.version} ({state})"


@click.command(name="chart", help="Generate the Helm chart of each workflow FOLDER (all workflows when none) "
               "into charts/<name>/, then the umbrella chart.")
@click.argument("folders", nargs=-1)
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Charts folder (default: `charts` in chartgen.yaml).")
@click.option("--commit", "source_commit", default=None, metavar="SHA",
              help="Source commit recorded in Chart.yaml (chartgen.io/source-commit) when the chart changes.")
@click.option("--image-tag", default=None, help="Default image tag in values.yaml (default: image.tag of chartgen.yaml).")
@click.option("--image-digest", default=None, metavar="sha256:...", help="Pin the image by digest in values.yaml.")
@click.option("--no-umbrella", is_flag=True, help="Do not regenerate the umbrella chart.")
@click.option("--discard-edits", is_flag=True, help=DISCARD_EDITS_HELP)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.pass_context
def command(ctx, folders, out_dir, source_commit, image_tag, image_digest, no_umbrella, discard_edits, fmt):
    from chartgen.chart.generate import generate_charts
    from chartgen.chart.stale import remove_stale_charts
    from chartgen.chart.umbrella import generate_umbrella
    from chartgen.errors import WARNING, Finding
    from chartgen.repo.archived import archived_versions
    from chartgen.sources import discover, resolve_workflow

    check_user_references(source_commit=source_commit, image_tag=image_tag, image_digest=image_digest)
    config = discarding_edits(load_config(ctx), discard_edits)
    out = check_output(Path(out_dir) if out_dir else config.charts_dir,
                       "--out" if out_dir else "the charts folder (`charts` in chartgen.yaml)")
    paths = ([resolve_workflow(arg, config.sources_dir) for arg in folders] if folders
             else discover(config.sources_dir, config.shared_dir))
    if not paths:
        raise click.UsageError(f"no workflow folders in {config.sources_dir}")
    config = continue_published(config, [Path(p).name for p in paths], charts_dir=out)
    # The archives `chartgen package` left in dist/ keep a lost chart folder's version history.
    def archived(name):
        return archived_versions(config.dist_dir, name)

    results = list(generate_charts(paths, config, out_dir=out, source_commit=source_commit,
                                   image_digest=image_digest, image_tag=image_tag, umbrella=False,
                                   archived=archived))
    removed = []
    if not no_umbrella:
        # The charts of deleted workflow folders go before the umbrella is made from the rest.
        removed = remove_stale_charts(config, out, keep={r.name for r in results})  # asked for: never stale
        if config.chart.umbrella_enabled:
            results.append(generate_umbrella(config, out, archived=archived))
    emit_findings([Finding(str(display_path(r.path) / rel), 0, 0, WARNING, "hand edit discarded (--discard-edits)",
                           "chart-hand-edit") for r in results for rel in r.discarded_edits],
                  stream=sys.stderr)
    if fmt == "json":
        click.echo(json.dumps([{"name": r.name, "version": r.version, "path": str(r.path), "changed": r.changed,
                                "previous_version": r.previous_version} for r in results]
                              + [{"name": c.name, "version": c.version, "path": str(c.path), "removed": True,
                                  "source_path": c.source_path} for c in removed], indent=2))
    else:
        for result in results:
            click.echo(describe(result, out))
        for chart in removed:
            click.echo(f"{chart.path}: {chart.name} {chart.version} removed ({chart.source_path} is gone)")
