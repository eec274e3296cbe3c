"""`chartgen lint [CHART...]`: helm lint --strict, yamllint (chart-testing rules) and ct's checks."""

from __future__ import annotations

import sys

import click

from chartgen.commands._common import emit_findings, load_config, refuse_together


@click.command(name="lint", help="Lint charts (folders or chart names; every chart of the repository when none) "
               "with Helm (helm lint --strict), yamllint with chart-testing's rules and chart-testing's checks "
               "(Chart.yaml fields, version increment against git, one object per kind and name).")
@click.argument("charts", nargs=-1)
@click.option("--since", default="HEAD", show_default=True, metavar="REV",
              help="Revision the version-increment check compares with.")
@click.option("--no-git", is_flag=True, help="Skip the version-increment check.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.pass_context
def command(ctx, charts, since, no_git, fmt):
    from chartgen.chart.lint import chart_dirs_of, lint_charts

    refuse_together(ctx, "since", "no_git", why="--no-git skips the version check that --since sets up")
    config = load_config(ctx)
    findings = lint_charts(charts, config, since=None if no_git else since)
    emit_findings(findings, fmt)
    errors = sum(1 for f in findings if f.is_error)
    if fmt == "text":
        count = len(chart_dirs_of(charts, config))
        click.echo(f"{count} chart{'s' if count != 1 else ''} linted: {errors} error{'s' if errors != 1 else ''}, "
                   f"{len(findings) - errors} warning{'s' if len(findings) - errors != 1 else ''}", err=True)
    if errors:
        sys.exit(1)
