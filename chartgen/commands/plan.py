"""`chartgen plan --since REV`: the workflows a change affects."""

from __future__ import annotations

import json

import click

from chartgen.commands._common import load_config


@click.command(name="plan", help="List the workflows a change affects.")
@click.option("--since", default=None, metavar="REV",
              help="Compare REV...HEAD (the changes since this branch left REV), plus uncommitted work.")
@click.option("--all", "all_", is_flag=True, help="Every workflow (a full build, e.g. split with --shards).")
@click.option("--shards", type=click.IntRange(min=1), default=None, metavar="N",
              help="github-matrix: N entries, each a share of the workflows (`chartgen build --shard`), "
                   "instead of one per workflow.")
@click.option("--format", "fmt", type=click.Choice(["lines", "json", "github-matrix"]), default="lines",
              show_default=True, help="One name per line, a JSON report, or a GitHub Actions matrix.")
@click.option("--committed-only", is_flag=True, help="Ignore uncommitted changes and untracked files.")
@click.option("--if-unknown", "unknown", type=click.Choice(["error", "all"]), default="error", show_default=True,
              help="When REV is not in the history (a force-push): fail, or plan every workflow.")
@click.pass_context
def command(ctx, since, all_, shards, fmt, committed_only, unknown):
    from chartgen import ci
    from chartgen.commands._common import refuse_together
    from chartgen.errors import UsageError
    from chartgen.plan import format_lines, plan, plan_all

    refuse_together(ctx, "since", "all_", why="give --since REV or --all")
    if not (since or all_):
        raise UsageError("give --since REV (the workflows a change affects) or --all", code="usage")
    config = load_config(ctx)
    result = plan_all(config) if all_ else plan(config, since, committed_only=committed_only, unknown=unknown)
    since = since or "--all"
    matrix = json.dumps(result.github_matrix(shards or 0), separators=(",", ":"))
    if fmt == "lines":
        click.echo(format_lines(result), nl=False)
    elif fmt == "json":
        click.echo(json.dumps(result.to_dict(), indent=2))
    else:
        click.echo(matrix)
    ci.set_outputs({
        "matrix": matrix,
        "workflows": " ".join(result.names),
        "count": str(len(result.workflows)),
        "any": "true" if result.workflows else "false",
    })
    if result.workflows:
        rows = [[w.name, w.folder, "; ".join(w.reasons[:3]) + (" …" if len(w.reasons) > 3 else "")]
                for w in result.workflows]
        ci.add_summary(f"### chartgen plan since `{since[:12]}`\n\n"
                       + ci.markdown_table(["workflow", "folder", "why"], rows))
    else:
        ci.add_summary(f"### chartgen plan since `{since[:12]}`\n\nNo workflow is affected.")
