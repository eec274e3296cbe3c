"""`chartgen index`: write or update a Helm repository index."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from chartgen.commands._common import check_output, emit_findings, index_format_options, load_config
from chartgen.commands._common import index_format as _index_format


@click.command(name="index", help="Write or update DIR/index.yaml (and index.html) from the chart archives in DIR.")
@click.argument("directory", required=False, type=click.Path(file_okay=False))
@click.option("--url", "base_url", help="URL the repository is served from (default: `publish.url`; "
              "empty: relative URLs).")
@click.option("--merge", "merge", type=click.Path(dir_okay=False),
              help="Existing index to add to (default: DIR/index.yaml if present).")
@index_format_options
@click.option("--html/--no-html", default=None, help="Also write index.html (default: `publish.html`).")
@click.option("--force", is_flag=True, help="Replace entries whose version is already indexed with another digest.")
@click.pass_context
def command(ctx, directory, base_url, merge, index_format, old_index_format, html, force):
    from chartgen.repo.index import duplicate_warnings
    from chartgen.repo.update import index_settings, update_index

    fmt = _index_format(index_format, old_index_format)
    config = load_config(ctx, uses_layout=directory is None)
    folder = Path(directory) if directory else config.dist_dir
    if os.path.lexists(folder):   # a missing folder is reported as such by update_index
        check_output(folder, "DIRECTORY" if directory else "the dist folder (`dist` in chartgen.yaml)")
    result = update_index(folder, base_url if base_url is not None else config.publish.url,
                          merge=Path(merge) if merge else None, force=force,
                          **index_settings(config.publish, fmt=fmt, html=html))
    for name, version in result.added:
        click.echo(f"added {name} {version}")
    for name, version in result.replaced:
        click.echo(f"replaced {name} {version} (--force)")
    emit_findings(duplicate_warnings(str(result.path), result.duplicates), stream=sys.stderr)
    click.echo(f"{result.path}: {result.total} chart versions ({result.format}); "
               f"{len(result.added)} added, {len(result.unchanged) + result.known} already indexed")
