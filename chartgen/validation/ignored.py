"""Settings SonataFlow silently drops or changes (see reference gen-manifest.md §2.5 and §5).

The manifest generator round-trips the workflow through Go structs: a boolean whose default
is true cannot be false there (`omitempty` drops it, the second read puts `true` back), and
`constants` do not survive. Only the main workflow goes through that conversion; subflows
are mounted verbatim, so these rules apply to it alone (except the specVersion check).
"""

from __future__ import annotations

from chartgen.validation.base import WorkflowCheck, as_list, describe, iter_actions

_TRUE_DEFAULTS = "the manifest generator drops false and the operator turns it back into true"


def _false_flag(check: WorkflowCheck, pointer: tuple, holder, key: str, meaning: str) -> None:
    if isinstance(holder, dict) and holder.get(key) is False:
        check.warning(pointer + (key,), f"{describe(pointer, check.data)}: {key}: false is ignored: "
                      f"{_TRUE_DEFAULTS} ({meaning}); restructure the workflow instead", "ignored-setting")


def check(check: WorkflowCheck) -> None:
    data = check.data
    spec_version = data.get("specVersion")
    if spec_version is None:
        check.warning(("id",) if "id" in data else (), "specVersion is missing; the 0.8 specification "
                      "requires it (add specVersion: \"0.8\")", "spec-version")
    elif not (isinstance(spec_version, str) and (spec_version == "0.8" or spec_version.startswith("0.8."))):
        check.warning(("specVersion",), f"specVersion {spec_version!r}: SonataFlow runs Serverless Workflow 0.8 "
                      "and reads this workflow as 0.8 regardless", "spec-version")
    if not check.is_main:
        return
    if "constants" in data:
        check.warning(("constants",), "constants are not carried into the SonataFlow resource by the manifest "
                      "generator (upstream cannot round-trip them): $CONST is empty in the cluster; use "
                      "application.properties or inject state data instead", "ignored-setting")
    for pointer, event in check.items("events"):
        _false_flag(check, pointer, event, "dataOnly", "the whole CloudEvent is never passed, only its data")
    for pointer, state in check.states():
        _false_flag(check, pointer, state, "exclusive", "any one of the events triggers the state, not all")
        for i, group in enumerate(as_list(state.get("onEvents"))):
            if isinstance(group, dict):
                _false_flag(check, pointer + ("onEvents", i, "eventDataFilter"), group.get("eventDataFilter"),
                            "useData", "the event data is merged into the state data")
        for i, condition in enumerate(as_list(state.get("eventConditions"))):
            if isinstance(condition, dict):
                _false_flag(check, pointer + ("eventConditions", i, "eventDataFilter"),
                            condition.get("eventDataFilter"), "useData", "the event data is merged")
        _false_flag(check, pointer + ("eventDataFilter",), state.get("eventDataFilter"), "useData",
                    "the event data is merged into the state data")
        for action_pointer, action in iter_actions(pointer, state):
            _false_flag(check, action_pointer + ("actionDataFilter",), action.get("actionDataFilter"),
                        "useResults", "the action results are merged into the state data")
