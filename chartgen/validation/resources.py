"""Files a workflow refers to: function specs, input/output JSON Schemas and their `$ref`s.

A referenced file must be deployed with the workflow: it sits in a resource folder
(`specs/`, `schemas/`, `subflows/`, `dashboards/`, or the repository's `shared/` folder,
which travels as `shared/<dir>`), inside the workflow folder (no `..` escape, no symlink
out). Relative references are resolved against the referencing file's folder, then the
workflow root (the classpath root in the cluster); `classpath:` means the root.

Remote URLs (`http(s)://`, also through `workflow-uri-definitions` aliases) are warnings:
they make deployment depend on the network. Custom functions (`sysout`, `service:java:...`,
`knative:...`, `camel:...`) name code, not files, and are not checked, except a custom
function's `metadata.file` (DMN models), which must be deployed too.
"""

from __future__ import annotations

import os
import posixpath
import re
from urllib.parse import unquote

from chartgen.errors import ERROR, WARNING, ChartgenError, printable
from chartgen.fsutil import is_inside
from chartgen.sources import DATA_SUFFIXES, SHARED, SourceFile
from chartgen.validation.base import WorkflowCheck, describe

OUTPUT_SCHEMA_EXTENSION = "workflow-output-schema"
URI_DEFINITIONS_EXTENSION = "workflow-uri-definitions"
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):")
_HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def _extensions(check: WorkflowCheck):
    value = check.data.get("extensions")
    if isinstance(value, list):
        for i, item in enumerate(value):
            if isinstance(item, dict):
                yield ("extensions", i), item, item.get("extensionid", item.get("extensionId"))


def uri_aliases(check: WorkflowCheck) -> dict[str, str]:
    aliases: dict[str, str] = {}
    for _pointer, item, ext_id in _extensions(check):
        if ext_id == URI_DEFINITIONS_EXTENSION and isinstance(item.get("definitions"), dict):
            aliases.update({k: v for k, v in item["definitions"].items() if isinstance(v, str)})
    return aliases


def resolve(check: WorkflowCheck, pointer: tuple, ref: str, what: str, *, base_dir: str | None = None,
            report_path: str | None = None, where=None) -> SourceFile | None:
    """The deployed file `ref` names, or None after reporting why there is none.

    `base_dir` is the folder of the referencing file inside the workflow (default: the
    workflow document's); findings go to `report_path`/`where` when given (other files).
    """
    def report(severity, message, code):
        if report_path is None:
            (check.error if severity == ERROR else check.warning)(pointer, message, code)
        else:
            line, col = where or (0, 0)
            check.findings.add(report_path, line, col, message, code, severity)

    base = check.base_dir if base_dir is None else base_dir
    target = ref
    scheme = _SCHEME.match(target)
    if scheme and len(scheme.group(1)) > 1:  # not a Windows drive letter
        name = scheme.group(1).lower()
        if name in ("http", "https"):
            report(WARNING, f"{what} {ref!r} is fetched over the network when the workflow starts; "
                   "deployment then depends on that host (copy the file into specs/ or schemas/)", "remote-spec")
            return None
        if name == "classpath":
            target, base = target[len("classpath:"):].lstrip("/"), ""
        elif name == "file":
            report(ERROR, f"{what} {ref!r} is an absolute file URL that will not exist in the cluster; "
                   "use a path relative to the workflow folder", "path-escape")
            return None
        else:
            report(WARNING, f"{what} {ref!r} uses the {name}: scheme, which chartgen cannot check", "remote-spec")
            return None
    if target.startswith("/"):
        report(ERROR, f"{what} {ref!r} is an absolute path that will not exist in the cluster; use a path "
               "relative to the workflow folder", "path-escape")
        return None
    candidates = []
    for folder in ([base, ""] if base else [""]):
        path = posixpath.normpath(posixpath.join(folder, unquote(target)))
        if path not in candidates:
            candidates.append(path)
    for path in candidates:
        if path in check.files:
            return check.files[path]
    path = candidates[0]
    if path == ".." or path.startswith("../"):
        hint = (f"; the repository's shared folder is mounted as {path[3:]}, refer to it so"
                if path.startswith(f"../{SHARED}/") else "")
        report(ERROR, f"{what} {ref!r} points outside the workflow folder ({path}); nothing outside it is "
               f"deployed{hint}", "path-escape")
        return None
    for candidate in candidates:
        disk = check.folder.root / candidate
        if _refused(check, disk):
            return None  # there, but refused while reading (its name, its type, its size): reported then
        if disk.is_file():
            if not is_inside(disk, check.folder.root):
                report(ERROR, f"{what} {ref!r} leads outside the workflow folder through a symlink "
                       f"({disk.resolve()}); copy the file in instead", "path-escape")
                return None
            if candidate.lower().endswith(DATA_SUFFIXES):
                fix = "move it into one of them"
            else:
                fix = f"a {posixpath.splitext(candidate)[1] or 'such'} file has to be built into the workflow image"
            report(ERROR, f"{what} {ref!r} exists but is not deployed with the workflow: only .json/.yaml/.yml "
                   f"files under specs/, schemas/, subflows/ and dashboards/ travel in resource ConfigMaps; {fix}",
                   "not-deployed")
            return None
    if path.startswith(SHARED + "/"):
        shared = check.folder.shared_dir
        if shared is not None and _refused(check, shared / path[len(SHARED) + 1:]):
            return None  # refused while reading: reported then
        where_shared = f"{shared}/{path[len(SHARED) + 1:]}" if shared else \
            f"no shared folder found next to {check.folder.root}"
        report(ERROR, f"{what} {ref!r} does not resolve: the shared folder file {path} is missing "
               f"({where_shared})", "missing-shared-file")
        return None
    report(ERROR, f"{what} {ref!r} not found (looked for {' and '.join(candidates)} in {check.folder.root})",
           "missing-file")
    return None


