"""`chartgen version WORKFLOW --major|--minor|--patch|--release|--prerelease`: explicit bumps."""

from __future__ import annotations

import click

from chartgen.commands._common import check_output, load_config, refuse_together


@click.command(name="version", help="Bump the chart version of WORKFLOW (a workflow folder, workflow name or "
               "chart folder) explicitly, then regenerate the umbrella chart. --prerelease alone counts the "
               "pre-release up (1.2.0-rc.1 -> 1.2.0-rc.2); with --major/--minor/--patch it starts one "
               "(1.2.0 -> 1.3.0-rc.1).")
@click.argument("workflow")
@click.option("--major", is_flag=True, help="X+1.0.0")
@click.option("--minor", is_flag=True, help="X.Y+1.0")
@click.option("--patch", is_flag=True, help="X.Y.Z+1")
@click.option("--release", is_flag=True, help="Drop the pre-release: X.Y.Z-rc.N -> X.Y.Z")
@click.option("--prerelease", is_flag=True, help="Pre-release: count up, or start one after --major/--minor/--patch.")
@click.pass_context
def command(ctx, workflow, major, minor, patch, release, prerelease):
    from chartgen.chart.lint import chart_dirs_of
    from chartgen.chart.umbrella import generate_umbrella
    from chartgen.chart.versioning import bump_version, read_chart_yaml
    from chartgen.chart.writer import hand_edits, refuse_hand_edits
    from chartgen.errors import UsageError

    refuse_together(ctx, "major", "minor", "patch", "release", why="give one part to bump")
    refuse_together(ctx, "release", "prerelease", why="--release drops the pre-release that --prerelease counts up")
    part = next((name for name, on in (("major", major), ("minor", minor), ("patch", patch), ("release", release))
                 if on), None)
    if part is None and not prerelease:
        raise UsageError("say which part to bump: --major, --minor, --patch, --release or --prerelease", code="usage")
    config = load_config(ctx)
    (chart_dir,) = chart_dirs_of([workflow], config)
    check_output(chart_dir, "the chart folder")
    settings = config.chart
    umbrella_dir = chart_dir.parent / settings.umbrella_name
    if settings.umbrella_enabled and chart_dir != umbrella_dir and settings.hand_edits != "overwrite":
        # before the bump: a refusal after it would bump again when the command is run again
        edited = hand_edits(umbrella_dir, settings)
        if edited:
            refuse_hand_edits(umbrella_dir, edited)
    old = str(read_chart_yaml(chart_dir).get("version", ""))
    new = bump_version(chart_dir, part or "prerelease", prerelease=prerelease and part is not None, config=config)
    click.echo(f"{chart_dir.name}: {old} -> {new}")
    if settings.umbrella_enabled and chart_dir.name != settings.umbrella_name:
        umbrella = generate_umbrella(config, chart_dir.parent)
        click.echo(f"{umbrella.name}: {umbrella.version}" + ("" if umbrella.changed else " (unchanged)"))
