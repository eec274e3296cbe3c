"""A Mermaid `stateDiagram-v2` of a workflow's states and transitions (GitHub renders it).

Works on the raw workflow and on the normalised `spec.flow` alike: `transition: X` and
`transition: {nextState: X}`, `end: true` and `end: {terminate: true}` are both read.
State names become `state "Name" as sN` so any name is safe; edge labels are the names
of switch conditions and error references, never jq expressions.
"""

from __future__ import annotations

import re
from typing import Any

_UNSAFE = re.compile("[\"\\\\:;#%{}<>|`\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]+")


def as_list(value: Any) -> list:
    """`value` when it is a list, else [] (render refuses wrong types; this never fails on them)."""
    return value if isinstance(value, list) else []


def _label(text: Any, limit: int = 48) -> str:
    clean = _UNSAFE.sub(" ", str(text)).strip()
    clean = re.sub(r"\s+", " ", clean) or "(unnamed)"   # Mermaid refuses an empty label
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


END = "[*]"   # the target of a transition that ends the workflow

# Colours of highlighted states (GitHub's diff palette, readable in light and dark mode).
CLASSES = {"added": "fill:#dafbe1,stroke:#1a7f37,color:#1f2328",
           "changed": "fill:#fff8c5,stroke:#9a6700,color:#1f2328"}


def named_states(flow: dict) -> list[dict]:
    """The states of `flow` that have a name (others cannot be told apart, nor drawn)."""
    return [s for s in as_list(flow.get("states")) if isinstance(s, dict) and isinstance(s.get("name"), str)]


def transitions(flow: dict) -> list[tuple[str, str, str]]:
    """(source state, target state or END, label) of every transition between named states,
    in the order of the flow, each once. Labels are switch condition names and error
    references (as written: callers make them safe for where they show them)."""
    states = named_states(flow)
    names = {state["name"] for state in states}
    out: list[tuple[str, str, str]] = []

    def edge(source: str, holder: Any, label: str = "") -> None:
        if not isinstance(holder, dict):
            return
        target, ends = _exits(holder)
        if target in names:
            out.append((source, target, label))
        if ends:
            out.append((source, END, label))

    for state in states:
        source = state["name"]
        edge(source, state)
        for index, condition in enumerate(as_list(state.get("dataConditions"))):
            if isinstance(condition, dict):
                edge(source, condition, str(condition.get("name") or f"condition {index + 1}"))
        for index, condition in enumerate(as_list(state.get("eventConditions"))):
            if isinstance(condition, dict):
                edge(source, condition, str(condition.get("name") or condition.get("eventRef") or f"event {index + 1}"))
        if isinstance(state.get("defaultCondition"), dict):
            edge(source, state["defaultCondition"], "default")
        for error in as_list(state.get("onErrors")):
            if isinstance(error, dict):
                ref = error.get("errorRef") or ", ".join(map(str, as_list(error.get("errorRefs")))) or "error"
                edge(source, error, f"error {ref}")
        compensated = state.get("compensatedBy")
        if isinstance(compensated, str) and compensated in names:
            out.append((source, compensated, "compensated by"))
    return list(dict.fromkeys(out))


def start_state(flow: dict) -> str | None:
    """The name of the state the flow starts in (the first state when `start` names none)."""
    states = named_states(flow)
    start = flow.get("start")
    name = start.get("stateName") if isinstance(start, dict) else start
    if not isinstance(name, str) and states:
        name = states[0]["name"]
    return name if isinstance(name, str) else None


def state_diagram(flow: dict, highlight: dict[str, str] | None = None) -> str:
    """The diagram text (without the ```mermaid fence). `highlight` maps state names to a
    class of CLASSES (`added`, `changed`): those states are drawn in its colours."""
    states = named_states(flow)
    ids = {state["name"]: f"s{index}" for index, state in enumerate(states)}
    lines = ["stateDiagram-v2"]
    for state in states:
        lines.append(f'    state "{_label(state["name"], 60)}" as {ids[state["name"]]}')
    start_name = start_state(flow)
    if start_name in ids:
        lines.append(f"    [*] --> {ids[start_name]}")
    seen: set[str] = set()
    for source, target, label in transitions(flow):
        suffix = f": {_label(label)}" if label else ""
        line = f"    {ids[source]} --> {target if target == END else ids[target]}{suffix}"
        if line not in seen:
            seen.add(line)
            lines.append(line)
    used = sorted({kind for name, kind in (highlight or {}).items() if name in ids and kind in CLASSES})
    for kind in used:
        lines.append(f"    classDef {kind} {CLASSES[kind]}")
    for kind in used:
        members = [ids[name] for name, k in highlight.items() if k == kind and name in ids]
        lines.append(f"    class {','.join(sorted(members, key=lambda i: int(i[1:])))} {kind}")
    return "\n".join(lines) + "\n"
