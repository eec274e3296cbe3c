"""References between the parts of a workflow, and the shape of its state graph.

Start state and every transition/condition/onErrors target exists; no state transitions
to itself (upstream rejects it); every functionRef, eventRef, retryRef, errorRef and authRef
names a defined item; every state reachable from the start can reach an end (error), and
every state is reachable (warning).
"""

from __future__ import annotations

import difflib
import posixpath

from chartgen.errors import ChartgenError
from chartgen.sources import SourceFile
from chartgen.validation.base import WorkflowCheck, as_list, describe, iter_actions, ref_name

DEFINITION_KINDS = {"functions": "function", "events": "event", "retries": "retry", "errors": "error",
                    "auth": "auth definition"}
# Written out (not derived from the kinds) so that docs/errors.md's check finds every code.
UNKNOWN_CODES = {"functions": "unknown-function", "events": "unknown-event", "retries": "unknown-retry",
                 "errors": "unknown-error", "auth": "unknown-auth"}


def _suggest(name: str, known) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    if close:
        return f" (did you mean {close[0]!r}?)"
    listed = ", ".join(sorted(known)[:12])
    return f" (defined: {listed})" if listed else " (none defined)"


def definitions(check: WorkflowCheck, key: str) -> dict[str, dict] | None:
    """name -> definition for functions/events/...; None when they come from a file we cannot read."""
    value = check.data.get(key)
    if isinstance(value, str):
        source = _load_definitions_file(check, key, value)
        if source is None:
            return None
        value = source
    if not isinstance(value, list):
        return {}
    result: dict[str, dict] = {}
    for i, item in enumerate(value):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            continue
        name = item["name"]
        if name in result and isinstance(check.data.get(key), list):
            check.error((key, i, "name"), f"duplicate {DEFINITION_KINDS[key]} name {name!r}", "duplicate-name")
        result.setdefault(name, item)
    return result


def _load_definitions_file(check: WorkflowCheck, key: str, ref: str):
    """`functions: specs/functions.json` -> the list inside that file (upstream inlines it)."""
    if ref.startswith(("http://", "https://")):
        check.warning((key,), f"{key} are loaded from {ref} when the manifest is generated (network "
                      "dependency); names defined there are not checked", "remote-spec")
        return None
    path = posixpath.normpath(posixpath.join(check.base_dir, ref.removeprefix("file://")))
    source = check.files.get(path) or check.files.get(posixpath.normpath(ref))
    disk = check.folder.root / path
    if source is None and not path.startswith("../") and disk.is_file():
        # The manifest generator inlines the file, so it need not be deployed: read it from disk.
        try:
            source = SourceFile(disk, path, disk.read_bytes())
        except OSError:
            source = None
    if source is None:
        check.error((key,), f"{key} file {ref!r} not found in the workflow folder", "missing-file")
        return None
    try:
        data = source.document.data
    except ChartgenError as exc:
        check.findings.extend(exc.findings)  # a syntax error in the inlined file
        return None
    if isinstance(data, dict) and isinstance(data.get(key), list):
        return data[key]
    check.error((key,), f"{ref} must be a mapping with a {key!r} list", "sw-structure")
    return None


def _targets(pointer: tuple, state: dict):
    """(target state, pointer, is_plain_transition) for every way out of a state."""
    def from_transition(ptr, value, plain=False):
        target = ref_name(value, "nextState")
        if target is not None:
            yield target, ptr, plain

    yield from from_transition(pointer + ("transition",), state.get("transition"), True)
    for key in ("dataConditions", "eventConditions"):
        conditions = state.get(key)
        if isinstance(conditions, list):
            for i, condition in enumerate(conditions):
                if isinstance(condition, dict):
                    yield from from_transition(pointer + (key, i, "transition"), condition.get("transition"))
    default = state.get("defaultCondition")
    if isinstance(default, dict):
        yield from from_transition(pointer + ("defaultCondition", "transition"), default.get("transition"))
    errors = state.get("onErrors")
    if isinstance(errors, list):
        for i, handler in enumerate(errors):
            if isinstance(handler, dict):
                yield from from_transition(pointer + ("onErrors", i, "transition"), handler.get("transition"))
    if isinstance(state.get("compensatedBy"), str):
        yield state["compensatedBy"], pointer + ("compensatedBy",), False


