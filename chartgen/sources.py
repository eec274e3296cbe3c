"""Reading a workflow folder: the main workflow, properties, resources and shared files.

A folder holds exactly one main workflow at its root (`*.sw.yaml|yml|json`), optional
`application.properties` and `secret.properties`, and resource folders (`specs/`,
`schemas/`, `subflows/`, `dashboards/`). Files of the repository's shared folder that the
workflow references (`../shared/schemas/x.json` from `schemas/`, i.e. the virtual
`shared/` folder the old Makefile copied in) travel with it as resources mounted at
`shared/<dir>`, so nothing is left dangling in the cluster.

Reading never raises for bad content: problems become findings on the folder; only the
validation and rendering stages decide what is fatal. Every file is read through
`chartgen.limits.read_file` (regular files only, size-capped): a FIFO, a device or a
symlink loop is a finding, never a hang. A deployed file or folder name must be a plain
ConfigMap key (`[-._a-zA-Z0-9]+`, not `.` or `..`): it becomes a key, a mount path and a
path in the chart's templates, so anything else is refused here, before any stage sees it.
"""

from __future__ import annotations

import os
import posixpath
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Iterator

from chartgen.errors import (ERROR, WARNING, ChartgenError, Finding, UsageError, did_you_mean, is_printable,
                             printable)
from chartgen.fsutil import identity, is_inside
from chartgen.names import is_configmap_key

MAIN_SUFFIXES = (".sw.yaml", ".sw.yml", ".sw.json")
DATA_SUFFIXES = (".json", ".yaml", ".yml")
RESOURCE_DIRS = ("dashboards", "schemas", "specs", "subflows")
PROPERTIES = "application.properties"
SECRET_PROPERTIES = "secret.properties"
SHARED = "shared"

# A relative reference to a data file, as used in $ref, dataInputSchema, operations.
_FILE_REF = re.compile(r"^(?!/)(?![a-zA-Z][a-zA-Z0-9+.-]*:)[^\s#?]+\.(?:json|ya?ml)(?:#.*)?$")


@dataclass(frozen=True, eq=False)
class SourceFile:
    """One file of a workflow: where it is on disk, where it sits inside the workflow."""

    path: Path          # on disk, as given (relative paths stay relative for messages)
    rel: str            # inside the workflow, posix, e.g. "specs/x.yaml", "shared/schemas/r.json"
    content: bytes

    @property
    def display(self) -> str:
        return str(self.path)

    @cached_property
    def text(self) -> str:
        try:
            return self.content.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ChartgenError(f"not UTF-8 text (byte {exc.start})", path=self.display,
                                code="encoding") from None

    @cached_property
    def document(self):
        """Parsed content with positions (yamlio.Document). Raises ChartgenError."""
        from chartgen.yamlio import load_document

        return load_document(self.content, self.display)

    def try_document(self):
        try:
            return self.document
        except ChartgenError:
            return None


@dataclass(frozen=True, eq=False)
class Resource:
    """A file mounted next to the workflow through a resources ConfigMap."""

    workflow_path: str  # folder inside the workflow: "specs", "schemas", "subflows/specs", "shared/schemas"
    file: SourceFile

    @property
    def name(self) -> str:
        return posixpath.basename(self.file.rel)


@dataclass(frozen=True, eq=False)
class WorkflowFolder:
    name: str                                   # folder name
    root: Path
    main: SourceFile | None
    properties: SourceFile | None = None
    secret_properties: SourceFile | None = None
    resources: tuple[Resource, ...] = ()
    shared_dir: Path | None = None
    findings: tuple[Finding, ...] = ()          # problems found while reading
    other_files: tuple[str, ...] = ()           # files chartgen does not use (README, argfile.conf ...)
    # The root workflow files when there are several (then none is `main`): each is validated
    # as if it were the main one, so fixing the folder is one round trip.
    candidates: tuple[SourceFile, ...] = ()

    @cached_property
    def document(self):
        """The parsed main workflow, or None when it cannot be read (see `findings`)."""
        return self.main.try_document() if self.main else None

    @property
    def workflow(self) -> dict:
        data = self.document.data if self.document else None
        return data if isinstance(data, dict) else {}

    @property
    def workflow_id(self) -> str:
        value = self.workflow.get("id")
        return value if isinstance(value, str) else ""

    def resource_groups(self) -> dict[str, list[Resource]]:
        """workflow_path -> resources, sorted by path then file name (byte order, like upstream)."""
        groups: dict[str, list[Resource]] = {}
        for resource in self.resources:
            groups.setdefault(resource.workflow_path, []).append(resource)
        return {key: sorted(groups[key], key=lambda r: r.name) for key in sorted(groups)}

    def files(self) -> Iterator[SourceFile]:
        """Every file that becomes part of the deployed workflow."""
        for item in (self.main, self.properties, self.secret_properties):
            if item is not None:
                yield item
        for resource in self.resources:
            yield resource.file


