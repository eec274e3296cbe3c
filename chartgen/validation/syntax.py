"""Reading problems: syntax, encoding, duplicate keys, YAML 1.1 traps, properties files.

The parsers (chartgen.yamlio, chartgen.sources) already turn these into findings or
`ChartgenError`s; this module collects them so every one is reported, never raised.
"""

from __future__ import annotations

import re

from chartgen.errors import ERROR, ChartgenError, Finding, FindingList
from chartgen.sources import DATA_SUFFIXES, MAIN_SUFFIXES, WorkflowFolder

from chartgen.validation.base import workflow_files

# Specs and schemas are read by YAML 1.1 parsers in the runtime (SnakeYAML), as chartgen reads
# them, so the yes/no warning would only be noise there; duplicate keys still matter.
_RESOURCE_CODES = {"duplicate-key", "yaml-key"}


def check_folder(folder: WorkflowFolder, findings: FindingList) -> None:
    findings.extend(folder.findings)
    workflows = {id(source) for source, _ in workflow_files(folder)}
    for source, _is_main in workflow_files(folder):
        try:
            document = source.document
        except ChartgenError as exc:
            findings.extend(exc.findings)
            continue
        findings.extend(document.findings)
        if document.data is None:
            findings.add(source.display, 1, 1, "the workflow file is empty", "empty-workflow")
        elif not isinstance(document.data, dict):
            findings.add(source.display, 1, 1, "a workflow must be a mapping (id, states, ...), "
                         f"not a {type(document.data).__name__}", "sw-not-a-mapping")
        else:
            version = document.data.get("version")
            if isinstance(version, (int, float)) and not isinstance(version, bool):
                line, col = document.where(("version",))
                written = _scalar_text(source, line, col) or str(version)
                findings.add(source.display, line, col,
                             f"version {written} is read as the number {version!r}; quote it (version: "
                             f"\"{written}\"): the manifest generator rejects a non-string version", "version-number")
    for resource in folder.resources:
        source = resource.file
        if id(source) in workflows or not source.rel.lower().endswith(DATA_SUFFIXES + MAIN_SUFFIXES):
            continue
        if not source.content.strip():
            findings.add(source.display, 0, 0, "empty resource file: the manifest generator refuses to "
                         "add an empty file to a ConfigMap", "empty-resource")
            continue
        if "document" not in source.__dict__ and (len(source.content) > FULL_PARSE_LIMIT
                                                  or not _needs_positions(resource.workflow_path)):
            findings.extend(quick_syntax(source))
            continue
        try:
            document = source.document
        except ChartgenError as exc:
            findings.extend(exc.findings)
            continue
        findings.extend(f for f in document.findings if f.code in _RESOURCE_CODES)
    check_properties(folder, findings)


# API descriptions (specs/, often several hundred KiB) and big files are only syntax-checked,
# with the C parsers and no positions per node: 5x faster than keeping positions, and their
# content is only searched for operationIds (see resources.spec_index). Duplicate keys in
# them are not reported. Schemas and subflows are parsed with positions ($ref findings).
FULL_PARSE_LIMIT = 64 * 1024
_quick_cache: dict[tuple[int, bytes], list] = {}


def _needs_positions(workflow_path: str) -> bool:
    return workflow_path.split("/")[-1] != "specs" and "dashboards" not in workflow_path.split("/")


def quick_syntax(source) -> list:
    """Syntax findings of a data file, without building a positioned document.

    Verdicts are cached by content digest: repositories often carry the same big spec twice.
    """
    import hashlib

    key = (len(source.content), hashlib.blake2b(source.content, digest_size=16).digest())
    if key not in _quick_cache:
        _quick_cache[key] = [(f.line, f.column, f.severity, f.message, f.code) for f in _quick_syntax(source)]
    return [Finding(source.display, *rest) for rest in _quick_cache[key]]