def _is_end(value) -> bool:
    return value is True or isinstance(value, dict)


def _can_end(state: dict) -> bool:
    if _is_end(state.get("end")):
        return True
    for key in ("dataConditions", "eventConditions", "onErrors"):
        items = state.get(key)
        if isinstance(items, list) and any(isinstance(c, dict) and _is_end(c.get("end")) for c in items):
            return True
    default = state.get("defaultCondition")
    return isinstance(default, dict) and _is_end(default.get("end"))


def _exactly_one_way(check: WorkflowCheck, pointer: tuple, item: dict, what: str) -> None:
    has_transition = item.get("transition") is not None
    has_end = _is_end(item.get("end"))
    if has_transition and has_end:
        check.error(pointer, f"{what} has both 'transition' and 'end'; keep one", "transition-and-end")
    elif not has_transition and not has_end:
        check.error(pointer, f"{what} has neither 'transition' nor 'end' (end: true finishes the workflow)",
                    "no-transition-or-end")


def check(check: WorkflowCheck) -> None:
    data = check.data
    states = check.states()
    if not states:
        return
    names: dict[str, tuple] = {}
    by_name: dict[str, dict] = {}
    for pointer, state in states:
        name = state.get("name")
        if not isinstance(name, str):
            continue
        if name in names:
            check.error(pointer + ("name",), f"duplicate state name {name!r} (first at line "
                        f"{check.document.where(names[name])[0]})", "duplicate-name")
            continue
        names[name] = pointer
        by_name[name] = state

    defs = {key: definitions(check, key) for key in DEFINITION_KINDS}
    _check_start(check, data, names)
    for pointer, state in states:
        _check_state(check, pointer, state, names, defs)
    for pointer, function in check.items("functions"):
        auth = ref_name(function.get("authRef"), "resource")
        _check_ref(check, pointer + ("authRef",), auth, defs["auth"], "auth")
    _check_graph(check, data, states, names, by_name)


def _check_start(check, data, names):
    start = data.get("start")
    start_name = ref_name(start, "stateName")
    if start_name is not None and start_name not in names:
        pointer = ("start",) if isinstance(start, str) else ("start", "stateName")
        check.error(pointer, f"start state {start_name!r} does not exist{_suggest(start_name, names)}",
                    "unknown-state")


def _check_ref(check, pointer, name, known, key, expect_kind=None):
    if name is None or known is None:
        return
    if name not in known:
        check.error(pointer, f"{describe(pointer, check.data)}: {DEFINITION_KINDS[key]} {name!r} is not defined"
                    f"{_suggest(name, known)}", UNKNOWN_CODES[key])
        return
    if expect_kind and key == "events":
        kind = known[name].get("kind", "consumed")
        if kind != expect_kind:
            verb = "waited for" if expect_kind == "consumed" else "produced"
            check.warning(pointer, f"{describe(pointer, check.data)}: event {name!r} is declared kind: {kind} "
                          f"but is {verb} here (declare kind: {expect_kind})", "event-kind")


