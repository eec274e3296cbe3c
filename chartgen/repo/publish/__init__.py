"""Publish chart archives to a target: a folder, a git branch, or an OCI registry.

One module per target (`dir`, `git`, `oci`), each exposing
``publish(archives: list[ArchiveInfo], target: Target, options: PublishOptions) -> PublishResult``.
`publish()` here parses the target text, reads and checks the archives, and dispatches.

Targets:
  dir:PATH                 archives + index.yaml + index.html in a folder
  git:REMOTE[#BRANCH[:FOLDER]]  the gh-pages pattern (default branch gh-pages; FOLDER
                           inside the branch, e.g. `docs`, default its root)
  oci://REGISTRY/PATH      `helm push` of each archive
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

from chartgen.errors import ChartgenError, UsageError, redact
from chartgen.fsutil import copy_atomic, sweep_leftovers

KINDS = ("dir", "git", "oci")
DEFAULT_BRANCH = "gh-pages"


@dataclass(frozen=True)
class Target:
    kind: str          # dir | git | oci
    location: str      # folder path, git remote, or registry host[:port]/path (no scheme)
    branch: str = ""   # git only
    folder: str = ""   # git only: repository folder inside the branch ("" = its root)

    def __str__(self) -> str:
        if self.kind == "oci":
            return f"oci://{self.location}"
        if self.kind == "git":
            return redact(f"git:{self.location}#{self.branch}" + (f":{self.folder}" if self.folder else ""))
        return f"dir:{self.location}"


def parse_target(text: str) -> Target:
    """`dir:PATH`, `git:REMOTE[#BRANCH[:FOLDER]]` or `oci://REGISTRY/PATH`."""
    text = (text or "").strip()
    if text.startswith("oci://"):
        location = text[len("oci://"):].strip("/")
        host, _, path = location.partition("/")
        if not host or not path:
            raise UsageError(f"OCI target {text!r} needs a registry and a path: oci://REGISTRY/PATH",
                             code="publish-target")
        return Target("oci", location)
    kind, sep, rest = text.partition(":")
    if not sep or kind not in ("dir", "git") or not rest:
        raise UsageError(f"unknown publish target {redact(text)!r}; use dir:PATH, git:REMOTE[#BRANCH[:FOLDER]] "
                         "or oci://REGISTRY/PATH", code="publish-target")
    if kind == "dir":
        return Target("dir", rest)
    remote, _, branch = rest.partition("#")
    branch, _, folder = branch.partition(":")  # `:` cannot occur in a branch name
    branch = branch or DEFAULT_BRANCH
    if not remote:
        raise UsageError("git target needs a remote: git:REMOTE[#BRANCH[:FOLDER]]", code="publish-target")
    folder = folder.strip("/")
    if folder and (folder.startswith(".") or ".." in folder.split("/") or "\\" in folder):
        raise UsageError(f"git target folder {folder!r} must be a plain relative path", code="publish-target")
    return Target("git", remote, branch, folder)


@dataclass(frozen=True)
class PublishOptions:
    base_url: str | None = None    # absolute URL prefix of the archives; None: relative URLs
    force: bool = False            # replace a published version with other content
    index_format: str = "auto"     # auto | json | yaml
    html: bool = True
    title: str = "Helm charts"
    alias: str = ""                 # index.html: the `helm repo add` name
    plain_http: bool | None = None  # OCI: None = automatic for loopback registries
    oci_settle: float | None = None  # OCI: seconds before a push is confirmed; None = claims.SETTLE_SECONDS
    max_attempts: int = 10          # git: push attempts when someone else published meanwhile
    message: str = ""               # git: commit message
    env: Mapping[str, str] | None = field(default=None, repr=False)  # credentials; default os.environ
    allow_older: bool = False       # publish below the newest published version (a maintenance release)
    credentials: object = field(default=None, repr=False)  # git: token() and username (a GitHub App)

    @property
    def environ(self) -> Mapping[str, str]:
        return os.environ if self.env is None else self.env


@dataclass(frozen=True)
class PublishResult:
    target: str
    added: tuple[tuple[str, str], ...] = ()
    unchanged: tuple[tuple[str, str], ...] = ()   # already published with the same digest
    replaced: tuple[tuple[str, str], ...] = ()    # --force
    attempts: int = 1
    location: str = ""                             # index path, commit, or registry references
    duplicates: tuple[tuple[str, str, int], ...] = ()  # legacy duplicate versions in the charts touched


def index_keywords(settings, *, fmt: str | None = None, html: bool | None = None) -> dict:
    """`chartgen.repo.update.index_settings` in publish()'s vocabulary (index_format instead of fmt)."""
    from chartgen.repo.update import index_settings

    values = index_settings(settings, fmt=fmt, html=html)
    values.pop("oci")  # the page of a dir/git target describes that repository
    return {"index_format": values.pop("fmt"), **values}


