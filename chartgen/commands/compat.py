"""`chartgen compat [--operator VERSION] [--format table|markdown|json]`: the compatibility matrix."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from chartgen.commands._common import load_config

COLUMNS = ("chart", "version", "app version", "workflow", "type", "operator", "api", "kubernetes")


def _cells(row) -> list[str]:
    return [row.name, row.version, row.app_version or "-", row.workflow_id, row.workflow_type,
            row.operator_versions, row.sonataflow_api, row.kube_version]


@click.command(name="compat", help="Show the compatibility matrix of the generated charts; with --operator, "
               "which of them fit that SonataFlow operator version (exit 1 when none does).")
@click.option("--operator", "operator_version", default=None, metavar="VERSION",
              help="An operator version, e.g. 1.36.0.")
@click.option("--format", "fmt", type=click.Choice(["table", "markdown", "json"]), default="table",
              show_default=True)
@click.option("--charts", "charts_dir", type=click.Path(file_okay=False), default=None,
              help="Charts folder (default: `charts` in chartgen.yaml).")
@click.pass_context
def command(ctx, operator_version, fmt, charts_dir):
    from chartgen.chart.compat import compat_matrix, fits
    from chartgen.chart.readme import compat_markdown

    config = load_config(ctx)
    rows = compat_matrix(Path(charts_dir) if charts_dir else config.charts_dir)
    fitting = None
    if operator_version:
        fitting = {row.name: fits(row, operator_version) for row in rows}
    if fmt == "json":
        data = [dict(row.to_dict(), **({"fits": fitting[row.name]} if fitting is not None else {}))
                for row in rows]
        click.echo(json.dumps(data, indent=2))
    elif fmt == "markdown":
        shown = [row for row in rows if fitting is None or fitting[row.name]]
        click.echo(compat_markdown(shown), nl=False)
    else:
        header = list(COLUMNS) + (["fits " + operator_version] if fitting is not None else [])
        table = [header] + [_cells(row) + (["yes" if fitting[row.name] else "no"] if fitting is not None else [])
                            for row in rows]
        widths = [max(len(line[i]) for line in table) for i in range(len(header))]
        for line in table:
            click.echo("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip())
    if fitting is not None and not any(fitting.values()):
        sys.exit(1)