def _check_state(check, pointer, state, names, defs):
    name = state.get("name")
    label = f"state {name!r}" if isinstance(name, str) else describe(pointer, check.data)
    state_type = state.get("type")
    for target, target_pointer, plain in _targets(pointer, state):
        if target not in names:
            what = "compensation state" if target_pointer[-1] == "compensatedBy" else "transition target"
            check.error(target_pointer, f"{label}: {what} {target!r} does not exist{_suggest(target, names)}",
                        "unknown-state")
        elif plain and target == name:
            check.error(target_pointer, f"{label} transitions to itself; upstream rejects this (loop through "
                        "another state, e.g. a sleep or switch state)", "self-transition")
    compensated = state.get("compensatedBy")
    if isinstance(compensated, str) and compensated in names:
        target_state = check.data["states"][names[compensated][1]]
        if target_state.get("usedForCompensation") is not True:
            check.error(pointer + ("compensatedBy",), f"{label}: compensation state {compensated!r} must set "
                        "usedForCompensation: true", "compensation")
    if state_type == "switch":
        has_data = isinstance(state.get("dataConditions"), list)
        has_events = isinstance(state.get("eventConditions"), list)
        if has_data and has_events:
            check.error(pointer, f"{label}: a switch state has either dataConditions or eventConditions, not both",
                        "switch-conditions")
        elif not has_data and not has_events:
            check.error(pointer, f"{label}: a switch state needs dataConditions or eventConditions",
                        "switch-conditions")
        for key in ("dataConditions", "eventConditions"):
            for i, condition in enumerate(as_list(state.get(key))):
                if isinstance(condition, dict):
                    _exactly_one_way(check, pointer + (key, i), condition, f"{label}: {key}[{i}]")
                    if key == "eventConditions":
                        _check_ref(check, pointer + (key, i, "eventRef"), condition.get("eventRef"),
                                   defs["events"], "events", "consumed")
        if isinstance(state.get("defaultCondition"), dict):
            _exactly_one_way(check, pointer + ("defaultCondition",), state["defaultCondition"],
                             f"{label}: defaultCondition")
    elif state_type is not None and state.get("usedForCompensation") is not True:
        _exactly_one_way(check, pointer, state, label)

    for i, handler in enumerate(as_list(state.get("onErrors"))):
        if not isinstance(handler, dict):
            continue
        handler_pointer = pointer + ("onErrors", i)
        refs = [handler.get("errorRef")] if handler.get("errorRef") is not None else []
        if isinstance(handler.get("errorRefs"), list):
            if refs:
                check.error(handler_pointer, f"{label}: onErrors[{i}] has both errorRef and errorRefs; keep one",
                            "sw-structure")
            refs += handler["errorRefs"]
        elif not refs:
            check.error(handler_pointer, f"{label}: onErrors[{i}] needs errorRef or errorRefs", "sw-required")
        for j, ref in enumerate(refs):
            if isinstance(ref, str):
                ptr = handler_pointer + (("errorRef",) if handler.get("errorRef") == ref and j == 0
                                         else ("errorRefs", j - (1 if handler.get("errorRef") else 0)))
                _check_ref(check, ptr, ref, defs["errors"], "errors")
        _exactly_one_way(check, handler_pointer, handler, f"{label}: onErrors[{i}]")

    for i, group in enumerate(as_list(state.get("onEvents"))):
        if isinstance(group, dict):
            for j, ref in enumerate(as_list(group.get("eventRefs"))):
                if isinstance(ref, str):
                    _check_ref(check, pointer + ("onEvents", i, "eventRefs", j), ref, defs["events"], "events",
                               "consumed")
    if isinstance(state.get("eventRef"), str):
        _check_ref(check, pointer + ("eventRef",), state["eventRef"], defs["events"], "events", "consumed")
    for produce_pointer, produce in _produced_events(pointer, state):
        _check_ref(check, produce_pointer, produce, defs["events"], "events", "produced")

    for action_pointer, action in iter_actions(pointer, state):
        _check_action(check, action_pointer, action, defs)


def _produced_events(pointer, state):
    def from_list(ptr, holder):
        if isinstance(holder, dict) and isinstance(holder.get("produceEvents"), list):
            for i, item in enumerate(holder["produceEvents"]):
                if isinstance(item, dict) and isinstance(item.get("eventRef"), str):
                    yield ptr + ("produceEvents", i, "eventRef"), item["eventRef"]

    for key in ("transition", "end"):
        yield from from_list(pointer + (key,), state.get(key))
    for key in ("dataConditions", "eventConditions"):
        for i, condition in enumerate(as_list(state.get(key))):
            if isinstance(condition, dict):
                for inner in ("transition", "end"):
                    yield from from_list(pointer + (key, i, inner), condition.get(inner))


