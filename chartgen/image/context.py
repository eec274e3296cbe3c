"""The build context of a workflow image: exactly the files the image needs, nothing else.

The context holds `Containerfile` and `resources/`: the main workflow, application.properties,
the resource folders (specs, schemas, subflows, dashboards) and the shared files the workflow
references (mounted at `resources/shared/...`, so `../shared/...` references resolve as they
do in the cluster). `secret.properties` is never copied: secrets do not go into images.

Assembly is pure (files in, mapping out); writing gives every file and folder a fixed mtime
and mode so two builds of the same sources see byte-identical contexts (and layer caches hit).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from chartgen.errors import ChartgenError, FindingList

CONTAINERFILE = "Containerfile"
RESOURCES = "resources"
ARGFILE = "argfile.conf"
# Where the SonataFlow builder image keeps its Quarkus project (its WORKDIR).
PROJECT_DIR = "/home/kogito/serverless-workflow-project"
# 1980-01-01T00:00:00Z: a fixed, tar- and zip-safe mtime for every context file.
CONTEXT_MTIME = 315532800

_ARG_LINE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$")


@dataclass(frozen=True)
class ContainerfileSpec:
    """Everything the Containerfile template needs; rendering it is pure."""

    workflow: str
    builder_image: str
    runtime_image: str
    quarkus_extensions: str = ""
    maven_args_append: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    project_dir: str = PROJECT_DIR


def dockerquote(value: str) -> str:
    """A double-quoted Containerfile word: no variable expansion, one line."""
    text = " ".join(str(value).splitlines())
    text = text.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")
    return f'"{text}"'


def render_containerfile(spec: ContainerfileSpec) -> str:
    import jinja2
    from importlib import resources

    template_text = (resources.files("chartgen") / "templates" / "Containerfile.j2").read_text(encoding="utf-8")
    env = jinja2.Environment(autoescape=False, keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
    env.filters["dockerquote"] = dockerquote
    for name in ("builder_image", "runtime_image"):
        reference = getattr(spec, name)
        if not reference or any(c.isspace() for c in reference):
            raise ChartgenError(f"{name.replace('_', ' ')} {reference!r} is not an image reference",
                                code="image-bad-reference")
    return env.from_string(template_text).render(
        workflow=spec.workflow, builder_image=spec.builder_image, runtime_image=spec.runtime_image,
        quarkus_extensions=spec.quarkus_extensions, maven_args_append=spec.maven_args_append,
        labels=dict(sorted(spec.labels.items())), project_dir=spec.project_dir)


@dataclass(frozen=True)
class ArgFile:
    """The workflow's argfile.conf (KEY=VALUE build arguments), as the old Makefile passed it."""

    path: Path | None
    values: Mapping[str, str] = field(default_factory=dict)

    @property
    def quarkus_extensions(self) -> list[str]:
        return split_extensions(self.values.get("QUARKUS_EXTENSIONS", ""))

    @property
    def maven_args_append(self) -> str:
        return self.values.get("MAVEN_ARGS_APPEND", "").strip()


def parse_argfile(text: str, path: str) -> ArgFile:
    """Parse `KEY=VALUE` lines (`#` comments, blank lines, optional quotes); errors carry lines."""
    findings = FindingList()
    values: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _ARG_LINE.match(line)
        if not match:
            findings.add(path, number, 1, "expected KEY=VALUE (a build argument), got "
                         f"{line[:60]!r}", "image-argfile-syntax")
            continue
        key, value = match.group(1), match.group(2).strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[key] = value
    if findings.has_errors:
        raise ChartgenError(findings=findings.sorted())
    return ArgFile(Path(path), values)


def read_argfile(folder_root: Path) -> ArgFile:
    path = folder_root / ARGFILE
    if not path.is_file():
        return ArgFile(None, {})
    from chartgen.limits import read_file

    try:
        text = read_file(path).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ChartgenError(f"cannot read {ARGFILE}: {exc}", path=path, code="image-argfile-unreadable") from None
    return parse_argfile(text, str(path))


def split_extensions(value: str) -> list[str]:
    return [item.strip() for item in value.replace("\n", ",").split(",") if item.strip()]


def merge_extensions(*groups: list[str]) -> str:
    """Comma-joined, first occurrence wins, order kept (repository-wide first)."""
    seen: dict[str, None] = {}
    for group in groups:
        for item in group:
            seen.setdefault(item, None)
    return ",".join(seen)


def resource_files(folder) -> dict[str, bytes]:
    """`resources/<path inside the workflow>` -> content for everything the image needs.

    `folder` is a sources.WorkflowFolder; its reading errors (no main workflow, unreadable
    files) make the build impossible and are raised here.
    """
    errors = [f for f in folder.findings if f.is_error]
    if errors:
        raise ChartgenError(findings=errors)
    if folder.main is None:
        raise ChartgenError("no main workflow to build", path=folder.root, code="no-workflow")
    files: dict[str, bytes] = {}
    for source in (folder.main, folder.properties):
        if source is not None:
            files[f"{RESOURCES}/{source.rel}"] = source.content
    for resource in folder.resources:
        rel = resource.file.rel
        if rel.split("/")[-1] == "secret.properties":
            continue  # defensive: secrets never go into an image
        files[f"{RESOURCES}/{rel}"] = resource.file.content
    return dict(sorted(files.items()))


def context_files(folder, containerfile: str) -> dict[str, bytes]:
    files = resource_files(folder)
    files[CONTAINERFILE] = containerfile.encode("utf-8")
    return dict(sorted(files.items()))


def write_context(dest: Path, files: Mapping[str, bytes]) -> None:
    """Write the context under `dest` (existing, empty) with fixed modes and mtimes."""
    dest = Path(dest)
    folders: set[Path] = set()
    for rel, content in sorted(files.items()):
        target = dest / rel
        if ".." in Path(rel).parts or Path(rel).is_absolute():
            raise ChartgenError(f"context path {rel!r} leaves the build context", code="image-context-path")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        os.chmod(target, 0o644)
        os.utime(target, (CONTEXT_MTIME, CONTEXT_MTIME))
        parent = target.parent
        while parent != dest and parent not in folders:
            folders.add(parent)
            parent = parent.parent
    # Folders last (writing files changes their mtime), deepest first.
    for folder in sorted(folders, key=lambda p: len(p.parts), reverse=True):
        os.chmod(folder, 0o755)
        os.utime(folder, (CONTEXT_MTIME, CONTEXT_MTIME))