def publish(archives: Iterable[Path], target: str | Target, *, base_url: str | None = None,
            force: bool = False, **settings) -> PublishResult:
    """Publish chart archives to `target` (text or Target). See the module docstring."""
    from chartgen.repo.archive import read_archive

    parsed = parse_target(target) if isinstance(target, str) else target
    infos = [read_archive(Path(p)) for p in archives]
    if not infos:
        raise UsageError("nothing to publish: no chart archives given", code="publish-empty")
    options = PublishOptions(base_url=base_url, force=force, **settings)
    backend = importlib.import_module(f"chartgen.repo.publish.{parsed.kind}")
    return backend.publish(infos, parsed, options)


def update_folder(folder: Path, archives, options: PublishOptions, *, where: str):
    """Add archives to a repository folder: copy them, update index.yaml and index.html.

    Everything is checked before anything is written, so a refused archive leaves the
    folder (and its index) exactly as it was. Returns the `Addition`.
    """
    from chartgen.repo.archive import read_archive, same_chart_content, sha256_file
    from chartgen.repo.index import INDEX_NAME, add_archives, empty_index, immutable_error
    from chartgen.repo.provenance import provenance_path
    from chartgen.repo.reading import load_index
    from chartgen.repo.writing import write_repository_files

    folder = Path(folder)
    sweep_leftovers(folder)   # temporary files of killed publishers (dir: we hold the folder's lock)
    index_path = folder / INDEX_NAME
    index = load_index(index_path) if index_path.is_file() else empty_index()
    kept_as_published = []
    for info in archives:
        existing = folder / info.file_name
        if existing.is_file() and not options.force:
            digest = sha256_file(existing)
            if digest != info.digest:
                if not same_chart_content(existing, info.path):
                    raise immutable_error(info, digest, str(existing))
                info = read_archive(existing)   # an older chartgen's bytes of this content: kept
        kept_as_published.append(info)
    archives = kept_as_published
    addition = add_archives(index, archives, options.base_url, force=options.force, where=where,
                            refuse_older=not options.allow_older)
    # A signed archive's provenance goes next to it (`helm --verify` fetches <archive URL>.prov);
    # one already published with an unchanged archive stays.
    signed = {info.file_name: provenance_path(info.path) for info in archives if provenance_path(info.path).is_file()}
    unsigned_there = {name for name in signed if not provenance_path(folder / name).is_file()}
    if (not (addition.added or addition.replaced) and index_path.is_file() and not unsigned_there
            and all((folder / info.file_name).is_file() for info in archives)):
        return addition
    folder.mkdir(parents=True, exist_ok=True)
    for info in archives:
        kept = (info.name, info.version) in addition.unchanged and (folder / info.file_name).is_file()
        if signed.get(info.file_name) and (not kept or info.file_name in unsigned_there):
            copy_atomic(signed[info.file_name], provenance_path(folder / info.file_name))
        if not kept:
            copy_atomic(info.path, folder / info.file_name)
            if not signed.get(info.file_name):      # a replaced archive's old signature would fail
                provenance_path(folder / info.file_name).unlink(missing_ok=True)
    fresh = {*addition.added, *addition.replaced}
    write_repository_files(addition.index, folder, fmt=options.index_format, html=options.html,
                           title=options.title, base_url=options.base_url, alias=options.alias,
                           archives=[info for info in archives if (info.name, info.version) in fresh])
    return addition


def fail(message: str, *, code: str, path: str | Path | None = None) -> ChartgenError:
    return ChartgenError(redact(message), path=path, code=code)
