"""Serverless Workflow 0.8 structure, checked with the project's own JSON Schema.

`chartgen/data/sw-0.8/workflow.schema.json` is written from the 0.8 specification. Its
objects are closed: an unknown key is a warning (SonataFlow drops it silently, so it is
usually a typo), every other violation is an error at the offending node.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

from chartgen.validation.base import WorkflowCheck, describe

SCHEMA_PATH = ("data", "sw-0.8", "workflow.schema.json")
# Reported by other rules with better messages.
_SKIP = {("version",)}
_TYPE_NAMES = {"string": "a string", "object": "a mapping", "array": "a list", "boolean": "true or false",
               "integer": "an integer", "number": "a number", "null": "null"}


@lru_cache(maxsize=1)
def workflow_schema() -> dict:
    text = resources.files("chartgen").joinpath(*SCHEMA_PATH).read_text(encoding="utf-8")
    return json.loads(text)


def _inline(node, definitions):
    """Replace local `$ref`s by their targets (the schema has no recursion): validation then
    skips jsonschema's reference lookups, which were most of its cost."""
    if isinstance(node, dict):
        if set(node) == {"$ref"} and node["$ref"].startswith("#/definitions/"):
            return _inline(definitions[node["$ref"].rsplit("/", 1)[1]], definitions)
        return {key: (value if key in ("enum", "const", "required") else _inline(value, definitions))
                for key, value in node.items() if key != "definitions"}
    if isinstance(node, list):
        return [_inline(item, definitions) for item in node]
    return node


@lru_cache(maxsize=1)
def validators():
    """(workflow validator without per-state rules, {state type: state validator}).

    The schema file selects the state rules with if/then on `type`; evaluating eight `if`s
    per state is slow, so the workflow is validated with the state rules cut out and each
    state with the validator of its own type.
    """
    import jsonschema

    schema = workflow_schema()
    definitions = schema["definitions"]
    top = _inline(schema, definitions)
    state_rule = top["properties"]["states"]["items"]
    by_type = {}
    for branch in state_rule.pop("allOf"):
        state_type = branch["if"]["properties"]["type"]["const"]
        by_type[state_type] = jsonschema.Draft7Validator(branch["then"])
    return jsonschema.Draft7Validator(top), by_type


def _kind(value) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, (int, float)):
        return "a number"
    if value is None:
        return "null"
    return "a string"


def _leaf_errors(error):
    """Errors to report for one jsonschema error: descend into if/then and anyOf contexts."""
    if error.validator in ("anyOf", "oneOf") and error.context:
        # Report the branch that got furthest (the deepest path), as jsonschema.best_match does.
        import jsonschema.exceptions

        best = jsonschema.exceptions.best_match(error.context)
        if best is not None and len(best.relative_path) > 0:
            yield from _leaf_errors(best)
            return
    yield error


def check(check: WorkflowCheck) -> None:
    data = check.data
    if not data:
        return
    seen = set()
    top_validator, state_validators = validators()
    found = [((), error) for error in top_validator.iter_errors(data)]
    states = data.get("states")
    if isinstance(states, list):
        for i, state in enumerate(states):
            if isinstance(state, dict) and state.get("type") in state_validators:
                found += [(("states", i), error) for error in state_validators[state["type"]].iter_errors(state)]
    for prefix, top in found:
        for error in _leaf_errors(top):
            pointer = prefix + tuple(error.absolute_path)
            if pointer in _SKIP:
                continue
            key = (pointer, error.validator, str(error.message))
            if key in seen:
                continue
            seen.add(key)
            _report(check, error, pointer, data)


def _report(check: WorkflowCheck, error, pointer: tuple, data: dict) -> None:
    where = describe(pointer, data)
    validator_name = error.validator
    if validator_name == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        import difflib

        for extra in sorted(set(error.instance) - set(allowed), key=str):
            close = difflib.get_close_matches(str(extra), allowed, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(allowed)}"
            check.warning(pointer + (extra,), f"{where}: unknown key {extra!r}, ignored by SonataFlow ({hint})",
                          "sw-unknown-key", at_key=True)
        return
    if validator_name == "required":
        absent = [key for key in error.validator_value if isinstance(error.instance, dict) and key not in error.instance]
        missing = next((key for key in absent if repr(key) in error.message), absent[0] if absent else "?")
        if missing == "defaultCondition":
            check.error(pointer, f"{where}: a switch state needs a defaultCondition (transition or end taken when "
                        "no condition matches); the manifest generator rejects switch states without one",
                        "sw-required")
            return
        if missing == "source" and len(pointer) == 2 and pointer[0] == "events":
            check.warning(pointer, f"{where}: a consumed event should name its CloudEvent source (the 0.8 "
                          "specification requires it; SonataFlow matches on type only)", "event-source")
            return
        check.error(pointer, f"{where}: required key {missing!r} is missing", "sw-required")
        return
    if validator_name == "anyOf" and pointer == ():
        check.error(pointer, "the workflow needs an 'id' (or at least a 'key')", "sw-required")
        return
    if validator_name == "type":
        expected = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        wanted = " or ".join(_TYPE_NAMES.get(t, t) for t in expected)
        check.error(pointer, f"{where}: must be {wanted}, not {_kind(error.instance)}", "sw-type")
        return
    if validator_name == "enum":
        choices = ", ".join(map(str, error.validator_value))
        check.error(pointer, f"{where}: {error.instance!r} is not one of: {choices}", "sw-enum")
        return
    if validator_name == "pattern" and error.validator_value == workflow_schema()["definitions"]["duration"]["pattern"]:
        check.error(pointer, f"{where}: {error.instance!r} is not an ISO 8601 duration (e.g. PT30S, PT5M, P1D)",
                    "sw-duration")
        return
    if validator_name == "minItems":
        check.error(pointer, f"{where}: needs at least {error.validator_value} item(s)", "sw-structure")
        return
    if validator_name == "minLength":
        check.error(pointer, f"{where}: must not be empty", "sw-structure")
        return
    check.error(pointer, f"{where}: {error.message}", "sw-structure")
