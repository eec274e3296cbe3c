"""Orchestrator (RHDH) rules: the workflow-type annotation and the assessment `workflowOptions` contract.

An assessment workflow returns `workflowOptions` with six attributes: `currentVersion` (an
object) and `upgradeOptions`, `migrationOptions`, `newOptions`, `continuationOptions`,
`otherOptions` (lists of `{id, name}`), whose ids name workflows the UI offers next.
Checked wherever the options appear as literal data: a `workflowOptions` mapping in the
workflow (inject state data, arguments) and jq expressions that build it from constants
(evaluated on an empty input; expressions that read the state data yield nothing checkable).
Ids that no workflow of the repository defines are warnings: the recommended workflow may be
deployed from another repository, but usually it is a typo or a missing folder.
"""

from __future__ import annotations

import posixpath
import re

from chartgen.validation.base import WorkflowCheck, describe

INFRASTRUCTURE = "workflow-type/infrastructure"
ASSESSMENT = "workflow-type/assessment"
OPTION_LISTS = ("upgradeOptions", "migrationOptions", "newOptions", "continuationOptions", "otherOptions")
ATTRIBUTES = ("currentVersion",) + OPTION_LISTS
# jq constructs that may not terminate or read outside input: never evaluated.
_UNSAFE = re.compile(r"\b(def|repeat|while|until|recurse|range|limit|input|inputs|env|debug|stderr|"
                     r"halt|halt_error|getpath|splits|\$__loc__|\$ENV)\b")


def workflow_type(data: dict) -> str | None:
    annotations = data.get("annotations")
    annotations = annotations if isinstance(annotations, list) else []
    types = [a for a in annotations if a in (INFRASTRUCTURE, ASSESSMENT)]
    return types[0] if len(types) == 1 else (None if not types else "both")


def check(check: WorkflowCheck) -> list[tuple[tuple, str]]:
    """Checks the main workflow; returns (pointer, id) of every workflow id it recommends."""
    kind = workflow_type(check.data)
    pointer = ("annotations",) if "annotations" in check.data else ("id",)
    if kind is None:
        check.warning(pointer, f"no {INFRASTRUCTURE} or {ASSESSMENT} annotation: the Orchestrator treats this "
                      f"workflow as infrastructure (add annotations: [\"{INFRASTRUCTURE}\"])", "workflow-type")
        return []
    if kind == "both":
        check.error(pointer, f"both {INFRASTRUCTURE} and {ASSESSMENT} annotations: keep one", "workflow-type")
        return []
    if kind != ASSESSMENT:
        return []
    references: list[tuple[tuple, str]] = []
    for options_pointer, options in _literal_options(check):
        references += _check_options(check, options_pointer, options)
    _check_output_schema(check)
    return references


def _check_output_schema(check: WorkflowCheck) -> None:
    """An output schema that describes workflowOptions lists the six attributes with their types."""
    from chartgen.validation.resources import OUTPUT_SCHEMA_EXTENSION

    extensions = check.data.get("extensions")
    for item in extensions if isinstance(extensions, list) else []:
        if not isinstance(item, dict) or item.get("extensionid", item.get("extensionId")) != OUTPUT_SCHEMA_EXTENSION:
            continue
        ref = item.get("outputSchema")
        source = check.files.get(posixpath.normpath(posixpath.join(check.base_dir, ref))) \
            if isinstance(ref, str) else None
        document = source.try_document() if source is not None else None
        if document is None:
            continue  # a missing or broken file is reported by the resource rules
        stack = [(document.data, ())]
        while stack:
            node, pointer = stack.pop()
            if isinstance(node, dict):
                properties = node.get("properties")
                if isinstance(properties, dict) and len(set(properties) & set(ATTRIBUTES)) >= 2:
                    _check_options_schema(check, source, document, pointer, properties)
                stack.extend((value, pointer + (key,)) for key, value in node.items())
            elif isinstance(node, list):
                stack.extend((value, pointer + (i,)) for i, value in enumerate(node))


def _check_options_schema(check, source, document, pointer, properties) -> None:
    def report(at, message):
        line, col = document.where(at)
        check.findings.add(source.display, line, col, message, "workflow-options")

    missing = [name for name in ATTRIBUTES if name not in properties]
    if missing:
        report(pointer + ("properties",), f"the workflowOptions schema lacks {', '.join(missing)} (the "
               f"Orchestrator expects all of {', '.join(ATTRIBUTES)})")
    for name in ATTRIBUTES:
        schema = properties.get(name)
        if not isinstance(schema, dict) or "$ref" in schema or "type" not in schema:
            continue
        wanted = "object" if name == "currentVersion" else "array"
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if wanted not in types:
            report(pointer + ("properties", name, "type"), f"the workflowOptions schema types {name} as "
                   f"{schema['type']}; it must be {'an object' if wanted == 'object' else 'an array of {id, name}'}")


