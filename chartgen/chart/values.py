"""The values of a workflow chart: one model that gives values.yaml (helm-docs `# --`
comments), values.schema.json (see schema.py) and the README's values table.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Iterator

from chartgen.chart.templates import go_string
from chartgen.chart.textfiles import visible


@dataclass(frozen=True)
class Value:
    """A key of values.yaml: a leaf (default + schema) or a group of children."""

    key: str
    default: Any = None
    description: str = ""
    schema: dict = field(default_factory=dict)
    children: tuple["Value", ...] = ()

    @property
    def is_group(self) -> bool:
        return bool(self.children)

    def defaults(self) -> Any:
        if self.is_group:
            return {child.key: child.defaults() for child in self.children}
        return self.default


@dataclass(frozen=True)
class ValuesInput:
    """What the values of one chart are made from (all plain data)."""

    chart: str
    profile: str
    image_registry: str
    image_repository: str
    image_tag: str
    image_digest: str
    labels: tuple[tuple[str, str], ...]
    persistence_enabled: bool
    migrate_db_on_startup: bool
    secret_ref: tuple[tuple[str, str], ...]        # name, userKey, passwordKey
    service_ref: tuple[tuple[str, Any], ...]       # name, namespace, port, databaseName, databaseSchema
    secret_keys: tuple[str, ...]                   # keys of secret.properties, file order
    secret_name: str                               # the Secret the chart creates
    has_properties: bool


_STRING = {"type": "string"}
_STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}


def _leaf(key, default, description, schema) -> Value:
    return Value(key, default, description, schema)


def build_values(inp: ValuesInput) -> tuple[Value, ...]:
    """The values tree, in values.yaml order."""
    secret_ref = dict(inp.secret_ref)
    service_ref = dict(inp.service_ref)
    items: list[Value] = [
        _leaf("enabled", True,
              "Install this workflow. Read by the umbrella chart (`condition: "
              f"{inp.chart}.enabled`); a stand-alone install ignores it.", {"type": "boolean"}),
        _leaf("profile", inp.profile,
              "SonataFlow deployment profile (`sonataflow.org/profile`): `gitops` runs the prebuilt "
              "image, `preview` and `dev` let the operator build it in the cluster.",
              {"type": "string", "enum": ["dev", "preview", "gitops"]}),
        Value("image", children=(
            _leaf("registry", inp.image_registry,
                  "Registry (and organisation) of the workflow image; empty: `repository` is the whole name.",
                  _STRING),
            _leaf("repository", inp.image_repository, "Repository of the workflow image.",
                  {"type": "string", "minLength": 1}),
            _leaf("tag", inp.image_tag, "Tag of the workflow image; empty: the chart's appVersion.", _STRING),
            _leaf("digest", inp.image_digest,
                  "Digest of the workflow image (`sha256:...`); when set it pins the image instead of the tag.",
                  {"type": "string", "pattern": r"^$|^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$"}),
            _leaf("pullPolicy", "",
                  "Image pull policy of the workflow container (`Always`, `IfNotPresent`, `Never`); "
                  "empty: the cluster default.",
                  {"type": "string", "enum": ["", "Always", "IfNotPresent", "Never"]}),
        )),
        _leaf("replicas", None, "Replicas of the workflow deployment; null: the operator default (1).",
              {"type": ["integer", "null"], "minimum": 0}),
        _leaf("resources", {},
              "Resources of the workflow container (`requests`/`limits` of cpu and memory).",
              {"type": "object", "additionalProperties": False, "properties": {
                  "requests": {"type": "object", "additionalProperties": {"type": ["string", "number"]}},
                  "limits": {"type": "object", "additionalProperties": {"type": ["string", "number"]}},
                  "claims": {"type": "array", "items": {"type": "object"}}}}),
        _leaf("labels", dict(inp.labels),
              "Extra labels of every object of the chart (they win over the chart's own).", _STRING_MAP),
        _leaf("annotations", {},
              "Extra annotations of every object of the chart.", _STRING_MAP),
    ]
    if inp.has_properties:
        items.append(_leaf(
            "properties", {},
            "Extra `application.properties` entries (key: value), appended to the workflow's own; a key "
            "given here wins over the same key in the file.",
            {"type": "object", "additionalProperties": {"type": ["string", "integer", "boolean"]}}))
    items.append(Value("persistence", children=(
        _leaf("enabled", inp.persistence_enabled,
              "Keep workflow instances in PostgreSQL (`spec.persistence.postgresql`).", {"type": "boolean"}),
        _leaf("migrateDBOnStartUp", inp.migrate_db_on_startup,
              "Let the workflow create and migrate its database schema when it starts "
              "(`spec.persistence.migrateDBOnStartUp`).", {"type": "boolean"}),
        Value("postgresql", children=(
            Value("secretRef", children=(
                _leaf("name", secret_ref["name"], "Secret holding the PostgreSQL credentials.",
                      {"type": "string", "minLength": 1}),
                _leaf("userKey", secret_ref["userKey"], "Key of the user name in that Secret.", _STRING),
                _leaf("passwordKey", secret_ref["passwordKey"], "Key of the password in that Secret.", _STRING),
            )),
            Value("serviceRef", children=(
                _leaf("name", service_ref["name"], "Service of the PostgreSQL server.",
                      {"type": "string", "minLength": 1}),
                _leaf("namespace", service_ref.get("namespace", ""),
                      "Namespace of that Service; empty: the release namespace.", _STRING),
                _leaf("port", service_ref["port"], "Port of the PostgreSQL server.",
                      {"type": "integer", "minimum": 1, "maximum": 65535}),
                _leaf("databaseName", service_ref["databaseName"], "Database of the workflow data.",
                      {"type": "string", "minLength": 1}),
                _leaf("databaseSchema", service_ref["databaseSchema"],
                      "Schema of this workflow in that database.",
                      {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]{0,62}$"}),
            )),
        )),
    )))
    if inp.secret_keys:
        items.append(Value("secrets", children=(
            _leaf("existingSecret", "",
                  f"Name of an existing Secret holding the keys of `secret.properties`; when set the chart "
                  f"creates no Secret (otherwise it creates `{inp.secret_name}` from `secrets.values`).",
                  _STRING),
            Value("values", children=tuple(
                _leaf(key, "", f"Value of `{key}` from `secret.properties` (never stored in the chart). "
                      "An empty value keeps the one already in the cluster's Secret on upgrade.", _STRING)
                for key in inp.secret_keys)),
        )))
    return tuple(items)


def defaults(values: tuple[Value, ...]) -> dict:
    return {value.key: value.defaults() for value in values}


_PLAIN = re.compile(r"^[A-Za-z_/][A-Za-z0-9_./-]*$")
_YAML11_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}


def _scalar(value: Any) -> str | None:
    """Flow text of a simple value (double quotes when not plain); None: needs the dumper."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        plain = _PLAIN.match(value) and value.lower() not in _YAML11_WORDS
        return value if plain else go_string(value)  # a double-quoted YAML string too
    if value == {}:
        return "{}"
    if value == []:
        return "[]"
    return None


