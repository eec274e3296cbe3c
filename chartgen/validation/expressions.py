"""Every jq expression of a workflow compiles with the real jq library (PyPI `jq`).

Checked: switch conditions, expression functions, state/action/event data filters, action
conditions, foreach collections, and `${ ... }` strings inside function arguments, event
data and inject state data. SonataFlow's own variables (`$WORKFLOW`, `$SECRET`, `$CONST`, a foreach
`iterationParam`) are passed to the compiler as defined variables, and the jq functions
SonataFlow adds on top of jq are declared as stubs (see `SONATAFLOW_FUNCTIONS`). Workflows
with `expressionLang: jsonpath` get a light check instead (root `$`, balanced brackets and
quotes); no JsonPath library is involved.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Iterator

from chartgen.validation.base import WorkflowCheck, as_list, describe, iter_actions

# Variables SonataFlow defines for every expression.
SONATAFLOW_VARIABLES = ("WORKFLOW", "SECRET", "CONST")
# SonataFlow evaluates jq with jackson-jq; its jackson-jq-extra module adds these functions that
# real jq lacks (declared as stubs so expressions using them compile). More can be declared in
# chartgen.yaml (`validate: {jq_functions: ["name/arity"]}`). name/arity.
SONATAFLOW_FUNCTIONS = ("hostname/0", "random/0", "timestamp/0", "uridecode/0", "uriparse/0", "uuid4/0")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_cache: dict[tuple, str | None] = {}


@lru_cache(maxsize=8)
def prelude(extra: tuple[str, ...] = ()) -> str:
    """jq definitions of SonataFlow's extra functions (stubs: they only need to compile)."""
    defs = []
    for spec in sorted(set(SONATAFLOW_FUNCTIONS + extra)):
        name, _, arity_text = spec.partition("/")
        arity = int(arity_text) if arity_text.isdigit() else 0
        if not _IDENTIFIER.match(name):
            continue
        params = "" if not arity else "(" + "; ".join(f"$a{i}" for i in range(arity)) + ")"
        defs.append(f"def {name}{params}: null;")
    return " ".join(defs) + " "


def _compile(program: str, variables: tuple[str, ...]) -> str | None:
    import jq

    try:
        jq.compile(program, args={name: None for name in SONATAFLOW_VARIABLES + variables})
        return None
    except ValueError as exc:
        return _clean(str(exc))
    except Exception as exc:  # noqa: BLE001 - the jq binding raises little else; never crash
        return _clean(str(exc)) or type(exc).__name__


def compile_errors(expressions_: list[str], variables: tuple[str, ...] = (),
                   functions: tuple[str, ...] = ()) -> dict[str, str | None]:
    """expression -> jq compile error (None when it compiles). Cached.

    Each jq.compile costs ~2 ms whatever the size (jq loads its builtins every time), so the
    uncached expressions are compiled together as one program of `def`s; a failing batch is
    split in halves until the culprits are alone, and those are compiled bare for the message.
    """
    variables = tuple(sorted(set(variables)))
    todo = [e for e in dict.fromkeys(expressions_) if (e, variables, functions) not in _cache]
    _settle(todo, variables, functions)
    return {e: _cache[(e, variables, functions)] for e in expressions_}


def _settle(todo: list[str], variables, functions) -> None:
    if not todo:
        return
    if len(todo) == 1:
        _cache[(todo[0], variables, functions)] = _compile(prelude(functions) + todo[0], variables)
        return
    # Every def is used: jq only binds (and so checks) the definitions a program calls.
    batch = "".join(f"def __chartgen_{i}:\n{e}\n;\n" for i, e in enumerate(todo))
    batch += "[" + ", ".join(f"__chartgen_{i}" for i in range(len(todo))) + "]"
    if _compile(prelude(functions) + batch, variables) is None:
        for e in todo:
            _cache[(e, variables, functions)] = None
        return
    middle = len(todo) // 2
    _settle(todo[:middle], variables, functions)
    _settle(todo[middle:], variables, functions)


