"""The `chartgen` command line: parses arguments, calls the library, formats results.

Subcommands live one per module in `chartgen/commands/` and are imported only when
invoked, so `chartgen --version` stays fast.
"""

from __future__ import annotations

import errno
import importlib
import os
import sys

import click

from chartgen import __version__

# command name -> module in chartgen.commands exposing `command`
COMMANDS = {
    "init": "init",
    "adopt": "adopt",
    "validate": "validate",
    "render": "render",
    "chart": "chart",
    "version": "version",
    "compat": "compat",
    "lint": "lint",
    "package": "package",
    "verify": "verify",
    "index": "index",
    "publish": "publish",
    "image": "image",
    "pr": "pr",
    "build": "build",
    "plan": "plan",
    "tekton": "tekton",
}

HELP = {
    "init": "Set up chartgen in a repository: chartgen.yaml, .gitignore, CI workflows.",
    "adopt": "Continue an existing chart repository's chart names and versions.",
    "validate": "Check workflow folders and report every problem.",
    "render": "Write the Kubernetes manifests of a workflow folder.",
    "chart": "Generate the Helm chart of a workflow and the umbrella chart.",
    "version": "Bump a workflow chart's version explicitly.",
    "compat": "Show which charts fit which Orchestrator operator versions.",
    "lint": "Lint charts with Helm, yamllint and chart-testing rules.",
    "package": "Package charts into reproducible archives (and sign them).",
    "verify": "Check chart archives against their provenance signatures.",
    "index": "Write or update a Helm repository index.",
    "publish": "Publish charts to a directory, a git branch or an OCI registry.",
    "image": "Build and push workflow images.",
    "pr": "Open or update pull requests against the chart repository.",
    "build": "Run every stage for workflows: validate to index (and image, publish, PR).",
    "plan": "List the workflows a change affects.",
    "tekton": "Pin the Tekton Task's images by digest.",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        return sorted(COMMANDS)

    def get_command(self, ctx, name):
        module_name = COMMANDS.get(name)
        if module_name is None:
            return None
        try:
            module = importlib.import_module(f"chartgen.commands.{module_name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"chartgen.commands.{module_name}":
                return _not_yet(name)
            raise
        return module.command

    def resolve_command(self, ctx, args):
        # click suggests close names only for the commands it holds; these are imported lazily.
        name = click.utils.make_str(args[0])
        if not name.startswith("-") and not ctx.resilient_parsing and name not in COMMANDS:
            from chartgen.errors import did_you_mean

            hint = did_you_mean(name, COMMANDS)
            raise click.UsageError(f"No such command {name!r}." + (f" {hint[0].upper()}{hint[1:]}" if hint else ""),
                                   ctx)
        return super().resolve_command(ctx, args)

    def format_commands(self, ctx, formatter):
        rows = [(name, HELP.get(name, "")) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def _not_yet(name):
    @click.command(name=name, help=HELP.get(name, ""), context_settings={"ignore_unknown_options": True})
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    def placeholder(args):
        click.echo(f"chartgen {name}: not available in this version", err=True)
        sys.exit(2)
    return placeholder


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="chartgen", message="%(prog)s %(version)s")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), envvar="CHARTGEN_CONFIG",
              help="Path to chartgen.yaml (default: the nearest one above the current folder).")
@click.pass_context
def cli(ctx, config_path):
    """chartgen: serverless-workflow folders in; validated manifests, Helm charts, images,
    pull requests and a published Helm repository out."""
    ctx.ensure_object(dict)
    ctx.obj["config_path"] = config_path


def output_format(args: list[str]) -> str | None:
    """The `--format` value a command line gives its command (parsed as click parses it, unknown
    options skipped), or None: no such command, or none of its options is `--format`. Read only
    when the command failed, to tell whether stdout must be a JSON document."""
    command, ctx, rest, name = cli, None, list(args), "chartgen"
    try:
        while True:
            # the command's own settings too: click caches the help option it makes from them
            ctx = click.Context(command, info_name=name, parent=ctx,
                                **{**command.context_settings, "resilient_parsing": True, "ignore_unknown_options": True})
            options, rest, _ = command.make_parser(ctx).parse_args(list(rest))
            if not isinstance(command, click.Group):
                value = options.get("fmt")    # every command's output format option is `fmt`
                return value if isinstance(value, str) else None
            if not rest:
                return None
            name, rest = rest[0], rest[1:]
            command = command.get_command(ctx, name)
            if command is None:
                return None
    except Exception:   # a command line click cannot read at all: text
        return None


def main(argv=None) -> None:
    from chartgen.errors import ChartgenError, UsageError, printable, redact

    # A failure prints its lines on stderr; with --format json, stdout gets one JSON document too.
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        # Without standalone mode click returns the code given to ctx.exit(n) instead of exiting.
        code = cli.main(args=args, prog_name="chartgen", standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        usage = isinstance(exc, click.UsageError)
        if output_format(args) == "json":
            error = (UsageError if usage else ChartgenError)(exc.format_message(), code="usage" if usage else "error")
            sys.stdout.write(_json_document(error))
        exc.show()
        sys.exit(2 if usage else exc.exit_code)
    except ChartgenError as exc:
        from chartgen.commands._common import fail

        fail(exc, "json" if output_format(args) == "json" else "text")
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(1)
    except Exception as exc:  # a bug, not bad input: say so briefly, details on request
        if os.environ.get("CHARTGEN_DEBUG"):
            raise
        if isinstance(exc, OSError) and exc.filename:
            from chartgen.commands._common import fail

            fail(_os_error(exc), "json" if output_format(args) == "json" else "text")
        message = f"internal error: {type(exc).__name__}: {printable(redact(str(exc)))}"
        if output_format(args) == "json":
            sys.stdout.write(_json_document(ChartgenError(message, code="internal-error")))
        click.echo(f"chartgen: {message} (set CHARTGEN_DEBUG=1 for details)", err=True)
        sys.exit(70)


def _os_error(exc: OSError):
    """A file operation the checks before the work could not foresee (a read-only chart folder
    inside a writable charts folder, a full disk): the path and the system's reason, exit 2 when
    the path cannot be written, 1 otherwise; not 70, which is for bugs."""
    from chartgen.errors import ChartgenError, UsageError

    path = os.fsdecode(exc.filename)
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR, errno.EISDIR, errno.EEXIST):
        return UsageError(f"{path} cannot be written: {exc.strerror}", path=path, code="unwritable-output")
    return ChartgenError(f"{path}: {exc.strerror or exc}", path=path, code="os-error")


def _json_document(error) -> str:
    from chartgen.commands._common import findings_document

    return findings_document(error.findings, ok=False)
