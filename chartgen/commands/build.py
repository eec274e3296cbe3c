"""`chartgen build WORKFLOW... | --all`: every stage, for each workflow, in parallel."""

from __future__ import annotations

import os
import sys

import click

from chartgen.commands._common import (DISCARD_EDITS_HELP, check_output, check_user_references, continue_published,
                                      discarding_edits, display_paths, load_config, refuse_together)


@click.command(name="build", help="Run every stage for workflows: validate to index (and image, publish, PR).")
@click.argument("workflows", nargs=-1)
@click.option("--all", "all_", is_flag=True, help="Every workflow folder of the sources folder.")
@click.option("--since", metavar="REV", default=None,
              help="The workflows a change since REV affects (as `chartgen plan --since REV` lists them).")
@click.option("--until", type=click.Choice(["validate", "render", "chart", "lint", "package", "index"]),
              default=None, help="Last of the core stages to run (default: index).")
@click.option("--image/--no-image", default=None, help="Also build the workflow image (default: build.image).")
@click.option("--push/--no-push", default=None, help="Push the images built (default: build.push).")
@click.option("--builder", default=None, help="Image builder: buildah, podman, docker or kaniko.")
@click.option("--registry", default=None, help="Registry/organisation of images (overrides image.registry).")
@click.option("--image-context", type=click.Path(file_okay=False), default=None,
              help="Keep the image build context here (kaniko: the Tekton step builds it).")
@click.option("--image-digest", default=None, help="Digest of an image built elsewhere (goes into chart and PR).")
@click.option("--publish", "publish_target", default=None, metavar="TARGET",
              help="Publish the archives and index to TARGET: dir:PATH, git:REMOTE[#BRANCH[:FOLDER]], oci://REGISTRY/PATH "
                   "(default: publish.target when build.publish is on).")
@click.option("--pr/--no-pr", default=None, help="Open or update the chart repository PR (default: build.pr).")
@click.option("--config-repository", default=None, help="Chart repository URL for --pr (overrides pr.configRepo).")
@click.option("--forge", type=click.Choice(["github", "none"]), default=None,
              help="Forge for --pr: github (open the PR) or none (push the branch only).")
@click.option("--source-commit", default=None, help="Commit the sources come from (image tag, PR message).")
@click.option("--base-url", default=None, help="URL the index points archives at (default: publish.url).")
@click.option("--dry-run", is_flag=True, help="With --pr: show what would be proposed, push nothing.")
@click.option("--shard", is_flag=True,
              help="One share of a split build (`chartgen plan --shards N`): only the per-workflow stages; "
                   "`--assemble` makes the umbrella and the index once every shard's charts and archives are in.")
@click.option("--assemble", is_flag=True,
              help="Only the umbrella chart and the index, from the charts and archives already in the "
                   "charts and dist folders (the shards' outputs, gathered); no workflow names.")
@click.option("--no-cache", is_flag=True, help="Redo every stage even when the inputs did not change.")
@click.option("--discard-edits", is_flag=True, help=DISCARD_EDITS_HELP)
@click.option("-j", "--jobs", type=click.IntRange(min=0), default=None,
              help="Workflows built at the same time (default: build.parallelism, 0 = one per core).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--tekton-results", type=click.Path(file_okay=False), default=None, envvar="CHARTGEN_TEKTON_RESULTS",
              help="Write IMAGE_URL, IMAGE_DIGEST, CHART_VERSION, PR_URL result files into this folder.")
