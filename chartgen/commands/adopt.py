"""`chartgen adopt --config-repo URL`: continue an existing chart repository's charts."""

from __future__ import annotations

import json

import click

from chartgen.commands._common import load_config


@click.command(name="adopt", help="Read an existing chart repository (and its published index) and record in "
               "chartgen.yaml which chart each workflow folder continues (name and folder) and the newest "
               "version published of each, so chartgen keeps the chart names and never goes below a "
               "published version.")
@click.option("--config-repo", "config_repo", metavar="URL", default=None,
              help="Git URL (or path) of the chart repository (default: pr.configRepo). Credentials as for "
                   "`chartgen pr`: a GitHub App or GH_TOKEN / GITHUB_TOKEN, never in the URL.")
@click.option("--base", default=None, help="Branch holding the charts (default: pr.base, main).")
@click.option("--charts-dir", default=None, help="Folder of the charts in the chart repository (default: pr.chartsDir).")
@click.option("--index", "index", metavar="TARGET|URL", default=None,
              help="Where the charts are published: git:REMOTE#BRANCH:FOLDER, dir:PATH or a repository URL "
                   "(default: the chart repository's gh-pages branch, docs/index.yaml or index.yaml; else "
                   "publish.target or publish.url).")
@click.option("--dry-run", is_flag=True, help="Show what would be recorded; leave chartgen.yaml alone.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.pass_context
def command(ctx, config_repo, base, charts_dir, index, dry_run, fmt):
    from chartgen.adopt import adopt_repository

    config = load_config(ctx)
    result = adopt_repository(config, config_repo or "", base=base, charts_dir=charts_dir, index=index,
                              dry_run=dry_run)
    if fmt == "json":
        click.echo(json.dumps(to_dict(result), indent=2))
        return
    for line in describe(result, dry_run=dry_run):
        click.echo(line)


def to_dict(result) -> dict:
    plan = result.plan
    return {
        "configRepo": result.repository.url if result.repository else "",
        "index": result.index_target,
        "workflows": [{"workflow": a.workflow, "chart": a.chart, "folder": a.folder, "how": a.how,
                       "floor": a.floor or None} for a in plan.adoptions],
        "umbrella": {"chart": plan.umbrella, "floor": plan.umbrella_floor or None},
        "notTakenOver": [{"folder": c.folder, "chart": c.name, "version": c.version} for c in plan.unclaimed],
        "problems": list(plan.problems),
        "recorded": {"workflows": plan.mapping, "versionFloors": plan.floors},
        "changed": list(result.changes),
        "notes": list(result.notes),
    }


def describe(result, *, dry_run: bool = False) -> list[str]:
    """The text report: where it read, one line per workflow, what it wrote."""
    from chartgen.errors import printable

    plan = result.plan
    lines = []
    repository = result.repository
    if repository is not None:
        lines.append(f"chart repository {repository.url} ({repository.base}, {repository.charts_dir}/): "
                     f"{len(repository.charts)} charts")
    if result.index_target:
        lines.append(f"published index {result.index_target}")
    width = max([len(a.workflow) for a in plan.adoptions] + [len("[umbrella]")]) + 2
    for a in plan.adoptions:
        where = f" in {result.repository.charts_dir if repository else 'charts'}/{a.folder}" if a.folder != a.chart else ""
        floor = f", above {a.floor}" if a.floor else ", nothing published"
        verb = "chart" if a.existing is not None else "new chart" if not a.floor else "chart"
        lines.append(f"{a.workflow:<{width}}-> {verb} {a.chart}{where}{floor} ({a.how})")
    if plan.umbrella_floor:
        lines.append(f"{'[umbrella]':<{width}}-> chart {plan.umbrella}, above {plan.umbrella_floor} "
                     f"({plan.umbrella_floor_from})")
    if plan.unclaimed:
        shown = ", ".join(f"{c.folder} ({c.name} {printable(c.version)})" for c in plan.unclaimed)
        lines.append(f"not taken over (no workflow folder deploys them): {shown}")
    lines += [f"warning: {p}" for p in plan.problems]
    lines += [f"note: {n}" for n in result.notes]
    path = result.config_path.name if result.config_path else "chartgen.yaml"
    if dry_run:
        recorded = ([f"workflows ({len(plan.mapping)})"] if plan.mapping else []) + \
            ([f"versionFloors ({len(plan.floors)})"] if plan.floors else [])
        lines.append(f"{path}: would record {', '.join(recorded) or 'nothing'} (dry run)")
    elif result.changes:
        lines.append(f"{path}: recorded {', '.join(result.changes)}")
    else:
        lines.append(f"{path}: already up to date")
    return lines
