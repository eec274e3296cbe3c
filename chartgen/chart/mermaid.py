"""A Mermaid `stateDiagram-v2` of a workflow's states and transitions (GitHub renders it).

Works on the raw workflow and on the normalised `spec.flow` alike: `transition: X` and
`transition: {nextState: X}`, `end: true` and `end: {terminate: true}` are both read.
State names become `state "Name" as sN` so any name is safe; edge labels are the names
of switch conditions and error references, never jq expressions.
"""

from __future__ import annotations

import re
from typing import Any

_UNSAFE = re.compile(r"[\"\n\r\t:;#{}<>|`\\]+")


def as_list(value: Any) -> list:
    """`value` when it is a list, else [] (render refuses wrong types; this never fails on them)."""
    return value if isinstance(value, list) else []


def _label(text: Any, limit: int = 48) -> str:
    clean = _UNSAFE.sub(" ", str(text)).strip()
    clean = re.sub(r"\s+", " ", clean)
    return clean if len(clean) <= limit else clean[: limit - 1].rstrip() + "…"


def _target(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("nextState"), str):
        return value["nextState"]
    return None


def _ends(value: Any) -> bool:
    if value is True:
        return True
    return isinstance(value, dict)


def _exits(holder: dict) -> tuple[str | None, bool]:
    return _target(holder.get("transition")), _ends(holder.get("end"))


def state_diagram(flow: dict) -> str:
    """The diagram text (without the ```mermaid fence)."""
    states = [s for s in as_list(flow.get("states")) if isinstance(s, dict) and isinstance(s.get("name"), str)]
    ids = {state["name"]: f"s{index}" for index, state in enumerate(states)}
    lines = ["stateDiagram-v2"]
    for state in states:
        lines.append(f'    state "{_label(state["name"], 60)}" as {ids[state["name"]]}')
    start = flow.get("start")
    start_name = start.get("stateName") if isinstance(start, dict) else start
    if not isinstance(start_name, str) and states:
        start_name = states[0]["name"]
    if start_name in ids:
        lines.append(f"    [*] --> {ids[start_name]}")
    edges: list[str] = []

    def edge(source: str, holder: Any, label: str = "") -> None:
        if not isinstance(holder, dict):
            return
        target, ends = _exits(holder)
        suffix = f": {label}" if label else ""
        if target in ids:
            edges.append(f"    {source} --> {ids[target]}{suffix}")
        if ends:
            edges.append(f"    {source} --> [*]{suffix}")

    for state in states:
        source = ids[state["name"]]
        edge(source, state)
        for index, condition in enumerate(as_list(state.get("dataConditions"))):
            if isinstance(condition, dict):
                edge(source, condition, _label(condition.get("name") or f"condition {index + 1}"))
        for index, condition in enumerate(as_list(state.get("eventConditions"))):
            if isinstance(condition, dict):
                edge(source, condition,
                     _label(condition.get("name") or condition.get("eventRef") or f"event {index + 1}"))
        if isinstance(state.get("defaultCondition"), dict):
            edge(source, state["defaultCondition"], "default")
        for error in as_list(state.get("onErrors")):
            if isinstance(error, dict):
                ref = error.get("errorRef") or ", ".join(map(str, as_list(error.get("errorRefs")))) or "error"
                edge(source, error, _label(f"error {ref}"))
        compensated = state.get("compensatedBy")
        if isinstance(compensated, str) and compensated in ids:
            edges.append(f"    {source} --> {ids[compensated]}: compensated by")
    seen: set[str] = set()
    for line in edges:
        if line not in seen:
            seen.add(line)
            lines.append(line)
    return "\n".join(lines) + "\n"
