"""spec.flow as `kn workflow gen-manifest` writes it: sdk-go v2.5.0 shorthands and defaults.

Upstream parses the workflow into sdk-go's model (defaults applied), marshals it, reads it
into the operator's `Flow` struct and marshals again (gen-manifest.md §2.5). The functions
here produce the same result directly on plain dicts. They never raise on odd input:
values of an unexpected type are passed through unchanged (validation reports them).
`normalize_flow` is idempotent: normalising its own output changes nothing.
"""

from __future__ import annotations

from typing import Any

# Top-level keys the operator's Flow struct keeps; everything else (id, key, name,
# description, version, specVersion, expressionLang, extensions, unknown keys) is
# moved to metadata or dropped.
FLOW_KEYS = ("start", "annotations", "dataInputSchema", "secrets", "constants", "timeouts",
             "errors", "keepActive", "metadata", "autoRetries", "auth", "states", "events",
             "functions", "retries")

# Keys moved out of the flow into the SonataFlow's metadata (name: metadata.name; others annotations).
MOVED_KEYS = {"id": "metadata.name", "description": "sonataflow.org/description",
              "version": "sonataflow.org/version", "expressionLang": "sonataflow.org/expressionLang"}

_INT32 = (-(1 << 31), (1 << 31) - 1)


