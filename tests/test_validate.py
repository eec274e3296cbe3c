"""Validation rules, one bad input each (tests/fixtures/validate/*) plus folders built in tmp_path."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from chartgen.sources import load_workflow
from chartgen.validation import RepositoryContext, validate_folder, validate_repository

FIXTURES = Path(__file__).parent / "fixtures" / "validate"

# fixture folder -> {code: (severity, file the finding names, text the message contains)}
EXPECTED = {
    "yaml-syntax": {"yaml-syntax": ("error", "flow.sw.yaml", "did not find expected")},
    "json-syntax": {"json-syntax": ("error", "flow.sw.json", "JSON syntax error")},
    "duplicate-key": {"duplicate-key": ("error", "flow.sw.yaml", "duplicate key 'greeting'")},
    "version-number": {"version-number": ("error", "flow.sw.yaml", 'quote it (version: "1.0")')},
    "not-utf8": {"encoding": ("error", "flow.sw.yaml", "not UTF-8")},
    "no-workflow": {"no-workflow": ("error", "no-workflow", "no main workflow")},
    "several-workflows": {"several-workflows": ("error", "several-workflows", "2 main workflows")},
    "schema-errors": {
        "sw-duration": ("error", "flow.sw.yaml", "'PT5' is not an ISO 8601 duration"),
        "sw-required": ("error", "flow.sw.yaml", "state 'Work': required key 'actions' is missing"),
        "sw-enum": ("error", "flow.sw.yaml", "'teleport' is not one of"),
    },
    "references": {
        "unknown-function": ("error", "flow.sw.yaml", "function 'logg' is not defined (did you mean 'log'?)"),
        "unknown-retry": ("error", "flow.sw.yaml", "retry 'twice' is not defined"),
        "unknown-error": ("error", "flow.sw.yaml", "error 'fialure' is not defined"),
        "unknown-event": ("error", "flow.sw.yaml", "event 'approvedd' is not defined"),
        "unknown-state": ("error", "flow.sw.yaml", "transition target 'Nowhere' does not exist"),
        "self-transition": ("error", "flow.sw.yaml", "state 'Begin' transitions to itself"),
        "no-end": ("error", "flow.sw.yaml", "state 'Begin' can never reach an end"),
        "unreachable-state": ("warning", "flow.sw.yaml", "state 'Orphan' is unreachable"),
    },
    "openapi": {
        "unknown-operation": ("error", "flow.sw.yaml", "defines no operationId 'deletePet'"),
        "missing-file": ("error", "flow.sw.yaml", "'specs/nothere.yaml' not found"),
        "path-escape": ("error", "flow.sw.yaml", "points outside the workflow folder"),
        "not-openapi": ("error", "flow.sw.yaml", "specs/notes.yaml is not an OpenAPI document"),
        "remote-spec": ("warning", "flow.sw.yaml", "https://example.com/openapi.yaml"),
    },
    "dangling-shared-ref": {
        "missing-shared-file": ("error", "output.json", "shared folder file shared/schemas/workflow-result-schema.json"),
        "dangling-ref": ("error", "input.json", "'#/definitions/name' does not resolve"),
    },
    "invalid-json-schema": {"invalid-schema": ("error", "input.json", "not a valid JSON Schema (Draft7)")},
    "jq-errors": {"jq-syntax": ("error", "flow.sw.yaml", "nosuchfunction/0 is not defined")},
    "assessment-options": {
        "workflow-options": ("error", "flow.sw.yaml", "workflowOptions lacks 'otherOptions'"),
        "unknown-workflow-option": ("warning", "flow.sw.yaml", "'no-such-workflow'"),
    },
    "k8s-name": {
        "k8s-name": ("error", "hello.sw.yaml", "workflow id 'hello_world'"),
        "configmap-key": ("error", "my schema.json", "not a valid ConfigMap key"),
    },
    "secret-key": {
        "secret-key": ("error", "secret.properties", "key 'bad$key' is not a valid Kubernetes Secret key"),
        "secret-env-duplicate": ("error", "secret.properties", "'my.key' and 'my-key' give the same environment"),
    },
    "ignored-settings": {
        "ignored-setting": ("warning", "flow.sw.yaml", "useResults: false is ignored"),
        "spec-version": ("warning", "flow.sw.yaml", "specVersion '0.7'"),
        "k8s-name-case": ("warning", "flow.sw.yaml", "runs as 'flow'"),
        "workflow-type": ("warning", "flow.sw.yaml", "treats this workflow as infrastructure"),
        "yaml11-boolean": ("warning", "flow.sw.yaml", "unquoted 'on'"),
    },
}


def _validate(name: str, repository: RepositoryContext | None = RepositoryContext()):
    return validate_folder(load_workflow(FIXTURES / name), repository=repository)


def test_every_fixture_has_expectations():
    assert sorted(p.name for p in FIXTURES.iterdir() if p.is_dir()) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_findings(name):
    findings = _validate(name)
    for code, (severity, file_name, text) in EXPECTED[name].items():
        matching = [f for f in findings if f.code == code]
        assert matching, f"{name}: no {code} finding in {[f.format() for f in findings]}"
        assert any(f.severity == severity and file_name in f.path and text in f.message for f in matching), \
            [f.format() for f in matching]
    # Sorted and de-duplicated, as the API promises.
    assert findings == tuple(sorted(set(findings), key=lambda f: (f.path, f.line, f.column, f.code, f.message)))


def test_positions_point_at_the_offending_node():
    findings = _validate("references")
    by_code = {f.code: f for f in findings}
    assert (by_code["unknown-function"].line, by_code["unknown-function"].column) == (24, 22)
    assert (by_code["self-transition"].line, by_code["self-transition"].column) == (29, 17)
    durations = [(f.line, f.column) for f in _validate("schema-errors") if f.code == "sw-duration"]
    assert durations == [(7, 24), (11, 15)]  # timeouts.workflowExecTimeout, state 'Wait' duration


def test_all_problems_reported_at_once():
    codes = {f.code for f in _validate("references")}
    assert {"unknown-function", "unknown-retry", "unknown-error", "unknown-event", "unknown-state",
            "self-transition", "no-end", "unreachable-state"} <= codes


def test_secret_values_never_appear():
    findings = _validate("secret-key")
    text = "\n".join(f.format() for f in findings)
    assert "topsecretvalue" not in text
    assert "bad$key" in text
    profile = [f for f in findings if "%dev.quarkus.x" in f.message]
    assert profile and "cannot be Secret keys" in profile[0].message and profile[0].line == 5


def test_jq_accepts_sonataflow_variables_and_foreach_param():
    findings = _validate("jq-errors")
    jq = [f for f in findings if f.code == "jq-syntax"]
    assert len(jq) == 4  # double, condition, message, results; not $SECRET/$WORKFLOW, not the output filter
    assert not any("$SECRET" in f.message or "$WORKFLOW" in f.message for f in jq)


def test_workflow_options_from_jq_literal():
    findings = _validate("assessment-options")
    assert any(f.code == "workflow-options" and "upgradeOptions must be a list" in f.message and f.line == 27
               for f in findings)


def test_workflow_options_output_schema():
    findings = [f for f in _validate("assessment-options") if f.path.endswith("output.json")]
    messages = sorted(f.message for f in findings)
    assert len(messages) == 2
    assert "lacks otherOptions" in messages[0] and "types upgradeOptions as object" in messages[1]


def test_ignored_settings_are_warnings_only():
    findings = _validate("ignored-settings")
    assert findings and all(f.severity == "warning" for f in findings)
    flagged = sorted(f.message.split(": false is ignored")[0].rsplit(" ", 1)[-1] for f in findings
                     if "false is ignored" in f.message)
    assert flagged == ["dataOnly", "exclusive", "useData", "useResults"]
    assert any(f.code == "yaml11-boolean" and "'on'" in f.message for f in findings)


# ------------------------------------------------------------- folders built in tmp_path
def _write(root: Path, files: dict[str, str | bytes]) -> Path:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


def _flow(workflow_id="flow", extra="", states=None):
    states = states or """
  - name: Start
    type: inject
    data: {}
    end: true
