"""Helpers shared by subcommands: configuration loading and finding output."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from chartgen.errors import Finding


def load_config(ctx: click.Context, *, uses_layout: bool = True):
    """chartgen.yaml (or the defaults, said once on stderr when the command reads the
    folders they name: `uses_layout=False` for a command given every path it needs)."""
    from chartgen.config import load_config as _load

    from chartgen import limits

    root = ctx.find_root()
    path = (root.obj or {}).get("config_path") if root.obj else None
    config = _load(path)
    limits.configure(config)   # every read of this command is bounded by chartgen.yaml `limits:`
    if config.path is None and uses_layout:
        _say_defaults(config)
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



def display_path(path) -> Path:
    """`path` relative to the current folder when inside it, as users and CI annotations want it."""
    return display_paths([path])[0]


def display_paths(paths) -> list[Path]:
    """`display_path` of each path."""
    import os

    from chartgen.fsutil import relative_paths

    paths = [Path(p) for p in paths]
    try:
        here = os.getcwd()
    except OSError:
        return paths
    return [path if shown is None else shown for path, shown in zip(paths, relative_paths(paths, here))]


def check_output(path, what: str, *, folder: bool = True):
    """Exit 2 before any work when `path` (the `what` output: `--out`, `charts`, ...) cannot be
    written; see `chartgen.fsutil.unwritable`. Returns `path`."""
    from chartgen.errors import UsageError
    from chartgen.fsutil import unwritable

    if path is not None:
        problem = unwritable(path, folder=folder)
        if problem:
            shown = display_path(path)
            raise UsageError(f"{what} {shown} {problem}", path=str(shown), code="unwritable-output")
    return path


DISCARD_EDITS_HELP = ("Regenerate charts edited by hand since chartgen wrote them, losing the edits "
                      "(default: refuse and name the edited files; chart.hand_edits in chartgen.yaml).")


def discarding_edits(config, discard: bool):
    """`config` with chart.hand_edits: overwrite when --discard-edits is given."""
    from dataclasses import replace

    return config.with_overrides(chart=replace(config.chart, hand_edits="overwrite")) if discard else config


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


INDEX_FORMATS = ("auto", "json", "yaml")


def index_format_options(function):
    """`--index-format auto|json|yaml` (how index.yaml is written) and its old name `--format`,
    hidden and deprecated: `--format` means the output's format everywhere else."""
    function = click.option("--format", "old_index_format", type=click.Choice(INDEX_FORMATS), default=None,
                            hidden=True, help="Deprecated name of --index-format.")(function)
    return click.option("--index-format", type=click.Choice(INDEX_FORMATS), default=None,
                        help="index.yaml as JSON (fast, Helm >= 3.13) or YAML; auto keeps the existing format "
                             "(default: `publish.index_format`).")(function)


def index_format(index_format: str | None, old_index_format: str | None) -> str | None:
    """The index format asked for; the old `--format` still works, with a warning on stderr."""
    from chartgen.errors import WARNING, UsageError

    if old_index_format is None:
        return index_format
    if index_format is not None and index_format != old_index_format:
        raise UsageError(f"--index-format {index_format} and --format {old_index_format} disagree "
                         "(--format is the old name of --index-format)", code="usage")
    emit_findings([Finding("", 0, 0, WARNING, "--format is the old name of --index-format here and goes in "
                           "the next release: use --index-format", "deprecated-option")],
                  stream=sys.stderr)
    return old_index_format


def findings_document(findings, *, ok: bool | None = None, **extra) -> str:
    """The JSON document of a command that reports findings, and of every command that fails
    with `--format json`: `{"ok": ..., "findings": [...]}` (plus `extra` keys). `ok` is whether
    the command exits 0; by default, whether no finding is an error."""
    from chartgen.errors import redact

    ok = not any(f.is_error for f in findings) if ok is None else ok
    return redact(json.dumps({"ok": ok, "findings": [f.to_dict() for f in findings], **extra}, indent=2)) + "\n"


_said_defaults = False


def _say_defaults(config) -> None:
    """Once per process, on stderr: there is no chartgen.yaml, so these defaults apply."""
    global _said_defaults
    if _said_defaults:
        return
    _said_defaults = True
    settings = config.settings
    click.echo(f"chartgen: no chartgen.yaml in {config.root} or above; using the defaults: sources "
               f"{settings.sources}, shared {settings.shared}, charts {settings.charts}, dist {settings.dist} "
               "(`chartgen init` writes a chartgen.yaml for this repository)", err=True)


def emit_findings(findings: list[Finding] | tuple[Finding, ...], fmt: str = "text",
                  stream=None, *, ok: bool | None = None) -> None:
    """Print findings as `path:line:col: severity: message [code]` lines, or as the JSON
    document `{"ok": ..., "findings": [...]}` (see `findings_document`)."""
    stream = stream or sys.stdout
    if fmt == "json":
        stream.write(findings_document(findings, ok=ok))
        return
    for finding in findings:
        stream.write(finding.format() + "\n")
    from chartgen import ci

    ci.annotate(findings)


def fail(error, fmt: str = "text", **extra):
    """Report a `ChartgenError` and exit with its status: its findings as lines on stderr, and
    with `--format json` also `{"ok": false, "findings": [...], **extra}` on stdout."""
    sys.stderr.write(error.format() + "\n")
    if fmt == "json":
        sys.stdout.write(findings_document(error.findings, ok=False, **extra))
    sys.stdout.flush()
    sys.exit(error.exit_code)


def continue_published(config, folder_names, *, target: str | None = None, config_repo: str = "",
                       warn_new: bool = True, charts_dir=None):
    """chartgen.repo.published.continue_published with the chart repository's credentials
    for a git target; its warnings go to stderr (annotations too: stdout may be JSON)."""
    from chartgen import ci
    from chartgen.gitops.auth import target_credentials
    from chartgen.repo.published import continue_published as _continue

    config, warnings = _continue(config, folder_names, target=target, warn_new=warn_new, charts_dir=charts_dir,
                                 credentials_for=lambda place: target_credentials(config.pr, place, config_repo))
    for finding in warnings:
        click.echo(finding.format(), err=True)
    ci.annotate(warnings, sys.stderr)
    return config