def _read(path: Path, rel: str, findings: list[Finding], within: Path | None = None) -> SourceFile | None:
    from chartgen.limits import read_file

    try:
        return SourceFile(path, rel, read_file(path, within=within))
    except ChartgenError as exc:   # not a regular file, too large, a symlink loop, unreadable
        findings.extend(exc.findings)
        return None


def _escapes(path: Path, root: Path, findings: list[Finding]) -> bool:
    """A file or folder that is a symlink leading out of the workflow folder is refused."""
    if is_inside(path, root):
        return False
    findings.append(Finding(str(path), 0, 0, ERROR,
                            "symlink points outside the workflow folder; refusing to read it", "path-escape"))
    return True


def _present(path: Path) -> bool:
    """Something other than a folder is there: a file, but also a FIFO, a device or a broken
    symlink, which reading then reports instead of skipping silently."""
    return os.path.lexists(path) and not os.path.isdir(path)


def name_problem(rel: str, disk: Path) -> Finding | None:
    """Why a deployed file (`rel` inside the workflow, e.g. "schemas/x/y.json") cannot be
    deployed under its name, or None. Folder names are `path-name` (they become mount paths
    and chart template paths), file names `configmap-key`."""
    *folders, name = rel.split("/")
    for depth, folder in enumerate(folders):
        if not is_configmap_key(folder):
            where = disk.parents[len(folders) - depth - 1]
            return Finding(str(where), 0, 0, ERROR,
                           f"folder name '{printable(folder)}' is not a plain path segment (letters, digits, '-', '_', "
                           "'.' only, not '.' or '..'): it would become a resource mount path and a path in "
                           "the chart's templates; rename the folder", "path-name")
    if not is_configmap_key(name):
        return Finding(str(disk), 0, 0, ERROR,
                       f"file name '{printable(name)}' is not a valid ConfigMap key (letters, digits, '-', '_', '.' "
                       "only); rename it", "configmap-key")
    return None


def _refuse_name(rel: str, disk: Path, findings: list[Finding]) -> bool:
    problem = name_problem(rel, disk)
    if problem is None:
        return False
    if problem not in findings:   # one finding per bad folder, however many files it holds
        findings.append(problem)
    return True


def _walk_resource_dir(folder: Path, top: str, findings: list[Finding], root: Path | None = None) -> list[Resource]:
    """Files of one resource folder; subflows/ takes workflows at its top, data files below."""
    root = root or folder.parent
    result: list[Resource] = []
    if _escapes(folder, root, findings):
        return result
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        inner = Path(dirpath).relative_to(folder).as_posix()
        rel_dir = top if inner == "." else f"{top}/{inner}"
        at_top = Path(dirpath) == folder
        for filename in sorted(filenames):
            lower = filename.lower()
            wanted = lower.endswith(MAIN_SUFFIXES) if (top == "subflows" and at_top) else lower.endswith(DATA_SUFFIXES)
            if not wanted:
                continue
            path = Path(dirpath) / filename
            rel = posixpath.join(rel_dir, filename)
            if _refuse_name(rel, path, findings) or _escapes(path, root, findings):
                continue
            source = _read(path, rel, findings, root)
            if source is not None:
                result.append(Resource(rel_dir, source))
    return result