def normalize_object(value: Any) -> Any:
    """Free-form values (arguments, data, metadata) as sdk-go `Object` prints them:
    a float with an integral value in int32 range becomes an int (2.0 -> 2)."""
    if isinstance(value, dict):
        return {k: normalize_object(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalize_object(v) for v in value]
    if isinstance(value, float) and value.is_integer() and _INT32[0] <= value <= _INT32[1]:
        return int(value)
    return value


def _drop_empty(obj: dict, *keys: str) -> dict:
    """omitempty: drop keys whose value is "", None, False, {} or []."""
    for key in keys:
        if key in obj and obj[key] in ("", None, False, {}, []):
            del obj[key]
    return obj


def _produce_events(events: Any) -> Any:
    if not isinstance(events, list):
        return events
    result = []
    for event in events:
        if isinstance(event, dict):
            event = dict(event)
            event["data"] = normalize_object(event["data"]) if "data" in event else None
            if "contextAttributes" in event:
                event["contextAttributes"] = normalize_object(event["contextAttributes"])
            _drop_empty(event, "contextAttributes")
        result.append(event)
    return result


def normalize_transition(value: Any) -> Any:
    """`transition: X` -> `{nextState: X}`; produceEvents get `data: null`."""
    if isinstance(value, str):
        return {"nextState": value}
    if isinstance(value, dict):
        value = dict(value)
        if "produceEvents" in value:
            value["produceEvents"] = _produce_events(value["produceEvents"])
        return _drop_empty(value, "compensate", "produceEvents")
    return value


def normalize_end(value: Any) -> Any:
    """`end: true` -> `{terminate: true}`; continueAs string -> {workflowId}."""
    if value is True:
        return {"terminate": True}
    if isinstance(value, dict):
        value = dict(value)
        if "produceEvents" in value:
            value["produceEvents"] = _produce_events(value["produceEvents"])
        if isinstance(value.get("continueAs"), str):
            value["continueAs"] = {"workflowId": value["continueAs"]}
        return _drop_empty(value, "terminate", "compensate", "produceEvents")
    return value


def _transition_or_end(obj: dict) -> dict:
    if "transition" in obj:
        obj["transition"] = normalize_transition(obj["transition"])
        if obj["transition"] in (None, ""):
            del obj["transition"]
    if "end" in obj:
        obj["end"] = normalize_end(obj["end"])
        if obj["end"] in (None, False):
            del obj["end"]
    return obj


def normalize_function_ref(value: Any) -> Any:
    if isinstance(value, str):
        return {"refName": value, "invoke": "sync"}
    if isinstance(value, dict):
        value = dict(value)
        value.setdefault("invoke", "sync")
        if "arguments" in value:
            value["arguments"] = normalize_object(value["arguments"])
        return _drop_empty(value, "arguments", "selectionSet")
    return value


def normalize_subflow_ref(value: Any) -> Any:
    if isinstance(value, str):
        value = {"workflowId": value}
    if isinstance(value, dict):
        value = dict(value)
        value.setdefault("invoke", "sync")
        value.setdefault("onParentComplete", "terminate")
        return _drop_empty(value, "version")
    return value


def normalize_event_ref(value: Any) -> Any:
    if isinstance(value, dict):
        value = dict(value)
        value.setdefault("invoke", "sync")
        value.setdefault("resultEventRef", "")
        for key in ("data", "contextAttributes"):
            if key in value:
                value[key] = normalize_object(value[key])
        return _drop_empty(value, "data", "contextAttributes", "resultEventTimeout")
    return value


def normalize_action(action: Any) -> Any:
    """Every action: functionRef/subFlowRef/eventRef defaults, actionDataFilter.useResults true."""
    if not isinstance(action, dict):
        return action
    action = dict(action)
    if "functionRef" in action:
        action["functionRef"] = normalize_function_ref(action["functionRef"])
    if "subFlowRef" in action:
        action["subFlowRef"] = normalize_subflow_ref(action["subFlowRef"])
    if "eventRef" in action:
        action["eventRef"] = normalize_event_ref(action["eventRef"])
    data_filter = action.get("actionDataFilter")
    data_filter = dict(data_filter) if isinstance(data_filter, dict) else {}
    # A true-default boolean cannot be false after the round trip (gen-manifest.md §2.5).
    data_filter["useResults"] = True
    action["actionDataFilter"] = data_filter
    return _drop_empty(action, "nonRetryableErrors", "retryableErrors", "sleep", "retryRef", "condition")


def _actions(value: Any) -> Any:
    return [normalize_action(a) for a in value] if isinstance(value, list) else value


def _event_data_filter(value: Any) -> dict:
    data_filter = dict(value) if isinstance(value, dict) else {}
    data_filter["useData"] = True
    return data_filter


def _state_exec_timeout(value: Any) -> Any:
    return {"total": value} if isinstance(value, str) else value


def _state_timeouts(value: Any) -> Any:
    if isinstance(value, dict):
        value = dict(value)
        if "stateExecTimeout" in value:
            value["stateExecTimeout"] = _state_exec_timeout(value["stateExecTimeout"])
        return _drop_empty(value, "stateExecTimeout", "actionExecTimeout", "eventTimeout", "branchExecTimeout")
    return value


def _on_errors(value: Any) -> Any:
    if not isinstance(value, list):
        return value
    return [_transition_or_end(dict(item)) if isinstance(item, dict) else item for item in value]


def normalize_state(state: Any) -> Any:
    """One state: common fields, then the type-specific defaults."""
    if not isinstance(state, dict):
        return state
    state = _transition_or_end(dict(state))
    kind = state.get("type")
    if "onErrors" in state:
        state["onErrors"] = _on_errors(state["onErrors"])
    if "timeouts" in state:
        state["timeouts"] = _state_timeouts(state["timeouts"])
    if "metadata" in state:
        state["metadata"] = normalize_object(state["metadata"])
    _drop_empty(state, "usedForCompensation", "compensatedBy", "onErrors", "metadata", "timeouts",
                "stateDataFilter")

    if kind == "operation":
        state.setdefault("actionMode", "sequential")
        state["actions"] = _actions(state.get("actions", []))
    elif kind == "event":
        state["exclusive"] = True  # true-default boolean
        on_events = state.get("onEvents")
        if isinstance(on_events, list):
            state["onEvents"] = [_on_event(item) for item in on_events]
    elif kind == "callback":
        if "action" in state:
            state["action"] = normalize_action(state["action"])
        if "eventDataFilter" in state:
            state["eventDataFilter"] = _event_data_filter(state["eventDataFilter"])
    elif kind == "parallel":
        state.setdefault("completionType", "allOf")
        state.setdefault("numCompleted", 0)
        branches = state.get("branches")
        if isinstance(branches, list):
            state["branches"] = [_branch(b) for b in branches]
    elif kind == "foreach":
        state.setdefault("mode", "parallel")
        state["actions"] = _actions(state.get("actions", []))
    elif kind == "switch":
        for key in ("dataConditions", "eventConditions"):
            conditions = state.get(key)
            if isinstance(conditions, list):
                state[key] = [_condition(c, key == "eventConditions") for c in conditions]
        if isinstance(state.get("defaultCondition"), dict):
            state["defaultCondition"] = _transition_or_end(dict(state["defaultCondition"]))
        elif isinstance(state.get("defaultCondition"), str):
            state["defaultCondition"] = {"transition": {"nextState": state["defaultCondition"]}}
    elif kind == "inject":
        if "data" in state:
            state["data"] = normalize_object(state["data"])
    return state


def _on_event(item: Any) -> Any:
    if not isinstance(item, dict):
        return item
    item = dict(item)
    item.setdefault("actionMode", "sequential")
    item["eventDataFilter"] = _event_data_filter(item.get("eventDataFilter"))
    if "actions" in item:
        item["actions"] = _actions(item["actions"])
    return item


def _branch(branch: Any) -> Any:
    if not isinstance(branch, dict):
        return branch
    branch = dict(branch)
    if "actions" in branch:
        branch["actions"] = _actions(branch["actions"])
    if "timeouts" in branch:
        branch["timeouts"] = _state_timeouts(branch["timeouts"])
    return branch


def _condition(condition: Any, is_event: bool) -> Any:
    if not isinstance(condition, dict):
        return condition
    condition = _transition_or_end(dict(condition))
    if is_event and "eventDataFilter" in condition:
        condition["eventDataFilter"] = _event_data_filter(condition["eventDataFilter"])
    if "metadata" in condition:
        condition["metadata"] = normalize_object(condition["metadata"])
    return _drop_empty(condition, "metadata", "name")


def _event_definition(event: Any) -> Any:
    if not isinstance(event, dict):
        return event
    event = dict(event)
    event.setdefault("kind", "consumed")
    event["dataOnly"] = True  # true-default boolean
    if "metadata" in event:
        event["metadata"] = normalize_object(event["metadata"])
    return _drop_empty(event, "source", "correlation", "metadata")


def _function(function: Any) -> Any:
    if not isinstance(function, dict):
        return function
    function = dict(function)
    if function.get("type") in (None, ""):
        function["type"] = "rest"
    if "metadata" in function:
        function["metadata"] = normalize_object(function["metadata"])
    return _drop_empty(function, "authRef", "metadata")


def _retry(retry: Any) -> Any:
    if not isinstance(retry, dict):
        return retry
    retry = dict(retry)
    retry.setdefault("maxAttempts", 1)
    retry.setdefault("jitter", 0)
    return _drop_empty(retry, "delay", "maxDelay", "increment", "multiplier")


def _auth(auth: Any) -> Any:
    if not isinstance(auth, dict):
        return auth
    auth = dict(auth)
    auth.setdefault("scheme", "basic")
    return auth


def _start(value: Any, states: Any) -> Any:
    if isinstance(value, str):
        return {"stateName": value}
    if isinstance(value, dict):
        value = dict(value)
        schedule = value.get("schedule")
        if isinstance(schedule, str):
            value["schedule"] = {"interval": schedule}
        elif isinstance(schedule, dict) and isinstance(schedule.get("cron"), str):
            value["schedule"] = {**schedule, "cron": {"expression": schedule["cron"]}}
        return value
    if value is None and isinstance(states, list) and states and isinstance(states[0], dict):
        name = states[0].get("name")
        if isinstance(name, str):
            return {"stateName": name}
    return value


def _workflow_timeouts(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    value = dict(value)
    exec_timeout = value.get("workflowExecTimeout")
    if isinstance(exec_timeout, str):
        value["workflowExecTimeout"] = {"duration": exec_timeout}
    elif isinstance(exec_timeout, dict):
        exec_timeout = dict(exec_timeout)
        if exec_timeout.get("duration") in (None, ""):
            exec_timeout["duration"] = "unlimited"
        value["workflowExecTimeout"] = _drop_empty(exec_timeout, "interrupt", "runBefore")
    if "stateExecTimeout" in value:
        value["stateExecTimeout"] = _state_exec_timeout(value["stateExecTimeout"])
    return value


def _data_input_schema(value: Any) -> Any:
    if isinstance(value, str):
        return {"schema": value, "failOnValidationErrors": True}
    if isinstance(value, dict):
        value = dict(value)
        value.setdefault("failOnValidationErrors", True)
        return value
    return value


def _each(value: Any, function) -> Any:
    return [function(item) for item in value] if isinstance(value, list) else value


def normalize_flow(workflow: dict) -> dict:
    """spec.flow for a parsed workflow (a dict as read from the .sw.yaml/.sw.json).

    Pure: `workflow` is not modified. File-valued top-level sections (`functions: file.json`)
    must have been inlined by the caller (render_manifests does that).
    """
    if not isinstance(workflow, dict):
        return {}
    flow: dict = {key: workflow[key] for key in FLOW_KEYS if key in workflow}
    states = flow.get("states")
    flow["start"] = _start(flow.get("start"), states)
    if flow["start"] is None:
        del flow["start"]
    if "states" in flow:
        flow["states"] = _each(states, normalize_state)
    if "functions" in flow:
        flow["functions"] = _each(flow["functions"], _function)
    if "events" in flow:
        flow["events"] = _each(flow["events"], _event_definition)
    if "retries" in flow:
        flow["retries"] = _each(flow["retries"], _retry)
    if "auth" in flow:
        flow["auth"] = _each(flow["auth"], _auth)
    if "dataInputSchema" in flow:
        flow["dataInputSchema"] = _data_input_schema(flow["dataInputSchema"])
    if "timeouts" in flow:
        flow["timeouts"] = _workflow_timeouts(flow["timeouts"])
    if "metadata" in flow:
        flow["metadata"] = normalize_object(flow["metadata"])
    return _drop_empty(flow, "keepActive", "autoRetries", "annotations", "metadata", "secrets",
                       "errors", "retries", "auth", "events", "functions", "constants", "timeouts")
