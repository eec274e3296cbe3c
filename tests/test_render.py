"""`chartgen render`: files, names, numbering, secrets, properties, determinism, output directory."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from chartgen.cli import main
from chartgen.config import load_config, parse_config
from chartgen.errors import ChartgenError, UsageError
from chartgen.fsutil import MARKER
from chartgen.manifests import (DELIBERATE_DIFFERENCES, Manifest, PersistenceSettings, RenderOptions,
                                manifest_filename, render_manifests, render_options,
                                resource_configmap_name, write_manifests)
from chartgen.sources import load_workflow

FIXTURES = Path(__file__).parent / "fixtures" / "render"
FULL = FIXTURES / "full"
SECRET_VALUES = ("zeta-secret-value-1", "alpha-secret-value-2", "env-secret-value-3")


def render(folder: Path = FULL, **options) -> tuple[Manifest, ...]:
    return render_manifests(load_workflow(folder, shared_dir=False), RenderOptions(**options))


def by_kind(manifests, kind):
    return [m for m in manifests if m.kind == kind]


def cli(args, capsys) -> tuple[int, str, str]:
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = exc.code or 0
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    """Run with no chartgen.yaml around (defaults), cwd = tmp_path."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CHARTGEN_CONFIG", raising=False)
    return tmp_path


# -- files, names, numbering -------------------------------------------------------------

def test_file_names_and_numbering_follow_upstream():
    names = [m.filename for m in render()]
    assert names == [
        "01-configmap_full-flow-props.yaml",
        "02-secret_full-flow-secrets.yaml",
        "03-configmap_01-full-flow-resources-schemas.yaml",
        "04-configmap_02-full-flow-resources-specs.yaml",
        "05-configmap_03-full-flow-resources-subflows.yaml",
        "06-configmap_04-full-flow-resources-subflows-specs.yaml",
        "07-sonataflow_full-flow.yaml",
    ]


def test_minimal_folder_gives_a_single_sonataflow(tmp_path):
    (tmp_path / "hello.sw.yaml").write_text(
        "id: Hello\nversion: '1.0'\nstates: [{name: S, type: inject, data: {}, end: true}]\n")
    manifests = render(tmp_path)
    assert [m.filename for m in manifests] == ["01-sonataflow_hello.yaml"]
    assert manifests[0].name == "hello"  # lower-cased id, as upstream


def test_manifest_filename_is_lower_cased():
    assert manifest_filename(3, "ConfigMap", "01-x-resources-specs") == "03-configmap_01-x-resources-specs.yaml"


def test_resource_configmap_names_and_mounts():
    manifests = render()
    flow = manifests[-1].obj
    assert flow["spec"]["resources"]["configMaps"] == [
        {"configMap": {"name": "01-full-flow-resources-schemas"}, "workflowPath": "schemas"},
        {"configMap": {"name": "02-full-flow-resources-specs"}, "workflowPath": "specs"},
        {"configMap": {"name": "03-full-flow-resources-subflows"}, "workflowPath": "subflows"},
        {"configMap": {"name": "04-full-flow-resources-subflows-specs"}, "workflowPath": "subflows/specs"},
    ]
    schemas = manifests[2].obj
    assert sorted(schemas["data"]) == ["input.json", "output.json"]
    assert schemas["data"]["input.json"] == (FULL / "schemas" / "input.json").read_text()
    assert "labels" not in schemas["metadata"]  # upstream puts no labels on resource ConfigMaps
    subflows = manifests[4].obj
    assert subflows["data"]["child.sw.yaml"] == (FULL / "subflows" / "child.sw.yaml").read_text()


def test_resource_configmap_name_sanitises_paths():
    assert resource_configmap_name(2, "wf", "shared/schemas") == "02-wf-resources-shared-schemas"
    assert resource_configmap_name(1, "wf", "My_Specs") == "01-wf-resources-my-specs"