def warm(checks) -> None:
    """Compile the expressions of many workflows at once (a repository): one jq call per batch."""
    groups: dict[tuple, list[str]] = {}
    for check in checks:
        if check.expression_lang != "jq":
            continue
        for _pointer, text, variables in expressions(check):
            expression = unwrap(text)
            if expression:
                key = (tuple(sorted(set(variables))), check.jq_functions)
                groups.setdefault(key, []).append(expression)
    for (variables, functions), items in groups.items():
        compile_errors(items, variables, functions)


def compile_error(expression: str, variables: tuple[str, ...] = (), functions: tuple[str, ...] = ()) -> str | None:
    """The jq compile error of one expression (None when it compiles)."""
    return compile_errors([expression], variables, functions)[expression]


def _clean(message: str) -> str:
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    first = lines[0] if lines else message
    first = first.replace("jq: error: ", "")
    first = re.sub(r" at <top-level>, line \d+, column \d+:?", "", first)
    first = re.sub(r" at <top-level>, line \d+:?", "", first)
    return first.rstrip(":")


def unwrap(text: str) -> str:
    """`${ .a }` -> `.a`; plain expressions (allowed in filters and conditions) stay as they are."""
    stripped = text.strip()
    if stripped.startswith("${") and stripped.endswith("}"):
        return stripped[2:-1].strip()
    return stripped


