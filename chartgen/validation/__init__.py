"""`chartgen validate`: every problem of a workflow folder, reported at once, never raised.

Public API:

* `validate_folder(folder, *, repository=None, jq_functions=())` -> sorted, de-duplicated findings
* `validate_repository(folders, *, context=None, jq_functions=())` -> {folder name: findings},
  adding the cross-folder rules (ids unique across the repository, workflowOptions ids exist)
* `RepositoryContext` (workflow id -> folder names), `RepositoryContext.from_folders(folders)`

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

__all__ = ["RepositoryContext", "validate_folder", "validate_repository", "has_errors"]


def has_errors(findings) -> bool:
    return any(f.is_error for f in findings)


def _validate(folder: WorkflowFolder, repository: RepositoryContext | None, jq_functions: tuple[str, ...]):
    """(findings collector, checks of the main workflow or of each root workflow when there are several)."""
    from chartgen.validation import expressions, ignored, kube, orchestrator, references, resources, schema, syntax

    findings = FindingList()
    syntax.check_folder(folder, findings)
    secret_values = None
    if folder.secret_properties is not None:
        try:
            secret_values = syntax.secret_properties(folder.secret_properties.display,
                                                     folder.secret_properties.text, FindingList())
        except Exception:  # noqa: BLE001 - encoding problems are reported by syntax.check_folder
            secret_values = None
    kube.check_folder(folder, findings, secret_values)

    files = folder_files(folder)
    ids = tuple(workflow_ids(folder))
    cache: dict = {}
    main_checks: list[WorkflowCheck] = []
    seen_ids: dict[str, WorkflowCheck] = {}
    for source, is_main in workflow_files(folder):
        document = source.try_document()
        if document is None or not isinstance(document.data, dict):
            continue  # reported by syntax.check_folder
        check = WorkflowCheck(folder, source, document, is_main, findings, repository, files, ids,
                              tuple(jq_functions), cache)
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


def validate_folder(folder: WorkflowFolder, *, repository: RepositoryContext | None = None,
                    jq_functions: tuple[str, ...] = ()) -> tuple[Finding, ...]:
    """Every problem of one workflow folder (sorted, de-duplicated). Never raises for bad content.

    With `repository`, workflowOptions ids and subflow ids are also checked against the other
    workflows of the repository.
    """
    findings, _ = _validate(folder, repository, tuple(jq_functions))
    return findings.sorted()


def validate_repository(folders: list[WorkflowFolder], *, context: RepositoryContext | None = None,
                        jq_functions: tuple[str, ...] = ()) -> dict[str, tuple[Finding, ...]]:
    """Findings per folder name, plus the cross-folder rules.

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
        collected[folder.name] = findings
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
        results[folder.name] = collected[folder.name].sorted()
    return results


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