"""
    return (f'id: {workflow_id}\nspecVersion: "0.8"\nversion: "1.0"\n'
            f'annotations: ["workflow-type/infrastructure"]\nstart: Start\n{extra}states:{states}')


def test_clean_folder_has_no_findings(tmp_path):
    folder = _write(tmp_path / "clean", {"clean.sw.yaml": _flow("clean")})
    assert validate_folder(load_workflow(folder)) == ()


def test_shared_overlay_resolves_refs(tmp_path):
    _write(tmp_path, {
        "wf/wf.sw.yaml": _flow("wf", "extensions:\n  - extensionid: workflow-output-schema\n"
                                     "    outputSchema: schemas/out.json\n"),
        "wf/schemas/out.json": json.dumps({"$schema": "http://json-schema.org/draft-07/schema#",
                                           "properties": {"r": {"$ref": "../shared/schemas/result.json#/definitions/r"}}}),
        "shared/schemas/result.json": json.dumps({"definitions": {"r": {"type": "string"}}}),
    })
    assert validate_folder(load_workflow(tmp_path / "wf")) == ()
    # A fragment the shared file lacks is reported at the $ref.
    (tmp_path / "shared/schemas/result.json").write_text(json.dumps({"definitions": {}}))
    findings = validate_folder(load_workflow(tmp_path / "wf"))
    assert [f.code for f in findings] == ["dangling-ref"]
    assert findings[0].path.endswith("out.json") and "has no #/definitions/r" in findings[0].message


def test_several_root_workflows_find_the_shared_files_they_use(tmp_path):
    """A folder with two root workflows is told so once; each is still checked as the main one,
    and a shared file one of them uses is found (not "missing"), a missing one is reported."""
    uses = "extensions:\n  - extensionid: workflow-output-schema\n    outputSchema: {}\n"
    _write(tmp_path, {
        "wf/a.sw.yaml": _flow("a", uses.format("shared/schemas/result.json")),
        "wf/b.sw.yaml": _flow("b", uses.format("shared/schemas/gone.json")),
        "shared/schemas/result.json": json.dumps({"type": "object"}),
    })
    folder = load_workflow(tmp_path / "wf")
    assert folder.main is None and [c.rel for c in folder.candidates] == ["a.sw.yaml", "b.sw.yaml"]
    assert [r.file.rel for r in folder.resources] == ["shared/schemas/result.json"]
    findings = [f for f in validate_folder(folder) if f.is_error]
    assert sorted((Path(f.path).name, f.code) for f in findings) == [
        ("b.sw.yaml", "missing-shared-file"), ("wf", "several-workflows")], findings


def test_symlink_out_of_folder_is_reported(tmp_path):
    outside = _write(tmp_path / "outside", {"spec.yaml": "openapi: 3.0.0\npaths: {}\n"})
    folder = _write(tmp_path / "wf", {"wf.sw.yaml": _flow("wf", "functions:\n  - name: f\n"
                                                              "    operation: specs/spec.yaml#op\n")})
    (folder / "specs").mkdir()
    os.symlink(outside / "spec.yaml", folder / "specs" / "spec.yaml")
    codes = {f.code for f in validate_folder(load_workflow(folder))}
    assert "path-escape" in codes


def test_configmap_over_one_mebibyte(tmp_path):
    big = "x" * (600 * 1024)
    folder = _write(tmp_path / "wf", {"wf.sw.yaml": _flow("wf"),
                                      "specs/a.json": json.dumps({"a": big}),
                                      "specs/b.json": json.dumps({"b": big})})
    findings = [f for f in validate_folder(load_workflow(folder)) if f.code == "configmap-size"]
    assert findings and "over the Kubernetes limit of 1,048,576 bytes" in findings[0].message


def test_big_configmap_warns_about_client_side_apply(tmp_path):
    folder = _write(tmp_path / "wf", {"wf.sw.yaml": _flow("wf"),
                                      "specs/a.json": json.dumps({"a": "x" * (300 * 1024)})})
    codes = {f.code: f.severity for f in validate_folder(load_workflow(folder))}
    assert codes.get("configmap-apply-size") == "warning"


def test_key_without_id(tmp_path):
    folder = _write(tmp_path / "wf", {"wf.sw.yaml": _flow("wf").replace("id: wf", "key: wf")})
    codes = {f.code for f in validate_folder(load_workflow(folder))}
    assert "key-without-id" in codes


def test_switch_needs_default_condition_and_one_way_out(tmp_path):
    states = """
  - name: Start
    type: switch
    dataConditions:
      - condition: .a
        transition: Done
        end: true
  - name: Done
    type: inject
    data: {}
