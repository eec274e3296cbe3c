"""normalize_flow: the sdk-go/operator normalisation table of gen-manifest.md §2.5, rule by rule."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chartgen.manifests import normalize_flow


def flow_of(states, **top):
    return normalize_flow({"id": "x", "states": states, **top})


def state_of(state, **top):
    return flow_of([state], **top)["states"][0]


OP = {"name": "S", "type": "operation", "end": True}


def test_moved_and_dropped_top_level_keys():
    flow = normalize_flow({
        "id": "x", "key": "k", "name": "N", "description": "d", "version": "1", "specVersion": "0.8",
        "expressionLang": "jq", "extensions": [{"extensionid": "e"}], "unknownThing": 1,
        "annotations": ["a"], "keepActive": True, "autoRetries": True, "secrets": ["s"],
        "metadata": {"m": "v"}, "errors": [{"name": "e", "code": "500"}],
        "states": [{"name": "S", "type": "inject", "data": {}, "end": True}],
    })
    assert set(flow) == {"annotations", "keepActive", "autoRetries", "secrets", "metadata", "errors", "start",
                         "states"}


def test_false_and_empty_top_level_values_are_omitted():
    flow = normalize_flow({"id": "x", "keepActive": False, "autoRetries": False, "functions": [],
                           "states": [{"name": "S", "type": "inject", "end": True}]})
    assert "keepActive" not in flow and "autoRetries" not in flow and "functions" not in flow


@pytest.mark.parametrize("start, expected", [
    ("S", {"stateName": "S"}),
    ({"stateName": "S"}, {"stateName": "S"}),
    (None, {"stateName": "First"}),
    ({"stateName": "S", "schedule": "R/PT2H"}, {"stateName": "S", "schedule": {"interval": "R/PT2H"}}),
    ({"stateName": "S", "schedule": {"cron": "0 * * * *"}},
     {"stateName": "S", "schedule": {"cron": {"expression": "0 * * * *"}}}),
])
def test_start(start, expected):
    workflow = {"id": "x", "states": [{"name": "First", "type": "inject", "end": True}]}
    if start is not None:
        workflow["start"] = start
    assert normalize_flow(workflow)["start"] == expected


def test_transition_and_end_shorthands():
    state = state_of({"name": "S", "type": "inject", "transition": "T"})
    assert state["transition"] == {"nextState": "T"}
    assert state_of({"name": "S", "type": "inject", "end": True})["end"] == {"terminate": True}
    assert "end" not in state_of({"name": "S", "type": "inject", "end": False, "transition": "T"})


def test_produce_events_get_data_null():
    state = state_of({"name": "S", "type": "inject",
                      "end": {"produceEvents": [{"eventRef": "e"}, {"eventRef": "f", "data": "${ . }"}]}})
    assert state["end"]["produceEvents"] == [{"eventRef": "e", "data": None}, {"eventRef": "f", "data": "${ . }"}]
    state = state_of({"name": "S", "type": "inject",
                      "transition": {"nextState": "T", "produceEvents": [{"eventRef": "e"}]}})
    assert state["transition"] == {"nextState": "T", "produceEvents": [{"eventRef": "e", "data": None}]}


def test_continue_as_shorthand():
    state = state_of({"name": "S", "type": "inject", "end": {"continueAs": "other"}})
    assert state["end"] == {"continueAs": {"workflowId": "other"}}


def test_function_type_defaults_to_rest():
    flow = flow_of([OP], functions=[{"name": "a", "operation": "specs/x.yaml#op"},
                                    {"name": "b", "type": "expression", "operation": "."}])
    assert [f["type"] for f in flow["functions"]] == ["rest", "expression"]


@pytest.mark.parametrize("ref, expected", [
    ("f", {"refName": "f", "invoke": "sync"}),
    ({"refName": "f"}, {"refName": "f", "invoke": "sync"}),
    ({"refName": "f", "arguments": {}}, {"refName": "f", "invoke": "sync"}),
    ({"refName": "f", "invoke": "async", "arguments": {"n": 2.0}},
     {"refName": "f", "invoke": "async", "arguments": {"n": 2}}),
])
def test_function_ref(ref, expected):
    action = state_of({**OP, "actions": [{"functionRef": ref}]})["actions"][0]
    assert action["functionRef"] == expected
    assert action["actionDataFilter"] == {"useResults": True}


@pytest.mark.parametrize("ref, expected", [
    ("w", {"workflowId": "w", "invoke": "sync", "onParentComplete": "terminate"}),
    ({"workflowId": "w", "invoke": "async", "onParentComplete": "continue", "version": "1"},
     {"workflowId": "w", "invoke": "async", "onParentComplete": "continue", "version": "1"}),
])
def test_subflow_ref(ref, expected):
    assert state_of({**OP, "actions": [{"subFlowRef": ref}]})["actions"][0]["subFlowRef"] == expected


def test_event_ref_action_defaults():
    action = state_of({**OP, "actions": [{"eventRef": {"triggerEventRef": "t"}}]})["actions"][0]
    assert action["eventRef"] == {"triggerEventRef": "t", "resultEventRef": "", "invoke": "sync"}


def test_action_data_filter_use_results_is_always_true():
    actions = state_of({**OP, "actions": [
        {"functionRef": "f", "actionDataFilter": {"useResults": False, "toStateData": ".x"}},
        {"functionRef": "f", "actionDataFilter": {"results": ".r"}},
    ]})["actions"]
    assert actions[0]["actionDataFilter"] == {"useResults": True, "toStateData": ".x"}
    assert actions[1]["actionDataFilter"] == {"useResults": True, "results": ".r"}


def test_operation_state_action_mode():
    assert state_of({**OP, "actions": []})["actionMode"] == "sequential"
    assert state_of({**OP, "actionMode": "parallel", "actions": []})["actionMode"] == "parallel"


def test_event_definitions():
    flow = flow_of([OP], events=[
        {"name": "a", "type": "t", "source": ""},
        {"name": "b", "type": "t", "kind": "produced", "dataOnly": False, "source": "s"},
    ])
    assert flow["events"] == [
        {"name": "a", "type": "t", "kind": "consumed", "dataOnly": True},
        {"name": "b", "type": "t", "kind": "produced", "dataOnly": True, "source": "s"},
    ]


def test_event_state():
    state = state_of({"name": "S", "type": "event", "exclusive": False, "end": True,
                      "onEvents": [{"eventRefs": ["e"], "actions": [{"functionRef": "f"}]},
                                   {"eventRefs": ["g"], "eventDataFilter": {"useData": False, "data": ".d"},
                                    "actionMode": "parallel"}]})
    assert state["exclusive"] is True
    first, second = state["onEvents"]
    assert first["actionMode"] == "sequential" and first["eventDataFilter"] == {"useData": True}
    assert first["actions"][0]["functionRef"] == {"refName": "f", "invoke": "sync"}
    assert second["actionMode"] == "parallel" and second["eventDataFilter"] == {"useData": True, "data": ".d"}


def test_callback_state():
    state = state_of({"name": "S", "type": "callback", "eventRef": "e", "end": True,
                      "action": {"functionRef": "f"}, "eventDataFilter": {"toStateData": ".x"}})
    assert state["action"] == {"functionRef": {"refName": "f", "invoke": "sync"},
                               "actionDataFilter": {"useResults": True}}
    assert state["eventDataFilter"] == {"toStateData": ".x", "useData": True}
    assert "eventDataFilter" not in state_of({"name": "S", "type": "callback", "eventRef": "e", "end": True,
                                              "action": {"functionRef": "f"}})


def test_switch_state():
    state = state_of({"name": "S", "type": "switch",
                      "dataConditions": [{"condition": ".a", "transition": "A"}, {"condition": ".b", "end": True}],
                      "defaultCondition": {"transition": "D"}})
    assert state["dataConditions"] == [{"condition": ".a", "transition": {"nextState": "A"}},
                                       {"condition": ".b", "end": {"terminate": True}}]
    assert state["defaultCondition"] == {"transition": {"nextState": "D"}}
    events = state_of({"name": "S", "type": "switch", "defaultCondition": {"end": True},
                       "eventConditions": [{"eventRef": "e", "transition": "A", "eventDataFilter": {}}]})
    assert events["eventConditions"] == [{"eventRef": "e", "transition": {"nextState": "A"},
                                          "eventDataFilter": {"useData": True}}]
    assert events["defaultCondition"] == {"end": {"terminate": True}}


def test_parallel_state():
    state = state_of({"name": "S", "type": "parallel", "end": True,
                      "branches": [{"name": "b", "actions": [{"functionRef": "f"}]}]})
    assert state["completionType"] == "allOf" and state["numCompleted"] == 0
    assert state["branches"][0]["actions"][0]["actionDataFilter"] == {"useResults": True}
    kept = state_of({"name": "S", "type": "parallel", "end": True, "completionType": "atLeast",
                     "numCompleted": 2, "branches": []})
    assert (kept["completionType"], kept["numCompleted"]) == ("atLeast", 2)


def test_foreach_state():
    state = state_of({"name": "S", "type": "foreach", "inputCollection": ".i", "end": True,
                      "actions": [{"functionRef": "f"}]})
    assert state["mode"] == "parallel" and "actionMode" not in state
    assert state_of({"name": "S", "type": "foreach", "mode": "sequential", "end": True})["mode"] == "sequential"


def test_inject_data_numbers():
    state = state_of({"name": "S", "type": "inject", "end": True,
                      "data": {"a": 2.0, "b": 1.5, "c": [3.0, "x"], "d": True, "e": 10 ** 12}})
    assert state["data"] == {"a": 2, "b": 1.5, "c": [3, "x"], "d": True, "e": 10 ** 12}
    assert isinstance(state["data"]["a"], int)


def test_retries():
    flow = flow_of([OP], retries=[{"name": "r", "delay": "PT1S"}, {"name": "s", "maxAttempts": 3, "jitter": 0.1}])
    assert flow["retries"] == [{"name": "r", "delay": "PT1S", "maxAttempts": 1, "jitter": 0},
                               {"name": "s", "maxAttempts": 3, "jitter": 0.1}]


def test_data_input_schema():
    assert normalize_flow({"id": "x", "dataInputSchema": "s.json", "states": [OP]})["dataInputSchema"] == \
        {"schema": "s.json", "failOnValidationErrors": True}
    assert normalize_flow({"id": "x", "dataInputSchema": {"schema": "s.json", "failOnValidationErrors": False},
                           "states": [OP]})["dataInputSchema"] == {"schema": "s.json", "failOnValidationErrors": False}


def test_timeouts():
    flow = flow_of([{**OP, "timeouts": {"stateExecTimeout": "PT1M", "actionExecTimeout": "PT5S"}}],
                   timeouts={"workflowExecTimeout": "PT1H", "stateExecTimeout": "PT2M"})
    assert flow["timeouts"] == {"workflowExecTimeout": {"duration": "PT1H"}, "stateExecTimeout": {"total": "PT2M"}}
    assert flow["states"][0]["timeouts"] == {"stateExecTimeout": {"total": "PT1M"}, "actionExecTimeout": "PT5S"}
    flow = flow_of([OP], timeouts={"workflowExecTimeout": {"interrupt": True}})
    assert flow["timeouts"] == {"workflowExecTimeout": {"duration": "unlimited", "interrupt": True}}


def test_on_errors():
    state = state_of({**OP, "onErrors": [{"errorRef": "e", "transition": "H"}, {"errorRefs": ["a"], "end": True}]})
    assert state["onErrors"] == [{"errorRef": "e", "transition": {"nextState": "H"}},
                                 {"errorRefs": ["a"], "end": {"terminate": True}}]


def test_false_state_flags_are_omitted():
    state = state_of({**OP, "usedForCompensation": False, "metadata": {}})
    assert "usedForCompensation" not in state and "metadata" not in state


def test_auth_scheme_default():
    assert flow_of([OP], auth=[{"name": "a", "properties": {"username": "u"}}])["auth"][0]["scheme"] == "basic"


def test_input_is_not_modified():
    workflow = {"id": "x", "start": "S", "states": [{**OP, "actions": [{"functionRef": "f"}]}]}
    before = copy.deepcopy(workflow)
    normalize_flow(workflow)
    assert workflow == before


@pytest.mark.parametrize("junk", [None, [], "text", {"states": "nope"}, {"states": [1, "x", None]},
                                  {"states": [{"type": "operation", "actions": "x"}], "functions": {"a": 1}},
                                  {"states": [{"type": "switch", "dataConditions": [1], "defaultCondition": 3}]}])
def test_odd_input_never_raises(junk):
    normalize_flow(junk)


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                       max_size=3), max_leaves=10)
state_types = st.sampled_from(["operation", "event", "callback", "switch", "parallel", "foreach", "inject", "sleep"])
state_keys = st.sampled_from(["actions", "transition", "end", "onEvents", "branches", "dataConditions",
                              "eventConditions", "defaultCondition", "action", "data", "timeouts", "onErrors"])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.fixed_dictionaries({"name": st.text(max_size=3), "type": state_types},
                                      optional={"x": json_values}).flatmap(
    lambda base: st.dictionaries(state_keys, json_values, max_size=4).map(lambda extra: {**extra, **base})),
    max_size=3))
def test_normalisation_is_total_and_idempotent(states):
    flow = normalize_flow({"id": "x", "states": states})
    assert normalize_flow(flow) == flow
