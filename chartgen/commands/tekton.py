"""`chartgen tekton pin TASK --image PARAM=REF@sha256:…`: pin a Task's images by digest."""

from __future__ import annotations

import click


@click.group(name="tekton", help="Tekton helpers for the chartgen-build Task (pipelines/).")
def command():
    pass


@command.command(name="pin", help="Replace the defaults of TASK's image params (e.g. chartgen-image, kaniko-image) "
                 "with references pinned by digest, in place or into --output. Only those values change; "
                 "comments and layout stay. Used by the release job, and by clusters that mirror the images.")
@click.argument("task", type=click.Path(exists=True, dir_okay=False))
@click.option("--image", "images", multiple=True, required=True, metavar="PARAM=NAME[:TAG]@sha256:DIGEST",
              help="An image param and its pinned reference; repeatable.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write here instead of editing TASK.")
@click.option("--check", is_flag=True, help="Change nothing; exit 1 when TASK does not already pin these images.")
@click.pass_context
def pin(ctx, task, images, output, check):
    from pathlib import Path

    from chartgen.commands._common import check_output, refuse_together

    from chartgen.tekton import pin_task_file, pin_task_images

    refuse_together(ctx, "check", "output", why="--check changes nothing, --output writes the pinned Task")
    wanted: dict[str, str] = {}
    for item in images:
        param, sep, reference = item.partition("=")
        if not sep or not param or not reference:
            raise click.BadParameter(f"{item!r}: expected PARAM=NAME[:TAG]@sha256:DIGEST", param_hint="--image")
        if param in wanted:
            raise click.BadParameter(f"param {param!r} given twice", param_hint="--image")
        wanted[param] = reference
    if not check:
        check_output(Path(output or task), "--output" if output else "TASK", folder=False)
    if check:
        _, pins = pin_task_images(Path(task).read_text(encoding="utf-8"), wanted, path=task)
    else:
        pins = pin_task_file(Path(task), wanted, output=Path(output) if output else None)
    for item in pins:
        if item.changed:
            click.echo(f"{task}:{item.line}: {item.param}: {item.old} -> {item.new}")
        else:
            click.echo(f"{task}:{item.line}: {item.param}: already {item.new}")
    if check and any(item.changed for item in pins):
        raise SystemExit(1)