def test_shared_files_travel_as_their_own_configmap(tmp_path):
    shared = tmp_path / "shared" / "schemas"
    shared.mkdir(parents=True)
    (shared / "result.json").write_text('{"type": "object"}\n')
    folder = tmp_path / "wf"
    (folder / "schemas").mkdir(parents=True)
    (folder / "schemas" / "output.json").write_text('{"$ref": "../shared/schemas/result.json"}\n')
    (folder / "wf.sw.yaml").write_text("id: wf\nversion: '1'\nstates: [{name: S, type: inject, data: {}, end: true}]\n")
    manifests = render_manifests(load_workflow(folder), RenderOptions())
    mounts = manifests[-1].obj["spec"]["resources"]["configMaps"]
    assert mounts == [{"configMap": {"name": "01-wf-resources-schemas"}, "workflowPath": "schemas"},
                      {"configMap": {"name": "02-wf-resources-shared-schemas"}, "workflowPath": "shared/schemas"}]
    assert manifests[1].obj["data"] == {"result.json": '{"type": "object"}\n'}


# -- SonataFlow object -------------------------------------------------------------------

def test_sonataflow_metadata_labels_and_annotations():
    flow = render(namespace="team-a", profile="preview")[-1].obj
    meta = flow["metadata"]
    assert flow["apiVersion"] == "sonataflow.org/v1alpha08" and flow["kind"] == "SonataFlow"
    assert meta["name"] == "full-flow" and meta["namespace"] == "team-a"
    assert meta["annotations"] == {
        "sonataflow.org/description": "Exercises every part of rendering",
        "sonataflow.org/expressionLang": "jq",
        "sonataflow.org/profile": "preview",
        "sonataflow.org/version": "1.2",
        "sonataflow.org/name": "Full flow",
    }
    assert meta["labels"] == {
        "app": "full-flow", "sonataflow.org/workflow-app": "full-flow",
        "app.kubernetes.io/component": "serverless-workflow",
        "app.kubernetes.io/managed-by": "sonataflow-operator",
        "app.kubernetes.io/name": "full-flow", "sonataflow.org/workflow-namespace": "team-a",
    }
    assert "creationTimestamp" not in meta and "status" not in flow
    assert flow["spec"]["podTemplate"]["container"]["resources"] == {}
    assert "image" not in flow["spec"]["podTemplate"]["container"]
    assert "persistence" not in flow["spec"]
    # moved/dropped keys are not in the flow
    assert not {"id", "name", "version", "description", "specVersion", "extensions",
                "expressionLang"} & set(flow["spec"]["flow"])


@pytest.mark.parametrize("label_set, expected", [
    ("app", {"app", "sonataflow.org/workflow-app"}),
    ("standard", {"app", "sonataflow.org/workflow-app", "app.kubernetes.io/component",
                  "app.kubernetes.io/managed-by", "app.kubernetes.io/name", "sonataflow.org/workflow-namespace"}),
    ("full", {"app", "sonataflow.org/workflow-app", "app.kubernetes.io/component", "app.kubernetes.io/instance",
              "app.kubernetes.io/managed-by", "app.kubernetes.io/name", "app.kubernetes.io/version",
              "sonataflow.org/workflow-namespace"}),
])
def test_label_sets(label_set, expected):
    manifests = render(label_set=label_set, operator_version="1.36.0", extra_labels=(("team", "a"),))
    for manifest in manifests:
        labels = manifest.obj["metadata"].get("labels")
        if manifest.name.startswith("0"):  # resource ConfigMaps carry no labels
            assert labels is None
        else:
            assert set(labels) == expected | {"team"}
            if label_set == "full":
                assert labels["app.kubernetes.io/version"] == "1.36.0"


def test_no_namespace_means_no_namespace_key():
    for manifest in render():
        assert "namespace" not in manifest.obj["metadata"]


