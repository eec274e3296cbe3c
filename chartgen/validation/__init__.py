"""`chartgen validate`: every problem of a workflow folder, reported at once, never raised.

Public API:

* `validate_folder(folder, *, repository=None, jq_functions=())` -> sorted, de-duplicated findings;
  with a `repository` context also the cross-folder rules (id used by another folder,
  workflowOptions and subflow ids that no workflow defines)
* `validate_repository(folders, *, context=None, jq_functions=())` -> {folder name: findings},
  the same rules over many folders at once (jq expressions compiled in one batch)
* `RepositoryContext` (workflow id -> folder names): `.from_folders(loaded folders)`,
  `.scan(folder paths, loaded folders)` (reads only the ids of the paths)
* `summary(results)` -> "3 folders: 2 errors, 1 warning"

One module per rule family: syntax (reading), schema (SW 0.8 JSON Schema), references
(state graph and named items), resources (spec and schema files), expressions (jq),
orchestrator (annotations, workflowOptions), kube (names and sizes), ignored (settings
SonataFlow drops). Heavy libraries (jsonschema, jq) are imported inside the rules.
"""

from __future__ import annotations

from chartgen.errors import ERROR, Finding, FindingList
from chartgen.names import workflow_name
from chartgen.sources import WorkflowFolder

from chartgen.validation.base import RepositoryContext, WorkflowCheck, folder_files, workflow_files, workflow_ids

__all__ = ["RepositoryContext", "has_errors", "summary", "validate_folder", "validate_repository"]


def has_errors(findings) -> bool:
    return any(f.is_error for f in findings)


def _validate(folder: WorkflowFolder, repository: RepositoryContext | None, jq_functions: tuple[str, ...]):
    """(findings collector, checks of the main workflow or of each root workflow when there are several)."""
    from chartgen.validation import expressions, ignored, kube, references, resources, schema, syntax

    findings = FindingList()
    _guarded_folder(syntax.check_folder, folder, findings)
    secret_values = None
    if folder.secret_properties is not None:
        try:
            secret_values = syntax.secret_properties(folder.secret_properties.display,
                                                     folder.secret_properties.text, FindingList())
        except Exception:  # noqa: BLE001 - encoding problems are reported by syntax.check_folder
            secret_values = None
    _guarded_folder(kube.check_folder, folder, findings, secret_values)
    if repository is not None and repository.umbrella_chart:
        _guarded_folder(kube.check_chart_name, folder, findings, repository.umbrella_chart,
                        dict(repository.charts).get(folder.name))

    files = folder_files(folder)
    ids = tuple(workflow_ids(folder))
    cache: dict = {}
    main_checks: list[WorkflowCheck] = []
    seen_ids: dict[str, WorkflowCheck] = {}
    checks = []
    for source, is_main in workflow_files(folder):
        document = source.try_document()
        if document is None or not isinstance(document.data, dict):
            continue  # reported by syntax.check_folder
        checks.append(WorkflowCheck(folder, source, document, is_main, findings, repository, files, ids,
                                    tuple(jq_functions), cache))
    try:
        expressions.warm(checks)  # one jq compile for the folder's expressions instead of one per file
    except Exception:  # noqa: BLE001 - only a speed-up; expressions.check reports problems
        pass
    for check in checks:
        is_main = check.is_main
        for rule in (schema.check, references.check, expressions.check, resources.check_functions,
                     resources.check_schemas, ignored.check):
            _guarded(rule, check)
        workflow_id = check.data.get("id")
        if isinstance(workflow_id, str) and workflow_id:
            if workflow_id in seen_ids:
                check.error(("id",), f"workflow id {workflow_id!r} is also used by "
                            f"{seen_ids[workflow_id].source.rel}; ids must be unique", "duplicate-id")
            seen_ids.setdefault(workflow_id, check)
        if is_main:
            main_checks.append(check)
            _guarded(kube.check_id, check)
            _guarded(_orchestrator, check, repository, ids)
            _guarded(resources.check_folder_schemas, check)
    return findings, main_checks


def _orchestrator(check: WorkflowCheck, repository: RepositoryContext | None, ids) -> None:
    from chartgen.validation import orchestrator

    recommended = orchestrator.check(check)
    if repository is not None:
        orchestrator.check_references(check, recommended, set(repository.workflow_ids) | set(ids))


def _guarded(rule, check: WorkflowCheck, *args) -> None:
    """Run one rule; a bug in it becomes a finding, never a traceback (input can be anything)."""
    try:
        rule(check, *args)
    except Exception as exc:  # noqa: BLE001
        check.findings.add(check.path, 0, 0, f"chartgen could not finish the {rule.__module__.rsplit('.', 1)[-1]} "
                           f"checks of this file ({type(exc).__name__}: {exc}); please report this",
                           "internal-error")


