"""Workflow images: build (and push) `<registry>/serverless-workflow-<name>:<tag>`.

Two stages, rendered from `chartgen/templates/Containerfile.j2`: the SonataFlow builder
image runs `/home/kogito/launch/build-app.sh ./resources` over exactly the files the
workflow deploys, and the JDK runtime image receives `target/quarkus-app/` in four layers
(lib first, so a workflow-only change reuses the dependency layer). Backends (buildah,
podman, docker, kaniko) sit behind one interface in `chartgen.image.builders`.

The public entry point is `build_image`; it returns an `ImageResult` whose `digest` (after a
push) is what charts pin as `image.digest`.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import time
from contextlib import ExitStack
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from chartgen.errors import ChartgenError, UsageError, printable, register_secret
from chartgen.fsutil import temp_directory
from chartgen.settings import ImageSettings

USERNAME_ENV = "CHARTGEN_REGISTRY_USERNAME"
PASSWORD_ENV = "CHARTGEN_REGISTRY_PASSWORD"

_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_REPOSITORY = re.compile(r"^(?:[a-zA-Z0-9.-]+(?::[0-9]+)?/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
                         r"(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")


@dataclass(frozen=True)
class ImageResult:
    reference: str                      # registry/name:first-tag
    tags: tuple[str, ...]               # the tags (not full references)
    digest: str | None                  # sha256:... of the pushed manifest; None without --push
    log_path: Path | None               # the builder's own log
    builder: str = ""
    repository: str = ""                # registry/name
    command: tuple[str, ...] = ()       # the build command line (for kaniko: what the Tekton step runs)
    context_dir: Path | None = None     # kept build context (kaniko, --context-out)

    @property
    def pinned(self) -> str | None:
        """registry/name@sha256:... (what a chart pins), once pushed."""
        return f"{self.repository}@{self.digest}" if self.digest else None


def image_repository(folder_name: str, settings: ImageSettings) -> str:
    """`registry/name` for a workflow folder; checked against the OCI reference grammar."""
    # repository names are lower case; folder names keep their case elsewhere
    name = settings.name.replace("{name}", folder_name.lower())
    repository = f"{settings.registry}/{name}" if settings.registry else name
    if not _REPOSITORY.match(repository):
        raise UsageError(f"image repository {repository!r} (from image.registry and image.name) is not a valid "
                         "reference: lower-case letters, digits and . _ - separators only", code="image-bad-reference")
    return repository


_DIGEST = re.compile(r"sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128}")


def check_digest(digest: str) -> str:
    """An image digest as registries give it (`sha256:` and 64 hexadecimal digits)."""
    if not _DIGEST.fullmatch(digest or ""):
        raise UsageError(f"image digest {printable(digest)!r} is not valid (sha256: and 64 lower-case hexadecimal "
                         "digits)", code="image-bad-digest")
    return digest


def check_tags(tags: list[str]) -> list[str]:
    unique: list[str] = []
    for tag in tags:
        if not _TAG.match(tag):
            raise UsageError(f"image tag {tag!r} is not valid (letters, digits, _ . -; at most 128; "
                             "not starting with . or -)", code="image-bad-tag")
        if tag not in unique:
            unique.append(tag)
    return unique


def source_commit_of(path: Path) -> str | None:
    """`git rev-parse HEAD` of the repository holding `path`, or None outside git."""
    try:
        done = subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True,
                              text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and re.fullmatch(r"[0-9a-f]{40,64}", commit) else None


def uncommitted_changes(folder) -> bool:
    """Whether the workflow folder (or the shared folder) differs from the source commit."""
    paths = [str(folder.root)] + ([str(folder.shared_dir)] if folder.shared_dir else [])
    try:
        done = subprocess.run(["git", "-C", str(folder.root), "status", "--porcelain", "--", *paths],
                              capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0 and bool(done.stdout.strip())


def version_tag(version) -> str:
    """The workflow's `version` as an image tag, or "" when it is none (charts default to it)."""
    text = version.strip() if isinstance(version, str) else ""
    return text if _TAG.match(text) else ""


def default_tags(source_commit: str | None, settings: ImageSettings, version: str = "") -> list[str]:
    """The source commit, the workflow's version (the tag its chart defaults to) and image.tag."""
    return [t for t in (source_commit, version_tag(version), settings.tag) if t]


def image_labels(folder, config, source_commit: str | None) -> dict[str, str]:
    """OCI labels: source (repository URL), revision (commit), title, description, version."""
    workflow = folder.workflow
    labels = {
        "org.opencontainers.image.source": config.repository,
        "org.opencontainers.image.revision": source_commit or "",
        "org.opencontainers.image.title": str(workflow.get("name") or folder.workflow_id or folder.name),
        "org.opencontainers.image.description": str(workflow.get("description") or ""),
        "org.opencontainers.image.version": str(workflow.get("version") or ""),
    }
    return {key: value for key, value in labels.items() if value}


