"""`chartgen pr [WORKFLOW...] [--prune] --config-repo URL`: propose regenerated charts (and the
removal of charts whose workflow is gone) as pull requests."""

from __future__ import annotations

import json

import click

from chartgen.commands._common import check_user_references, continue_published, fail, load_config


@click.command(name="pr")
@click.argument("workflows", nargs=-1)
@click.option("--config-repo", "config_repo", metavar="URL", default=None,
              help="Git URL of the chart repository (default: pr.configRepo). No token in it: a GitHub "
                   "App's installation token (CHARTGEN_GITHUB_APP_ID + CHARTGEN_GITHUB_APP_PRIVATE_KEY[_FILE], "
                   "see docs/github-app.md), else GH_TOKEN / GITHUB_TOKEN, is handed to git through a "
                   "credential helper.")
@click.option("--base", default=None, help="Target branch (default: pr.base, main).")
@click.option("--forge", type=click.Choice(["github", "none"]), default=None,
              help="github: open or update the pull request; none: push the branch and print where "
                   "to open it (default: pr.forge).")
@click.option("--dry-run", is_flag=True, help="Show the diff that would be proposed; push nothing.")
@click.option("--prune", is_flag=True,
              help="Also propose removing the charts this repository made whose workflow folder is gone "
                   "(branch <pr.branchPrefix>remove-<chart>), and close stale chartgen pull requests. "
                   "Compares with the whole sources folder, whatever WORKFLOWs are given.")
@click.option("--source-commit", default=None, metavar="SHA",
              help="Source commit named in the commit and PR (default: $GITHUB_SHA or HEAD).")
@click.option("--source-ref", default=None, metavar="URL|REF",
              help="Source commit or pull request URL (http/https), or a git ref name, named in the commit and "
                   "PR (default: the commit's URL).")
@click.option("--image-digest", default=None, metavar="sha256:...", help="Pin the image by this digest.")
@click.option("--image-tag", default=None, metavar="TAG", help="Image tag for the chart.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", help="Output format.")
@click.pass_context
def command(ctx, workflows, config_repo, base, forge, dry_run, prune, source_commit, source_ref, image_digest,
            image_tag, fmt):
    """Regenerate the charts of WORKFLOW (names or folders) in a shallow clone of the chart
    repository, commit, push to the stable branch `<pr.branchPrefix><workflow>` and open or
    update its pull request. Nothing is pushed when the charts are already there. With --prune,
    also propose removing the charts of workflows gone from the sources (branch
    `<pr.branchPrefix>remove-<chart>`) and close stale chartgen pull requests."""
    from chartgen.errors import ChartgenError, UsageError
    from chartgen.gitops.engine import open_pull_requests
    from chartgen.gitops.model import PrError
    from chartgen.sources import load_workflow, resolve_workflow

    check_user_references(source_commit=source_commit, image_tag=image_tag, image_digest=image_digest)
    if source_ref:
        from chartgen.gitops.git import check_source_ref

        check_source_ref(source_ref)
    if not workflows and not prune:
        raise UsageError("name the workflows to propose (e.g. `chartgen pr mta`), or pass --prune", code="usage")
    config = load_config(ctx)
    shared = config.shared_dir if config.shared_dir.is_dir() else True
    folders = []
    for name in workflows:
        folder = load_workflow(resolve_workflow(name, config.sources_dir), shared_dir=shared)
        errors = [f for f in folder.findings if f.is_error]
        if errors:
            raise ChartgenError(findings=errors)
        folders.append(folder)
    # The chart repository's base is the history `pr` continues; the published index can be ahead of it.
    config = continue_published(config, [f.name for f in folders], config_repo=config_repo or "", warn_new=False)

    def log(line: str) -> None:
        if fmt == "text":
            click.echo(line, err=True)

    try:
        results = open_pull_requests(folders, config, config_repo=config_repo, base=base, forge=forge,
                                     dry_run=dry_run, source_commit=source_commit, source_ref=source_ref,
                                     image_digest=image_digest, image_tag=image_tag, log=log, prune=prune)
    except PrError as exc:   # some pull requests failed; the others went through
        if fmt != "json":
            _show(exc.results, fmt)
            raise
        fail(exc, fmt, results=[r.to_dict() for r in exc.results])
    _show(results, fmt)


def _show(results, fmt: str) -> None:
    from chartgen.errors import redact

    if fmt == "json":
        click.echo(redact(json.dumps([r.to_dict() for r in results], indent=2)))
        return
    for result in results:
        if result.action == "dry-run":
            click.echo(redact(result.diff), nl=False)
            click.echo(redact(result.message), err=True)
        else:
            what = {"remove": f"remove {result.workflow}", "close": result.branch}.get(result.kind, result.workflow)
            line = f"{what}: {result.action}" + (f" {result.url}" if result.url else "")
            click.echo(redact(line))
