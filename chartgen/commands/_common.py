"""Helpers shared by subcommands: configuration loading and finding output."""

from __future__ import annotations

import json
import sys

import click

from chartgen.errors import Finding


def load_config(ctx: click.Context):
    from chartgen.config import load_config as _load

    from chartgen import limits

    root = ctx.find_root()
    path = (root.obj or {}).get("config_path") if root.obj else None
    config = _load(path)
    limits.configure(config)   # every read of this command is bounded by chartgen.yaml `limits:`
    return config


def check_user_references(*, source_commit: str | None = None, image_tag: str | None = None,
                          image_digest: str | None = None) -> None:
    """Refuse (exit 2) a commit id, image tag or digest that is not one: they reach Chart.yaml,
    image tags, commit messages and pull requests."""
    from chartgen.gitops.git import check_commit
    from chartgen.image import check_digest, check_tags

    if source_commit:
        check_commit(source_commit)
    if image_tag:
        check_tags([image_tag])
    if image_digest:
        check_digest(image_digest)


def emit_findings(findings: list[Finding] | tuple[Finding, ...], fmt: str = "text",
                  stream=None) -> None:
    """Print findings as `path:line:col: severity: message [code]` lines or a JSON list."""
    stream = stream or sys.stdout
    if fmt == "json":
        stream.write(json.dumps([f.to_dict() for f in findings], indent=2) + "\n")
        return
    for finding in findings:
        stream.write(finding.format() + "\n")
    from chartgen import ci

    ci.annotate(findings)