def _quick_syntax(source) -> list:
    import json

    import yaml

    from chartgen.yamlio import _syntax_error, guarded_events, looks_like_json

    try:
        text = source.text
    except ChartgenError as exc:
        return list(exc.findings)
    if looks_like_json(text):
        duplicates: list = []

        def pairs(items):
            result = {}
            for key, value in items:
                if key in result and not duplicates:
                    duplicates.append(key)
                result[key] = value
            return result

        try:
            json.loads(text, object_pairs_hook=pairs)
        except json.JSONDecodeError as exc:
            return [ChartgenError(f"JSON syntax error: {exc.msg}", path=source.display, line=exc.lineno,
                                  column=exc.colno, code="json-syntax").findings[0]]
        if not duplicates:
            return []
        # Rare: locate the duplicate through the YAML event stream (JSON is YAML).
    try:
        # Alias bombs and deep nesting count here too: the runtime parses these files.
        return _duplicate_keys(guarded_events(text, source.display), source.display)
    except yaml.YAMLError as exc:
        return list(_syntax_error(source.display, exc).findings)
    except ChartgenError as exc:
        return list(exc.findings)


def _duplicate_keys(events, path: str) -> list:
    """Duplicate mapping keys, found on the parser's event stream (no node tree is built).

    Each open collection is [keys seen (None for a sequence), next node is a key].
    """
    import yaml

    found = []
    stack: list = []
    for event in events:
        top = stack[-1] if stack else None
        is_key = False
        if top is not None and top[0] is not None and not isinstance(event, yaml.MappingEndEvent):
            is_key = top[1]
            top[1] = not top[1]  # keys and values alternate inside a mapping
        if isinstance(event, yaml.ScalarEvent):
            if is_key:
                line = event.start_mark.line + 1
                if event.value in top[0]:
                    found.append(Finding(path, line, event.start_mark.column + 1, "error",
                                         f"duplicate key {event.value!r} (first defined at line "
                                         f"{top[0][event.value]}); YAML tools disagree on which one wins",
                                         "duplicate-key"))
                else:
                    top[0][event.value] = line
        elif isinstance(event, yaml.MappingStartEvent):
            stack.append([{}, True])
        elif isinstance(event, yaml.SequenceStartEvent):
            stack.append([None, False])
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            stack.pop()
    return found


def _scalar_text(source, line: int, col: int) -> str:
    """The plain scalar as written at line:col (`1.10`, which YAML reads as 1.1)."""
    try:
        text = source.text.splitlines()[line - 1][col - 1:]
    except (IndexError, ChartgenError):
        return ""
    return re.split(r"\s+#|[,}\]]", text, maxsplit=1)[0].strip()


_PLACEHOLDER = re.compile(r"\$\{([^{}]*)\}")


def check_properties(folder: WorkflowFolder, findings: FindingList) -> None:
    """application.properties must be text; secret.properties must parse. Values are never shown."""
    for source in (folder.properties, folder.secret_properties):
        if source is None:
            continue
        try:
            text = source.text
        except ChartgenError as exc:
            findings.extend(exc.findings)
            continue
        if source is not folder.secret_properties:
            continue
        secret_properties(source.display, text, findings)


def secret_properties(path: str, text: str, findings: FindingList) -> dict[str, str]:
    """Parse secret.properties; return key -> value. Messages name keys, never values.

    Values are not registered for redaction here: short common values ("default", "true")
    would blank out words of unrelated messages; no validation message contains a value.
    """
    import javaproperties

    try:
        values = javaproperties.loads(text)
    except Exception:  # noqa: BLE001 - the message could quote a value; say where instead
        findings.add(path, 0, 0, "secret.properties cannot be parsed as a Java properties file "
                     "(check \\u escapes and line continuations; values are not shown)", "secret-syntax",
                     ERROR)
        return {}
    lines = text.splitlines()
    for key, value in values.items():
        # magiconair/properties (used upstream) checks ${...} expansions while loading.
        if "${" in value and (value.count("${") != len(_PLACEHOLDER.findall(value))):
            findings.add(path, _key_line(lines, key), 1,
                         f"secret.properties key {key!r}: the value has an unclosed '${{' placeholder, which "
                         "the manifest generator rejects (value not shown)", "secret-syntax", ERROR)
        elif _PLACEHOLDER.search(value):
            for name in _PLACEHOLDER.findall(value):
                if name == key:
                    findings.add(path, _key_line(lines, key), 1,
                                 f"secret.properties key {key!r} refers to itself through ${{{name}}}, a circular "
                                 "reference the manifest generator rejects (value not shown)", "secret-syntax",
                                 ERROR)
    return values


def _key_line(lines: list[str], key: str) -> int:
    for number, line in enumerate(lines, 1):
        stripped = line.lstrip()
        if stripped.startswith(key) and stripped[len(key):len(key) + 1] in ("=", ":", " ", "\t", ""):
            return number
    return 0