"""
    folder = _write(tmp_path / "wf", {"wf.sw.yaml": _flow("wf", states=states)})
    findings = validate_folder(load_workflow(folder))
    messages = " | ".join(f.message for f in findings)
    assert "needs a defaultCondition" in messages
    assert "has both 'transition' and 'end'" in messages
    assert "state 'Done' has neither 'transition' nor 'end'" in messages


def test_cycle_without_exit(tmp_path):
    states = """
  - name: Start
    type: inject
    data: {}
    transition: Again
  - name: Again
    type: sleep
    duration: PT1S
    transition: Start
"""
    folder = _write(tmp_path / "wf", {"wf.sw.yaml": _flow("wf", states=states)})
    no_end = [f for f in validate_folder(load_workflow(folder)) if f.code == "no-end"]
    assert len(no_end) == 2 and "Start -> Again -> Start" in no_end[0].message


def test_compensation_states_need_no_end(tmp_path):
    states = """
  - name: Start
    type: inject
    data: {}
    compensatedBy: Undo
    end:
      compensate: true
  - name: Undo
    type: inject
    data: {}
    usedForCompensation: true
"""
    folder = _write(tmp_path / "wf", {"wf.sw.yaml": _flow("wf", states=states)})
    assert validate_folder(load_workflow(folder)) == ()


def test_subflows_are_checked_and_ids_unique_in_folder(tmp_path):
    folder = _write(tmp_path / "wf", {
        "wf.sw.yaml": _flow("wf", states="""
  - name: Start
    type: operation
    actions:
      - subFlowRef: child
    end: true
