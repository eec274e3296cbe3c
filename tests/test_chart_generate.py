"""Chart generation: files, regeneration without leftovers, extras, errors, determinism."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from chart_helpers import helm_objects, project_config
from conftest import REPO

FIXTURES = REPO / "tests" / "fixtures" / "chart"


def make_config(root: Path, text: str = ""):
    return project_config(root, text)


@pytest.fixture
def project(tmp_path):
    (tmp_path / "workflows").mkdir()
    shutil.copytree(FIXTURES / "braces-flow", tmp_path / "workflows" / "braces-flow")
    return tmp_path


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_chart_files_and_metadata(project):
    from chartgen.chart import generate_chart
    from chartgen.chart.versioning import read_chart_yaml

    config = make_config(project)
    result = generate_chart(project / "workflows" / "braces-flow", config, source_commit="0123abcd")
    chart = project / "charts" / "braces-flow"
    assert result.path == chart and result.name == "braces-flow" and result.changed
    assert result.version == "0.1.0-rc.1" and result.previous_version is None
    files = set(tree(chart))
    assert {"Chart.yaml", "values.yaml", "values.schema.json", "README.md", ".helmignore", ".chartgen",
            "templates/NOTES.txt", "templates/_helpers.tpl", "files/flow.yaml", "files/application.properties",
            "files/specs/api.yaml", "files/schemas/input.json",
            "templates/05-sonataflow_braces-flow.yaml"} <= files
    meta = read_chart_yaml(chart)
    assert meta["apiVersion"] == "v2" and meta["appVersion"] == "1.2" and meta["kubeVersion"] == ">=1.27.0-0"
    assert meta["description"].startswith("Keeps {{ .Values.notHelm }}")
    annotations = meta["annotations"]
    assert annotations["chartgen.io/operator-versions"] == ">=1.36.0 <1.38.0"
    assert annotations["chartgen.io/sonataflow-api"] == "sonataflow.org/v1alpha08"
    assert annotations["chartgen.io/workflow-id"] == "braces-flow"
    assert annotations["chartgen.io/workflow-type"] == "assessment"
    assert annotations["chartgen.io/source-repository"] == "https://example.com/wf.git"
    assert annotations["chartgen.io/source-path"] == "workflows/braces-flow"
    assert annotations["chartgen.io/source-commit"] == "0123abcd"
    assert annotations["chartgen.io/content-hash"].startswith("sha256:")
    # the raw workflow files travel byte for byte
    assert (chart / "files/specs/api.yaml").read_bytes() == (project / "workflows/braces-flow/specs/api.yaml").read_bytes()
    readme = (chart / "README.md").read_text()
    assert "```mermaid\nstateDiagram-v2\n" in readme and "s0 --> s1: Known" in readme
    assert "| image.tag | string | `\"1.2\"` |" in readme and "latest" not in readme
    assert "--set-string secrets.values.quarkus\\.api\\.password=..." in readme
    # the umbrella chart and the matrix come along
    assert (project / "charts" / "workflows" / "charts" / "braces-flow" / "Chart.yaml").is_file()
    assert "| braces-flow | 0.1.0-rc.1 |" in (project / "charts" / "README.md").read_text()


def test_values_yaml_documents_every_key_helm_docs_style(project):
    from chartgen.chart import generate_chart

    generate_chart(project / "workflows" / "braces-flow", make_config(project))
    lines = (project / "charts/braces-flow/values.yaml").read_text().splitlines()
    for index, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("#") or stripped.endswith(":"):
            continue
        assert lines[index - 1].strip().startswith("# -- "), f"undocumented value: {line}"


def test_no_secret_value_reaches_the_chart(project):
    from chartgen.chart import generate_chart

    generate_chart(project / "workflows" / "braces-flow", make_config(project))
    for rel, data in tree(project / "charts").items():
        assert b"fixture-secret-value-4711" not in data, rel
        assert b"fixture-password-0815" not in data, rel
    secret = [o for o in helm_objects(project / "charts/braces-flow") if o["kind"] == "Secret"][0]
    assert secret["stringData"] == {"API_TOKEN": "", "quarkus.api.password": ""}


def test_output_is_byte_deterministic(project, tmp_path_factory):
    from chartgen.chart import generate_chart

    config = make_config(project)
    generate_chart(project / "workflows" / "braces-flow", config, out_dir=project / "a")
    generate_chart(project / "workflows" / "braces-flow", config, out_dir=project / "b")
    assert tree(project / "a") == tree(project / "b")


def test_deleted_spec_leaves_no_trace(project):
    from chartgen.chart import generate_chart

    folder = project / "workflows" / "braces-flow"
    config = make_config(project)
    first = generate_chart(folder, config)
    # the flow stops using the spec; the spec file goes away
    flow = (folder / "braces.sw.yaml").read_text()
    (folder / "braces.sw.yaml").write_text(flow.replace("operation: specs/api.yaml#getThing",
                                                        "operation: http://example.com/api.yaml#getThing"))
    (folder / "specs" / "api.yaml").unlink()
    (folder / "specs").rmdir()
    second = generate_chart(folder, config)
    assert second.changed and second.version == "0.1.0-rc.2" and second.previous_version == first.version
    for root in (project / "charts" / "braces-flow", project / "charts" / "workflows"):
        for rel, data in tree(root).items():
            assert "specs" not in rel.split("/")[-2:-1] and "api.yaml" not in rel, rel
            assert b"resources-specs" not in data, rel
    kinds = [(o["kind"], o["metadata"]["name"]) for o in helm_objects(project / "charts" / "braces-flow")]
    assert ("ConfigMap", "02-braces-flow-resources-specs") not in kinds
    assert len(kinds) == 4


def test_stale_files_are_removed_and_declared_extras_kept(project):
    from dataclasses import replace

    from chartgen.chart import generate_chart
    from chartgen.errors import ChartgenError

    config = make_config(project, "chart:\n  extras:\n    braces-flow:\n      - templates/extra-*.yaml\n"
                                  "      - crds/*.yaml\n      - templates/NOTES.txt\n")
    folder = project / "workflows" / "braces-flow"
    generate_chart(folder, config)
    chart = project / "charts" / "braces-flow"
    (chart / "templates" / "99-stale_old.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: old\n")
    (chart / "templates" / "extra-route.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-extra\ndata: {}\n")
    (chart / "crds").mkdir()
    (chart / "crds" / "thing.yaml").write_text("# a CRD the workflow needs\n")
    (chart / "templates" / "NOTES.txt").write_text("Hand-written notes.\n")
    # The file chartgen did not write is a hand edit; the declared extras are not.
    with pytest.raises(ChartgenError) as refused:
        generate_chart(folder, config)
    assert [(f.code, f.path) for f in refused.value.findings] == [
        ("chart-hand-edit", str(chart / "templates" / "99-stale_old.yaml"))]
    config = config.with_overrides(chart=replace(config.chart, hand_edits="overwrite"))
    generate_chart(folder, config)
    files = tree(chart)
    assert "templates/99-stale_old.yaml" not in files
    assert files["templates/extra-route.yaml"].startswith(b"apiVersion: v1")
    assert files["crds/thing.yaml"] == b"# a CRD the workflow needs\n"
    assert files["templates/NOTES.txt"] == b"Hand-written notes.\n"
    names = [o["metadata"]["name"] for o in helm_objects(chart, name="rel")]
    assert "rel-extra" in names and "old" not in names


def test_extra_template_repeating_a_generated_object_is_an_error(project):
    from chartgen.chart import generate_chart
    from chartgen.errors import ChartgenError

    config = make_config(project, "chart:\n  extras:\n    braces-flow: [templates/old-*.yaml]\n")
    folder = project / "workflows" / "braces-flow"
    generate_chart(folder, config)
    chart = project / "charts" / "braces-flow"
    # what the old copy-without-delete PR script left behind: a stale SonataFlow of the same name
    (chart / "templates" / "old-04-sonataflow_braces-flow.yaml").write_bytes(
        (chart / "templates" / "05-sonataflow_braces-flow.yaml").read_bytes())
    before = tree(chart)
    with (folder / "application.properties").open("a") as handle:
        handle.write("\nchanged=1\n")
    with pytest.raises(ChartgenError) as caught:
        generate_chart(folder, config)
    assert caught.value.code == "duplicate-object" and "SonataFlow 'braces-flow'" in caught.value.findings[0].message
    assert tree(chart) == before    # the chart on disk is untouched


def test_bad_folder_is_an_error_and_writes_nothing(tmp_path):
    from chartgen.chart import generate_charts
    from chartgen.errors import ChartgenError

    config = make_config(tmp_path)
    with pytest.raises(ChartgenError) as caught:
        generate_charts([FIXTURES / "braces-flow", FIXTURES / "bad" / "no-id"], config, out_dir=tmp_path / "charts")
    assert any(f.code == "no-id" and f.path.endswith("noid.sw.yaml") for f in caught.value.findings)
    assert not (tmp_path / "charts").exists()


def test_refuses_to_replace_a_hand_made_chart(tmp_path):
    from chartgen.chart import generate_chart
    from chartgen.errors import ChartgenError

    chart = tmp_path / "charts" / "braces-flow"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: braces-flow\nversion: 1.0.0\n")
    with pytest.raises(ChartgenError) as caught:
        generate_chart(FIXTURES / "braces-flow", make_config(tmp_path))
    assert caught.value.code == "output-not-ours"
    assert sorted(p.name for p in chart.rglob("*")) == ["Chart.yaml", "templates"]


def test_two_objects_of_the_same_kind_and_name_are_an_error():
    from chartgen.chart.templates import build_templates
    from chartgen.errors import ChartgenError
    from chartgen.manifests import Manifest

    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"a": "b"}}
    with pytest.raises(ChartgenError) as caught:
        build_templates((Manifest("01-configmap_x.yaml", "ConfigMap", "x", obj),
                         Manifest("02-configmap_x.yaml", "ConfigMap", "x", obj)), "c")
    assert caught.value.code == "duplicate-object"


def test_chart_names_come_from_folder_names():
    from chartgen.names import chart_name

    assert chart_name("mta-v7.x") == "mta-v7-x"
    assert chart_name("01_basic") == "01-basic"
    assert chart_name("Greeting") == "greeting"


def test_workflow_named_like_the_umbrella_is_refused(tmp_path):
    from chartgen.chart import generate_chart
    from chartgen.errors import UsageError

    folder = tmp_path / "src" / "workflows"
    shutil.copytree(FIXTURES / "braces-flow", folder)
    with pytest.raises(UsageError) as caught:
        generate_chart(folder, make_config(tmp_path))
    assert caught.value.code == "chart-name-clash"