def test_image_and_persistence():
    flow = render(image="quay.io/o/wf:1.0", persistence=PersistenceSettings())[-1].obj
    assert flow["spec"]["podTemplate"]["container"]["image"] == "quay.io/o/wf:1.0"
    assert flow["spec"]["persistence"] == {"postgresql": {
        "secretRef": {"name": "sonataflow-psql-postgresql", "userKey": "postgres-username",
                      "passwordKey": "postgres-password"},
        "serviceRef": {"name": "sonataflow-psql-postgresql", "port": 5432, "databaseName": "sonataflow",
                       "databaseSchema": "full_flow"},  # a valid PostgreSQL identifier, not full-flow
    }}


def test_persistence_explicit_schema_and_service_namespace():
    settings = PersistenceSettings(secret_name="db", service_namespace="data", database_schema="custom",
                                   migrate_db_on_startup=True)
    flow = render(persistence=settings)[-1].obj
    service = flow["spec"]["persistence"]["postgresql"]["serviceRef"]
    assert service["namespace"] == "data" and service["databaseSchema"] == "custom"
    assert flow["spec"]["persistence"]["migrateDBOnStartUp"] is True
    assert "migrateDBOnStartUp" not in render(persistence=PersistenceSettings())[-1].obj["spec"]["persistence"]


# -- properties and secrets --------------------------------------------------------------

def test_application_properties_are_copied_verbatim():
    props = render()[0].obj
    assert props["data"] == {"application.properties": (FULL / "application.properties").read_text()}
    assert props["metadata"]["name"] == "full-flow-props"


def test_properties_with_trailing_spaces_and_no_newline_survive_the_round_trip(tmp_path):
    shutil.copy(FULL / "full.sw.yaml", tmp_path / "full.sw.yaml")
    text = "a=1   \n\tb=2\r\nlast=no newline"
    (tmp_path / "application.properties").write_bytes(text.encode())
    manifest = render(tmp_path)[0]
    assert yaml.safe_load(manifest.to_yaml())["data"]["application.properties"] == text


def test_secret_properties_become_a_secret_and_env_in_file_order():
    manifests = render()
    secret = by_kind(manifests, "Secret")[0].obj
    assert secret["metadata"]["name"] == "full-flow-secrets"
    assert "type" not in secret
    assert secret["stringData"] == {"zeta.token": "zeta-secret-value-1", "alpha-key": "alpha-secret-value-2",
                                    "my.env-1": "env-secret-value-3"}
    env = manifests[-1].obj["spec"]["podTemplate"]["container"]["env"]
    assert env == [
        {"name": "ZETA_TOKEN", "valueFrom": {"secretKeyRef": {"name": "full-flow-secrets", "key": "zeta.token"}}},
        {"name": "ALPHA_KEY", "valueFrom": {"secretKeyRef": {"name": "full-flow-secrets", "key": "alpha-key"}}},
        {"name": "MY_ENV_1", "valueFrom": {"secretKeyRef": {"name": "full-flow-secrets", "key": "my.env-1"}}},
    ]


def test_secret_values_only_in_the_secret():
    for manifest in render():
        text = manifest.to_yaml()
        for value in SECRET_VALUES:
            assert (value in text) == (manifest.kind == "Secret"), (manifest.filename, value)


def test_empty_secret_properties_gives_no_secret(tmp_path):
    shutil.copy(FULL / "full.sw.yaml", tmp_path / "full.sw.yaml")
    (tmp_path / "secret.properties").write_text("# nothing yet\n\n")
    manifests = render(tmp_path)
    assert not by_kind(manifests, "Secret")
    assert "env" not in manifests[-1].obj["spec"]["podTemplate"]["container"]


def test_profile_secret_keys_are_rejected_without_printing_values(in_tmp, capsys):
    folder = FIXTURES / "bad-secret-key"
    with pytest.raises(ChartgenError) as info:
        render(folder)
    codes = [(f.line, f.code) for f in info.value.findings]
    assert codes == [(2, "secret-key"), (3, "secret-key")]
    code, out, err = cli(["render", str(folder), "--out", str(in_tmp / "out")], capsys)
    assert code == 1
    assert "secret.properties:2:1: error:" in err and "%dev.api.token" in err
    for value in ("first-value-1234", "PROFILE-SECRET-9876", "DOLLAR-SECRET-5555"):
        assert value not in out + err
    assert not (in_tmp / "out").exists()


