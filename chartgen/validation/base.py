"""What every rule module works on: one workflow document of one folder, and a place to put findings.

A folder has one main workflow and any number of subflows (`subflows/*.sw.*`); each is checked
by the document-level rules (schema, references, expressions, resources, ignored settings) through
a `WorkflowCheck`. Folder-level rules (Kubernetes limits, properties) take the folder directly.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping

from chartgen.errors import ERROR, WARNING, FindingList
from chartgen.sources import MAIN_SUFFIXES, SourceFile, WorkflowFolder


@dataclass(frozen=True)
class RepositoryContext:
    """What the other folders of the repository define: workflow id -> folder names defining it."""

    workflow_ids: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # The umbrella chart's name (chart.umbrella.name); a workflow folder giving a chart of
    # that name is an error. Empty: not checked.
    umbrella_chart: str = ""
    # chartgen.yaml `workflows:`: (folder name, chart name) where a folder's chart is not named
    # after it
    charts: tuple[tuple[str, str], ...] = ()

    def knows(self, workflow_id: str) -> bool:
        return workflow_id in self.workflow_ids

    @classmethod
    def from_folders(cls, folders) -> "RepositoryContext":
        ids: dict[str, list[str]] = {}
        for folder in folders:
            for workflow_id in workflow_ids(folder):
                ids.setdefault(workflow_id, []).append(folder.name)
        return cls({k: tuple(v) for k, v in sorted(ids.items())})

    @classmethod
    def scan(cls, roots, loaded=()) -> "RepositoryContext":
        """Context from folders on disk (only their workflow ids are read) plus loaded folders."""
        ids: dict[str, list[str]] = {}
        for folder in loaded:
            for workflow_id in workflow_ids(folder):
                ids.setdefault(workflow_id, []).append(folder.name)
        for root in roots:
            for workflow_id in scan_ids(root)[1]:
                ids.setdefault(workflow_id, []).append(root.name)
        return cls({k: tuple(v) for k, v in sorted(ids.items())})


def scan_ids(root) -> tuple[list[str], list[str]]:
    """(ids of root workflows, ids of root workflows and subflows) of a folder, read without positions.

    Unreadable files are skipped: they belong to a folder that is not being validated.
    """
    from chartgen.errors import ChartgenError
    from chartgen.limits import read_file
    from chartgen.yamlio import load_data

    main_ids: list[str] = []
    every: list[str] = []
    for folder, is_root in ((root, True), (root / "subflows", False)):
        try:
            entries = sorted(folder.iterdir()) if folder.is_dir() else []
        except OSError:
            continue
        for entry in entries:
            if not entry.name.lower().endswith(MAIN_SUFFIXES) or not entry.is_file():
                continue
            try:
                data = load_data(read_file(entry), str(entry))
            except (ChartgenError, ValueError, RecursionError):
                continue
            if isinstance(data, dict) and isinstance(data.get("id"), str) and data["id"]:
                every.append(data["id"])
                if is_root:
                    main_ids.append(data["id"])
    return main_ids, every


def main_candidates(folder: WorkflowFolder) -> tuple[SourceFile, ...]:
    """The main workflow, or the root workflow files when a folder has several (sources reports
    that, picks none, and reads each: `WorkflowFolder.candidates`)."""
    return (folder.main,) if folder.main is not None else folder.candidates


def workflow_files(folder: WorkflowFolder) -> Iterator[tuple[SourceFile, bool]]:
    """(file, is_main) for the main workflow (or each candidate) and each subflow of a folder."""
    for source in main_candidates(folder):
        yield source, True
    for resource in folder.resources:
        if resource.workflow_path == "subflows" and resource.name.lower().endswith(MAIN_SUFFIXES):
            yield resource.file, False


def workflow_ids(folder: WorkflowFolder) -> list[str]:
    """Ids of the main workflow and subflows (all run in the workflow's SonataFlow app)."""
    ids = []
    for source, _ in workflow_files(folder):
        document = source.try_document()
        data = document.data if document is not None else None
        if isinstance(data, dict) and isinstance(data.get("id"), str) and data["id"]:
            ids.append(data["id"])
    return ids


def folder_files(folder: WorkflowFolder) -> dict[str, SourceFile]:
    """Every deployed file by its path inside the workflow ("specs/x.yaml", "shared/schemas/r.json")."""
    files = {resource.file.rel: resource.file for resource in folder.resources}
    for item in (folder.main, folder.properties, folder.secret_properties):
        if item is not None:
            files.setdefault(item.rel, item)
    return files


@dataclass
class WorkflowCheck:
    """One workflow document being checked, plus the folder around it."""

    folder: WorkflowFolder
    source: SourceFile
    document: Any                      # yamlio.Document
    is_main: bool
    findings: FindingList
    repository: RepositoryContext | None = None
    files: dict[str, SourceFile] = field(default_factory=dict)
    folder_ids: tuple[str, ...] = ()   # ids of the main workflow and subflows of this folder
    jq_functions: tuple[str, ...] = ()  # extra jq functions ("name/arity") declared in chartgen.yaml
    cache: dict = field(default_factory=dict)  # shared by the checks of one folder (files already checked)

    @property
    def data(self) -> dict:
        return self.document.data if isinstance(self.document.data, dict) else {}

    @property
    def path(self) -> str:
        return self.source.display

    @property
    def base_dir(self) -> str:
        """Folder (inside the workflow) the document sits in: "" for the main one, "subflows"."""
        return posixpath.dirname(self.source.rel)

    @property
    def expression_lang(self) -> str:
        value = self.data.get("expressionLang", "jq")
        return value if isinstance(value, str) else "jq"

    def error(self, pointer: tuple, message: str, code: str) -> None:
        line, col = self.document.where(pointer)
        self.findings.add(self.path, line, col, message, code, ERROR)

    def warning(self, pointer: tuple, message: str, code: str, *, at_key: bool = False) -> None:
        line, col = self.document.where_key(pointer) if at_key else self.document.where(pointer)
        self.findings.add(self.path, line, col, message, code, WARNING)

    def items(self, key: str) -> list[tuple[tuple, dict]]:
        """Inline definitions (functions, events, ...) as (pointer, item); file forms are handled apart."""
        value = self.data.get(key)
        if not isinstance(value, list):
            return []
        return [((key, i), item) for i, item in enumerate(value) if isinstance(item, dict)]

    def states(self) -> list[tuple[tuple, dict]]:
        return self.items("states")


def describe(pointer: tuple, data: Any) -> str:
    """A readable location: `state 'Check': dataConditions[0].condition`."""
    parts = list(pointer)
    prefix = ""
    if len(parts) >= 2 and parts[0] in ("states", "functions", "events", "errors", "retries", "auth") \
            and isinstance(parts[1], int):
        kind = {"states": "state", "functions": "function", "events": "event", "errors": "error",
                "retries": "retry", "auth": "auth"}[parts[0]]
        container = data.get(parts[0]) if isinstance(data, dict) else None
        item = container[parts[1]] if isinstance(container, list) and parts[1] < len(container) else None
        name = item.get("name") if isinstance(item, dict) else None
        prefix = f"{kind} {name!r}" if isinstance(name, str) else f"{parts[0]}[{parts[1]}]"
        parts = parts[2:]
    rest = ""
    for part in parts:
        rest += f"[{part}]" if isinstance(part, int) else (f".{part}" if rest else str(part))
    if prefix and rest:
        return f"{prefix}: {rest}"
    return prefix or rest or "workflow"



def iter_actions(pointer: tuple, state: dict) -> Iterator[tuple[tuple, dict]]:
    """Every action of a state, wherever the state type keeps them."""
    def listed(ptr, value):
        if isinstance(value, list):
            for i, action in enumerate(value):
                if isinstance(action, dict):
                    yield ptr + (i,), action

    yield from listed(pointer + ("actions",), state.get("actions"))
    for key, inner in (("onEvents", "actions"), ("branches", "actions")):
        groups = state.get(key)
        if isinstance(groups, list):
            for i, group in enumerate(groups):
                if isinstance(group, dict):
                    yield from listed(pointer + (key, i, inner), group.get(inner))
    if isinstance(state.get("action"), dict):
        yield pointer + ("action",), state["action"]


def ref_name(value, key: str) -> str | None:
    """`functionRef: f` or `functionRef: {refName: f}` -> "f"."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get(key), str):
        return value[key]
    return None


def as_list(value) -> list:
    """`value` when it is a list, else [] (wrong types are reported by the schema rules)."""
    return value if isinstance(value, list) else []
