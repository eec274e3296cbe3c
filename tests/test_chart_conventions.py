"""Charts follow Helm's conventions (issue 14): standard labels on every object, an image
default that is never `latest`, Chart.yaml metadata and Artifact Hub annotations, chart-testing
ci/*-values.yaml, a values table without helm-docs type hints."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from chart_helpers import helm_objects, project_config
from conftest import REPO

FIXTURES = REPO / "tests" / "fixtures" / "chart"
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
STANDARD = ("helm.sh/chart", "app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/version",
            "app.kubernetes.io/managed-by")


def make_config(root: Path, text: str = ""):
    return project_config(root, text, repository="https://github.com/acme/flows")


@pytest.fixture
def project(tmp_path):
    (tmp_path / "workflows").mkdir()
    shutil.copytree(FIXTURES / "braces-flow", tmp_path / "workflows" / "braces-flow")
    return tmp_path


def _generate(project, config, **kwargs):
    from chartgen.chart import generate_chart

    return generate_chart(project / "workflows" / "braces-flow", config, **kwargs)


def _meta(chart: Path) -> dict:
    return yaml.safe_load((chart / "Chart.yaml").read_text(encoding="utf-8"))


# -- labels -----------------------------------------------------------------------------------

def test_every_object_carries_the_standard_labels_and_the_values_ones(project):
    chart = _generate(project, make_config(project)).path
    objects = helm_objects(chart, {"labels": {"team": "a"}, "annotations": {"example.com/owner": "b"}},
                           name="payments")
    assert {o["kind"] for o in objects} == {"ConfigMap", "Secret", "SonataFlow"}
    for obj in objects:
        labels = obj["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == "braces-flow"
        assert labels["app.kubernetes.io/instance"] == "payments"
        assert labels["app.kubernetes.io/managed-by"] == "Helm"
        assert labels["team"] == "a" and obj["metadata"]["annotations"]["example.com/owner"] == "b"
        assert all(LABEL_VALUE.match(v) and len(v) <= 63 for v in labels.values()), labels
        if obj["kind"] == "SonataFlow":
            # what the operator copies to pods and the Service selector stays put on upgrade
            assert "helm.sh/chart" not in labels and "app.kubernetes.io/version" not in labels
            assert labels["sonataflow.org/workflow-app"] == "braces-flow"
        else:
            assert labels["helm.sh/chart"] == "braces-flow-0.1.0-rc.1"
            assert labels["app.kubernetes.io/version"] == "1.2"


def test_resource_configmaps_get_labels_and_annotations(project):
    chart = _generate(project, make_config(project)).path
    resources = [o for o in helm_objects(chart, {"annotations": {"a": "b"}})
                 if o["kind"] == "ConfigMap" and "-resources-" in o["metadata"]["name"]]
    assert resources
    for obj in resources:
        assert set(STANDARD) <= set(obj["metadata"]["labels"]) and obj["metadata"]["annotations"] == {"a": "b"}


def test_odd_app_versions_still_give_valid_labels(project):
    flow = project / "workflows" / "braces-flow" / "braces.sw.yaml"
    text = flow.read_text(encoding="utf-8")
    flow.write_text(re.sub(r"(?m)^version: .*$", 'version: "-1.0 beta+build/7 ' + "x" * 70 + '"', text),
                    encoding="utf-8")
    chart = _generate(project, make_config(project), image_tag="t").path
    for obj in helm_objects(chart):
        for value in obj["metadata"]["labels"].values():
            assert LABEL_VALUE.match(value) and len(value) <= 63, value
    props = next(o for o in helm_objects(chart) if o["kind"] == "Secret")
    assert props["metadata"]["labels"]["app.kubernetes.io/version"].startswith("1.0_beta_build_7_xxx")


def test_render_output_keeps_the_gen_manifest_labels(project):
    """`chartgen render` stays gen-manifest compatible: the Helm labels are the chart's."""
    from chartgen.manifests import render_manifests, render_options
    from chartgen.sources import load_workflow

    manifests = render_manifests(load_workflow(project / "workflows" / "braces-flow"), render_options(None))
    for manifest in manifests:
        labels = manifest.obj["metadata"].get("labels") or {}
        assert "helm.sh/chart" not in labels
        if labels:
            assert labels["app.kubernetes.io/managed-by"] == "sonataflow-operator"