def _embedded(value, pointer) -> Iterator[tuple[tuple, str]]:
    """`${ }` strings anywhere inside arguments/data."""
    stack = [(value, pointer)]
    while stack:
        node, ptr = stack.pop()
        if isinstance(node, dict):
            stack.extend((v, ptr + (k,)) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((v, ptr + (i,)) for i, v in enumerate(node))
        elif isinstance(node, str) and node.strip().startswith("${") and node.strip().endswith("}"):
            yield ptr, node


def expressions(check: WorkflowCheck) -> Iterator[tuple[tuple, str, tuple[str, ...]]]:
    """(pointer, expression text, extra variables) for every expression of the workflow."""
    # Expression functions run inside the calling state: a foreach's iteration variable is visible.
    loop_variables = tuple(sorted({state["iterationParam"] for _, state in check.states()
                                   if isinstance(state.get("iterationParam"), str)
                                   and _IDENTIFIER.match(state["iterationParam"])}))
    for pointer, function in check.items("functions"):
        if function.get("type") == "expression" and isinstance(function.get("operation"), str):
            yield pointer + ("operation",), function["operation"], loop_variables
    for pointer, state in check.states():
        variables: tuple[str, ...] = ()
        if state.get("type") == "foreach":
            param = state.get("iterationParam")
            if isinstance(param, str) and _IDENTIFIER.match(param):
                variables = (param,)
            for key in ("inputCollection", "outputCollection"):
                if isinstance(state.get(key), str):
                    yield pointer + (key,), state[key], ()
        yield from _filter(pointer + ("stateDataFilter",), state.get("stateDataFilter"), ("input", "output"), ())
        if state.get("type") == "inject":
            for ptr, text in _embedded(state.get("data"), pointer + ("data",)):
                yield ptr, text, ()
        for i, condition in enumerate(as_list(state.get("dataConditions"))):
            if isinstance(condition, dict) and isinstance(condition.get("condition"), str):
                yield pointer + ("dataConditions", i, "condition"), condition["condition"], ()
        for i, condition in enumerate(as_list(state.get("eventConditions"))):
            if isinstance(condition, dict):
                yield from _filter(pointer + ("eventConditions", i, "eventDataFilter"),
                                   condition.get("eventDataFilter"), ("data", "toStateData"), ())
        for i, group in enumerate(as_list(state.get("onEvents"))):
            if isinstance(group, dict):
                yield from _filter(pointer + ("onEvents", i, "eventDataFilter"), group.get("eventDataFilter"),
                                   ("data", "toStateData"), ())
        yield from _filter(pointer + ("eventDataFilter",), state.get("eventDataFilter"), ("data", "toStateData"),
                           ())
        for action_pointer, action in iter_actions(pointer, state):
            yield from _filter(action_pointer + ("actionDataFilter",), action.get("actionDataFilter"),
                               ("fromStateData", "results", "toStateData"), variables)
            if isinstance(action.get("condition"), str):
                yield action_pointer + ("condition",), action["condition"], variables
            function_ref = action.get("functionRef")
            if isinstance(function_ref, dict) and isinstance(function_ref.get("arguments"), dict):
                for ptr, text in _embedded(function_ref["arguments"], action_pointer + ("functionRef", "arguments")):
                    yield ptr, text, variables
            event_ref = action.get("eventRef")
            if isinstance(event_ref, dict):
                yield from _data(action_pointer + ("eventRef", "data"), event_ref.get("data"), variables)
                for ptr, text in _embedded(event_ref.get("contextAttributes"),
                                           action_pointer + ("eventRef", "contextAttributes")):
                    yield ptr, text, variables
        for key in ("transition", "end"):
            holder = state.get(key)
            if isinstance(holder, dict):
                for i, produce in enumerate(as_list(holder.get("produceEvents"))):
                    if isinstance(produce, dict):
                        yield from _data(pointer + (key, "produceEvents", i, "data"), produce.get("data"), ())
                        for ptr, text in _embedded(produce.get("contextAttributes"),
                                                   pointer + (key, "produceEvents", i, "contextAttributes")):
                            yield ptr, text, ()


def _data(pointer, value, variables):
    """Event `data`: a string is an expression (with or without `${ }`), an object may hold some."""
    if isinstance(value, str):
        yield pointer, value, variables
    else:
        for ptr, text in _embedded(value, pointer):
            yield ptr, text, variables


def _filter(pointer, value, keys, variables):
    if isinstance(value, dict):
        for key in keys:
            if isinstance(value.get(key), str):
                yield pointer + (key,), value[key], variables


def check(check: WorkflowCheck) -> None:
    if check.expression_lang == "jsonpath":
        _check_jsonpath(check)
    if check.expression_lang != "jq":
        return  # jsonpath/cel expressions: not compiled with jq
    for pointer, state in check.states():
        param = state.get("iterationParam")
        if state.get("type") == "foreach" and isinstance(param, str) and not _IDENTIFIER.match(param):
            check.error(pointer + ("iterationParam",), f"{describe(pointer, check.data)}: iterationParam "
                        f"{param!r} is not a valid variable name (letters, digits, _)", "jq-syntax")
    found = [(pointer, unwrap(text), variables) for pointer, text, variables in expressions(check)]
    groups: dict[tuple[str, ...], list[str]] = {}
    for _pointer, expression, variables in found:
        if expression:
            groups.setdefault(variables, []).append(expression)
    errors = {variables: compile_errors(items, variables, check.jq_functions) for variables, items in groups.items()}
    for pointer, expression, variables in found:
        if not expression:
            check.error(pointer, f"{describe(pointer, check.data)}: empty expression", "jq-syntax")
            continue
        error = errors[variables][expression]
        if error:
            check.error(pointer, f"{describe(pointer, check.data)}: jq expression does not compile: {error} "
                        f"(expression: {_short(expression)})", "jq-syntax")


def _check_jsonpath(check: WorkflowCheck) -> None:
    """A light check (no JsonPath library is used): starts at `$` or `@`, brackets and quotes balance."""
    for pointer, text, _variables in expressions(check):
        stripped = text.strip()
        if stripped.startswith("{{") and stripped.endswith("}}"):
            expression = stripped[2:-2].strip()  # the older {{ }} form SonataFlow still accepts
        else:
            expression = unwrap(stripped)
        problem = _jsonpath_problem(expression)
        if problem:
            check.error(pointer, f"{describe(pointer, check.data)}: JsonPath expression {problem} "
                        f"(expression: {_short(expression)})", "jsonpath-syntax")


def _jsonpath_problem(expression: str) -> str | None:
    if not expression.startswith(("$", "@")):
        return "must start with $ (the root) or @"
    closing = {")": "(", "]": "["}
    stack: list[str] = []
    quote = None
    for char in expression:
        if quote:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char in "([":
            stack.append(char)
        elif char in ")]":
            if not stack or stack.pop() != closing[char]:
                return f"has an unbalanced {char!r}"
    if quote:
        return f"has an unclosed {quote} quote"
    if stack:
        return f"has an unclosed {stack[-1]!r}"
    return None


def _short(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 3] + "..."