def registry_host(repository: str) -> str:
    first = repository.split("/", 1)[0]
    if "/" in repository and ("." in first or ":" in first or first == "localhost"):
        return first
    return "docker.io"


def authfile_for(repository: str, scratch: Path) -> str | None:
    """The auth file a backend should use, from the environment (never printed).

    CHARTGEN_REGISTRY_USERNAME/PASSWORD win (merged over REGISTRY_AUTH_FILE or
    $DOCKER_CONFIG/config.json when present); otherwise REGISTRY_AUTH_FILE, then
    $DOCKER_CONFIG/config.json; otherwise None (the tool's own defaults, e.g. ~/.docker/config.json).
    """
    existing = os.environ.get("REGISTRY_AUTH_FILE") or ""
    if not existing and os.environ.get("DOCKER_CONFIG"):
        candidate = Path(os.environ["DOCKER_CONFIG"]) / "config.json"
        existing = str(candidate) if candidate.is_file() else ""
    if existing and not Path(existing).is_file():
        raise UsageError(f"registry auth file {existing} (REGISTRY_AUTH_FILE) does not exist",
                         code="image-authfile-missing")
    username, password = os.environ.get(USERNAME_ENV), os.environ.get(PASSWORD_ENV)
    if not (username and password):
        if username or password:
            raise UsageError(f"set both {USERNAME_ENV} and {PASSWORD_ENV} (or neither)", code="image-credentials")
        return existing or None
    register_secret(password)
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    register_secret(token)
    data: dict = {}
    if existing:
        try:
            data = json.loads(Path(existing).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise UsageError(f"cannot read registry auth file {existing}: {exc}", code="image-authfile-bad") from None
    data.setdefault("auths", {})[registry_host(repository)] = {"auth": token}
    path = scratch / "auth.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle)
    return str(path)


def build_timestamp(settings: ImageSettings) -> int | None:
    """The fixed layer time of reproducible builds: SOURCE_DATE_EPOCH, else 0 (as kaniko's --reproducible).

    A constant (not the commit time) keeps the lib layer identical from commit to commit.
    """
    if not settings.reproducible:
        return None
    value = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if not value:
        return 0
    if not value.isdigit():
        raise UsageError(f"SOURCE_DATE_EPOCH must be seconds since 1970 (got {value!r})", code="image-bad-epoch")
    return int(value)


def log_path_for(settings: ImageSettings, workflow: str) -> Path:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return settings.log_dir / f"{workflow}-image-{stamp}-{os.getpid()}.log"


def push_with_retries(builder, ref: str, log, settings: ImageSettings,
                      sleep: Callable[[float], None] = time.sleep) -> str:
    """Push; transient registry failures are retried `retries` times with doubling delays."""
    from chartgen.image.builders import PushError

    delay = settings.retry_delay
    for attempt in range(settings.retries + 1):
        try:
            return builder.push(ref, log)
        except PushError as exc:
            if not exc.transient or attempt == settings.retries:
                if exc.transient and settings.retries:
                    raise ChartgenError(f"{exc} (gave up after {attempt + 1} attempts)", code=exc.code) from None
                raise
            log.note(f"push attempt {attempt + 1} failed ({exc.code}); retrying in {delay:g}s")
            sleep(delay)
            delay *= 2
    raise AssertionError("unreachable")


def build_image(folder, config, *, builder: str | None = None, tags: list[str] | None = None,
                push: bool = False, builder_image: str | None = None, runtime_image: str | None = None,
                source_commit: str | None = None, context_out: Path | None = None,
                tls_verify: bool | None = None, progress: Callable[[str], None] | None = None,
                sleep: Callable[[float], None] = time.sleep) -> ImageResult:
    """Build the image of one workflow folder (sources.WorkflowFolder) and optionally push it.

    tags default to [source commit, workflow version, image.tag]; source_commit defaults to `git rev-parse HEAD`
    of the folder's repository. context_out keeps the build context in that folder (kaniko's
    Tekton step reads it). progress receives each builder output line (redacted).
    Raises ChartgenError (one clear message naming the builder log) on any failure; it is
    located at the workflow folder when the failure has no file of its own.
    """
    try:
        return _build_image(folder, config, builder=builder, tags=tags, push=push, builder_image=builder_image,
                            runtime_image=runtime_image, source_commit=source_commit, context_out=context_out,
                            tls_verify=tls_verify, progress=progress, sleep=sleep)
    except ChartgenError as exc:
        if not exc.findings or all(f.path for f in exc.findings):
            raise
        located = [f if f.path else replace(f, path=str(folder.root)) for f in exc.findings]
        raise (UsageError if isinstance(exc, UsageError) else ChartgenError)(findings=located) from None


def _build_image(folder, config, *, builder, tags, push, builder_image, runtime_image, source_commit,
                 context_out, tls_verify, progress, sleep) -> ImageResult:
    # `context_out` keeps the build context in that folder (kaniko's Tekton step reads it);
    # otherwise the context lives in a temp folder removed after the build.
    from chartgen.fsutil import atomic_directory
    from chartgen.image import builders
    from chartgen.image.builders.kaniko import KanikoBuilder
    from chartgen.image.context import (CONTAINERFILE, ContainerfileSpec, context_files, merge_extensions,
                                        read_argfile, render_containerfile, write_context)

    settings = config.image
    repository = image_repository(folder.name, settings)
    commit = source_commit or source_commit_of(folder.root)
    tag_list = check_tags(list(tags) if tags else default_tags(commit, settings, folder.workflow.get("version")))
    if not tag_list:
        raise UsageError("no image tag: not in a git repository, the workflow has no version and image.tag is "
                         "empty; pass --tag", code="image-no-tag")
    argfile = read_argfile(folder.root)
    spec = ContainerfileSpec(
        workflow=folder.name,
        builder_image=builder_image or settings.builder_image,
        runtime_image=runtime_image or settings.runtime_image,
        quarkus_extensions=merge_extensions(list(settings.quarkus_extensions), argfile.quarkus_extensions),
        maven_args_append=" ".join(a for a in (settings.maven_args_append.strip(), argfile.maven_args_append) if a),
        labels=image_labels(folder, config, commit))
    files = context_files(folder, render_containerfile(spec))
    backend_name = builders.resolve(builder or settings.builder)
    refs = [f"{repository}:{tag}" for tag in tag_list]

    from chartgen.image.builders import BuildLog, BuilderOptions

    try:
        log = BuildLog(log_path_for(settings, folder.name), echo=progress)
    except OSError as exc:
        raise ChartgenError(f"cannot write the builder log in {settings.log_dir}: {exc.strerror or exc}",
                            path=settings.log_dir, code="image-log-unwritable") from None
    with ExitStack() as stack:
        scratch = Path(stack.enter_context(temp_directory("chartgen-image-")))
        options = BuilderOptions(
            storage_driver=settings.storage_driver, storage_root=settings.storage_root,
            run_root=settings.run_root, isolation=settings.isolation,
            tls_verify=settings.tls_verify if tls_verify is None else tls_verify,
            format=settings.format, timestamp=build_timestamp(settings), platform=settings.platform,
            authfile=None if backend_name == "kaniko" else authfile_for(repository, scratch))
        cls = builders.backend_class(backend_name)
        if backend_name == "kaniko" and context_out is None:
            # kaniko's step reads the context later: it must outlive this call
            context_out = config.root / ".chartgen" / "context" / folder.name
        backend = cls(options, push=push) if cls is KanikoBuilder else cls(options)
        if context_out is not None:
            context_dir = Path(stack.enter_context(atomic_directory(Path(context_out)))).resolve()
            final_context = Path(context_out).resolve()
        else:
            context_dir = scratch / "context"
            context_dir.mkdir()
            final_context = None
        write_context(context_dir, files)
        # kaniko's command must name the folder where the context ends up, not the temp one
        named = final_context or context_dir
        log.note(f"chartgen: building {', '.join(refs)} with {backend_name} from {named}")
        if commit and not source_commit and uncommitted_changes(folder):
            log.note(f"chartgen: warning: {folder.root} has uncommitted changes; the image is labelled and "
                     f"tagged with {commit[:12]} but holds the working-tree files")
        build_dir = named if backend.pushes_during_build else context_dir
        result = backend.build(build_dir, build_dir / CONTAINERFILE, refs, {}, log)
        if backend.pushes_during_build:
            (context_dir / "kaniko-args.json").write_text(json.dumps(list(result.command[1:]), indent=2) + "\n",
                                                          encoding="utf-8")
        digest = None
        if push and result.executed:
            for ref in refs:
                pushed = push_with_retries(backend, ref, log, settings, sleep)
                digest = digest or pushed
                if pushed != digest:
                    log.note(f"note: {ref} pushed as {pushed}, first tag as {digest}")
            log.note(f"chartgen: pushed {repository}@{digest}")
    return ImageResult(refs[0], tuple(tag_list), digest, log.path, backend_name, repository,
                       result.command, final_context)


__all__ = ["ImageResult", "ImageSettings", "build_image", "image_repository", "image_labels",
           "authfile_for", "source_commit_of", "default_tags", "version_tag", "push_with_retries"]
