"""`chartgen publish`: archives to a folder, a git branch or an OCI registry."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from chartgen.commands._common import check_output, emit_findings, index_format_options, load_config
from chartgen.commands._common import index_format as _index_format


@click.command(name="publish", help="Publish charts: --to dir:PATH | git:REMOTE[#BRANCH[:FOLDER]] | oci://REGISTRY/PATH. "
               "CHART is an archive (.tgz), a chart folder or a chart name (packaged first); "
               "default: every archive in the dist folder.")
@click.argument("charts", nargs=-1)
@click.option("--to", "target", help="Where to publish (default: `publish.target`).")
@click.option("--url", "base_url", help="URL the repository is served from (default: `publish.url`; "
              "empty: relative URLs).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False),
              help="Where charts given as folders are packaged (default: `dist` setting).")
@click.option("--force", is_flag=True, help="Replace a published version that has other content.")
@click.option("--allow-older", is_flag=True,
              help="Publish a version below the newest one published of that chart (a maintenance release); "
                   "refused otherwise [version-older].")
@click.option("--plain-http/--no-plain-http", default=None,
              help="OCI over plain HTTP (default: only for 127.0.0.1/localhost registries).")
@index_format_options
@click.option("--html/--no-html", default=None, help="Also write index.html (default: `publish.html`).")
@click.option("--message", default="", help="Commit message for git targets.")
@click.option("--attempts", default=10, show_default=True, type=click.IntRange(1, 100),
              help="git: push attempts when others publish at the same time.")
@click.pass_context
def command(ctx, charts, target, base_url, out_dir, force, allow_older, plain_http, index_format, old_index_format,
            html, message, attempts):
    from chartgen.commands.package import resolve_charts
    from chartgen.errors import UsageError
    from chartgen.repo.index import duplicate_warnings
    from chartgen.build.stages import cache_folder
    from chartgen.repo.package import package_chart
    from chartgen.gitops.auth import target_credentials
    from chartgen.repo.provenance import after_packaging, sign_archives, sign_options
    from chartgen.repo.publish import index_keywords, parse_target, publish

    fmt = _index_format(index_format, old_index_format)
    config = load_config(ctx)
    target = target or config.publish.target
    if not target:
        raise UsageError("no target: give --to dir:PATH | git:REMOTE[#BRANCH[:FOLDER]] | oci://REGISTRY/PATH "
                         "or set publish.target in chartgen.yaml", code="usage")
    where = parse_target(target)
    if where.kind == "dir":
        check_output(Path(where.location), "the publish folder")
    dist = Path(out_dir) if out_dir else config.dist_dir
    archives: list[Path] = []
    folders = []
    for arg in charts:
        if arg.endswith(".tgz"):
            if not Path(arg).is_file():
                raise UsageError(f"archive {arg} does not exist", path=arg, code="usage")
            archives.append(Path(arg))
        else:
            folders.append(arg)
    signing = sign_options(config.publish)
    if folders:
        check_output(dist, "--out" if out_dir else "the dist folder (`dist` in chartgen.yaml)")
        cache = cache_folder(config, "package")
        packaged = [package_chart(folder, dist, force=force, cache=cache)
                    for folder in resolve_charts(config, tuple(folders))]
        after_packaging(packaged, signing)
        archives += [p.path for p in packaged]
    if not charts:
        archives = sorted(dist.glob("*.tgz")) if dist.is_dir() else []
        if not archives:
            raise UsageError(f"no chart archives in {dist}; run `chartgen package` first or name charts",
                             path=dist, code="usage")
    if signing is not None:      # publish.sign.enabled: no archive goes out unsigned
        sign_archives(archives, signing, only_missing=archives)
    result = publish(archives, target, base_url=(base_url if base_url is not None else config.publish.url) or None,
                     force=force, plain_http=plain_http, message=message, max_attempts=attempts,
                     oci_settle=config.publish.oci_settle,
                     allow_older=allow_older, credentials=target_credentials(config.pr, target),
                     **index_keywords(config.publish, fmt=fmt, html=html))
    for name, version in result.added:
        click.echo(f"published {name} {version}")
    for name, version in result.replaced:
        click.echo(f"replaced {name} {version} (--force)")
    for name, version in result.unchanged:
        click.echo(f"already published {name} {version} (same digest)")
    emit_findings(duplicate_warnings(result.target, result.duplicates), stream=sys.stderr)
    tries = f" after {result.attempts} attempts" if result.attempts > 1 else ""
    click.echo(f"{result.target}: {len(result.added)} added, {len(result.unchanged)} unchanged{tries}"
               + (f" ({result.location})" if result.location else ""))