"""),
        "subflows/child.sw.yaml": _flow("child").replace("end: true", "transition: Missing"),
        "subflows/copy.sw.yaml": _flow("child"),
    })
    findings = validate_folder(load_workflow(folder))
    assert any(f.code == "unknown-state" and f.path.endswith("child.sw.yaml") for f in findings)
    assert any(f.code == "duplicate-id" for f in findings)
    assert not any(f.code == "unknown-subflow" for f in findings)


def test_repository_rules(tmp_path):
    _write(tmp_path, {
        "a/a.sw.yaml": _flow("same"),
        "b/b.sw.yaml": _flow("Same"),
        "c/c.sw.yaml": _flow("assess").replace("workflow-type/infrastructure", "workflow-type/assessment").replace(
            "data: {}", "data:\n      workflowOptions:\n        currentVersion: {}\n        upgradeOptions: []\n"
            "        migrationOptions: []\n        newOptions:\n          - {id: same, name: Same}\n"
            "          - {id: ghost, name: Ghost}\n        continuationOptions: []\n        otherOptions: []"),
    })
    folders = [load_workflow(tmp_path / name) for name in ("a", "b", "c")]
    results = validate_repository(folders)
    assert any(f.code == "duplicate-id" for f in results["a"])
    assert any(f.code == "duplicate-id" for f in results["b"])
    # validate_folder with a repository context (what `chartgen build` does) finds the same duplicate.
    context = RepositoryContext.from_folders(folders)
    assert any(f.code == "duplicate-id" and "also used by b" in f.message
               for f in validate_folder(folders[0], repository=context))
    assert not any(f.code == "duplicate-id" for f in validate_folder(folders[2], repository=context))
    options = [f for f in results["c"] if f.code == "unknown-workflow-option"]
    assert len(options) == 1 and "'ghost'" in options[0].message
    assert not any(f.is_error for f in results["c"])


def test_remote_alias_and_classpath(tmp_path):
    folder = _write(tmp_path / "wf", {
        "wf.sw.yaml": _flow("wf", "extensions:\n  - extensionid: workflow-uri-definitions\n    definitions:\n"
                                  "      notify: https://example.com/notify.yaml\n"
                                  "functions:\n  - name: notifier\n    operation: notify#send\n"
                                  "  - name: local\n    operation: classpath:specs/api.yaml#op\n"),
        "specs/api.yaml": "openapi: 3.0.0\npaths:\n  /x:\n    post:\n      operationId: op\n",
    })
    findings = validate_folder(load_workflow(folder))
    assert [f.code for f in findings] == ["remote-spec"]
    assert "https://example.com/notify.yaml" in findings[0].message


def test_never_crashes_on_odd_shapes(tmp_path):
    odd = [
        "[]", "42", "id: x\nstates: 7\n", "id: x\nstates: [1, null, {}]\n", "id: x\nfunctions: {a: 1}\nstates: []\n",
        "id: x\nstart: {stateName: [1]}\nstates:\n  - name: [a]\n    type: switch\n    dataConditions: 3\n",
        "id: x\nstates:\n  - {name: a, type: operation, actions: [{functionRef: {refName: 3}}], onErrors: [1, {}]}\n",
        "id: x\nstates:\n  - {name: a, type: foreach, inputCollection: 1, iterationParam: 'bad name', end: true}\n",
        "id: x\ndataInputSchema: {schema: {type: 3}}\nextensions: [1, {extensionid: workflow-output-schema, "
        "outputSchema: 5}]\nstates: [{name: a, type: inject, data: {}, end: true}]\n",
        "", "---\n...\n",
    ]
    for i, text in enumerate(odd):
        folder = _write(tmp_path / f"odd{i}", {"w.sw.yaml": text})
        findings = validate_folder(load_workflow(folder))
        assert findings, text
        assert not [f.format() for f in findings if f.code == "internal-error"], text


def test_random_workflow_shapes_never_crash(tmp_path_factory):
    """Arbitrary values under the keys a workflow uses: findings, never exceptions or internal errors."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    keys = st.sampled_from(["id", "name", "type", "states", "functions", "events", "errors", "retries",
                            "start", "end", "transition", "actions", "functionRef", "refName", "arguments",
                            "dataConditions", "eventConditions", "defaultCondition", "condition", "onErrors",
                            "errorRef", "onEvents", "eventRefs", "stateDataFilter", "output", "operation",
                            "dataInputSchema", "extensions", "workflowOptions", "annotations", "nextState",
                            "compensatedBy", "usedForCompensation", "iterationParam", "branches", "timeouts"])
    scalars = st.one_of(st.none(), st.booleans(), st.integers(-3, 3),
                        st.sampled_from(["a", "${ .x }", "${ .x[ }", "specs/x.yaml#op", "../x.json",
                                         "operation", "switch", "inject", "workflow-type/assessment", "PT1S"]))
    values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                           st.dictionaries(keys, inner, max_size=4)), max_leaves=12)
    root = tmp_path_factory.mktemp("fuzz")

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.dictionaries(keys, values, max_size=6))
    def run(document):
        folder = root / "wf"
        folder.mkdir(exist_ok=True)
        (folder / "wf.sw.json").write_text(json.dumps(document), encoding="utf-8")
        findings = validate_folder(load_workflow(folder), repository=RepositoryContext())
        assert not [f.format() for f in findings if f.code == "internal-error"]

    run()


