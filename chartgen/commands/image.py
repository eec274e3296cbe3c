"""`chartgen image build`: build (and push) one workflow's image."""

from __future__ import annotations

import json

import click

from chartgen.commands._common import check_output, load_config

BUILDERS = ("auto", "buildah", "podman", "docker", "kaniko")


@click.group(name="image", help="Build and push workflow images.")
def command():
    pass


@command.command(name="build")
@click.argument("workflow")
@click.option("--builder", type=click.Choice(BUILDERS), default=None,
              help="Image builder (default: image.builder in chartgen.yaml, else the first installed of "
                   "buildah, podman, docker). kaniko writes the context and prints the Tekton step's command.")
@click.option("--tag", "tags", multiple=True, metavar="TAG",
              help="Image tag; repeatable (default: the source commit and image.tag, i.e. latest).")
@click.option("--push", is_flag=True, help="Push every tag and print the pushed digest.")
@click.option("--builder-image", metavar="REF", help="SonataFlow builder image (default: image.builderImage).")
@click.option("--runtime-image", metavar="REF", help="JDK runtime image (default: image.runtimeImage).")
@click.option("--context-out", type=click.Path(file_okay=False), default=None,
              help="Keep the build context in this folder (kaniko: default .chartgen/context/<workflow>).")
@click.option("--source-commit", metavar="SHA", help="Source commit for the tag and label (default: git rev-parse HEAD).")
@click.option("--tls-verify/--no-tls-verify", default=None,
              help="Verify registry TLS (default: image.tlsVerify); --no-tls-verify for a plain-http local registry.")
@click.option("--quiet", "-q", is_flag=True, help="Do not echo the builder's output (it is still in the log file).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", help="Output format.")
@click.pass_context
def build(ctx, workflow, builder, tags, push, builder_image, runtime_image, context_out, source_commit,
          tls_verify, quiet, fmt):
    """Build the image of WORKFLOW (a folder name under the sources folder, or a path).

    Prints the image reference; with --push also REPOSITORY@DIGEST, the digest charts pin.
    """
    from pathlib import Path

    from chartgen.image import build_image
    from chartgen.sources import load_workflow, resolve_workflow

    config = load_config(ctx)
    check_output(context_out, "--context-out")
    folder = load_workflow(resolve_workflow(workflow, config.sources_dir), shared_dir=_shared(config))
    echo = None if quiet else (lambda line: click.echo(line, err=True))
    result = build_image(folder, config, builder=builder, tags=list(tags) or None, push=push,
                         builder_image=builder_image, runtime_image=runtime_image,
                         source_commit=source_commit, context_out=Path(context_out) if context_out else None,
                         tls_verify=tls_verify, progress=echo)
    if fmt == "json":
        click.echo(json.dumps({
            "reference": result.reference, "repository": result.repository, "tags": list(result.tags),
            "digest": result.digest, "pinned": result.pinned, "builder": result.builder,
            "log": str(result.log_path) if result.log_path else None,
            "context": str(result.context_dir) if result.context_dir else None,
            "command": list(result.command) if result.builder == "kaniko" else None,
        }, indent=2))
        return
    click.echo(result.reference)
    if result.pinned:
        click.echo(result.pinned)
    if result.builder == "kaniko":
        import shlex

        click.echo(f"kaniko context: {result.context_dir}", err=True)
        click.echo(" ".join(shlex.quote(arg) for arg in result.command))
    click.echo(f"builder log: {result.log_path}", err=True)


def _shared(config):
    return config.shared_dir if config.shared_dir.is_dir() else True