@click.pass_context
def command(ctx, workflows, all_, since, until, image, push, builder, registry, image_context, image_digest,
            publish_target, pr, config_repository, forge, source_commit, base_url, dry_run, shard, assemble, no_cache,
            discard_edits, jobs, fmt, tekton_results):
    from dataclasses import replace

    from chartgen import ci
    from chartgen.build.options import options_from_settings
    from chartgen.build.output import (ci_outputs, format_json, format_tail, format_text, markdown_summary,
                                       tekton_values, text_width)
    from chartgen.build.progress import FinishedLines, Progress
    from chartgen.build.runner import build
    from chartgen.errors import UsageError
    from chartgen.sources import discover, resolve_workflow

    check_user_references(source_commit=source_commit, image_digest=image_digest)
    config = discarding_edits(load_config(ctx), discard_edits)
    if jobs is not None:
        config = config.with_overrides(build=replace(config.build, parallelism=jobs))
    refuse_together(ctx, "workflows", "all_", "since", why="give workflow names, --all or --since REV")
    if image and image_digest:
        raise UsageError("--image and --image-digest cannot be used together: --image-digest names an image "
                         "built elsewhere, --image builds one here", code="usage")
    refuse_together(ctx, "shard", "assemble", why="a shard builds workflows, the assembly what comes after")
    if assemble and (workflows or since):
        raise UsageError("--assemble takes no workflow names: it makes the umbrella chart and the index of every "
                         "chart already built", code="usage")
    if assemble and (image or pr or publish_target):
        raise UsageError("--assemble makes the umbrella chart and the index only: no --image, --pr or --publish",
                         code="usage")
    all_ = all_ or assemble
    if not (all_ or workflows or since):
        raise UsageError("name the workflows to build (e.g. `chartgen build mta`), or pass --all or --since REV",
                         code="usage")
    if all_:
        folders = discover(config.sources_dir, config.shared_dir if config.shared_dir.is_dir() else None)
    elif since:
        from chartgen.plan import plan

        folders = [config.resolve(w.folder) for w in plan(config, since).workflows]
    else:
        folders = [resolve_workflow(name, config.sources_dir) for name in workflows]
    folders = display_paths(folders)
    if image_context and len(folders) > 1:
        raise UsageError("--image-context takes one workflow", code="usage")
    options = options_from_settings(config.build, config.publish, until=until, image=image, push=push,
                                    builder=builder, registry=registry, image_context=image_context,
                                    image_digest=image_digest, publish=publish_target, pr=pr,
                                    config_repository=config_repository, forge=forge, source_commit=source_commit,
                                    base_url=base_url, dry_run=dry_run or None, use_cache=not no_cache,
                                    part="workflows" if shard else "repository" if assemble else None)
    # Every folder the run writes, checked before any work (a run of minutes must not end in
    # "cannot write" for its last step).
    from chartgen.build.stages import selected_stages

    selected = selected_stages(options)
    stages = {s.name for s in selected}
    if "chart" in stages:
        check_output(config.charts_dir, "the charts folder (`charts` in chartgen.yaml)")
    if "package" in stages:
        check_output(config.dist_dir, "the dist folder (`dist` in chartgen.yaml)")
    check_output(image_context, "--image-context")
    check_output(ci.tekton_results_dir(tekton_results), "--tekton-results")
    if options.until not in ("validate", "render"):   # the run writes chart versions
        config = continue_published(config, [f.name for f in folders], target=options.publish or None,
                                    config_repo=options.config_repository or "")
    progress = finished = None
    interactive = sys.stderr.isatty() and not ci.in_github_actions() and not os.environ.get("CI")
    if interactive and fmt == "text":
        last = [s.name for s in selected if s.scope == "workflow"][-1:]
        progress = Progress(sorted(f.name for f in folders), sys.stderr, last[0] if last else "")
    width = text_width([f.name for f in folders], [s.name for s in selected if s.scope == "repository"])
    if fmt == "text" and not sys.stdout.isatty():
        # CI logs and pipes: each workflow's line as it finishes, not all of them at the end
        finished = FinishedLines(sys.stdout, width)
    try:
        report = build(folders, config, options, progress, finished, everything=folders if all_ else None)
    finally:
        if progress is not None:
            progress.close()
    if fmt == "json":
        click.echo(format_json(report), nl=False)
    else:
        click.echo(format_tail(report, width) if finished else format_text(report), nl=False)

    # Annotations are workflow commands the runner reads from stdout and stderr alike;
    # with --format json they go to stderr so stdout stays one JSON document.
    for workflow in report.workflows:
        failed = workflow.failed_stage
        if failed is not None:
            ci.annotate(failed.findings, sys.stderr if fmt == "json" else None)
    if ci.in_github_actions():    # (the summary of 1,000 workflows costs a tenth of a second)
        ci.set_outputs(ci_outputs(report))
    ci.add_summary(markdown_summary(report))
    ci.write_tekton_results(tekton_values(report), ci.tekton_results_dir(tekton_results))
    if not report.ok:
        sys.exit(1)