# -- image default ----------------------------------------------------------------------------

def _image_values(chart: Path) -> dict:
    return yaml.safe_load((chart / "values.yaml").read_text(encoding="utf-8"))["image"]


def test_image_defaults_to_the_workflow_version_never_latest(project):
    chart = _generate(project, make_config(project)).path
    assert _image_values(chart)["tag"] == "1.2"
    for name in ("values.yaml", "README.md", "values.schema.json"):
        assert "latest" not in (chart / name).read_text(encoding="utf-8"), name
    sonataflow = next(o for o in helm_objects(chart) if o["kind"] == "SonataFlow")
    assert sonataflow["spec"]["podTemplate"]["container"]["image"] == \
        "quay.io/orchestrator/serverless-workflow-braces-flow:1.2"


def test_a_built_digest_pins_the_image(project):
    digest = "sha256:" + "c" * 64
    chart = _generate(project, make_config(project), image_digest=digest).path
    assert _image_values(chart)["digest"] == digest
    sonataflow = next(o for o in helm_objects(chart) if o["kind"] == "SonataFlow")
    assert sonataflow["spec"]["podTemplate"]["container"]["image"].endswith(f"braces-flow@{digest}")
    images = yaml.safe_load(_meta(chart)["annotations"]["artifacthub.io/images"])
    assert images == [{"name": "braces-flow", "image": f"quay.io/orchestrator/serverless-workflow-braces-flow@{digest}"}]


def test_a_workflow_without_version_needs_a_tag(project, capsys):
    from chartgen.errors import ChartgenError

    flow = project / "workflows" / "braces-flow" / "braces.sw.yaml"
    flow.write_text(re.sub(r"(?m)^version: .*\n", "", flow.read_text(encoding="utf-8")), encoding="utf-8")
    with pytest.raises(ChartgenError) as caught:
        _generate(project, make_config(project))
    (finding,) = caught.value.findings
    assert finding.code == "no-default-image-tag" and finding.path.endswith("braces-flow") and "version" in finding.message
    assert not (project / "charts" / "braces-flow").exists()
    # image.tag of chartgen.yaml (even `latest`, when someone asks for it) or --image-tag fill in
    assert _image_values(_generate(project, make_config(project, "image: {tag: nightly}\n")).path)["tag"] == "nightly"
    assert _image_values(_generate(project, make_config(project), image_tag="7").path)["tag"] == "7"


# -- values table -----------------------------------------------------------------------------

def test_values_table_has_no_type_hint_in_descriptions(project):
    chart = _generate(project, make_config(project)).path
    readme = (chart / "README.md").read_text(encoding="utf-8")
    row = next(line for line in readme.splitlines() if line.startswith("| replicas |"))
    assert row == "| replicas | int | `null` | Replicas of the workflow deployment; null: the operator default (1). |"
    assert not re.search(r"\| \((int|string|bool|object|list)\)", readme)
    # helm-docs still reads the type of a null default from values.yaml
    assert "# -- (int) Replicas of the workflow deployment" in (chart / "values.yaml").read_text(encoding="utf-8")


# -- Chart.yaml and Artifact Hub --------------------------------------------------------------

CHART_SETTINGS = """chart:
  icon: https://example.com/icon.svg
  maintainers: [{name: acme-bot, email: bot@example.com}]
  license: Apache-2.0
  links: [{name: Runbook, url: https://example.com/runbook}]
  sign_key: {fingerprint: 0123456789ABCDEF, url: https://example.com/key.asc}
"""


def test_chart_yaml_metadata_and_artifacthub_annotations(project):
    chart = _generate(project, make_config(project, CHART_SETTINGS)).path
    meta = _meta(chart)
    assert meta["icon"] == "https://example.com/icon.svg"
    assert meta["maintainers"] == [{"name": "acme-bot", "email": "bot@example.com"}]
    annotations = meta["annotations"]
    assert annotations["artifacthub.io/license"] == "Apache-2.0"
    assert annotations["artifacthub.io/prerelease"] == "true"
    assert yaml.safe_load(annotations["artifacthub.io/links"]) == [
        {"name": "Workflow source", "url": "https://github.com/acme/flows/tree/HEAD/workflows/braces-flow"},
        {"name": "Runbook", "url": "https://example.com/runbook"}]
    assert yaml.safe_load(annotations["artifacthub.io/images"]) == [
        {"name": "braces-flow", "image": "quay.io/orchestrator/serverless-workflow-braces-flow:1.2"}]
    assert yaml.safe_load(annotations["artifacthub.io/signKey"]) == {
        "fingerprint": "0123456789ABCDEF", "url": "https://example.com/key.asc"}
    assert yaml.safe_load(annotations["artifacthub.io/changes"]) == [
        {"kind": "added", "description": "First version of the chart braces-flow"}]