def _check_action(check, pointer, action, defs):
    present = [k for k in ("functionRef", "eventRef", "subFlowRef") if action.get(k) is not None]
    label = describe(pointer, check.data)
    if len(present) != 1:
        what = "none" if not present else " and ".join(present)
        check.error(pointer, f"{label}: an action needs exactly one of functionRef, eventRef, subFlowRef "
                    f"(has {what})", "action-ref")
    function = ref_name(action.get("functionRef"), "refName")
    ref_pointer = pointer + (("functionRef",) if isinstance(action.get("functionRef"), str)
                             else ("functionRef", "refName"))
    _check_ref(check, ref_pointer, function, defs["functions"], "functions")
    event_ref = action.get("eventRef")
    if isinstance(event_ref, dict):
        _check_ref(check, pointer + ("eventRef", "triggerEventRef"), event_ref.get("triggerEventRef"),
                   defs["events"], "events", "produced")
        if isinstance(event_ref.get("resultEventRef"), str) and event_ref["resultEventRef"]:
            _check_ref(check, pointer + ("eventRef", "resultEventRef"), event_ref["resultEventRef"],
                       defs["events"], "events", "consumed")
    if isinstance(action.get("retryRef"), str):
        _check_ref(check, pointer + ("retryRef",), action["retryRef"], defs["retries"], "retries")
    for key in ("nonRetryableErrors", "retryableErrors"):
        for i, ref in enumerate(as_list(action.get(key))):
            if isinstance(ref, str):
                _check_ref(check, pointer + (key, i), ref, defs["errors"], "errors")
    subflow = ref_name(action.get("subFlowRef"), "workflowId")
    # Without a repository context a subflow of another folder would look missing: the check
    # needs the repository (validate_repository, the CLI).
    if subflow is not None and check.repository is not None:
        known = set(check.folder_ids) | set(check.repository.workflow_ids)
        if subflow not in known:
            sub_pointer = pointer + (("subFlowRef",) if isinstance(action.get("subFlowRef"), str)
                                     else ("subFlowRef", "workflowId"))
            check.warning(sub_pointer, f"{label}: subflow {subflow!r} is not defined in this folder's subflows/ "
                          f"nor by another workflow of the repository{_suggest(subflow, known)}", "unknown-subflow")


def _check_graph(check, data, states, names, by_name):
    start_name = ref_name(data.get("start"), "stateName")
    if start_name is None:
        first = states[0][1].get("name")
        start_name = first if isinstance(first, str) else None
    if start_name not in names:
        return
    edges: dict[str, list[str]] = {name: [] for name in names}
    flow: dict[str, list[str]] = {name: [] for name in names}   # without compensation edges
    for name, state in by_name.items():
        for target, pointer, _plain in _targets((), state):
            if target in names:
                edges[name].append(target)
                if pointer[-1] != "compensatedBy":
                    flow[name].append(target)
    reachable = _closure([start_name], edges)
    for name, pointer in names.items():
        if name not in reachable and by_name[name].get("usedForCompensation") is not True:
            check.warning(pointer + ("name",), f"state {name!r} is unreachable from the start state "
                          f"{start_name!r}", "unreachable-state")
    # States that can reach an end, walking edges backwards from the states that end. A
    # compensation state ends its compensation chain (control returns to the compensating state).
    reverse: dict[str, list[str]] = {name: [] for name in names}
    for name, targets in flow.items():
        for target in targets:
            reverse[target].append(name)
    ending = [name for name, state in by_name.items()
              if _can_end(state) or state.get("usedForCompensation") is True]
    can_finish = _closure(ending, reverse)
    for name, pointer in names.items():
        if not flow[name] and not _can_end(by_name[name]):
            continue  # no way out at all: reported as no-transition-or-end
        if name in reachable and name not in can_finish:
            loop = _loop(name, flow, can_finish)
            how = f" (it loops: {' -> '.join(loop)})" if loop else ""
            check.error(pointer + ("name",), f"state {name!r} can never reach an end: no path from it leads to a "
                        f"state with end{how}", "no-end")


def _closure(seeds, edges) -> set[str]:
    seen = set(seeds)
    stack = list(seeds)
    while stack:
        for nxt in edges.get(stack.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return seen


def _loop(name, edges, can_finish) -> list[str]:
    path = [name]
    current = name
    while True:
        nexts = [n for n in edges.get(current, ()) if n not in can_finish]
        if not nexts:
            return []
        current = nexts[0]
        if current in path:
            return path[path.index(current):] + [current]
        path.append(current)
