"""The `chartgen` command line: parses arguments, calls the library, formats results.

Subcommands live one per module in `chartgen/commands/` and are imported only when
invoked, so `chartgen --version` stays fast.
"""

from __future__ import annotations

import importlib
import os
import sys

import click

from chartgen import __version__

# command name -> module in chartgen.commands exposing `command`
COMMANDS = {
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


def main(argv=None) -> None:
    from chartgen.errors import ChartgenError, printable, redact

    try:
        # Without standalone mode click returns the code given to ctx.exit(n) instead of exiting.
        code = cli.main(args=argv, prog_name="chartgen", standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2 if isinstance(exc, click.UsageError) else exc.exit_code)
    except ChartgenError as exc:
        click.echo(exc.format(), err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(1)
    except Exception as exc:  # a bug, not bad input: say so briefly, details on request
        if os.environ.get("CHARTGEN_DEBUG"):
            raise
        click.echo(f"chartgen: internal error: {type(exc).__name__}: {printable(redact(str(exc)))} "
                   "(set CHARTGEN_DEBUG=1 for details)", err=True)
        sys.exit(70)
