"""`chartgen init [FOLDER]`: set chartgen up in a new or existing repository."""

from __future__ import annotations

from pathlib import Path

import click


@click.command(name="init", help="Set chartgen up in a repository (FOLDER, default the current one): find where "
               "the workflow folders and the shared folder are, and an existing chart repository or published "
               "index; write a commented chartgen.yaml, the .gitignore lines for dist/ and .chartgen/, and the "
               "GitHub Actions workflows. With --config-repo (or a gh-pages index found), also run `chartgen adopt`.")
@click.argument("folder", required=False, type=click.Path(file_okay=False, exists=True), default=".")
@click.option("--config-repo", "config_repo", metavar="URL", default=None,
              help="The chart repository that already publishes these workflows' charts: `chartgen adopt` reads "
                   "it right after (chart names, folders, published versions).")
@click.option("--index", "index", metavar="TARGET|URL", default=None,
              help="Where the charts are published, when not on the chart repository's gh-pages branch "
                   "(passed to `chartgen adopt`).")
@click.option("--no-ci", is_flag=True, help="Do not write the GitHub Actions workflows.")
@click.option("--force", is_flag=True, help="Replace an existing chartgen.yaml and chartgen's workflow files.")
def command(folder, config_repo, index, no_ci, force):
    from chartgen.adopt.layout import detect_layout, write_files

    root = Path(folder).resolve()
    layout = detect_layout(root)
    for line in describe_layout(layout):
        click.echo(line)
    for rel, what in write_files(root, layout, ci=not no_ci, force=force):
        click.echo(f"{rel}: {what}")
    target = index or layout.index_target
    if config_repo or index:
        from chartgen.adopt import adopt_repository
        from chartgen.commands.adopt import describe
        from chartgen.config import load_config

        config = load_config(root / "chartgen.yaml")
        for line in describe(adopt_repository(config, config_repo or "", index=target)):
            click.echo(line)
    elif layout.index_target:
        click.echo(f"next: `chartgen adopt` reads what {layout.index_target} publishes (chart names and "
                   "versions), then `chartgen build --all`")
    else:
        click.echo("next: `chartgen build --all`; if these workflows' charts are published already, first "
                   "`chartgen adopt --config-repo URL` (the chart repository) so their names and versions continue")


def describe_layout(layout) -> list[str]:
    lines = []
    if layout.workflows:
        shown = ", ".join(layout.workflows[:6]) + (", ..." if len(layout.workflows) > 6 else "")
        lines.append(f"found {len(layout.workflows)} workflow folder{'s' * (len(layout.workflows) != 1)} in "
                     f"{layout.sources}/ ({shown})" + (f", shared files in {layout.shared}/" if layout.shared_found
                                                         else ""))
    if layout.repository:
        lines.append(f"repository {layout.repository} (git remote origin)")
    if layout.index_target:
        lines.append(f"published index on this repository's gh-pages branch: {layout.index_target}")
    lines += [f"note: {note}" for note in layout.notes]
    return lines
