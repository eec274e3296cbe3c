"""values.schema.json (JSON Schema draft-07, which every Helm 3 and 4 reads) from the values model.

Objects are closed (`additionalProperties: false`) so a misspelt key fails at install
time; `global` stays open because Helm hands it to every sub-chart of the umbrella.
"""

from __future__ import annotations

import copy

from chartgen.chart.values import Value

DRAFT7 = "http://json-schema.org/draft-07/schema#"


def _node(value: Value) -> dict:
    if value.is_group:
        return {
            "type": "object",
            "additionalProperties": False,
            "properties": {child.key: _node(child) for child in value.children},
        }
    node = copy.deepcopy(value.schema)
    if value.description:
        node["description"] = value.description
    node["default"] = copy.deepcopy(value.default)
    return node


def values_schema(values: tuple[Value, ...], title: str) -> dict:
    properties = {value.key: _node(value) for value in values}
    properties["global"] = {"type": "object", "description": "Values shared with every chart of an umbrella."}
    return {
        "$schema": DRAFT7,
        "title": title,
        "type": "object",
        "additionalProperties": False,
        "properties": properties,
    }


# Keywords whose value is one schema, a list of schemas, or a mapping of names to schemas.
_ONE = ("additionalProperties", "additionalItems", "items", "contains", "propertyNames", "not",
        "if", "then", "else")
_LIST = ("allOf", "anyOf", "oneOf", "items")
_MAP = ("properties", "patternProperties", "definitions", "dependencies")
ANNOTATIONS = ("description", "default", "title", "examples", "$comment")
_SHARED_FROM = 96    # bytes: smaller object schemas stay inline (a $ref would not save much)


def shared_definitions(schemas: dict[str, dict]) -> tuple[dict, dict]:
    """(definitions, name -> {"$ref": ...}) for the schemas `schemas` (name -> schema).

    Every object schema (one with `properties`) of at least `_SHARED_FROM` bytes becomes a
    definition named by its content hash, annotations dropped, so equal parts (the image,
    persistence... of every workflow chart, and whole charts made from equal settings) are
    written once, whatever their number. Draft-07 `$ref` within the same document: every
    Helm 3 and 4 resolves it."""
    import hashlib
    import json

    definitions: dict[str, dict] = {}

    def shrink(node):
        if not isinstance(node, dict):
            return node
        out = {}
        for key, value in node.items():
            if key in ANNOTATIONS:
                continue
            if key in _MAP and isinstance(value, dict):
                out[key] = {name: shrink(sub) for name, sub in value.items()}
            elif key in _LIST and isinstance(value, list):
                out[key] = [shrink(sub) for sub in value]
            elif key in _ONE and isinstance(value, dict):
                out[key] = shrink(value)
            else:
                out[key] = copy.deepcopy(value)
        return out

    def share(node: dict, *, always: bool = False) -> dict:
        text = json.dumps(node, sort_keys=True, separators=(",", ":"))
        if not always and ("properties" not in node or len(text) < _SHARED_FROM):
            return node
        name = "s" + hashlib.sha256(text.encode()).hexdigest()[:16]
        definitions.setdefault(name, node)
        return {"$ref": f"#/definitions/{name}"}

    def factor(node):
        """`node` with its object sub-schemas (innermost first) replaced by references."""
        if not isinstance(node, dict):
            return node
        out = {}
        for key, value in node.items():
            if key in _MAP and isinstance(value, dict) and key != "definitions":
                out[key] = {name: share(factor(sub)) if isinstance(sub, dict) else sub
                            for name, sub in value.items()}
            elif key in _LIST and isinstance(value, list):
                out[key] = [share(factor(sub)) if isinstance(sub, dict) else sub for sub in value]
            elif key in _ONE and isinstance(value, dict):
                out[key] = share(factor(value))
            else:
                out[key] = value
        return out

    refs = {}
    for name, schema in schemas.items():
        if '"$ref"' in json.dumps(schema):   # a hand-made schema: its references point into it
            refs[name] = schema
            continue
        inner = shrink(schema)
        refs[name] = share(factor(inner), always=True)
    return dict(sorted(definitions.items())), refs