def _literal_options(check: WorkflowCheck):
    stack = [(check.data, ())]
    while stack:
        node, pointer = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "workflowOptions" and isinstance(value, dict):
                    yield pointer + (key,), value
                else:
                    stack.append((value, pointer + (key,)))
        elif isinstance(node, list):
            stack.extend((value, pointer + (i,)) for i, value in enumerate(node))
    from chartgen.validation import expressions

    if check.expression_lang != "jq":
        return
    for pointer, text, variables in expressions.expressions(check):
        if "workflowOptions" not in text or _UNSAFE.search(text):
            continue
        expression = expressions.unwrap(text)
        if expressions.compile_error(expression, variables):
            continue
        for value in _evaluate(expression, variables):
            yield from _find_options(value, pointer)


def _evaluate(expression: str, variables) -> list:
    import jq

    from chartgen.validation.expressions import SONATAFLOW_VARIABLES, prelude

    try:
        names = SONATAFLOW_VARIABLES + tuple(variables)
        program = jq.compile(prelude() + expression, args={name: None for name in names})
        return list(program.input_value({}).all())[:4]
    except Exception:  # noqa: BLE001 - the expression needs real data: nothing to check statically
        return []


def _find_options(value, pointer):
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key, inner in node.items():
                if key == "workflowOptions" and isinstance(inner, dict):
                    yield pointer, inner
                else:
                    stack.append(inner)
        elif isinstance(node, list):
            stack.extend(node)


def _check_options(check: WorkflowCheck, pointer: tuple, options: dict) -> list[tuple[tuple, str]]:
    exact = check.document.get(pointer) is options  # literal in the file: precise positions
    where = describe(pointer, check.data)
    references = []

    def at(*parts):
        return pointer + parts if exact else pointer

    for name in ATTRIBUTES:
        if name not in options:
            check.error(at(), f"{where}: workflowOptions lacks {name!r} (the Orchestrator expects all of "
                        f"{', '.join(ATTRIBUTES)})", "workflow-options")
    for name in options:
        if name not in ATTRIBUTES:
            check.warning(at(name), f"{where}: workflowOptions has unknown attribute {name!r} (expected "
                          f"{', '.join(ATTRIBUTES)})", "workflow-options")
    current = options.get("currentVersion")
    if "currentVersion" in options and not isinstance(current, dict) and not _is_expression(current):
        check.error(at("currentVersion"), f"{where}: workflowOptions.currentVersion must be an object "
                    "({id, name} or {})", "workflow-options")
    elif isinstance(current, dict) and current:
        references += _check_option(check, at("currentVersion"), where, "currentVersion", current)
    for name in OPTION_LISTS:
        value = options.get(name)
        if name not in options or _is_expression(value):
            continue
        if not isinstance(value, list):
            check.error(at(name), f"{where}: workflowOptions.{name} must be a list of {{id, name}}",
                        "workflow-options")
            continue
        for i, item in enumerate(value):
            references += _check_option(check, at(name, i), where, f"{name}[{i}]", item)
    return [(p if exact else pointer, i) for p, i in references]


def _check_option(check, pointer, where, label, item):
    if _is_expression(item):
        return []
    if not isinstance(item, dict):
        check.error(pointer, f"{where}: workflowOptions.{label} must be an object {{id, name}}", "workflow-options")
        return []
    for key in ("id", "name"):
        if key not in item:
            check.error(pointer, f"{where}: workflowOptions.{label} lacks {key!r}", "workflow-options")
        elif not isinstance(item[key], str) or not item[key]:
            if not _is_expression(item[key]):
                check.error(pointer, f"{where}: workflowOptions.{label}.{key} must be a non-empty string",
                            "workflow-options")
    value = item.get("id")
    if isinstance(value, str) and value and not _is_expression(value):
        return [(pointer + ("id",), value)]
    return []


def _is_expression(value) -> bool:
    return isinstance(value, str) and value.strip().startswith("${")


def check_references(check: WorkflowCheck, references, known: set[str]) -> None:
    for pointer, workflow_id in references:
        if workflow_id not in known:
            check.warning(pointer, f"workflowOptions recommends workflow {workflow_id!r}, which no workflow of this "
                          "repository defines (deployed from elsewhere? otherwise add it or fix the id)",
                          "unknown-workflow-option")