def test_changes_say_what_changed_and_stay_with_the_version(project):
    from chartgen.chart.writer import verify_chart

    config = make_config(project, CHART_SETTINGS)
    first = _generate(project, config)
    folder = project / "workflows" / "braces-flow"
    flow = folder / "braces.sw.yaml"
    flow.write_text(flow.read_text(encoding="utf-8").replace("version: '1.2'", "version: '1.3'")
                    .replace('version: "1.2"', 'version: "1.3"').replace("version: 1.2", "version: '1.3'"),
                    encoding="utf-8")
    (folder / "schemas" / "extra.json").write_text('{"type": "object"}\n', encoding="utf-8")
    with (folder / "application.properties").open("a", encoding="utf-8") as out:
        out.write("\nnew.key=1\n")
    second = _generate(project, config)
    assert second.version == "0.1.0-rc.2" and second.previous_version == first.version
    changes = yaml.safe_load(_meta(second.path)["annotations"]["artifacthub.io/changes"])
    descriptions = [c["description"] for c in changes]
    assert "application.properties: added new.key" in descriptions
    assert "schemas/extra.json added" in descriptions
    assert 'Default of image.tag: "1.2" -> "1.3"' in descriptions
    assert "App version: 1.2 -> 1.3" in descriptions
    assert {c["kind"] for c in changes} <= {"added", "changed", "removed"}
    assert verify_chart(second.path, config.chart)          # the version annotations are not content
    before = (second.path / "Chart.yaml").read_bytes()
    third = _generate(project, config)
    assert not third.changed and (third.path / "Chart.yaml").read_bytes() == before


def test_flow_changes_name_states_and_functions():
    from chartgen.chart.artifacthub import describe_changes

    old = {"files/flow.yaml": b"states:\n- {name: A, type: inject}\n- {name: B, type: inject}\n"
                              b"functions:\n- {name: f, operation: x}\n"}
    new = {"files/flow.yaml": "states:\n- {name: A, type: operation}\n- {name: C, type: inject}\n"
                              "functions:\n- {name: f, operation: x}\n- {name: g, operation: y}\n"}
    changes = describe_changes(old.get, set(old), new, {}, {})
    assert changes == [{"kind": "added", "description": "Workflow function g added"},
                       {"kind": "added", "description": "Workflow state C added"},
                       {"kind": "removed", "description": "Workflow state B removed"},
                       {"kind": "changed", "description": "Workflow state A changed"}]


def test_template_only_changes_and_long_lists(project):
    from chartgen.chart.artifacthub import MAX_CHANGES, describe_changes

    assert describe_changes({"templates/a.yaml": b"x"}.get, {"templates/a.yaml"}, {"templates/a.yaml": "y"}, {}, {}) \
        == [{"kind": "changed", "description": "Chart templates regenerated by chartgen (the workflow is unchanged)"}]
    new = {f"files/specs/{i:02d}.yaml": "x" for i in range(30)}
    changes = describe_changes(lambda _: None, set(), new, {}, {})
    assert len(changes) == MAX_CHANGES and changes[-1]["description"] == f"... and {30 - MAX_CHANGES + 1} more changes"
    odd = describe_changes(lambda _: None, set(), {"files/specs/a\u2028b\x1b[31m.yaml": "x"}, {}, {})
    assert "\n" not in odd[0]["description"] and "\x1b" not in odd[0]["description"]