def test_unknown_keys_suggest_the_known_one(tmp_path):
    folder = _write(tmp_path / "wf", {"wf.sw.yaml": _flow("wf", states="""
  - name: Start
    type: inject
    data: {}
    end: true
    transtion: Start
""")})
    findings = [f for f in validate_folder(load_workflow(folder)) if f.code == "sw-unknown-key"]
    assert len(findings) == 1 and "unknown key 'transtion'" in findings[0].message
    assert "did you mean 'transition'?" in findings[0].message and findings[0].severity == "warning"


def test_definitions_from_files_and_more_reference_rules(tmp_path):
    folder = _write(tmp_path / "wf", {
        "wf.sw.yaml": _flow("wf", extra="functions: specs/functions.json\nevents:\n"
                                        "  - {name: in, source: s, type: t}\n"
                                        "  - {name: out, type: t2, kind: produced}\n", states="""
  - name: Start
    type: operation
    actions:
      - functionRef: f1
        eventRef: {triggerEventRef: out}
      - functionRef: missing
      - eventRef: {triggerEventRef: in, resultEventRef: out}
      - subFlowRef: nowhere
    compensatedBy: Undo
    transition: Start2
  - name: Start2
    type: switch
    dataConditions: [{condition: .a, end: true}]
    eventConditions: [{eventRef: in, end: true}]
    defaultCondition: {end: true}
  - name: Undo
    type: inject
    data: {}
    end: true
  - name: Undo
    type: inject
    data: {}
    end: true
"""),
        "specs/functions.json": json.dumps({"functions": [{"name": "f1", "type": "custom", "operation": "sysout"}]}),
    })
    assert not any(f.code == "unknown-subflow" for f in validate_folder(load_workflow(folder)))
    findings = validate_folder(load_workflow(folder), repository=RepositoryContext())
    by_code = {}
    for f in findings:
        by_code.setdefault(f.code, []).append(f)
    assert "exactly one of functionRef, eventRef, subFlowRef (has functionRef and eventRef)" in \
        by_code["action-ref"][0].message
    assert "function 'missing' is not defined (defined: f1)" in by_code["unknown-function"][0].message
    kinds = sorted(f.message.split("event ")[1].split(" is declared")[0] for f in by_code["event-kind"])
    assert kinds == ["'in'", "'out'"]  # in is consumed but triggered, out is produced but awaited
    assert by_code["unknown-subflow"][0].severity == "warning"
    assert "must set usedForCompensation: true" in by_code["compensation"][0].message
    assert "either dataConditions or eventConditions, not both" in by_code["switch-conditions"][0].message
    assert "duplicate state name 'Undo'" in by_code["duplicate-name"][0].message


