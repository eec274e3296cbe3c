"""Rendered manifests against real `kn workflow gen-manifest` outputs (../shared/golden), the
SonataFlow CRDs (../shared/crds) and the real-world corpus (../shared/corpus).

Comparisons are semantic (parsed YAML). Before comparing, both sides go through
`strip_differences`, which removes exactly the deliberate differences listed in
chartgen.manifests.differences.DELIBERATE_DIFFERENCES; hand edits documented in each
golden's NOTES.md are undone explicitly here, one line each.
"""

from __future__ import annotations

import copy
import shutil
from functools import lru_cache
from pathlib import Path

import pytest
import yaml

from chartgen.errors import ChartgenError
from chartgen.manifests import (PersistenceSettings, RenderOptions, normalize_flow, render_manifests,
                                strip_differences)
from chartgen.sources import load_workflow
from conftest import CORPUS, CRDS, GOLDEN, need_shared


def load_yaml_documents(path: Path) -> list[dict]:
    return [doc for doc in yaml.load_all(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader) if doc]


def differences(ours, upstream, pointer="") -> list[str]:
    """Pointers where two parsed documents differ (empty: semantically equal)."""
    if isinstance(ours, dict) and isinstance(upstream, dict):
        found = []
        for key in sorted(set(ours) | set(upstream), key=str):
            where = f"{pointer}/{key}"
            if key not in ours:
                found.append(f"{where} (only upstream)")
            elif key not in upstream:
                found.append(f"{where} (only chartgen)")
            else:
                found.extend(differences(ours[key], upstream[key], where))
        return found
    if isinstance(ours, list) and isinstance(upstream, list) and len(ours) == len(upstream):
        return [d for i, (a, b) in enumerate(zip(ours, upstream)) for d in differences(a, b, f"{pointer}/{i}")]
    return [] if ours == upstream else [pointer or "/"]


def compare(manifests, expected: dict[str, dict], hand_edits=None) -> list[str]:
    ours = {m.filename: strip_differences(copy.deepcopy(m.obj)) for m in manifests}
    theirs = {name: strip_differences(copy.deepcopy(obj)) for name, obj in expected.items()}
    if hand_edits:
        hand_edits(ours)
    assert sorted(ours) == sorted(theirs)
    return [f"{name}{d}" for name in sorted(ours) for d in differences(ours[name], theirs[name])]


# -- real gen-manifest outputs -------------------------------------------------------------------

def _undo_lock_flow_hand_edit(ours: dict) -> None:
    # NOTES.md: the callback state's timeouts were commented out by hand in expected/02.
    del ours["02-sonataflow_lock-flow.yaml"]["spec"]["flow"]["states"][1]["timeouts"]


# golden folder -> (options matching the flags in its NOTES.md, hand edits to undo)
GOLDEN_CASES = {
    "rhdh-greeting": (RenderOptions(profile="gitops", image="quay.io/orchestrator/serverless-workflow-greeting:osl_1_37",
                                    persistence=PersistenceSettings()), None),
    "rhdh-subflow-parent": (RenderOptions(profile="gitops", image="quay.io/eshalev/parentfail:latest",
                                          label_set="app", persistence=PersistenceSettings()), None),
    "rhdh-bulk-import-secret": (RenderOptions(
        profile="gitops", image="quay.io/aandriienko/serverless-workflow-bulk-import-git-repos:latest",
        persistence=PersistenceSettings(
            secret_name="backstage-psql-secret", user_key="POSTGRES_USER", password_key="POSTGRES_PASSWORD",
            service_name="backstage-psql", service_namespace="orchestrator",
            database_name="backstage_plugin_orchestrator", database_schema="bulk-import-git-repos")), None),
    "masayag-lock-flow": (RenderOptions(profile="preview", namespace="default"), _undo_lock_flow_hand_edit),
}


@pytest.mark.parametrize("name", sorted(GOLDEN_CASES))
def test_golden_outputs_match(name):
    folder = need_shared(GOLDEN / name)
    options, hand_edits = GOLDEN_CASES[name]
    manifests = render_manifests(load_workflow(folder / "input", shared_dir=False), options)
    expected = {p.name: load_yaml_documents(p)[0] for p in sorted((folder / "expected").glob("*.yaml"))}
    assert compare(manifests, expected, hand_edits) == []


