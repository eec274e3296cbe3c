"""`chartgen verify ARCHIVE...`: check chart archives against their Helm provenance files."""

from __future__ import annotations

import click

from chartgen.commands._common import emit_findings


@click.command(name="verify", help="Check chart archives against their Helm provenance files (<archive>.prov, "
               "written by `chartgen package --sign`): signed by a key of the keyring and unchanged since. "
               "Helm's own check, as `helm verify` and `helm install --verify` run it.")
@click.argument("archives", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--keyring", type=click.Path(dir_okay=False),
              help="Public keyring: binary (gpg --export) or ASCII-armored (gpg --armor --export) "
              "(default: ~/.gnupg/pubring.gpg, as helm verify).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.pass_context
def command(ctx, archives, keyring, fmt):
    import json

    from chartgen.errors import ChartgenError, UsageError
    from chartgen.repo.provenance import verify_archive

    verified, failed = [], []
    for archive in archives:
        try:
            verified.append(verify_archive(archive, keyring))
        except UsageError:
            raise
        except ChartgenError as exc:
            failed.extend(exc.findings)
    if fmt == "json":
        click.echo(json.dumps({"verified": [{"archive": str(v.archive), "file_hash": v.file_hash,
                                             "signed_by": list(v.signed_by)} for v in verified],
                               "failed": [f.to_dict() for f in failed]}, indent=2))
    else:
        for v in verified:
            click.echo(f"{v.archive}: verified, signed by {', '.join(v.signed_by)} ({v.file_hash})")
        emit_findings(failed, stream=click.get_text_stream("stderr"))
    if failed:
        ctx.exit(1)
