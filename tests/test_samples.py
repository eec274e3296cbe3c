"""The project's own sample workflows (workflow_sources/) are valid, coherent and runnable.

`chartgen validate --strict` is the main check. The tests below also check the samples
independently of the validator, with the real tools (jq, jsonschema), so a validator bug
cannot hide a broken sample: every jq expression compiles, every transition and reference
resolves, every operationId exists in its spec, every schema is valid and its $refs resolve,
the result-building expressions produce output that matches the declared output schema, and
mta honours the Orchestrator's `workflowOptions` contract.
"""

from __future__ import annotations

import json
import posixpath
import re
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import pytest

from conftest import REPO, need

from chartgen import names, sources
from chartgen.yamlio import load_document

SOURCES = REPO / "workflow_sources"
SHARED_DIR = SOURCES / "shared"
SAMPLES = ("greeting", "mta", "move2kube", "escalation")
WORKFLOW_OPTIONS = ("currentVersion", "upgradeOptions", "migrationOptions", "newOptions",
                    "continuationOptions", "otherOptions")
JQ_ARGS = {"WORKFLOW": {"instanceId": "0b7a6f0e-1111-2222-3333-444455556666"},
           "SECRET": {}, "CONST": {}}


# --------------------------------------------------------------------------- helpers

@lru_cache(maxsize=None)
def folder(name: str) -> sources.WorkflowFolder:
    return sources.load_workflow(SOURCES / name)


def workflow_files(wf: sources.WorkflowFolder):
    """(rel path inside the workflow, parsed data) of the main workflow and its subflows."""
    yield wf.main.rel, wf.main.document.data
    for resource in wf.resources:
        if resource.file.rel.endswith(sources.MAIN_SUFFIXES):
            yield resource.file.rel, resource.file.document.data


def files_by_rel(wf: sources.WorkflowFolder) -> dict[str, sources.SourceFile]:
    return {f.rel: f for f in wf.files()}


def _strip_expr(value: str) -> str:
    value = value.strip()
    if value.startswith("${") and value.endswith("}"):
        return value[2:-1].strip()
    return value