# Reading problems that already say why a file is not deployed (the folder's findings).
_READING_REFUSALS = frozenset({"path-name", "configmap-key", "not-a-regular-file", "file-too-large",
                               "symlink-loop", "unreadable"})


def _refused(check: WorkflowCheck, disk) -> bool:
    """`disk` exists but reading the folder refused it, or a folder above it, for its name or its type."""
    if not os.path.lexists(disk):
        return False
    shown = printable(os.path.normpath(disk))
    return any(f.code in _READING_REFUSALS and (shown == os.path.normpath(f.path)
                                                 or shown.startswith(os.path.normpath(f.path) + "/"))
               for f in check.folder.findings)


# ---------------------------------------------------------------- functions
_KIND_RE = re.compile(r"""^[ \t]*["']?(openapi|swagger|asyncapi)["']?[ \t]*:""", re.M)
_PATHS_RE = re.compile(r"""^[ \t]*["']?paths["']?[ \t]*:""", re.M)
_OPERATION_ID_RE = re.compile(r"""["']?operationId["']?\s*:\s*["']?([^\s"',}]+)""")


def spec_index(source: SourceFile, cache: dict) -> tuple[str | None, set[str]]:
    """(kind, operationIds) of an OpenAPI/AsyncAPI document; kind None when it is neither.

    Uses the parsed document when some rule already parsed it; otherwise scans the text
    (big OpenAPI files are not worth a full parse just to list their operationIds).
    """
    key = ("ops", id(source))
    if key in cache:
        return cache[key]
    if "document" in source.__dict__:
        result = _index_data(source)
    else:
        result = _index_text(source)
    cache[key] = result
    return result


def _index_text(source):
    try:
        text = source.text
    except Exception:  # noqa: BLE001 - encoding problems are reported by the syntax rules
        return None, set()
    kind = _KIND_RE.search(text)  # the version key comes first in practice
    if kind is not None and kind.group(1) == "asyncapi":
        return "asyncapi", set(_OPERATION_ID_RE.findall(text))
    if kind is not None and _PATHS_RE.search(text):
        return "openapi", set(_OPERATION_ID_RE.findall(text))
    return None, set()


def _index_data(source):
    document = source.try_document()
    data = document.data if document is not None else None
    kind, ids = None, set()
    if isinstance(data, dict):
        if ("openapi" in data or "swagger" in data) and isinstance(data.get("paths"), dict):
            kind = "openapi"
            for item in data["paths"].values():
                if isinstance(item, dict):
                    for method in _HTTP_METHODS:
                        operation = item.get(method)
                        if isinstance(operation, dict) and isinstance(operation.get("operationId"), str):
                            ids.add(operation["operationId"])
        elif "asyncapi" in data:
            kind = "asyncapi"
            channels = data.get("channels")
            if isinstance(channels, dict):
                for channel in channels.values():
                    if isinstance(channel, dict):
                        for verb in ("publish", "subscribe"):
                            operation = channel.get(verb)
                            if isinstance(operation, dict) and isinstance(operation.get("operationId"), str):
                                ids.add(operation["operationId"])
            if isinstance(data.get("operations"), dict):  # AsyncAPI 3: operations are keyed by id
                ids.update(k for k in data["operations"] if isinstance(k, str))
    return kind, ids


