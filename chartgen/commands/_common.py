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


def given(ctx: click.Context, name: str) -> bool:
    """True when the parameter `name` was set on the command line or by its environment variable
    (not left at its default)."""
    from click.core import ParameterSource

    return ctx.get_parameter_source(name) in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)


def option_label(ctx: click.Context, name: str) -> str:
    """How the user wrote the parameter `name`: `--major`, `--no-git`, `WORKFLOWS`."""
    for param in ctx.command.params:
        if param.name == name:
            if isinstance(param, click.Option):
                return max(param.opts, key=len)
            return param.human_readable_name
    return name


def refuse_together(ctx: click.Context, *names: str, why: str = "") -> None:
    """Exit 2 when more than one of the parameters `names` was given: they exclude each other."""
    from chartgen.errors import UsageError

    both = [option_label(ctx, n) for n in names if given(ctx, n)]
    if len(both) > 1:
        listed = " and ".join([", ".join(both[:-1]), both[-1]])
        raise UsageError(f"{listed} cannot be used together" + (f": {why}" if why else ""), code="usage")


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