def test_duplicate_env_names_are_an_error(tmp_path):
    shutil.copy(FULL / "full.sw.yaml", tmp_path / "full.sw.yaml")
    (tmp_path / "secret.properties").write_text("a.b=one-secret\na-b=two-secret\n")
    with pytest.raises(ChartgenError) as info:
        render(tmp_path)
    assert info.value.findings[0].code == "secret-env-duplicate"
    assert "one-secret" not in info.value.format() and "two-secret" not in info.value.format()


# -- bad inputs: a clear error naming the file, exit 1, nothing written --------------------

BAD = {
    "no-workflow": ("no-workflow", None),
    "two-workflows": ("several-workflows", None),
    "invalid-id": ("invalid-name", "flow.sw.yaml:1:5"),
    "bad-yaml": ("yaml-syntax", "flow.sw.yaml:5:4"),
    "bad-secret-key": ("secret-key", "secret.properties:2:1"),
    "numeric-version": ("not-a-string", "flow.sw.yaml:2:10"),
    "constants": ("constants-unsupported", "flow.sw.yaml:4"),
    "empty-resource": ("empty-resource", "schemas/empty.json"),
    "no-states": ("no-states", "flow.sw.json:1"),
    "bad-configmap-key": ("configmap-key", "schemas/my schema.json"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_folder_fails_clearly_and_writes_nothing(name, in_tmp, capsys):
    code_expected, where = BAD[name]
    out_dir = in_tmp / "out"
    code, out, err = cli(["render", str(FIXTURES / name), "--out", str(out_dir)], capsys)
    assert code == 1, err
    assert f"[{code_expected}]" in err
    assert str(FIXTURES / name) in err
    if where:
        assert where in err
    assert "Traceback" not in err
    assert not out_dir.exists()
    assert list(in_tmp.iterdir()) == []  # no temp directory left behind either


def test_failure_keeps_previous_output(in_tmp, capsys):
    out_dir = in_tmp / "out"
    assert cli(["render", str(FULL), "--out", str(out_dir)], capsys)[0] == 0
    before = {p.name: p.read_bytes() for p in out_dir.iterdir()}
    assert cli(["render", str(FIXTURES / "invalid-id"), "--out", str(out_dir)], capsys)[0] == 1
    assert {p.name: p.read_bytes() for p in out_dir.iterdir()} == before


def test_usage_errors_exit_2(in_tmp, capsys):
    code, _, err = cli(["render", str(in_tmp / "missing"), "--out", str(in_tmp / "o")], capsys)
    assert code == 2 and "unknown-workflow" in err
    code, _, _ = cli(["render", str(FULL), "--out", str(in_tmp / "o"), "--profile", "prod"], capsys)
    assert code == 2
    assert not (in_tmp / "o").exists()


# -- output directory ------------------------------------------------------------------------

def test_cli_writes_files_and_prints_them(in_tmp, capsys):
    out_dir = in_tmp / "out"
    code, out, err = cli(["render", str(FULL), "--out", str(out_dir), "--image", "quay.io/o/full:1",
                          "--namespace", "ns1", "--persistence"], capsys)
    assert code == 0, err
    files = sorted(p.name for p in out_dir.iterdir())
    assert files == sorted([MARKER] + [m.filename for m in render()])
    for name in files[1:]:
        assert f"wrote {out_dir / name}" in out
    flow = yaml.safe_load((out_dir / "07-sonataflow_full-flow.yaml").read_text())
    assert flow["metadata"]["namespace"] == "ns1"
    assert flow["spec"]["podTemplate"]["container"]["image"] == "quay.io/o/full:1"
    assert flow["spec"]["persistence"]["postgresql"]["serviceRef"]["databaseSchema"] == "full_flow"
    assert flow["metadata"]["annotations"]["sonataflow.org/profile"] == "gitops"
    assert (out_dir / "02-secret_full-flow-secrets.yaml").stat().st_mode & 0o077 == 0
    for value in SECRET_VALUES:
        assert value not in out + err


def test_workflow_given_by_name_from_the_sources_folder(tmp_path, monkeypatch, capsys):
    shutil.copytree(FULL, tmp_path / "flows" / "full")
    (tmp_path / "chartgen.yaml").write_text("sources: flows\nshared: flows/shared\nrender:\n  profile: dev\n")
    monkeypatch.chdir(tmp_path)
    code, out, err = cli(["render", "full", "--out", "out"], capsys)
    assert code == 0, err
    flow = yaml.safe_load((tmp_path / "out" / "07-sonataflow_full-flow.yaml").read_text())
    assert flow["metadata"]["annotations"]["sonataflow.org/profile"] == "dev"


def test_render_twice_gives_identical_bytes(in_tmp, capsys):
    outputs = []
    for run in range(2):
        out_dir = in_tmp / f"out{run}"
        assert cli(["render", str(FULL), "--out", str(out_dir)], capsys)[0] == 0
        outputs.append({p.name: p.read_bytes() for p in sorted(out_dir.iterdir())})
    assert outputs[0] == outputs[1]
    assert [m.to_yaml() for m in render()] == [m.to_yaml() for m in render()]


def test_rerender_replaces_stale_files(in_tmp, capsys):
    folder = in_tmp / "wf"
    shutil.copytree(FULL, folder)
    out_dir = in_tmp / "out"
    assert cli(["render", str(folder), "--out", str(out_dir)], capsys)[0] == 0
    assert (out_dir / "02-secret_full-flow-secrets.yaml").exists()
    (folder / "secret.properties").unlink()
    shutil.rmtree(folder / "subflows")
    assert cli(["render", str(folder), "--out", str(out_dir)], capsys)[0] == 0
    assert sorted(p.name for p in out_dir.iterdir()) == [
        MARKER, "01-configmap_full-flow-props.yaml", "02-configmap_01-full-flow-resources-schemas.yaml",
        "03-configmap_02-full-flow-resources-specs.yaml", "04-sonataflow_full-flow.yaml"]


def test_foreign_non_empty_directory_is_refused(in_tmp, capsys):
    out_dir = in_tmp / "mine"
    out_dir.mkdir()
    (out_dir / "precious.txt").write_text("keep me")
    code, _, err = cli(["render", str(FULL), "--out", str(out_dir)], capsys)
    assert code == 1 and "output-not-ours" in err
    assert [p.name for p in out_dir.iterdir()] == ["precious.txt"]
    with pytest.raises(ChartgenError):
        write_manifests(render(), out_dir)


def test_empty_existing_directory_is_used(in_tmp):
    out_dir = in_tmp / "empty"
    out_dir.mkdir()
    written = write_manifests(render(), out_dir)
    assert [p.name for p in written] == [m.filename for m in render()]


# -- options and configuration -------------------------------------------------------------

def test_render_options_from_config_and_overrides(tmp_path):
    text = ("render:\n  profile: preview\n  namespace: wf\n  labelSet: full\n  operatorVersion: '1.36'\n"
            "  labels: {team: a}\n  persistence:\n    enabled: true\n    secretName: pg\n    port: 6543\n"
            "    migrateDBOnStartUp: true\n")
    config = parse_config(text, str(tmp_path / "chartgen.yaml"), tmp_path)
    options = render_options(config.render)
    assert (options.profile, options.namespace, options.label_set, options.operator_version) == \
        ("preview", "wf", "full", "1.36")
    assert options.extra_labels == (("team", "a"),)
    assert options.persistence == PersistenceSettings(secret_name="pg", port=6543, migrate_db_on_startup=True)
    overridden = render_options(config.render, profile="gitops", namespace="", persistence=False, image="img")
    assert (overridden.profile, overridden.namespace, overridden.persistence, overridden.image) == \
        ("gitops", "", None, "img")


def test_render_options_defaults_without_config(tmp_path):
    options = render_options(load_config(start=tmp_path).render)
    assert options == RenderOptions()
    assert (options.profile, options.namespace, options.label_set, options.persistence, options.image) == \
        ("gitops", "", "standard", None, None)
    assert render_options(None, persistence=True).persistence == PersistenceSettings()


def test_render_config_section_is_checked(tmp_path):
    with pytest.raises(UsageError) as info:
        parse_config("render:\n  profil: dev\n", str(tmp_path / "chartgen.yaml"), tmp_path)
    assert info.value.findings[0].line == 2 and info.value.code == "config-unknown-key"
    with pytest.raises(UsageError):
        parse_config("render:\n  persistence:\n    port: '5432'\n", str(tmp_path / "c.yaml"), tmp_path)


def test_bad_options_are_usage_errors():
    with pytest.raises(UsageError):
        RenderOptions(profile="prod")
    with pytest.raises(UsageError):
        RenderOptions(label_set="seven")


def test_options_are_frozen_and_hashable():
    options = RenderOptions(extra_labels=(("b", "2"), ("a", "1")))
    assert options.extra_labels == (("a", "1"), ("b", "2"))
    hash(options)
    with pytest.raises(Exception):
        options.profile = "dev"  # type: ignore[misc]


def test_deliberate_differences_are_documented():
    ids = [d.id for d in DELIBERATE_DIFFERENCES]
    assert len(ids) == len(set(ids))
    for difference in DELIBERATE_DIFFERENCES:
        assert difference.upstream and difference.chartgen and difference.why


@pytest.mark.parametrize("options", [{"namespace": "Team_A"}, {"extra_labels": (("team", "a b"),)},
                                     {"extra_labels": (("bad key!", "x"),)}, {"extra_labels": (("t", "x" * 64),)}])
def test_invalid_namespace_and_labels_are_usage_errors(options):
    with pytest.raises(UsageError):
        RenderOptions(**options)
    RenderOptions(namespace="team-a", extra_labels=(("example.com/team", "a.b_c"),))


def test_docs_list_every_deliberate_difference():
    render_doc = (Path(__file__).parent.parent / "docs" / "render.md").read_text(encoding="utf-8")
    section = render_doc.split("## Deliberate differences from `kn workflow gen-manifest`", 1)[1].split("\n## ", 1)[0]
    for difference in DELIBERATE_DIFFERENCES:
        assert f"| `{difference.id}` |" in section, difference.id


def test_file_valued_sections_are_inlined(tmp_path):
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "functions.json").write_text('{"functions": [{"name": "f", "operation": "specs/x.yaml#o"}]}')
    (tmp_path / "wf.sw.yaml").write_text(
        "id: wf\nversion: '1'\nfunctions: specs/functions.json\n"
        "states: [{name: S, type: operation, actions: [{functionRef: f}], end: true}]\n")
    flow = render(tmp_path)[-1].obj["spec"]["flow"]
    assert flow["functions"] == [{"name": "f", "operation": "specs/x.yaml#o", "type": "rest"}]


@pytest.mark.parametrize("ref, code", [("missing.json", "missing-section-file"),
                                       ("https://example.com/f.json", "remote-section"),
                                       ("../outside.json", "missing-section-file")])
def test_bad_file_valued_sections(tmp_path, ref, code):
    (tmp_path / "outside.json").write_text('{"functions": []}')
    folder = tmp_path / "wf"
    folder.mkdir()
    (folder / "wf.sw.yaml").write_text(f"id: wf\nversion: '1'\nfunctions: {ref}\n"
                                       "states: [{name: S, type: inject, end: true}]\n")
    with pytest.raises(ChartgenError) as info:
        render(folder)
    assert info.value.code == code and info.value.findings[0].line == 3


def test_returned_objects_are_independent_of_the_folder():
    folder = load_workflow(FULL, shared_dir=False)
    first = render_manifests(folder, RenderOptions())
    first[-1].obj["spec"]["flow"]["states"][0]["actions"][0]["functionRef"]["refName"] = "changed"
    first[-1].obj["spec"]["flow"]["annotations"].append("x")
    second = render_manifests(folder, RenderOptions())
    assert second[-1].obj["spec"]["flow"]["states"][0]["actions"][0]["functionRef"]["refName"] == "log"
    assert second[-1].obj["spec"]["flow"]["annotations"] == ["workflow-type/infrastructure"]



def test_folder_outside_the_sources_uses_its_sibling_shared_folder(tmp_path, monkeypatch, capsys):
    repo = tmp_path / "repo"
    (repo / "flows" / "shared" / "schemas").mkdir(parents=True)
    (repo / "flows" / "shared" / "schemas" / "result.json").write_text('{"from": "repository"}\n')
    (repo / "chartgen.yaml").write_text("sources: flows\nshared: flows/shared\n")
    outside = tmp_path / "elsewhere"
    (outside / "_shared" / "schemas").mkdir(parents=True)
    (outside / "_shared" / "schemas" / "result.json").write_text('{"from": "sibling"}\n')
    (outside / "wf" / "schemas").mkdir(parents=True)
    (outside / "wf" / "schemas" / "out.json").write_text('{"$ref": "../shared/schemas/result.json"}\n')
    (outside / "wf" / "wf.sw.yaml").write_text("id: wf\nversion: '1'\nstates: [{name: S, type: inject, end: true}]\n")
    shutil.copytree(outside / "wf", repo / "flows" / "wf")
    monkeypatch.chdir(repo)
    for folder, origin in ((str(outside / "wf"), "sibling"), ("wf", "repository")):
        code, _, err = cli(["render", folder, "--out", str(tmp_path / "out")], capsys)
        assert code == 0, err
        shared_cm = yaml.safe_load((tmp_path / "out" / "02-configmap_02-wf-resources-shared-schemas.yaml").read_text())
        assert shared_cm["data"]["result.json"] == f'{{"from": "{origin}"}}\n'


def test_byte_identical_across_processes(tmp_path):
    """Separate interpreters with different hash seeds write the same bytes."""
    import os
    import subprocess
    import sys

    outputs = []
    for seed in ("1", "2"):
        out_dir = tmp_path / f"out{seed}"
        env = {**os.environ, "PYTHONHASHSEED": seed}
        env.pop("CHARTGEN_CONFIG", None)
        subprocess.run([sys.executable, "-m", "chartgen", "render", str(FULL), "--out", str(out_dir),
                        "--persistence", "--namespace", "ns"], check=True, cwd=tmp_path, env=env,
                       capture_output=True)
        outputs.append({p.name: p.read_bytes() for p in sorted(out_dir.iterdir())})
    assert outputs[0] == outputs[1] and len(outputs[0]) == 8


def test_output_path_that_is_a_file_is_refused(in_tmp, capsys):
    (in_tmp / "out").write_text("a file")
    code, _, err = cli(["render", str(FULL), "--out", str(in_tmp / "out")], capsys)
    assert code == 2 and "is a file" in err  # a usage error, caught by the option's type
    assert (in_tmp / "out").read_text() == "a file"
    with pytest.raises(ChartgenError) as info:
        write_manifests(render(), in_tmp / "out")
    assert info.value.code == "output-not-dir"


@pytest.mark.parametrize("link", ["application.properties", "secret.properties"])
def test_symlinks_out_of_the_folder_are_refused(tmp_path, link, in_tmp, capsys):
    outside = tmp_path / "outside-creds"
    outside.write_text("password=hunter2-outside\n")
    folder = tmp_path / "wf"
    folder.mkdir()
    shutil.copy(FULL / "full.sw.yaml", folder / "full.sw.yaml")
    (folder / link).symlink_to(outside)
    code, out, err = cli(["render", str(folder), "--out", str(in_tmp / "out")], capsys)
    assert code == 1 and "[path-escape]" in err and f"{link}:" in err
    assert "hunter2-outside" not in out + err
    assert not (in_tmp / "out").exists()