def check_functions(check: WorkflowCheck) -> None:
    aliases = uri_aliases(check)
    for pointer, function in check.items("functions"):
        operation = function.get("operation")
        kind = function.get("type", "rest")
        if not isinstance(operation, str) or not isinstance(kind, str):
            continue
        op_pointer = pointer + ("operation",)
        label = describe(pointer, check.data)
        if kind in ("rest", "asyncapi"):
            _check_api_operation(check, op_pointer, label, operation, kind, aliases)
        elif kind == "rpc":
            _check_rpc(check, op_pointer, label, operation)
        elif kind == "custom":
            metadata = function.get("metadata")
            if isinstance(metadata, dict) and isinstance(metadata.get("file"), str):
                _check_custom_file(check, pointer + ("metadata", "file"), label, metadata["file"])


def _check_api_operation(check, pointer, label, operation, kind, aliases):
    if "#" not in operation:
        if kind == "rest" and not operation.startswith(("http://", "https://")):
            check.error(pointer, f"{label}: operation {operation!r} must be <OpenAPI file or URL>#<operationId>",
                        "function-operation")
        return
    spec, _, operation_id = operation.rpartition("#")
    if spec in aliases:
        spec = aliases[spec]
    source = resolve(check, pointer, spec, f"{label}: {'AsyncAPI' if kind == 'asyncapi' else 'OpenAPI'} file")
    if source is None:
        return
    found_kind, ids = spec_index(source, check.cache)
    expected = "asyncapi" if kind == "asyncapi" else "openapi"
    if found_kind != expected:
        what = "an AsyncAPI document (asyncapi key)" if expected == "asyncapi" else \
            "an OpenAPI document (openapi or swagger key and a paths mapping)"
        if found_kind is not None or _parses(source):  # unreadable files are reported by the syntax rules
            check.error(pointer, f"{label}: {source.rel} is not {what}", "not-openapi")
        return
    if operation_id not in ids:
        import difflib

        close = difflib.get_close_matches(operation_id, sorted(ids), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else f" ({len(ids)} operationIds defined)"
        check.error(pointer, f"{label}: {source.rel} defines no operationId {operation_id!r}{hint}",
                    "unknown-operation")


def _parses(source) -> bool:
    if "document" in source.__dict__:
        return source.try_document() is not None
    from chartgen.validation.syntax import quick_syntax

    return not quick_syntax(source)


def _check_rpc(check, pointer, label, operation):
    parts = operation.split("#")
    if len(parts) != 3 or not all(parts):
        check.error(pointer, f"{label}: rpc operation {operation!r} must be <file.proto>#<service>#<method>",
                    "function-operation")
        return
    proto, service, method = parts
    if _SCHEME.match(proto) and not proto.startswith("classpath:"):
        resolve(check, pointer, proto, f"{label}: proto file")
        return
    rel = proto.removeprefix("classpath:").lstrip("/")
    candidates = [posixpath.normpath(posixpath.join(d, rel)) for d in dict.fromkeys([check.base_dir, ""])]
    disk = next((check.folder.root / c for c in candidates if (check.folder.root / c).is_file()), None)
    if disk is None:
        check.error(pointer, f"{label}: proto file {proto!r} not found in the workflow folder", "missing-file")
        return
    from chartgen.limits import read_file

    try:
        text = read_file(disk, within=check.folder.root).decode("utf-8", errors="replace")
    except ChartgenError as exc:
        check.findings.extend(exc.findings)
        return
    body = re.search(r"\bservice\s+" + re.escape(service) + r"\s*\{(.*?)\n\}", text, re.S)
    if body is None:
        check.error(pointer, f"{label}: {proto} defines no service {service!r}", "unknown-operation")
    elif not re.search(r"\brpc\s+" + re.escape(method) + r"\s*\(", body.group(1)):
        check.error(pointer, f"{label}: service {service!r} in {proto} has no rpc {method!r}", "unknown-operation")
    check.warning(pointer, f"{label}: {proto} is not carried by resource ConfigMaps (only .json/.yaml/.yml); "
                  "gRPC functions need the proto built into the workflow image", "not-deployed")


def _check_custom_file(check, pointer, label, name):
    resolve(check, pointer, name, f"{label}: metadata.file")


# ---------------------------------------------------------------- JSON Schemas
def check_schemas(check: WorkflowCheck) -> None:
    schema = check.data.get("dataInputSchema")
    if isinstance(schema, str):
        _schema_ref(check, ("dataInputSchema",), schema, "dataInputSchema")
    elif isinstance(schema, dict):
        inner = schema.get("schema")
        if isinstance(inner, str):
            _schema_ref(check, ("dataInputSchema", "schema"), inner, "dataInputSchema")
        elif isinstance(inner, dict):
            _check_meta(check, inner, check.path, lambda p: check.document.where(("dataInputSchema", "schema") + p))
    for pointer, item, ext_id in _extensions(check):
        if ext_id == OUTPUT_SCHEMA_EXTENSION and isinstance(item.get("outputSchema"), str):
            _schema_ref(check, pointer + ("outputSchema",), item["outputSchema"], "output schema")


def _schema_ref(check, pointer, ref, what):
    if ref.startswith("#"):
        return
    source = resolve(check, pointer, ref.split("#", 1)[0], what)
    if source is not None:
        check_schema_file(check, source, meta=True)


def check_schema_file(check: WorkflowCheck, source: SourceFile, *, meta: bool) -> None:
    """`source` is a valid JSON Schema (when `meta`) and its `$ref`s resolve. Once per file and mode."""
    key = ("schema", id(source))
    done = check.cache.get(key, 0)
    wanted = 2 if meta else 1
    if done >= wanted:
        return
    check.cache[key] = wanted
    document = source.try_document()
    if document is None:
        return  # reported by the syntax rules
    data = document.data
    if meta and done < 2:
        if not isinstance(data, (dict, bool)):
            check.findings.add(source.display, 1, 1, f"{source.rel} is not a JSON Schema (a mapping)",
                               "invalid-schema", ERROR)
            return
        _check_meta(check, data, source.display, document.where)
    if done == 0:
        _check_refs(check, source, document)


def _check_meta(check, data, path, where):
    import jsonschema
    from jsonschema import validators

    cls = validators.validator_for(data, default=jsonschema.Draft7Validator)
    try:
        cls.check_schema(data)
    except jsonschema.exceptions.SchemaError as exc:
        line, col = where(tuple(exc.path))
        location = "/".join(map(str, exc.path)) or "the root"
        check.findings.add(path, line, col, f"not a valid JSON Schema ({cls.__name__.removesuffix('Validator')}) "
                           f"at {location}: {exc.message}", "invalid-schema", ERROR)


def _iter_refs(data, pointer=()):
    stack = [(data, pointer)]
    while stack:
        node, ptr = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "$ref" and isinstance(value, str):
                    yield ptr + (key,), value
                else:
                    stack.append((value, ptr + (key,)))
        elif isinstance(node, list):
            stack.extend((value, ptr + (i,)) for i, value in enumerate(node))


def resolve_pointer(data, fragment: str):
    """Follow a JSON pointer fragment (`/definitions/x`); raises LookupError when absent."""
    if fragment in ("", "/"):
        return data
    if not fragment.startswith("/"):
        raise LookupError(fragment)  # a plain-name anchor: not followed
    node = data
    for raw in fragment[1:].split("/"):
        part = unquote(raw).replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise LookupError(fragment)
    return node


def _check_refs(check, source, document):
    base_dir = posixpath.dirname(source.rel)
    for pointer, ref in _iter_refs(document.data):
        where = document.where(pointer)
        target_part, _, fragment = ref.partition("#")
        if not target_part:
            try:
                resolve_pointer(document.data, fragment)
            except LookupError:
                check.findings.add(source.display, where[0], where[1],
                                   f"$ref {ref!r} does not resolve inside {source.rel}", "dangling-ref", ERROR)
            continue
        if _SCHEME.match(target_part) and not target_part.startswith(("classpath:", "file:")):
            if target_part.startswith(("http://", "https://")):
                check.findings.add(source.display, where[0], where[1],
                                   f"$ref {ref!r} is fetched over the network when the schema is used",
                                   "remote-spec", WARNING)
            continue
        target = resolve(check, pointer, target_part, "$ref", base_dir=base_dir,
                         report_path=source.display, where=where)
        if target is None:
            continue
        check_schema_file(check, target, meta=False)
        if fragment:
            target_doc = target.try_document()
            if target_doc is None:
                continue
            try:
                resolve_pointer(target_doc.data, fragment)
            except LookupError:
                check.findings.add(source.display, where[0], where[1],
                                   f"$ref {ref!r}: {target.rel} has no #{fragment}", "dangling-ref", ERROR)


def check_folder_schemas(check: WorkflowCheck) -> None:
    """The `$ref`s of every file under a schemas folder resolve (they are deployed either way)."""
    for resource in check.folder.resources:
        if resource.workflow_path.split("/")[-1] == "schemas" and resource.name.lower().endswith(".json"):
            check_schema_file(check, resource.file, meta=False)