def test_golden_comparison_is_not_vacuous():
    """Without stripping, the known deliberate differences do show up."""
    folder = need_shared(GOLDEN / "rhdh-greeting")
    options, _ = GOLDEN_CASES["rhdh-greeting"]
    manifests = render_manifests(load_workflow(folder / "input", shared_dir=False), options)
    upstream = load_yaml_documents(folder / "expected" / "03-sonataflow_greeting.yaml")[0]
    found = differences(manifests[-1].obj, upstream)
    assert "/status (only upstream)" in found
    assert "/metadata/creationTimestamp (only upstream)" in found
    assert "/metadata/annotations/sonataflow.org/name (only chartgen)" in found
    assert len(found) == 3


# -- upstream unit-test goldens of the conversion ------------------------------------------------

@pytest.mark.parametrize("name", ["foreach", "camel"])
def test_operator_conversion_goldens(name):
    """expected is FromCNCFWorkflow's output before sdk-go defaults (NOTES.md): normalising it
    must give what we produce from the input, and our metadata must match."""
    folder = need_shared(GOLDEN / "operator-api-conversion")
    workflow = yaml.safe_load((folder / "input" / f"{name}.sw.json").read_text())
    expected = load_yaml_documents(folder / "expected" / f"sonataflow-{name}.yaml")[0]
    assert normalize_flow(workflow) == normalize_flow(expected["spec"]["flow"])
    root = Path(folder / "input")
    tmp_folder = _single_workflow_folder(root / f"{name}.sw.json")
    flow = render_manifests(load_workflow(tmp_folder, shared_dir=False), RenderOptions())[-1].obj
    assert flow["metadata"]["name"] == expected["metadata"]["name"]
    ours = {k: v for k, v in flow["metadata"]["annotations"].items() if k != "sonataflow.org/profile"}
    assert ours == expected["metadata"]["annotations"]


def test_operator_conversion_invalid_workflow_is_rejected():
    folder = need_shared(GOLDEN / "operator-api-conversion")
    with pytest.raises(ChartgenError) as info:
        render_manifests(load_workflow(_single_workflow_folder(folder / "input" / "invalid.sw.json"),
                                       shared_dir=False), RenderOptions())
    assert info.value.code == "no-states"


_TMP_FOLDERS: dict[Path, Path] = {}


def _single_workflow_folder(workflow_file: Path) -> Path:
    """The conversion inputs share one folder; render each alone (a copy in a temp dir)."""
    import tempfile

    if workflow_file not in _TMP_FOLDERS:
        target = Path(tempfile.mkdtemp(prefix="chartgen-golden-")) / workflow_file.stem.split(".")[0]
        target.mkdir()
        shutil.copy(workflow_file, target / workflow_file.name)
        _TMP_FOLDERS[workflow_file] = target
    return _TMP_FOLDERS[workflow_file]


@pytest.fixture(scope="module", autouse=True)
def _cleanup_tmp_folders():
    yield
    for path in _TMP_FOLDERS.values():
        shutil.rmtree(path.parent, ignore_errors=True)
    _TMP_FOLDERS.clear()


# -- orchestrator-demo: committed manifests next to inputs that have drifted since ------------------

DEMO = "rhdhorchestrator+orchestrator-demo"
# (folder, pointer prefix) -> why upstream's committed file differs from a fresh render of today's input.
DEMO_DRIFT = {
    ("01_basic", "01-basic-resources-schemas/data/workflow-output-schema.json"):
        "input schema gained the 'markdown' format after the manifests were committed",
    ("01_basic_flat", "01-basic-flat-resources-schemas/data/workflow-output-schema.json"): "same schema drift",
    ("04_aap-db-deploy-workflow", "01-aap-db-deploy-main-resources-schemas/data/workflow-output-schema.json"):
        "same schema drift",
    ("05_software-template-workflow",
     "01-software-template-workflow-resources-schemas/data/workflow-output-schema.json"): "same schema drift",
    ("07_knative_events", "01-events-resources-schemas/data/workflow-output-schema.json"): "same schema drift",
    ("09_token_propagation", "token-propagation-props/data/application.properties"):
        "application.properties edited after the manifests were committed",
    # build.sh replaced gen-manifest's Secret + env by its own Secret (base64 data) + envFrom:
    ("05_software-template-workflow", "software-template-workflow-secrets/"): "build.sh's own Secret",
    ("05_software-template-workflow", "software-template-workflow/spec/podTemplate/container/env"): "build.sh",
    ("07_knative_events", "events-secrets/"): "build.sh's own Secret",
    ("07_knative_events", "events/spec/podTemplate/container/env"): "build.sh envFrom",
}


