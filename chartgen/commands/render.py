"""`chartgen render FOLDER --out DIR`: the Kubernetes manifests of one workflow folder."""

from __future__ import annotations

from pathlib import Path

import click

from chartgen.commands._common import check_output, load_config


@click.command(name="render")
@click.argument("folder")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Output directory; replaced as a whole (refused if not empty and not written by chartgen).")
@click.option("--profile", type=click.Choice(["dev", "preview", "gitops"]), default=None,
              help="sonataflow.org/profile annotation (default: render.profile in chartgen.yaml, gitops).")
@click.option("--image", default=None, metavar="REF", help="Workflow image (spec.podTemplate.container.image).")
@click.option("--namespace", "-n", default=None, metavar="NS",
              help="metadata.namespace of every object (default: render.namespace, none).")
@click.option("--persistence/--no-persistence", default=None,
              help="Write spec.persistence.postgresql from render.persistence in chartgen.yaml.")
@click.option("--label-set", type=click.Choice(["app", "standard", "full"]), default=None,
              help="Default label set: app (2), standard (6), full (8, current upstream).")
@click.pass_context
def command(ctx, folder, out_dir, profile, image, namespace, persistence, label_set):
    """Write the manifests `kn workflow gen-manifest` would write for FOLDER (a path or a
    workflow name under the sources folder) into DIR: one object per file, numbered
    like upstream, byte-identical from run to run."""
    from chartgen.fsutil import is_inside
    from chartgen.manifests import render_manifests, render_options, write_manifests
    from chartgen.sources import load_workflow, resolve_workflow

    config = load_config(ctx)
    check_output(out_dir, "--out")
    path = resolve_workflow(folder, config.sources_dir)
    # The repository's shared folder for its own workflows; a sibling shared/ otherwise.
    in_sources = is_inside(path, config.sources_dir) and config.shared_dir.is_dir()
    shared = config.shared_dir if in_sources else True
    workflow_folder = load_workflow(path, shared_dir=shared)
    options = render_options(config.render, profile=profile, image=image, namespace=namespace,
                             persistence=persistence, label_set=label_set)
    manifests = render_manifests(workflow_folder, options)
    written = write_manifests(manifests, out_dir)
    for manifest, file in zip(sorted(manifests, key=lambda m: m.filename), written):
        click.echo(f"wrote {file}  ({manifest.kind} {manifest.name})")