def test_release_versions_are_no_prerelease(project):
    from chartgen.chart.versioning import bump_version

    config = make_config(project, "chart: {version_policy: patch}\n")
    chart = _generate(project, config).path
    assert _meta(chart)["version"] == "0.1.0"
    assert _meta(chart)["annotations"]["artifacthub.io/prerelease"] == "false"
    shutil.rmtree(chart)
    config = make_config(project)
    chart = _generate(project, config).path
    bump_version(chart, "release", config=config)           # chartgen version --release
    assert _meta(chart)["version"] == "0.1.0"
    assert _meta(chart)["annotations"]["artifacthub.io/prerelease"] == "false"
    bump_version(chart, "minor", prerelease=True, config=config)
    assert _meta(chart)["annotations"]["artifacthub.io/prerelease"] == "true"


def test_artifacthub_annotations_can_be_turned_off(project):
    chart = _generate(project, make_config(project, "chart: {artifacthub: false}\n")).path
    assert not any(k.startswith("artifacthub.io/") for k in _meta(chart)["annotations"])


def test_umbrella_has_ci_values_and_no_image_list(project):
    from chartgen.chart import generate_charts

    shutil.copytree(FIXTURES / "minimal", project / "workflows" / "minimal")
    config = make_config(project, "image: {tag: nightly}\nchart: {license: MIT}\n")
    generate_charts([project / "workflows" / "braces-flow", project / "workflows" / "minimal"], config)
    umbrella = project / "charts" / "workflows"
    annotations = _meta(umbrella)["annotations"]
    # each workflow chart names its image; the umbrella's index entries must not grow with the repository
    assert "artifacthub.io/images" not in annotations and annotations["artifacthub.io/license"] == "MIT"
    assert yaml.safe_load(annotations["artifacthub.io/links"]) == [{"name": "Source", "url": "https://github.com/acme/flows"}]
    assert yaml.safe_load((umbrella / "ci" / "all-values.yaml").read_text()) == {
        "braces-flow": {"enabled": True}, "minimal": {"enabled": True}}


# -- chart-testing ----------------------------------------------------------------------------

def test_ci_values_files_lint_clean_and_cover_the_templates(project):
    from chartgen.chart.lint import lint_chart

    config = make_config(project)
    chart = _generate(project, config).path
    assert sorted(p.name for p in (chart / "ci").iterdir()) == ["custom-values.yaml", "default-values.yaml"]
    assert lint_chart(chart, config) == []
    custom = yaml.safe_load((chart / "ci" / "custom-values.yaml").read_text())
    objects = helm_objects(chart, custom)
    sonataflow = next(o for o in objects if o["kind"] == "SonataFlow")
    assert sonataflow["spec"]["podTemplate"]["container"]["imagePullPolicy"] == "IfNotPresent"
    assert sonataflow["spec"]["persistence"]["migrateDBOnStartUp"] is True
    secret = next(o for o in objects if o["kind"] == "Secret")
    assert set(secret["stringData"].values()) == {"ci-placeholder"}
    assert yaml.safe_load((chart / "ci" / "default-values.yaml").read_text()) == {}


def test_lint_runs_helm_with_each_ci_values_file(project):
    from chartgen.chart.lint import lint_chart, lint_charts

    config = make_config(project)
    chart = _generate(project, config).path
    (chart / "ci" / "broken-values.yaml").write_text("replicas: many\n", encoding="utf-8")
    findings = [f.format() for f in lint_chart(chart, config)]
    assert any("helm lint (with ci/broken-values.yaml)" in f and "replicas" in f for f in findings), findings
    # the build's lint stage leaves them out (chartgen wrote them with the chart)
    assert not [f for f in lint_charts([chart], config, since=None, ci_values=False) if f.code == "helm-lint"]


def test_empty_chart_fields_are_no_metadata_change():
    """Chart.yaml leaves out empty fields: a chart read back has none where the new one has ""."""
    from chartgen.chart.artifacthub import describe_changes

    old = {"name": "workflows", "version": "0.1.0", "keywords": ["a"]}
    new = {"name": "workflows", "home": "", "icon": "", "sources": [], "maintainers": [], "keywords": ["a"]}
    assert describe_changes(lambda _: None, set(), {}, old, new) == [
        {"kind": "changed", "description": "Chart README or values schema changed"}]
    changed = describe_changes(lambda _: None, set(), {}, old, {**new, "home": "https://example.com"})
    assert changed == [{"kind": "changed", "description": "Chart metadata changed: home"}]