def _label_set(labels: dict) -> str:
    return {2: "app", 6: "standard", 8: "full"}[len(labels)]


def _demo_cases():
    if not (GOLDEN / "orchestrator-demo-manifests").is_dir():
        return ["absent"]
    return sorted(p.name for p in (GOLDEN / "orchestrator-demo-manifests").iterdir() if p.is_dir())


@pytest.mark.parametrize("name", _demo_cases())
def test_orchestrator_demo_manifests(name):
    folder = need_shared(GOLDEN / "orchestrator-demo-manifests" / name)
    upstream = {}
    for path in sorted(folder.glob("*.yaml")):
        for doc in load_yaml_documents(path):
            upstream[(doc["kind"], doc["metadata"]["name"])] = strip_differences(doc)
    flow = next(doc for doc in upstream.values() if doc["kind"] == "SonataFlow")
    options = RenderOptions(
        profile=flow["metadata"]["annotations"]["sonataflow.org/profile"],
        image=flow["spec"]["podTemplate"]["container"].get("image"),
        label_set=_label_set(flow["metadata"]["labels"]),
        persistence=PersistenceSettings() if "persistence" in flow["spec"] else None)
    manifests = render_manifests(load_workflow(CORPUS / DEMO / name), options)
    ours = {(m.kind, m.name): strip_differences(copy.deepcopy(m.obj)) for m in manifests}
    # Objects only upstream are build.sh extras (a test server Pod/Service in 06).
    assert set(ours) <= set(upstream)
    assert {key[0] for key in set(upstream) - set(ours)} <= {"Pod", "Service"}
    drift = {prefix for (case, prefix) in DEMO_DRIFT if case == name}
    unexplained, seen = [], set()
    for key in sorted(ours):
        for diff in differences(ours[key], upstream[key], key[1]):
            match = [prefix for prefix in drift if diff.startswith(prefix)]
            seen.update(match)
            if not match:
                unexplained.append(diff)
    assert unexplained == []
    assert seen == drift, "a listed drift no longer occurs: update DEMO_DRIFT"


# -- CRD schema ------------------------------------------------------------------------------------

@lru_cache(maxsize=None)
def crd_validators() -> tuple:
    import jsonschema

    validators = []
    for path in sorted(CRDS.glob("*/*sonataflows*.yaml")):
        crd = load_yaml_documents(path)[0]
        for version in crd["spec"]["versions"]:
            validators.append((f"{path.parent.name}/{version['name']}",
                               jsonschema.Draft7Validator(version["schema"]["openAPIV3Schema"])))
    return tuple(validators)


def corpus_folders() -> list[Path]:
    if not CORPUS.is_dir():
        return []
    return sorted(p for p in CORPUS.glob("*/*") if p.is_dir() and not p.name.startswith("_"))


def assert_valid_sonataflow(obj: dict) -> None:
    need_shared(CRDS)
    validators = crd_validators()
    assert len(validators) == 2
    for name, validator in validators:
        errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(obj)]
        assert errors == [], name


def test_every_golden_render_validates_against_both_crds():
    for name, (options, _) in GOLDEN_CASES.items():
        folder = need_shared(GOLDEN / name)
        assert_valid_sonataflow(render_manifests(load_workflow(folder / "input", shared_dir=False), options)[-1].obj)


# -- the corpus: every folder renders or fails with a clear message ---------------------------------

