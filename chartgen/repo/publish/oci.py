"""Publish to an OCI registry: what `helm push` does, through helm-python-sdk.

Credentials, in order: CHARTGEN_REGISTRY_USERNAME / CHARTGEN_REGISTRY_PASSWORD, then the
docker config file (`$DOCKER_CONFIG/config.json` or `~/.docker/config.json`, `auths`
entries; credential helpers are not consulted). The login goes to a throw-away Helm
credentials file in a temporary folder, so nothing is stored in the user's Helm
configuration; the password is registered for redaction and never printed.

Plain HTTP is used automatically for loopback registries (127.0.0.1, ::1, localhost),
as `docker` does; `--plain-http` forces it for other hosts.

A version already in the registry is pulled back and compared: the same archive is
skipped, different content is refused unless forced (published versions are immutable).
Each push is a claim confirmed after `publish.ociSettle` seconds, so of two publishers of
one version with different content at most one reports success (`claims`).
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Mapping

from chartgen.errors import ChartgenError, Finding, redact, register_secret
from chartgen.fsutil import foreign_temps_watched, temp_directory
from chartgen.repo.index import immutable_error, newest_version, older_error
from chartgen.repo.versions import parse_version
from chartgen.repo.publish import PublishOptions, PublishResult, Target
from chartgen.repo.publish.claims import SETTLE_SECONDS, Registry, claim, confirm

USERNAME_ENV = "CHARTGEN_REGISTRY_USERNAME"
PASSWORD_ENV = "CHARTGEN_REGISTRY_PASSWORD"
_LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")


def split_location(location: str) -> tuple[str, str]:
    host, _, path = location.partition("/")
    return host, path.strip("/")


def is_loopback(host: str) -> bool:
    name = host.rsplit(":", 1)[0] if not host.startswith("[") else host.split("]")[0] + "]"
    return name in _LOOPBACK or name.startswith("127.")


def registry_credentials(host: str, environ: Mapping[str, str]) -> tuple[str, str] | None:
    """(username, password) for `host` from the environment or the docker config."""
    username, password = environ.get(USERNAME_ENV), environ.get(PASSWORD_ENV)
    if username and password:
        return username, password
    folder = environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")
    config_file = Path(folder) / "config.json"
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    auths = config.get("auths") if isinstance(config, dict) else None
    if not isinstance(auths, dict):
        return None
    for key in (host, f"https://{host}", f"http://{host}", f"https://{host}/v2/", f"http://{host}/v2/"):
        entry = auths.get(key)
        if not isinstance(entry, dict):
            continue
        if entry.get("auth"):
            try:
                user, _, secret = base64.b64decode(entry["auth"]).decode("utf-8").partition(":")
            except (ValueError, UnicodeDecodeError):
                raise ChartgenError(f"the docker config entry for {host} has an unreadable 'auth'",
                                    path=config_file, code="publish-credentials") from None
            if user and secret:
                return user, secret
        if entry.get("username") and entry.get("password"):
            return str(entry["username"]), str(entry["password"])
    return None


def publish(archives, target: Target, options: PublishOptions) -> PublishResult:
    import helm_python

    host, path = split_location(target.location)
    plain_http = is_loopback(host) if options.plain_http is None else options.plain_http
    remote = f"oci://{host}/{path}"
    settle = SETTLE_SECONDS if options.oci_settle is None else options.oci_settle
    added, unchanged, replaced, references = [], [], [], []
    with temp_directory("chartgen-oci-") as tmp:
        try:
            client = helm_python.RegistryClient(plain_http=plain_http,
                                                credentials_file=Path(tmp) / "registry.json")
        except helm_python.HelmError as exc:
            raise ChartgenError(f"cannot create a registry client: {redact(str(exc))}", code="publish-oci") from None
        with client:
            credentials = registry_credentials(host, options.environ)
            if credentials:
                register_secret(credentials[1])
                try:
                    client.login(host, credentials[0], credentials[1], plain_http=plain_http)
                except helm_python.HelmError as exc:
                    raise ChartgenError(f"login to {host} as {credentials[0]} failed: {redact(str(exc))}",
                                        code="publish-oci-login") from None
            hint = "" if credentials else (f"; no credentials found: set {USERNAME_ENV} and {PASSWORD_ENV} "
                                           "or log in with docker/podman (docker config file)")
            registry = Registry(client, helm_python, plain_http, Path(tmp) / "pulled")
            # Check every archive before pushing any.
            plan = []
            for info in archives:
                reference = f"{remote}/{info.name}"
                try:
                    seen = registry.read(reference, info.version)
                except ChartgenError as exc:
                    raise ChartgenError(str(exc) + hint, path=info.path, code="publish-oci") from None
                if seen is not None and seen.archive == info.digest:
                    unchanged.append((info.name, info.version))
                    continue
                if seen is not None and not options.force:
                    raise immutable_error(info, seen.archive, reference)
                newest = None if seen is not None or options.allow_older else newest_tag(client, helm_python, reference)
                if newest is not None and parse_version(newest).compare(parse_version(info.version)) > 0:
                    raise older_error(info, newest, reference)
                plan.append((info, seen))
            # Push each as a claim, then confirm them all (chartgen.repo.publish.claims).
            claims, problems = [], []
            for info, seen in plan:
                reference = f"{remote}/{info.name}"

                def push(info=info):
                    try:
                        with foreign_temps_watched():
                            client.push(str(info.path), remote, plain_http=plain_http)
                    except helm_python.HelmError as exc:
                        raise ChartgenError(f"pushing {info.file_name} to {remote} failed: {redact(str(exc))}{hint}",
                                            path=info.path, code="publish-oci") from None
                try:
                    made = claim(registry, reference, info, seen, force=options.force, push=push)
                except ChartgenError as exc:
                    problems.extend(exc.findings)
                    break       # push nothing more; confirm what is pushed
                if made is None:
                    unchanged.append((info.name, info.version))
                    continue
                claims.append(made)
            problems += confirm(registry, claims, settle)
            failed = {f.path for f in problems}
            for item in claims:
                if str(item.info.path) not in failed:
                    (replaced if item.replaced else added).append((item.info.name, item.info.version))
                    references.append(f"{item.reference}:{item.info.version}")
            if problems:
                done = ", ".join(f"{n} {v}" for n, v in added + replaced)
                note = f"published: {done}" if done else "nothing published"
                raise ChartgenError(findings=[*problems, Finding("", 0, 0, "error", f"{remote}: {note}",
                                                                 problems[0].code)])
    return PublishResult(str(target), tuple(added), tuple(unchanged), tuple(replaced), 1, " ".join(references))


def newest_tag(client, helm_python, reference: str) -> str | None:
    """The highest SemVer tag of a chart repository in the registry (`_` read as `+`), or None."""
    try:
        tags = client.tags(reference)
    except helm_python.HelmError:
        return None  # no such repository yet
    return newest_version({"version": str(tag).replace("_", "+")} for tag in tags or ())