def test_shared_path_from_the_root_gets_a_hint(tmp_path):
    _write(tmp_path, {
        "wf/wf.sw.yaml": _flow("wf", "functions:\n  - name: notify\n"
                                     "    operation: ../shared/specs/notify.yaml#send\n"),
        "shared/specs/notify.yaml": "openapi: 3.0.0\npaths:\n  /n:\n    post:\n      operationId: send\n",
    })
    findings = validate_folder(load_workflow(tmp_path / "wf"))
    assert [f.code for f in findings] == ["path-escape"]
    assert "mounted as shared/specs/notify.yaml" in findings[0].message
    (tmp_path / "wf/wf.sw.yaml").write_text(_flow("wf", "functions:\n  - name: notify\n"
                                                          "    operation: shared/specs/notify.yaml#send\n"))
    assert validate_folder(load_workflow(tmp_path / "wf")) == ()


def test_rpc_and_asyncapi_operations(tmp_path):
    folder = _write(tmp_path / "wf", {
        "wf.sw.yaml": _flow("wf", "functions:\n"
                                  "  - {name: hello, type: rpc, operation: 'specs/greet.proto#Greeter#SayHello'}\n"
                                  "  - {name: nope, type: rpc, operation: 'specs/greet.proto#Greeter#SayBye'}\n"
                                  "  - {name: pub, type: asyncapi, operation: 'specs/events.yaml#sendOrder'}\n"
                                  "  - {name: bad, type: asyncapi, operation: 'specs/events.yaml#nothing'}\n"),
        "specs/greet.proto": 'syntax = "proto3";\nservice Greeter {\n  rpc SayHello (Req) returns (Rep) {}\n}\n',
        "specs/events.yaml": "asyncapi: 2.6.0\nchannels:\n  orders:\n    publish:\n      operationId: sendOrder\n",
    })
    findings = validate_folder(load_workflow(folder))
    unknown = sorted(f.message for f in findings if f.code == "unknown-operation")
    assert len(unknown) == 2
    assert "has no rpc 'SayBye'" in unknown[1] and "defines no operationId 'nothing'" in unknown[0]
    assert {f.code for f in findings} == {"unknown-operation", "not-deployed"}  # proto: image build needed


def test_random_text_files_never_crash(tmp_path_factory):
    """Arbitrary text or bytes as the workflow, a spec, a schema and secret.properties."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    root = tmp_path_factory.mktemp("fuzztext")
    texts = st.one_of(st.binary(max_size=200),
                      st.text(alphabet=st.sampled_from(list("{}[]:,-'\"#&*!|>%@` \n\tabc$.=\\u0")), max_size=200))

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(texts, texts, texts, texts)
    def run(workflow, spec, schema, secret):
        folder = root / "wf"
        (folder / "specs").mkdir(parents=True, exist_ok=True)
        (folder / "schemas").mkdir(exist_ok=True)
        for path, content in (("wf.sw.yaml", workflow), ("specs/api.yaml", spec), ("schemas/s.json", schema),
                              ("secret.properties", secret)):
            data = content if isinstance(content, bytes) else content.encode("utf-8")
            (folder / path).write_bytes(data)
        findings = validate_folder(load_workflow(folder), repository=RepositoryContext())
        assert not [f.format() for f in findings if f.code == "internal-error"]

    run()


def test_definitions_file_is_inlined_so_it_may_sit_at_the_root(tmp_path):
    flow = _flow("wf", "functions: functions.json\n", states="""
  - name: Start
    type: operation
    actions:
      - functionRef: log
      - functionRef: nolog
    end: true