# folder -> (finding code, why). Every folder not listed must render.
CORPUS_FAILURES = {
    "apache+incubator-kie-kogito-examples/annotations-description": ("several-workflows", "2 workflows at the root"),
    "apache+incubator-kie-kogito-examples/error-quarkus": ("several-workflows", "2 workflows at the root"),
    "apache+incubator-kie-kogito-examples/greeting-rpc-client": ("several-workflows", "5 workflows at the root"),
    "apache+incubator-kie-kogito-examples/order-processing": ("several-workflows", "3 workflows at the root"),
    "apache+incubator-kie-kogito-examples/subflows-event": ("several-workflows", "4 workflows at the root"),
    "apache+incubator-kie-kogito-examples/timeouts-showcase-embedded": ("several-workflows", "4 workflows"),
    "apache+incubator-kie-kogito-serverless-operator/api-v1alpha08-testdata": ("several-workflows", "3 workflows"),
    "apache+incubator-kie-kogito-serverless-operator/workflowproj-testdata-workflows": ("several-workflows",
                                                                                         "3 workflows"),
    "rhdhorchestrator+serverless-workflow-examples/assessment-with-custom-code": ("several-workflows", "3 workflows"),
    "rhdhorchestrator+serverless-workflow-examples/assessment-with-jq-expression": ("several-workflows",
                                                                                    "3 workflows"),
    "rhdhorchestrator+serverless-workflow-examples/assessment-with-kn-function": ("several-workflows", "3 workflows"),
    "apache+incubator-kie-kogito-examples/hello-world": ("invalid-name", "id hello_world"),
    "apache+incubator-kie-kogito-examples/newsletter-subscription-flow": ("invalid-name", "id subscription_flow"),
    "apache+incubator-kie-kogito-examples/oauth2-currency-exchange-workflow": ("invalid-name",
                                                                               "id currency_exchange_workflow"),
    "apache+incubator-kie-kogito-examples/saga-quarkus": ("invalid-name", "id order_saga_error_workflow"),
    "apache+incubator-kie-kogito-examples/temperature-conversion-full": ("invalid-name", "id fahrenheit_to_celsius"),
}


def test_corpus_is_present_and_complete():
    need_shared(CORPUS)
    folders = {str(p.relative_to(CORPUS)) for p in corpus_folders()}
    assert len(folders) == 45
    assert set(CORPUS_FAILURES) <= folders


@pytest.mark.parametrize("rel", [str(p.relative_to(CORPUS)) for p in corpus_folders()] or ["absent"])
def test_corpus_folder_renders_or_fails_clearly(rel):
    folder = need_shared(CORPUS / rel)
    options = RenderOptions(image="quay.io/o/wf:1", persistence=PersistenceSettings())
    try:
        manifests = render_manifests(load_workflow(folder), options)
    except ChartgenError as exc:
        assert rel in CORPUS_FAILURES, f"unexpected failure: {exc.format()}"
        code, why = CORPUS_FAILURES[rel]
        assert exc.code == code
        for finding in exc.findings:  # clear: names the file and says what to do
            assert finding.path.startswith(str(folder)) and len(finding.message) > 30
        return
    assert rel not in CORPUS_FAILURES, "renders now: remove it from CORPUS_FAILURES"
    flow = manifests[-1].obj
    assert flow["kind"] == "SonataFlow" and manifests[-1].filename.endswith(f"sonataflow_{flow['metadata']['name']}.yaml")
    assert normalize_flow(flow["spec"]["flow"]) == flow["spec"]["flow"]  # idempotent on real workflows
    assert_valid_sonataflow(flow)
    # every resource file is mounted exactly once
    mounted = {(cm["workflowPath"], key) for m in manifests if m.kind == "ConfigMap" and "-resources-" in m.name
               for cm in flow["spec"]["resources"]["configMaps"] if cm["configMap"]["name"] == m.name
               for key in m.obj["data"]}
    assert mounted == {(r.workflow_path, r.name) for r in load_workflow(folder).resources}


def test_every_option_gives_a_valid_sonataflow():
    fixture = Path(__file__).parent / "fixtures" / "render" / "full"
    options = RenderOptions(profile="dev", image="quay.io/o/wf:1", namespace="ns", label_set="full",
                            extra_labels=(("team", "a"),),
                            persistence=PersistenceSettings(service_namespace="db", migrate_db_on_startup=True))
    assert_valid_sonataflow(render_manifests(load_workflow(fixture, shared_dir=False), options)[-1].obj)
