"""`chartgen package`: reproducible chart archives."""

from __future__ import annotations

from pathlib import Path

import click

from chartgen.commands._common import check_output, load_config


def resolve_charts(config, charts: tuple[str, ...]) -> list[Path]:
    """Chart folders from arguments (paths, or names under the charts folder); default all."""
    from chartgen.errors import UsageError
    from chartgen.repo.package import find_charts

    if not charts:
        found = find_charts(config.charts_dir) if config.charts_dir.is_dir() else []
        if not found:
            raise UsageError(f"no charts found under {config.charts_dir}", path=config.charts_dir, code="usage")
        return found
    folders = []
    for arg in charts:
        path = Path(arg)
        if not (path / "Chart.yaml").is_file() and (config.charts_dir / arg / "Chart.yaml").is_file():
            path = config.charts_dir / arg
        if not (path / "Chart.yaml").is_file():
            from chartgen.chart.lint import chart_names
            from chartgen.errors import did_you_mean

            hint = did_you_mean(path.name, chart_names(config.charts_dir))
            raise UsageError(f"{arg} is not a chart folder (no Chart.yaml) nor a chart under {config.charts_dir}"
                             + (f"; {hint}" if hint else ""), path=arg, code="usage")
        folders.append(path)
    return folders


@click.command(name="package", help="Package charts into reproducible archives (same content, same bytes).")
@click.argument("charts", nargs=-1)
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Output folder (default: `dist` setting).")
@click.option("--published", "published_path",
              help="Index of published charts to check against: a file or the repository URL "
              "(default: OUT/index.yaml if present).")
@click.option("--force", is_flag=True, help="Replace an archive whose version is already published with other content.")
@click.option("--sign/--no-sign", default=None,
              help="Write a Helm provenance file (<archive>.prov) next to each archive "
              "(default: `publish.sign.enabled`).")
@click.option("--sign-key", type=click.Path(dir_okay=False),
              help="Secret key file: a keyring or an ASCII-armored key (default: `publish.sign.key`, "
              "else the armored key in CHARTGEN_SIGNING_KEY; passphrase: CHARTGEN_SIGNING_PASSPHRASE).")
@click.option("--sign-name", help="A part of the signing key's user ID (default: `publish.sign.name`, "
              "else the key's first).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.pass_context
def command(ctx, charts, out_dir, published_path, force, sign, sign_key, sign_name, fmt):
    import json

    from chartgen.repo.index import INDEX_NAME
    from chartgen.repo.reading import load_index
    from chartgen.build.stages import cache_folder
    from chartgen.repo.package import package_chart
    from chartgen.repo.provenance import after_packaging, provenance_path, sign_options

    config = load_config(ctx)
    out = check_output(Path(out_dir) if out_dir else config.dist_dir, "--out" if out_dir else "the dist folder (`dist` in chartgen.yaml)")
    published = None
    if published_path:
        published = load_index(published_path)
    elif (out / INDEX_NAME).is_file():
        published = load_index(out / INDEX_NAME)
    signing = sign_options(config.publish, sign=sign if sign is not None else (True if sign_key else None),
                           key_file=sign_key, name=sign_name)
    cache = cache_folder(config, "package")      # a large umbrella's sub-charts, kept as the build keeps them
    results = [package_chart(folder, out, force=force, published=published, cache=cache)
               for folder in resolve_charts(config, charts)]
    signed = set(after_packaging(results, signing))
    if fmt == "json":
        click.echo(json.dumps([{"name": r.name, "version": r.version, "path": str(r.path),
                                "digest": r.digest, "unchanged": r.unchanged,
                                "provenance": str(provenance_path(r.path)) if provenance_path(r.path).is_file()
                                else ""} for r in results], indent=2))
        return
    for r in results:
        click.echo(f"{r.path}  sha256:{r.digest}" + ("  (unchanged)" if r.unchanged else "")
                   + ("  signed" if provenance_path(r.path) in signed else ""))
