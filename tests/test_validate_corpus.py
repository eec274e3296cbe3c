"""`chartgen validate` over the real-world corpus (../shared/corpus): every folder's outcome, and why.

Each source repository of the corpus is validated as one repository (validate_repository), so
duplicate ids are found where they really collide. A folder is "valid" when it has no errors
(warnings are listed in the comments). `load_workflow` finds each repository's `_shared/`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import CORPUS, need_shared

# folder -> (error codes, why). Warnings are not asserted here (see the comments).
EXPECTED = {
    # -- apache/incubator-kie-kogito-examples: Quarkus projects, built with Maven, not gen-manifest
    "apache+incubator-kie-kogito-examples/annotations-description": (
        {"several-workflows"}, "two workflows at the root (jsonannotations, yamlannotations); jsonpath expressions"),
    "apache+incubator-kie-kogito-examples/callback-events-over-http": (set(), "valid (no specVersion: warning)"),
    "apache+incubator-kie-kogito-examples/camel-routes": (
        {"jq-syntax", "not-deployed"},
        "output filter `words = .response[0]` is not jq; camel.sw.schema.json sits at the root, outside schemas/"),
    "apache+incubator-kie-kogito-examples/compensation-quarkus": (
        {"sw-required"}, "switch state without defaultCondition, which the manifest generator requires"),
    "apache+incubator-kie-kogito-examples/dmn-quarkus": (
        {"not-deployed"},
        "the DMN model of the custom function is not in a resource folder (file names with spaces: warning)"),
    "apache+incubator-kie-kogito-examples/error-quarkus": ({"several-workflows"}, "two workflows at the root"),
    "apache+incubator-kie-kogito-examples/events-quarkus": (
        {"sw-required"}, "switch without defaultCondition (also: a consumed event is produced: warning)"),
    "apache+incubator-kie-kogito-examples/expression-quarkus": (
        {"not-deployed"}, "schemas live in schema/, which is not a resource folder"),
    "apache+incubator-kie-kogito-examples/fault-tolerance": (set(), "valid"),
    "apache+incubator-kie-kogito-examples/foreach-quarkus": (set(), "valid ($item of the foreach is accepted)"),
    "apache+incubator-kie-kogito-examples/greeting-rpc-client": (
        {"several-workflows", "missing-file", "sw-type"},
        "five workflows; greeting.proto lives in the server module; arguments given as a string"),
    "apache+incubator-kie-kogito-examples/hello-world": ({"k8s-name"}, "id hello_world is not a DNS-1123 name"),
    "apache+incubator-kie-kogito-examples/loanbroker-flow": (
        {"not-deployed"}, "dataInputSchema loanbroker.schema.json at the root, outside schemas/"),
    "apache+incubator-kie-kogito-examples/newsletter-subscription-flow": (
        {"k8s-name", "not-deployed", "sw-required"},
        "id subscription_flow; schema at the root; switch without defaultCondition"),
    "apache+incubator-kie-kogito-examples/oauth2-currency-exchange-workflow": (
        {"k8s-name", "not-deployed"}, "id currency_exchange_workflow; schema at the root"),
    "apache+incubator-kie-kogito-examples/order-processing": (
        {"several-workflows", "sw-required"}, "three workflows; a switch without defaultCondition"),
    "apache+incubator-kie-kogito-examples/saga-quarkus": ({"k8s-name"}, "id order_saga_error_workflow"),
    "apache+incubator-kie-kogito-examples/subflows-event": ({"several-workflows"}, "four workflows at the root"),
    "apache+incubator-kie-kogito-examples/temperature-conversion-full": (
        {"k8s-name", "not-deployed", "sw-type"},
        "id fahrenheit_to_celsius; specs in multiplication/ and subtraction/; arguments given as a string"),
    "apache+incubator-kie-kogito-examples/timeouts-showcase-embedded": (
        {"several-workflows", "k8s-name"}, "four workflows, ids with underscores"),
    # -- apache/incubator-kie-kogito-serverless-operator: test data, partly invalid on purpose
    "apache+incubator-kie-kogito-serverless-operator/api-v1alpha08-testdata": (
        {"several-workflows", "missing-file", "jq-syntax", "sw-required"},
        "three workflows; camel.sw.schema.json absent; invalid.sw.json has no states"),
    "apache+incubator-kie-kogito-serverless-operator/workflowproj-testdata-workflows": (
        {"several-workflows", "sw-required"}, "three workflows; workflow-minimal-invalid.sw.json has no id"),
    # -- parodos-dev/serverless-workflows: orchestrator workflows using ../shared (found in _shared)
    "parodos-dev+serverless-workflows/create-ocp-project": (set(), "valid (remote notifications spec: warning)"),
    "parodos-dev+serverless-workflows/escalation": (set(), "valid (upper-case subflow ids stay inside the app)"),
    "parodos-dev+serverless-workflows/greeting": (set(), "valid (specVersion 1.0: warning)"),
    "parodos-dev+serverless-workflows/modify-vm-resources": (set(), "valid (322 KiB spec: apply-size warning)"),
    "parodos-dev+serverless-workflows/move2kube": (set(), "valid"),
    "parodos-dev+serverless-workflows/mta-v7.x": (set(), "valid (compensation states need no end)"),
    "parodos-dev+serverless-workflows/mtv-migration": (set(), "valid"),
    "parodos-dev+serverless-workflows/mtv-plan": (set(), "valid"),
    "parodos-dev+serverless-workflows/request-vm-cnv": (set(), "valid (apply-size warning)"),
    "parodos-dev+serverless-workflows/rpj": (set(), "valid"),
    # -- rhdhorchestrator/orchestrator-demo
    "rhdhorchestrator+orchestrator-demo/01_basic": (set(), "valid"),
    "rhdhorchestrator+orchestrator-demo/01_basic_flat": (set(), "valid"),
    "rhdhorchestrator+orchestrator-demo/04_aap-db-deploy-workflow": (set(), "valid (subflows checked too)"),
    "rhdhorchestrator+orchestrator-demo/05_software-template-workflow": (set(), "valid, no warnings"),
    "rhdhorchestrator+orchestrator-demo/06_form-widget-demo": (set(), "valid ({{ in a schema is just text)"),
    "rhdhorchestrator+orchestrator-demo/07_knative_events": (set(), "valid"),
    "rhdhorchestrator+orchestrator-demo/08_kafka_callback-flow": (set(), "valid (top-level key is 0.8)"),
    "rhdhorchestrator+orchestrator-demo/08_kafka_callback-flow-with-inputs": (set(), "valid"),
    "rhdhorchestrator+orchestrator-demo/09_token_propagation": (set(), "valid"),
    # -- rhdhorchestrator/serverless-workflow-examples
    "rhdhorchestrator+serverless-workflow-examples/aap-db-deploy-quarkus": (set(), "valid (apply-size warning)"),
    "rhdhorchestrator+serverless-workflow-examples/assessment-with-custom-code": (
        {"several-workflows", "duplicate-id"},
        "three workflows; preCheck and dummy-infra-workflow-option repeat in the sibling assessment folders"),
    "rhdhorchestrator+serverless-workflow-examples/assessment-with-jq-expression": (
        {"several-workflows", "duplicate-id"}, "same as assessment-with-custom-code"),
    "rhdhorchestrator+serverless-workflow-examples/assessment-with-kn-function": (
        {"several-workflows", "duplicate-id"}, "same as assessment-with-custom-code"),
}


def _folders():
    return sorted(f"{repo.name}/{folder.name}" for repo in CORPUS.iterdir() if repo.is_dir()
                  for folder in repo.iterdir() if folder.is_dir() and not folder.name.startswith("_"))


@pytest.fixture(scope="module")
def results():
    need_shared(CORPUS)
    from chartgen.sources import load_workflow
    from chartgen.validation import validate_repository

    found = {}
    for repo in sorted(p for p in CORPUS.iterdir() if p.is_dir()):
        folders = [load_workflow(p) for p in sorted(repo.iterdir()) if p.is_dir() and not p.name.startswith("_")]
        for name, findings in validate_repository(folders).items():
            found[f"{repo.name}/{name}"] = findings
    return found


def test_table_lists_every_corpus_folder():
    need_shared(CORPUS)
    assert sorted(EXPECTED) == _folders()


@pytest.mark.parametrize("folder", sorted(EXPECTED))
def test_corpus_outcome(results, folder):
    codes, why = EXPECTED[folder]
    findings = results[folder]
    assert {f.code for f in findings if f.is_error} == codes, (why, [f.format() for f in findings if f.is_error])
    assert not [f for f in findings if f.code == "internal-error"]
    for finding in findings:
        # Every finding names a file or folder of the corpus folder (or of its repository's _shared).
        assert finding.path.startswith(str(CORPUS / folder.split("/")[0])), finding.format()


def test_parodos_without_shared_folder_reports_the_dangling_ref():
    need_shared(CORPUS)
    from chartgen.sources import load_workflow
    from chartgen.validation import validate_folder

    folder = load_workflow(CORPUS / "parodos-dev+serverless-workflows" / "greeting", shared_dir=None)
    errors = [f for f in validate_folder(folder) if f.is_error]
    assert [f.code for f in errors] == ["missing-shared-file"]
    assert errors[0].path.endswith("schemas/workflow-output-schema.json")
    assert "../shared/schemas/workflow-result-schema.json" in errors[0].message
    assert "shared folder" in errors[0].message and errors[0].line > 0


def test_corpus_expressions_all_compile_except_the_known_bad_one(results):
    bad = [f for findings in results.values() for f in findings if f.code == "jq-syntax"]
    assert {Path(f.path).name for f in bad} == {"camel.sw.json"}