def _guarded_folder(rule, folder: WorkflowFolder, findings: FindingList, *args) -> None:
    try:
        rule(folder, findings, *args)
    except Exception as exc:  # noqa: BLE001
        findings.add(str(folder.root), 0, 0, f"chartgen could not finish the {rule.__module__.rsplit('.', 1)[-1]} "
                     f"checks of this folder ({type(exc).__name__}: {exc}); please report this", "internal-error")


def validate_folder(folder: WorkflowFolder, *, repository: RepositoryContext | None = None,
                    jq_functions: tuple[str, ...] = ()) -> tuple[Finding, ...]:
    """Every problem of one workflow folder (sorted, de-duplicated). Never raises for bad content.

    With `repository`, workflowOptions ids and subflow ids are also checked against the other
    workflows of the repository.
    """
    findings, main_checks = _validate(folder, repository, tuple(jq_functions))
    if repository is not None:
        for check in main_checks:
            _guarded(_duplicates_elsewhere, check, repository)
    return findings.sorted()


def _duplicates_elsewhere(check: WorkflowCheck, repository: RepositoryContext) -> None:
    """The id (as a Kubernetes name) is also the id of a workflow of another folder."""
    workflow_id = check.data.get("id")
    if not isinstance(workflow_id, str) or not workflow_id:
        return
    name = workflow_name(workflow_id)
    others = sorted({folder for other_id, folders in repository.workflow_ids.items()
                     if workflow_name(other_id) == name for folder in folders if folder != check.folder.name})
    if others:
        check.error(("id",), f"workflow id {workflow_id!r} (Kubernetes name {name!r}) is also used by "
                    f"{', '.join(others)}; ids must be unique across the repository", "duplicate-id")


def validate_repository(folders: list[WorkflowFolder], *, context: RepositoryContext | None = None,
                        jq_functions: tuple[str, ...] = ()) -> dict[str, tuple[Finding, ...]]:
    """Findings per folder name (the folder's path when two folders share a name), plus the
    cross-folder rules.

    `context` describes the whole repository when `folders` is only part of it (default: built
    from `folders`). Ids must be unique across the repository, compared as Kubernetes names
    (`Foo` and `foo` both become `foo`).
    """
    context = context or RepositoryContext.from_folders(folders)
    _warm_expressions(folders, tuple(jq_functions))
    results: dict[str, tuple[Finding, ...]] = {}
    by_name: dict[str, list[tuple[WorkflowFolder, WorkflowCheck]]] = {}
    collected = {}
    for folder in folders:
        findings, main_checks = _validate(folder, context, tuple(jq_functions))
        collected[id(folder)] = findings
        for check in main_checks:
            if isinstance(check.data.get("id"), str) and check.data["id"]:
                by_name.setdefault(workflow_name(check.data["id"]), []).append((folder, check))
    for name, owners in by_name.items():
        if len({id(folder) for folder, _ in owners}) < 2:
            continue  # twice in one folder: reported by _validate
        for folder, check in owners:
            others = ", ".join(sorted({str(f.root) for f, _ in owners if f is not folder}))
            check.error(("id",), f"workflow id {check.data['id']!r} (Kubernetes name {name!r}) is also used by "
                        f"{others}; ids must be unique across the repository", "duplicate-id")
    for folder in folders:
        results[_key(folder, folders)] = collected[id(folder)].sorted()
    return results


def _key(folder: WorkflowFolder, folders) -> str:
    """The folder name, or its path when another folder of the list has the same name."""
    same = sum(1 for other in folders if other.name == folder.name)
    return folder.name if same == 1 else str(folder.root)


def _warm_expressions(folders, jq_functions) -> None:
    from chartgen.validation import expressions

    checks = []
    for folder in folders:
        for source, is_main in workflow_files(folder):
            document = source.try_document()
            if document is not None and isinstance(document.data, dict):
                checks.append(WorkflowCheck(folder, source, document, is_main, FindingList(),
                                            jq_functions=jq_functions))
    try:
        expressions.warm(checks)
    except Exception:  # noqa: BLE001 - only a speed-up; the per-folder rules report problems
        pass


def summary(results: dict[str, tuple[Finding, ...]]) -> str:
    """`3 folders: 2 errors, 1 warning`."""
    errors = sum(1 for findings in results.values() for f in findings if f.severity == ERROR)
    warnings = sum(1 for findings in results.values() for f in findings if f.severity != ERROR)
    count = len(results)

    def plural(n, word):
        return f"{n} {word}{'' if n == 1 else 's'}"

    return f"{plural(count, 'folder')}: {plural(errors, 'error')}, {plural(warnings, 'warning')}"