def find_shared_dir(folder: Path) -> Path | None:
    """The repository's shared folder next to a workflow folder (`shared/` or `_shared/`)."""
    for name in (SHARED, "_" + SHARED):
        candidate = folder.parent / name
        if candidate.is_dir() and os.path.realpath(candidate) != os.path.realpath(folder):
            return candidate
    return None


def file_references(data, base_dir: str = "") -> Iterator[tuple[str, tuple]]:
    """Relative file references in a parsed document: (path inside the workflow, pointer).

    `base_dir` is the folder (inside the workflow) the document sits in; the reference is
    resolved against it. `$ref`s and any string that names a .json/.yaml/.yml file count.
    """
    stack = [(data, ())]
    while stack:
        node, pointer = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                stack.append((value, pointer + (key,)))
        elif isinstance(node, list):
            stack.extend((value, pointer + (i,)) for i, value in enumerate(node))
        elif isinstance(node, str) and len(node) < 512 and _FILE_REF.match(node):
            target = node.split("#", 1)[0]
            if target:
                yield posixpath.normpath(posixpath.join(base_dir, target)), pointer


def _shared_resources(mains: list[SourceFile], resources: list[Resource], root: Path,
                      shared_dir: Path | None, findings: list[Finding]) -> list[Resource]:
    """Shared files the workflow (`mains`: its root workflow files) references, transitively,
    mounted at shared/<dir>."""
    if shared_dir is None:
        return []
    present = {r.file.rel for r in resources}
    queue = [*mains, *(r.file for r in resources)]
    added: dict[str, Resource] = {}
    while queue:
        source = queue.pop()
        if not source.rel.lower().endswith(DATA_SUFFIXES + MAIN_SUFFIXES):
            continue
        if not source.rel.startswith(SHARED + "/") and SHARED.encode() not in source.content:
            continue  # cheap pre-check: no reference to the shared folder at all
        document = source.try_document()
        if document is None:
            continue
        base = posixpath.dirname(source.rel)
        for target, _pointer in file_references(document.data, base):
            if not target.startswith(SHARED + "/") or target in present or target in added:
                continue
            if os.path.lexists(root / target):
                continue  # the folder carries its own shared/ copy
            disk = shared_dir / target[len(SHARED) + 1:]
            if not _present(disk) or not is_inside(disk, shared_dir):
                continue  # dangling: reported by validation
            if _refuse_name(target, disk, findings):
                continue
            shared_file = _read(disk, target, findings, shared_dir)
            if shared_file is None:
                continue
            added[target] = Resource(posixpath.dirname(target), shared_file)
            queue.append(shared_file)
    return list(added.values())


def load_workflow(folder: Path | str, *, shared_dir: Path | None | bool = True) -> WorkflowFolder:
    """Read one workflow folder. `shared_dir=True` looks for a sibling shared/ folder."""
    root = Path(folder)
    name = Path(os.path.realpath(root)).name
    findings: list[Finding] = []
    if not root.is_dir():
        raise UsageError(f"{root} is not a directory", path=root, code="not-a-folder")
    if not is_printable(name):
        findings.append(_folder_name_finding(root, name))
    if shared_dir is True:
        shared_dir = find_shared_dir(root)
    elif shared_dir is False:
        shared_dir = None

    try:
        entries = sorted(os.listdir(root))
    except OSError as exc:
        raise ChartgenError(f"cannot list folder: {exc.strerror}", path=root, code="unreadable") from None

    mains = [e for e in entries if e.lower().endswith(MAIN_SUFFIXES) and _present(root / e)]
    main = None
    candidates: tuple[SourceFile, ...] = ()
    if not mains:
        findings.append(Finding(str(root), 0, 0, ERROR,
                                "no main workflow: expected one *.sw.yaml, *.sw.yml or *.sw.json file "
                                "at the folder root", "no-workflow"))
    elif len(mains) > 1:
        findings.append(Finding(str(root), 0, 0, ERROR,
                                f"{len(mains)} main workflows at the folder root ({', '.join(mains)}); "
                                "keep exactly one and move the others to subflows/", "several-workflows"))
        read = (_read(root / m, m, findings, root) for m in mains if not _escapes(root / m, root, findings))
        candidates = tuple(source for source in read if source is not None)
    else:
        if not _escapes(root / mains[0], root, findings):
            main = _read(root / mains[0], mains[0], findings, root)

    properties = secret = None
    if _present(root / PROPERTIES) and not _escapes(root / PROPERTIES, root, findings):
        properties = _read(root / PROPERTIES, PROPERTIES, findings, root)
    if _present(root / SECRET_PROPERTIES) and not _escapes(root / SECRET_PROPERTIES, root, findings):
        secret = _read(root / SECRET_PROPERTIES, SECRET_PROPERTIES, findings, root)

    resources: list[Resource] = []
    for top in RESOURCE_DIRS:
        if (root / top).is_dir():
            resources.extend(_walk_resource_dir(root / top, top, findings, root))
    if (root / SHARED).is_dir():
        # A folder that carries its own shared/ copy (as the old Makefile made it).
        resources.extend(_walk_resource_dir(root / SHARED, SHARED, findings, root))
    # The shared files each root workflow refers to (all of them when there are several: their
    # references are checked too, and must find what is there).
    resources.extend(_shared_resources([main] if main else list(candidates), resources, root, shared_dir, findings))

    known = set(mains) | {PROPERTIES, SECRET_PROPERTIES, SHARED, *RESOURCE_DIRS}
    others = tuple(e for e in entries if e not in known and not e.startswith("."))
    return WorkflowFolder(name, root, main, properties, secret, tuple(resources),
                          shared_dir, tuple(findings), others, candidates)