""")
    folder = _write(tmp_path / "wf", {"wf.sw.yaml": flow, "functions.json": json.dumps(
        {"functions": [{"name": "log", "type": "custom", "operation": "sysout"}]})})
    findings = validate_folder(load_workflow(folder))
    assert [f.code for f in findings] == ["unknown-function"] and "'nolog'" in findings[0].message
    (folder / "functions.json").write_text('{"functions": [')
    findings = validate_folder(load_workflow(folder))
    assert [f.code for f in findings] == ["json-syntax"] and findings[0].path.endswith("functions.json")


def test_event_data_strings_are_expressions(tmp_path):
    folder = _write(tmp_path / "wf", {"wf.sw.yaml": _flow(
        "wf", "events:\n  - {name: out, type: t, kind: produced}\n", states="""
  - name: Start
    type: operation
    actions:
      - eventRef: {triggerEventRef: out, data: '.a | ('}
    end:
      produceEvents:
        - {eventRef: out, data: '${ .b }'}
        - {eventRef: out, data: {c: '${ .c | }'}}
""")})
    jq = sorted(f.line for f in validate_folder(load_workflow(folder)) if f.code == "jq-syntax")
    assert jq == [12, 16]  # the eventRef data and the object inside the second produced event


def test_jsonpath_workflows_get_a_light_check(tmp_path):
    states = """
  - name: Start
    type: switch
    dataConditions:
      - condition: "${ $.[?(@.age > 18)] }"
        end: true
      - condition: "{{ $.[?(@.age > 18 }}"
        end: true
      - condition: "${ .age > 18 }"
        end: true
    defaultCondition: {end: true}
"""
    folder = _write(tmp_path / "wf", {"wf.sw.yaml": _flow("wf", "expressionLang: jsonpath\n", states=states)})
    findings = validate_folder(load_workflow(folder))
    assert [(f.code, f.line) for f in findings] == [("jsonpath-syntax", 13), ("jsonpath-syntax", 15)]
    assert "unclosed '('" in findings[0].message and "must start with $" in findings[1].message


def test_symlinked_resource_folder_out_of_the_workflow(tmp_path):
    _write(tmp_path / "elsewhere", {"specs/api.yaml": "openapi: 3.0.0\npaths: {}\n"})
    folder = _write(tmp_path / "wf", {"wf.sw.yaml": _flow("wf", "functions:\n  - name: f\n"
                                                              "    operation: specs/api.yaml#op\n")})
    os.symlink(tmp_path / "elsewhere" / "specs", folder / "specs")
    findings = validate_folder(load_workflow(folder))
    assert {f.code for f in findings} == {"path-escape"}
    assert any("through a symlink" in f.message and f.path.endswith("wf.sw.yaml") for f in findings)


def test_duplicate_keys_in_resource_files_are_reported(tmp_path):
    """Spec and schema files are checked on the parser's event stream, not just the workflow."""
    folder = tmp_path / "dup"
    (folder / "specs").mkdir(parents=True)
    (folder / "schemas").mkdir()
    (folder / "dup.sw.yaml").write_text(
        "id: dup\nversion: '1.0'\nspecVersion: '0.8'\nannotations: [workflow-type/infrastructure]\n"
        "start: A\nfunctions:\n- name: get\n  operation: specs/api.yaml#getIt\n"
        "states:\n- name: A\n  type: operation\n  actions:\n  - functionRef: get\n  end: true\n")
    (folder / "specs" / "api.yaml").write_text(
        "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    get:\n      operationId: getIt\n"
        "      responses: {'200': {description: ok}}\n      responses: {'404': {description: no}}\n")
    (folder / "schemas" / "extra.json").write_text('{"type": "object", "type": "string"}')
    findings = [f for f in validate_folder(load_workflow(folder, shared_dir=False)) if f.code == "duplicate-key"]
    assert sorted((Path(f.path).name, f.line) for f in findings) == [("api.yaml", 8), ("extra.json", 1)]
    assert all(f.severity == "error" and "duplicate key" in f.message for f in findings)