def _argument_expressions(node, where):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _argument_expressions(value, f"{where}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _argument_expressions(value, f"{where}[{i}]")
    elif isinstance(node, str) and node.strip().startswith("${"):
        yield where, _strip_expr(node)


def _action_expressions(action: dict, where: str):
    ref = action.get("functionRef")
    if isinstance(ref, dict):
        yield from _argument_expressions(ref.get("arguments", {}), f"{where}.arguments")
    for key in ("fromStateData", "results", "toStateData"):
        value = (action.get("actionDataFilter") or {}).get(key)
        if isinstance(value, str):
            yield f"{where}.actionDataFilter.{key}", _strip_expr(value)
    if "condition" in action:
        yield f"{where}.condition", _strip_expr(action["condition"])


def jq_expressions(data: dict):
    """(where, expression) for every jq expression of a workflow document."""
    for function in data.get("functions", []):
        if function.get("type") == "expression":
            yield f"function {function['name']}", _strip_expr(function["operation"])
    for state in data.get("states", []):
        where = f"state {state['name']}"
        for key in ("input", "output"):
            value = (state.get("stateDataFilter") or {}).get(key)
            if value:
                yield f"{where}.stateDataFilter.{key}", _strip_expr(value)
        for i, condition in enumerate(state.get("dataConditions", [])):
            yield f"{where}.dataConditions[{i}]", _strip_expr(condition["condition"])
        for i, condition in enumerate(state.get("eventConditions", [])):
            for key, value in (condition.get("eventDataFilter") or {}).items():
                if isinstance(value, str):
                    yield f"{where}.eventConditions[{i}].{key}", _strip_expr(value)
        for key, value in (state.get("eventDataFilter") or {}).items():
            if isinstance(value, str):
                yield f"{where}.eventDataFilter.{key}", _strip_expr(value)
        actions = list(state.get("actions", []))
        if "action" in state:
            actions.append(state["action"])
        for i, action in enumerate(actions):
            yield from _action_expressions(action, f"{where}.actions[{i}]")


def transitions(state: dict):
    """Names of the states a state can move to."""
    def target(value):
        return value.get("nextState") if isinstance(value, dict) else value

    found = []
    if "transition" in state:
        found.append(target(state["transition"]))
    for key in ("dataConditions", "eventConditions", "onErrors"):
        for item in state.get(key, []):
            if "transition" in item:
                found.append(target(item["transition"]))
    default = state.get("defaultCondition") or {}
    if "transition" in default:
        found.append(target(default["transition"]))
    return found


def can_end(state: dict) -> bool:
    ends = [state.get("end")] + [c.get("end") for c in state.get("dataConditions", [])
                                 + state.get("eventConditions", [])]
    ends.append((state.get("defaultCondition") or {}).get("end"))
    return any(ends)


def jq_compile(expression: str):
    import jq

    return jq.compile(expression, args=JQ_ARGS)


def run_jq(expression: str, data, secret=None):
    import jq

    args = dict(JQ_ARGS, SECRET=secret or {})
    return jq.compile(expression, args=args).input_value(data).first()


def function_named(data: dict, name: str) -> dict:
    return next(f for f in data["functions"] if f["name"] == name)


def output_schema_validator(wf: sources.WorkflowFolder):
    """A jsonschema validator of the workflow's output schema, with file $refs resolved."""
    from jsonschema.validators import validator_for
    from referencing import Registry, Resource

    by_rel = files_by_rel(wf)
    registry = Registry().with_resources(
        (f"file:///wf/{rel}", Resource.from_contents(json.loads(f.text)))
        for rel, f in by_rel.items() if rel.endswith(".json"))
    extension = next(e for e in wf.workflow["extensions"] if e["extensionid"] == "workflow-output-schema")
    rel = extension["outputSchema"]
    schema = json.loads(by_rel[rel].text)
    schema = dict(schema, **{"$id": f"file:///wf/{rel}"})
    return validator_for(schema)(schema, registry=registry)


# --------------------------------------------------------------------------- the CLI

@pytest.fixture(scope="module")
def validate_command():
    """The validator is a separate stage; these samples must pass it once it exists."""
    module = REPO / "chartgen" / "commands" / "validate.py"
    need(module.exists(), "chartgen/commands/validate.py is not written yet")
    return [sys.executable, "-m", "chartgen", "validate"]


def test_all_samples_pass_validate_strict(validate_command):
    paths = [f"workflow_sources/{name}" for name in SAMPLES]
    proc = subprocess.run(validate_command + ["--strict", *paths], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"findings:\n{proc.stdout}{proc.stderr}"
    assert "Traceback" not in proc.stderr


def test_validate_json_output_has_no_findings(validate_command):
    proc = subprocess.run(validate_command + ["--strict", "--format", "json",
                                              *[f"workflow_sources/{n}" for n in SAMPLES]],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    document = json.loads(proc.stdout)
    assert document["ok"] is True
    findings = document["findings"]
    assert [f for f in findings if f["severity"] in ("error", "warning")] == []


def test_validate_default_covers_every_sample(validate_command):
    """`chartgen validate` with no argument reads every folder of workflow_sources/."""
    proc = subprocess.run(validate_command + ["--strict"], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# --------------------------------------------------------------------------- layout

def test_samples_are_the_discovered_folders():
    found = [p.name for p in sources.discover(SOURCES, SHARED_DIR)]
    assert sorted(found) == sorted(SAMPLES)


@pytest.mark.parametrize("name", SAMPLES)
def test_folder_reads_cleanly(name):
    wf = folder(name)
    assert wf.findings == ()
    assert wf.main is not None and wf.main.rel == f"{name}.sw.yaml"
    assert wf.workflow_id == name, "folder name and workflow id must agree"
    assert names.is_dns1123_label(names.workflow_name(wf.workflow_id))
    assert wf.workflow.get("specVersion") == "0.8"
    assert (SOURCES / name / "README.md").is_file()
    for item in wf.files():
        assert names.is_configmap_key(item.path.name), item.rel


@pytest.mark.parametrize("name", SAMPLES)
def test_every_data_file_parses_without_findings(name):
    for item in folder(name).files():
        if item.rel.endswith(sources.DATA_SUFFIXES + sources.MAIN_SUFFIXES):
            document = load_document(item.content, item.display)
            assert document.findings == (), [f.format() for f in document.findings]
            assert item.content.endswith(b"\n"), f"{item.rel}: no trailing newline"


@pytest.mark.parametrize("name", SAMPLES)
def test_orchestrator_annotation(name):
    expected = "workflow-type/assessment" if name == "mta" else "workflow-type/infrastructure"
    assert folder(name).workflow["annotations"] == [expected]


def test_workflow_ids_unique_across_repository():
    ids = [data["id"] for name in SAMPLES for _rel, data in workflow_files(folder(name))]
    assert len(ids) == len(set(ids)), ids


# --------------------------------------------------------------------------- structure

@pytest.mark.parametrize("name", SAMPLES)
def test_states_transitions_and_references_resolve(name):
    wf = folder(name)
    for rel, data in workflow_files(wf):
        states = {s["name"]: s for s in data["states"]}
        assert len(states) == len(data["states"]), f"{rel}: duplicate state names"
        assert data["start"] in states, rel
        functions = {f["name"] for f in data.get("functions", [])}
        events = {e["name"] for e in data.get("events", [])}
        errors = {e["name"] for e in data.get("errors", [])}
        retries = {r["name"] for r in data.get("retries", [])}
        for state in states.values():
            for target in transitions(state):
                assert target in states, f"{rel}: {state['name']} -> unknown state {target}"
            assert transitions(state) or can_end(state), f"{rel}: {state['name']} neither ends nor moves on"
            actions = list(state.get("actions", [])) + ([state["action"]] if "action" in state else [])
            for action in actions:
                ref = action.get("functionRef")
                if ref is not None:
                    assert (ref["refName"] if isinstance(ref, dict) else ref) in functions
                if "retryRef" in action:
                    assert action["retryRef"] in retries
                for error in action.get("retryableErrors", []) + action.get("nonRetryableErrors", []):
                    assert error in errors
            if "eventRef" in state:
                assert state["eventRef"] in events
            for condition in state.get("eventConditions", []):
                assert condition["eventRef"] in events
            for handler in state.get("onErrors", []):
                for error in handler.get("errorRefs", [handler.get("errorRef")]):
                    assert error in errors, f"{rel}: unknown error {error}"

        # every state is reachable from the start state
        seen, todo = set(), [data["start"]]
        while todo:
            current = todo.pop()
            if current not in seen:
                seen.add(current)
                todo.extend(transitions(states[current]))
        assert seen == set(states), f"{rel}: unreachable {sorted(set(states) - seen)}"


@pytest.mark.parametrize("name", SAMPLES)
def test_every_jq_expression_compiles(name):
    count = 0
    for rel, data in workflow_files(folder(name)):
        for where, expression in jq_expressions(data):
            try:
                jq_compile(expression)
            except ValueError as exc:
                pytest.fail(f"{rel}: {where}: {expression!r} does not compile: {exc}")
            count += 1
    assert count >= 3, "the sample should exercise jq"


@pytest.mark.parametrize("name", SAMPLES)
def test_operations_name_existing_operation_ids(name):
    wf = folder(name)
    by_rel = files_by_rel(wf)
    for rel, data in workflow_files(wf):
        base = posixpath.dirname(rel)
        for function in data.get("functions", []):
            if function.get("type", "rest") != "rest":
                continue
            spec_ref, _, operation_id = function["operation"].partition("#")
            spec_rel = posixpath.normpath(posixpath.join(base, spec_ref))
            assert spec_rel in by_rel, f"{rel}: {function['name']}: {spec_rel} is not part of the workflow"
            spec = by_rel[spec_rel].document.data
            assert spec["openapi"].startswith("3.")
            ids = {op.get("operationId") for path in spec["paths"].values()
                   for method, op in path.items() if isinstance(op, dict)}
            assert operation_id in ids, f"{rel}: {operation_id} not in {spec_rel}"


@pytest.mark.parametrize("name", SAMPLES)
def test_openapi_local_refs_resolve(name):
    for item in folder(name).files():
        if "/specs/" not in f"/{item.rel}":
            continue
        data = item.document.data
        for target, _pointer in _refs(data):
            assert target.startswith("#/"), f"{item.rel}: only local refs expected, got {target}"
            node = data
            for part in target[2:].split("/"):
                node = node[part]


def _refs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value, None
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


@pytest.mark.parametrize("name", SAMPLES)
def test_schemas_are_valid_and_refs_resolve(name):
    from jsonschema.validators import validator_for

    wf = folder(name)
    by_rel = files_by_rel(wf)
    data = wf.workflow
    input_schema = data["dataInputSchema"]
    input_rel = input_schema["schema"] if isinstance(input_schema, dict) else input_schema
    output_rel = next(e["outputSchema"] for e in data["extensions"]
                      if e["extensionid"] == "workflow-output-schema")
    assert input_rel in by_rel and output_rel in by_rel
    for rel, item in by_rel.items():
        if not rel.endswith(".json"):
            continue
        schema = json.loads(item.text)
        validator_for(schema).check_schema(schema)
        for target, _ in _refs(schema):
            file_part, _, fragment = target.partition("#")
            target_rel = posixpath.normpath(posixpath.join(posixpath.dirname(rel), file_part)) if file_part else rel
            assert target_rel in by_rel, f"{rel}: $ref {target} does not resolve inside the workflow"
            node = json.loads(by_rel[target_rel].text)
            for part in filter(None, fragment.split("/")):
                node = node[part]


@pytest.mark.parametrize("name", SAMPLES)
def test_sample_input_is_accepted_by_input_schema(name):
    from jsonschema.validators import validator_for

    wf = folder(name)
    by_rel = files_by_rel(wf)
    schema = json.loads(by_rel[wf.workflow["dataInputSchema"]["schema"]].text)
    validator_for(schema)(schema).validate(SAMPLE_INPUT[name])
    assert list(validator_for(schema)(schema).iter_errors({})), "required inputs must be declared"


SAMPLE_INPUT = {
    "greeting": {"name": "Ada", "language": "French"},
    "mta": {"repositoryURL": "https://github.com/konveyor/example-applications.git",
            "recipients": ["user:default/jdoe"]},
    "move2kube": {"repositoryURL": "https://github.com/konveyor/move2kube-demos.git",
                  "workspaceId": "a46b802d-511c-4097-a5cb-76c892b48d71", "recipients": ["group:default/platform"]},
    "escalation": {"namespace": "team-payments", "requester": "user:default/jdoe",
                   "approvers": ["group:default/platform"], "managers": ["user:default/boss"]},
}


# --------------------------------------------------------------------------- behaviour of the jq

def test_greeting_switch_and_result():
    data = folder("greeting").workflow
    switch = data["states"][0]
    state = {"name": "Ada", "language": "Spanish"}
    taken = [c["transition"] for c in switch["dataConditions"] if run_jq(c["condition"], state)]
    assert taken == ["GreetInSpanish"]
    state["greeting"] = "Hola"
    state["message"] = run_jq(function_named(data, "renderGreeting")["operation"], state)
    assert state["message"] == "Hola, Ada!"
    out = run_jq(function_named(data, "greetingResult")["operation"], state)
    assert out["result"]["message"] == "Hola, Ada!"
    final = run_jq(data["states"][-1]["stateDataFilter"]["output"], dict(state, **out))
    output_schema_validator(folder("greeting")).validate(final)


def test_greeting_template_placeholders():
    """The mustache-style template puts `{{` into the flow itself (spec.flow), not only a ConfigMap."""
    render = function_named(folder("greeting").workflow, "renderGreeting")["operation"]
    assert "{{" in render
    state = {"name": "Ada", "greeting": "Bonjour", "template": "{{ greeting }} {{name}}, {{name}}!"}
    assert run_jq(render, state) == "Bonjour Ada, Ada!"


def _mta_state(**extra):
    state = dict(SAMPLE_INPUT["mta"], pollCount=3, application={"id": 7, "name": "example-applications"},
                 task={"id": 12, "state": "Succeeded"},
                 issues=[{"category": "mandatory", "effort": 3, "incidents": 2},
                         {"category": "optional", "effort": 1, "incidents": 5},
                         {"category": "potential", "effort": 0}])
    state.update(extra)
    return state


def test_mta_success_recommends_move2kube_and_matches_output_schema():
    wf = folder("mta")
    data = wf.workflow
    state = _mta_state()
    state["summary"] = run_jq(function_named(data, "summarizeIssues")["operation"], state)
    assert state["summary"] == {"mandatory": 1, "optional": 1, "potential": 1, "effort": 11}
    read_issues = next(s for s in data["states"] if s["name"] == "ReadIssues")
    state = run_jq(read_issues["stateDataFilter"]["output"], state,
                   secret={"mta_ui_url": "https://mta.example.com"})
    assert state["reportURL"] == "https://mta.example.com/applications/7/analysis-details"
    out = run_jq(function_named(data, "successResult")["operation"], state)
    options = out["workflowOptions"]
    assert set(options) == set(WORKFLOW_OPTIONS)
    assert isinstance(options["currentVersion"], dict)
    assert options["migrationOptions"][0]["id"] == "move2kube"
    output_schema_validator(wf).validate(out)


@pytest.mark.parametrize("task_state, polls, expected", [
    ("Failed", 4, "the analysis task ended in state Failed"),
    ("Running", 180, "the analysis took longer than 30 minutes"),
])
def test_mta_failure_keeps_the_workflow_options_contract(task_state, polls, expected):
    wf = folder("mta")
    data = wf.workflow
    failed = next(s for s in data["states"] if s["name"] == "AnalysisFailed")
    state = run_jq(failed["stateDataFilter"]["input"], _mta_state(task={"id": 12, "state": task_state},
                                                                  pollCount=polls))
    assert state["exitMessage"] == expected
    out = run_jq(function_named(data, "failureResult")["operation"], state)
    assert out["workflowOptions"] == {"currentVersion": {}, **{k: [] for k in WORKFLOW_OPTIONS[1:]}}
    output_schema_validator(wf).validate(out)


def test_mta_analysis_loop_conditions():
    check = next(s for s in folder("mta").workflow["states"] if s["name"] == "CheckAnalysis")

    def route(state):
        taken = [c["transition"] for c in check["dataConditions"] if run_jq(c["condition"], state)]
        return taken[0] if taken else check["defaultCondition"]["transition"]

    assert route({"task": {"state": "Running"}, "pollCount": 1}) == "WaitForAnalysis"
    assert route({"task": {"state": "Succeeded"}, "pollCount": 1}) == "ReadIssues"
    assert route({"task": {"state": "Canceled"}, "pollCount": 1}) == "AnalysisFailed"
    assert route({"task": {"state": "Running"}, "pollCount": 180}) == "AnalysisFailed"


def test_mta_finds_registered_application():
    find = folder("mta").workflow["states"][0]
    state = dict(SAMPLE_INPUT["mta"], applications=[
        {"id": 1, "name": "other", "repository": {"url": "https://example.com/other.git"}},
        {"id": 7, "name": "example", "repository": {"url": SAMPLE_INPUT["mta"]["repositoryURL"]}}])
    out = run_jq(find["stateDataFilter"]["output"], state)
    assert out["application"]["id"] == 7 and "applications" not in out
    assert run_jq(find["stateDataFilter"]["output"], dict(SAMPLE_INPUT["mta"], applications=[]))["application"] is None


def test_mta_workflow_options_schema_declares_the_contract():
    wf = folder("mta")
    schema = json.loads(files_by_rel(wf)["schemas/workflow-options-schema.json"].text)
    assert sorted(schema["required"]) == sorted(WORKFLOW_OPTIONS)
    validator = output_schema_validator(wf)
    good = {"result": {"message": "ok"},
            "workflowOptions": {"currentVersion": {}, **{k: [] for k in WORKFLOW_OPTIONS[1:]}}}
    validator.validate(good)
    bad = json.loads(json.dumps(good))
    bad["workflowOptions"]["migrationOptions"] = [{"id": "move2kube"}]  # name missing
    assert list(validator.iter_errors(bad))


def test_recommended_workflows_exist_in_repository():
    expression = function_named(folder("mta").workflow, "successResult")["operation"]
    out = run_jq(expression, dict(_mta_state(), summary={"mandatory": 0, "optional": 0, "effort": 0},
                                  reportURL="https://mta/x"))
    recommended = {o["id"] for key in WORKFLOW_OPTIONS[1:] for o in out["workflowOptions"][key]}
    recommended |= {o["id"] for o in out["result"]["nextWorkflows"]}
    assert recommended and recommended <= {folder(n).workflow_id for n in SAMPLES}


def test_move2kube_callback_waits_for_a_consumed_event():
    data = folder("move2kube").workflow
    callback = next(s for s in data["states"] if s["type"] == "callback")
    event = next(e for e in data["events"] if e["name"] == callback["eventRef"])
    assert event["kind"] == "consumed" and event["source"] and event["type"]
    assert re.fullmatch(r"PT\d+[HMS]", callback["timeouts"]["eventTimeout"])
    check = next(s for s in data["states"] if s["name"] == callback["transition"])
    timed_out = [c["transition"] for c in check["dataConditions"] if run_jq(c["condition"], {"saved": None})]
    assert timed_out[0] == "SaveTimedOut", "a callback that times out must not be reported as success"


def test_escalation_subflow_timeout_and_error_path():
    wf = folder("escalation")
    data = wf.workflow
    subflows = {d["id"]: rel for rel, d in workflow_files(wf) if rel.startswith("subflows/")}
    refs = [a["subFlowRef"] for s in data["states"] for a in s.get("actions", []) if "subFlowRef" in a]
    assert refs and all(r["workflowId"] in subflows for r in refs)
    assert data["timeouts"]["workflowExecTimeout"]["duration"]
    assert any("eventTimeout" in s.get("timeouts", {}) for s in data["states"])
    handlers = [h for s in data["states"] for h in s.get("onErrors", [])]
    assert handlers and {h["transition"] for h in handlers} == {"ReportError"}
    assert next(s for s in data["states"] if s["name"] == "ReportError").get("end")


def test_escalation_ticket_text_uses_jira_markup():
    """`{{ }}` inside a jq string: charts must carry it through Helm unchanged."""
    wf = folder("escalation")
    subflow = dict(workflow_files(wf))["subflows/escalation-ticket.sw.yaml"]
    arguments = subflow["states"][0]["actions"][0]["functionRef"]["arguments"]["fields"]
    text = run_jq(_strip_expr(arguments["description"]),
                  dict(SAMPLE_INPUT["escalation"]))
    assert text.startswith("Namespace {{team-payments}} requested by {{user:default/jdoe}}")


def test_helm_sensitive_braces_are_present():
    """At least one jq expression has `}}` and one has `{{`, so chart tests prove they survive Helm."""
    expressions = [e for name in SAMPLES for _rel, data in workflow_files(folder(name))
                   for _where, e in jq_expressions(data)]
    assert any("}}" in e for e in expressions)
    assert any("{{" in e for e in expressions)


# --------------------------------------------------------------------------- shared/ and properties

def test_shared_files_are_used_by_several_workflows():
    users: dict[str, set[str]] = {}
    for name in SAMPLES:
        for resource in folder(name).resources:
            if resource.workflow_path.startswith("shared/"):
                users.setdefault(resource.file.rel, set()).add(name)
    on_disk = {f"shared/{p.relative_to(SHARED_DIR).as_posix()}" for p in SHARED_DIR.rglob("*") if p.is_file()}
    assert set(users) == on_disk, "every shared file is used, and only shared files travel as shared/"
    for rel, who in users.items():
        assert len(who) >= 2, f"{rel} is used only by {who}"
    assert users["shared/schemas/workflow-result-schema.json"] == set(SAMPLES)


def _properties(item: sources.SourceFile | None) -> dict[str, str]:
    import javaproperties

    return javaproperties.loads(item.text) if item is not None else {}


@pytest.mark.parametrize("name", SAMPLES)
def test_properties_are_consistent(name):
    wf = folder(name)
    props = _properties(wf.properties)
    secrets = _properties(wf.secret_properties)
    # secret.properties holds keys only: no value is ever committed
    assert all(value == "" for value in secrets.values()), "secret.properties must not hold values"
    for key in secrets:
        names.env_names(key)  # raises for keys that cannot become environment variables
    # every ${VAR} without a default is provided by secret.properties (or the pod would not start)
    for value in props.values():
        for var, default in re.findall(r"\$\{([A-Za-z0-9_.]+)(:[^}]*)?\}", value):
            assert default or var in secrets, f"{name}: ${{{var}}} has no default and no secret key"
    # every REST client named in the properties is a spec the workflow uses, and vice versa
    clients = {m.group(1) for key in props for m in [re.match(r"quarkus\.rest-client\.([^.]+)\.url$", key)] if m}
    used = {re.sub(r"[^A-Za-z0-9]", "_", posixpath.basename(f["operation"].split("#")[0]))
            for _rel, data in workflow_files(wf) for f in data.get("functions", [])
            if f.get("type", "rest") == "rest"}
    assert clients == used
    # every $SECRET.x that the jq reads is defined
    read = {m for _rel, data in workflow_files(wf) for _w, e in jq_expressions(data)
            for m in re.findall(r"\$SECRET\.([A-Za-z0-9_]+)", e)}
    assert read <= set(props), f"{name}: $SECRET keys without a property: {read - set(props)}"


@pytest.mark.parametrize("name", SAMPLES)
def test_argfile_is_build_arg_lines(name):
    path = SOURCES / name / "argfile.conf"
    lines = [ln for ln in path.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    assert dict(ln.split("=", 1) for ln in lines)["FLOW_NAME"] == name
    assert all(re.match(r"^[A-Z_][A-Z0-9_]*=", ln) for ln in lines)


@pytest.mark.parametrize("name, function, state", [
    ("move2kube", "successResult", dict(SAMPLE_INPUT["move2kube"], targetBranch="m2k", project={"id": "p1"})),
    ("move2kube", "failureResult", dict(SAMPLE_INPUT["move2kube"], exitMessage="planning did not finish",
                                        planPolls=60)),
    ("escalation", "decisionResult", dict(SAMPLE_INPUT["escalation"], decision={"approved": True, "by": "ann"})),
    ("escalation", "decisionResult", dict(SAMPLE_INPUT["escalation"], decision={"approved": False},
                                          ticket={"key": "OPS-1", "url": "https://jira/browse/OPS-1"})),
])
def test_result_functions_match_output_schema(name, function, state):
    wf = folder(name)
    out = run_jq(function_named(wf.workflow, function)["operation"], state,
                 secret={"move2kube_url": "http://m2k"})
    assert out["result"]["message"]
    output_schema_validator(wf).validate(out)


@pytest.mark.parametrize("name", ["escalation"])
def test_final_state_filters_match_output_schema(name):
    """States that build the result in their output filter produce what the schema declares."""
    wf = folder(name)
    state = dict(SAMPLE_INPUT[name], ticket={"key": "OPS-1", "url": "https://jira/browse/OPS-1"})
    for item in wf.workflow["states"]:
        output = (item.get("stateDataFilter") or {}).get("output", "")
        if item.get("end") and output.startswith("{result: {"):
            output_schema_validator(wf).validate(run_jq(output, state))


# --------------------------------------------------------------------------- rendered, as a user deploys them

@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """`chartgen render` of every sample: {name: {kind/name: object}}."""
    need((REPO / "chartgen" / "commands" / "render.py").exists(), "chartgen/commands/render.py is not written yet")
    from chartgen.yamlio import load_data

    out = {}
    for name in SAMPLES:
        target = tmp_path_factory.mktemp("render") / name
        proc = subprocess.run([sys.executable, "-m", "chartgen", "render", f"workflow_sources/{name}",
                               "--out", str(target)], cwd=REPO, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        objects = [load_data(p.read_text()) for p in sorted(target.glob("*.yaml"))]
        out[name] = {f"{o['kind']}/{o['metadata']['name']}": o for o in objects}
    return out


@pytest.mark.parametrize("name", SAMPLES)
def test_rendered_sample_carries_its_shared_files(rendered, name):
    objects = rendered[name]
    flow = objects[f"SonataFlow/{name}"]
    mounted = {}
    for entry in flow["spec"]["resources"]["configMaps"]:
        data = objects[f"ConfigMap/{entry['configMap']['name']}"]["data"]
        for key in data:
            mounted[f"{entry['workflowPath']}/{key}"] = data[key]
    expected = {r.file.rel for r in folder(name).resources}
    assert set(mounted) == expected
    assert "shared/schemas/workflow-result-schema.json" in mounted
    if name != "greeting":
        assert "shared/specs/notifications-openapi.yaml" in mounted
    for rel, text in mounted.items():
        assert text == files_by_rel(folder(name))[rel].text, f"{rel} must be mounted verbatim"


@pytest.mark.parametrize("name", SAMPLES)
def test_rendered_secret_keys_only_in_the_secret(rendered, name):
    objects = rendered[name]
    keys = set(_properties(folder(name).secret_properties))
    secret = objects.get(f"Secret/{name}-secrets")
    assert (secret is None) == (not keys)
    if secret:
        assert set(secret["stringData"]) == keys
    props = objects[f"ConfigMap/{name}-props"]["data"]["application.properties"]
    assert props == folder(name).properties.text


def test_rendered_flow_keeps_template_braces(rendered):
    flow = rendered["greeting"]["SonataFlow/greeting"]["spec"]["flow"]
    render = next(f for f in flow["functions"] if f["name"] == "renderGreeting")
    assert render["operation"] == function_named(folder("greeting").workflow, "renderGreeting")["operation"]
    assert "{{greeting}}, {{name}}!" in render["operation"]