def _folder_name_finding(folder: Path, name: str) -> Finding:
    return Finding(str(folder), 0, 0, ERROR,
                   f"workflow folder name '{printable(name)}' has control characters or bytes that are not UTF-8; it "
                   "names the chart, the build report and CI output lines: rename the folder", "path-name")


def _check_folder_name(folder: Path, *, link: bool = True) -> Path:
    """A workflow folder whose name cannot be printed on one line is bad usage for every command.
    `link=False`: the caller knows `folder` is not a symbolic link (its own name is the one)."""
    name = Path(os.path.realpath(folder)).name if link else Path(folder).name
    if not is_printable(name):
        raise UsageError(findings=[_folder_name_finding(folder, name)])
    return folder


def discover(sources_dir: Path, shared_dir: Path | None = None) -> list[Path]:
    """Workflow folders under `sources_dir` (not the shared folder, not hidden or _prefixed)."""
    if not sources_dir.is_dir():
        raise UsageError(f"workflow sources folder {sources_dir} does not exist", path=sources_dir,
                         code="no-sources")
    shared = identity(shared_dir) if shared_dir else None
    folders = []
    with os.scandir(sources_dir) as listing:
        entries = sorted(listing, key=lambda e: e.name)
    for entry in entries:
        if entry.name.startswith((".", "_")) or entry.name == SHARED or not entry.is_dir():
            continue
        if shared is not None and identity(entry) == shared:     # the shared folder under another name
            continue
        folders.append(_check_folder_name(sources_dir / entry.name, link=entry.is_symlink()))
    return folders


def resolve_workflow(arg: str, sources_dir: Path) -> Path:
    """A workflow given by name (`mta`) or by path (`workflow_sources/mta`)."""
    path = Path(arg)
    if path.is_dir():
        return _check_folder_name(path)
    candidate = sources_dir / arg
    if candidate.is_dir():
        return _check_folder_name(candidate)
    hint = did_you_mean(path.name, _folder_names(sources_dir))
    raise UsageError(f"no workflow folder {arg!r}" + (f"; {hint}" if hint else "")
                     + f" (looked for {path} and {candidate})", path=arg, code="unknown-workflow")


def _folder_names(sources_dir: Path) -> list[str]:
    """The workflow folder names a misspelt name may have meant (for the error message only)."""
    try:
        return [e.name for e in sources_dir.iterdir() if e.is_dir() and not e.name.startswith((".", "_"))
                and e.name != SHARED]
    except OSError:
        return []


def warning(path, message, code) -> Finding:
    return Finding(str(path), 0, 0, WARNING, message, code)
