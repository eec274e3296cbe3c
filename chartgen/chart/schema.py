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