def _scalar_line(key: str, value: Any) -> list[str]:
    """`key: value` lines as yamllint (chart-testing rules) accepts them."""
    from chartgen.yamlio import dump_yaml

    text_key, text_value = _scalar(key), _scalar(value)
    if text_key is not None and text_value is not None:
        return [f"{text_key}: {text_value}"]
    return dump_yaml({key: value}).rstrip("\n").split("\n")


def values_yaml(values: tuple[Value, ...], header: str = "") -> str:
    """values.yaml text: helm-docs `# --` comment above every leaf."""
    lines: list[str] = [f"# {visible(line, keep='')}".rstrip() for line in header.splitlines()]

    def emit(items, indent):
        pad = "  " * indent
        for item in items:
            if item.is_group:
                lines.append(pad + _key(item.key) + ":")
                emit(item.children, indent + 1)
                continue
            # helm-docs reads the type of a null default from a `(type)` prefix; the table
            # (table_rows) takes the type from the schema instead.
            hint = f"({_type_name(item)}) " if item.default is None else ""
            lines.append(f"{pad}# -- {hint}{item.description}")
            lines.extend(pad + text for text in _scalar_line(item.key, item.default))

    emit(values, 0)
    return "\n".join(lines) + "\n"


def mapping_yaml(data: dict, header: str = "") -> str:
    """A plain values file (`# header` lines, then `data` in block style) as yamllint with
    chart-testing's rules accepts it."""
    lines: list[str] = [f"# {visible(line, keep='')}".rstrip() for line in header.splitlines()]

    def emit(mapping: dict, indent: int) -> None:
        pad = "  " * indent
        for key, value in mapping.items():
            if isinstance(value, dict) and value:
                lines.append(pad + _key(key) + ":")
                emit(value, indent + 1)
            else:
                lines.extend(pad + text for text in _scalar_line(key, value))

    emit(data, 0)
    if not data:
        lines.append("{}")
    return "\n".join(lines) + "\n"


def _key(key: str) -> str:
    return _scalar(key) or go_string(key)


def table_rows(values: tuple[Value, ...]) -> list[tuple[str, str, str, str]]:
    """(key, type, default, description) of every leaf, helm-docs style."""
    rows: list[tuple[str, str, str, str]] = []

    def walk(items, prefix):
        for item in items:
            key = item.key if ("." not in item.key and "-" not in item.key) else json.dumps(item.key)
            path = f"{prefix}.{key}" if prefix else key
            if item.is_group:
                walk(item.children, path)
                continue
            rows.append((path, _type_name(item), json.dumps(item.default, sort_keys=True), item.description))

    walk(values, "")
    return rows


def _type_name(item: Value) -> str:
    kind = item.schema.get("type", "")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), kind[0])
    return {"boolean": "bool", "integer": "int", "object": "object", "string": "string",
            "array": "list", "number": "float"}.get(kind, str(kind))


def iter_leaves(values: tuple[Value, ...], prefix: tuple = ()) -> Iterator[tuple[tuple, Value]]:
    for item in values:
        if item.is_group:
            yield from iter_leaves(item.children, prefix + (item.key,))
        else:
            yield prefix + (item.key,), item
