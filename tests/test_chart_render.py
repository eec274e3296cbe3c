"""Charts rendered by real Helm give exactly the objects `chartgen render` produces.

For every folder of workflow_sources/ and of ../shared/corpus that renders: the chart is
generated once, Helm (helm-python-sdk, in-process Helm 4) renders it with default values
and with a set of non-default values, and the objects must equal render_manifests' with
the same settings. The folders with `{{`, `}}` and `{{-` in their flow, specs and schemas
are part of the set, so their text must survive Helm untouched.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from chart_helpers import (corpus_folders, default_image, expected_objects, folder_id, generate, helm_objects, renders,
                           repo_config, secret_values, with_chart_labels, workflow_source_folders)
from conftest import CORPUS, REPO, need

FIXTURE = REPO / "tests" / "fixtures" / "chart" / "braces-flow"
MINIMAL = REPO / "tests" / "fixtures" / "chart" / "minimal"     # no properties, secrets or resources
# CRLF, tabs, trailing spaces, `---` lines, U+2028, emoji, big ints and floats, YAML 1.1 words
TRICKY = REPO / "tests" / "fixtures" / "chart" / "tricky"
# Folders chartgen render rejects (several main workflows, ids that are no Kubernetes names)
# have no chart; test_render covers their errors. At least 25 of the 45 corpus folders render.
FOLDERS = [f for f in [FIXTURE, MINIMAL, TRICKY] + workflow_source_folders() + corpus_folders() if renders(f)]


@pytest.fixture(scope="module")
def charts(tmp_path_factory):
    """folder -> generated chart folder (generated on first use)."""
    out = tmp_path_factory.mktemp("charts")
    cache: dict[Path, Path] = {}

    def get(folder: Path) -> Path:
        if folder not in cache:
            cache[folder] = generate(folder, out / folder.parent.name).path
        return cache[folder]
    return get


def _blank_secrets(objects: list[dict]) -> list[dict]:
    for obj in objects:
        if obj["kind"] == "Secret":
            obj["stringData"] = {key: "" for key in obj["stringData"]}
    return objects


@pytest.mark.parametrize("folder", FOLDERS, ids=folder_id)
def test_default_values_give_the_rendered_objects(folder, charts):
    chart = charts(folder)
    got = helm_objects(chart, {}, namespace="team-a")
    want = with_chart_labels(_blank_secrets(expected_objects(folder, namespace="team-a", image=default_image(folder))),
                             chart)
    assert [(o["kind"], o["metadata"]["name"]) for o in got] == [(o["kind"], o["metadata"]["name"]) for o in want]
    for got_obj, want_obj in zip(got, want):
        assert got_obj == want_obj, f"{got_obj['kind']}/{got_obj['metadata']['name']} differs"


CUSTOM_LABELS = {"team": "payments", "app.kubernetes.io/part-of": "orchestrator"}


def _custom_values(folder: Path) -> dict:
    values = {
        "profile": "dev",
        "image": {"registry": "registry.example.com/team/", "repository": "wf", "tag": "1.2.3",
                  "pullPolicy": "Always"},
        "replicas": 2,
        "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}},
        "labels": CUSTOM_LABELS,
        "annotations": {"example.com/owner": "team-payments"},
        "persistence": {"enabled": True, "migrateDBOnStartUp": True, "postgresql": {
            "secretRef": {"name": "pg-creds", "userKey": "user", "passwordKey": "pass"},
            "serviceRef": {"name": "pg", "namespace": "databases", "port": 5433, "databaseName": "flows",
                           "databaseSchema": "custom_schema"}}},
    }
    secrets = secret_values(folder)
    if secrets:
        values["secrets"] = {"values": secrets}
    return values


def _expected_custom(folder: Path) -> list[dict]:
    from chartgen.manifests import PersistenceSettings

    persistence = PersistenceSettings(secret_name="pg-creds", user_key="user", password_key="pass",
                                      service_name="pg", service_namespace="databases", port=5433,
                                      database_name="flows", database_schema="custom_schema",
                                      migrate_db_on_startup=True)
    want = expected_objects(folder, profile="dev", namespace="team-b", image="registry.example.com/team/wf:1.2.3",
                            persistence=persistence, extra_labels=CUSTOM_LABELS)
    for obj in want:
        meta = obj["metadata"]
        meta["annotations"] = {**meta.get("annotations", {}), "example.com/owner": "team-payments"}
        if obj["kind"] == "SonataFlow":
            pod = obj["spec"]["podTemplate"]
            pod["replicas"] = 2
            pod["container"]["imagePullPolicy"] = "Always"
            pod["container"]["resources"] = {"requests": {"cpu": "100m", "memory": "256Mi"},
                                             "limits": {"memory": "1Gi"}}
    return want


@pytest.mark.parametrize("folder", FOLDERS, ids=folder_id)
def test_custom_values_give_the_rendered_objects(folder, charts):
    got = helm_objects(charts(folder), _custom_values(folder), namespace="team-b")
    want = with_chart_labels(_expected_custom(folder), charts(folder), values_labels=CUSTOM_LABELS)
    assert [(o["kind"], o["metadata"]["name"]) for o in got] == [(o["kind"], o["metadata"]["name"]) for o in want]
    for got_obj, want_obj in zip(got, want):
        assert got_obj == want_obj, f"{got_obj['kind']}/{got_obj['metadata']['name']} differs"


def test_most_of_the_corpus_is_covered():
    need(CORPUS.is_dir(), f"{CORPUS} is absent")
    assert len([f for f in FOLDERS if f.is_relative_to(CORPUS)]) >= 25


@pytest.mark.parametrize("folder", FOLDERS, ids=folder_id)
def test_generated_chart_passes_helm_lint_strict_and_yamllint(folder, charts):
    from chartgen.chart.lint import lint_chart

    findings = lint_chart(charts(folder), repo_config())
    assert [f.format() for f in findings] == []


@pytest.mark.parametrize("folder", FOLDERS, ids=folder_id)
def test_objects_read_from_an_untouched_chart_are_the_rendered_ones(folder, charts):
    """lint skips rendering charts whose content hash holds; what it reads instead must agree."""
    from chartgen.chart.lint import generated_objects
    from chartgen.chart.objects import rendered_objects

    chart = charts(folder)
    read = generated_objects(chart, repo_config())
    assert read is not None
    assert sorted(o[1:] for o in read) == sorted(o[1:] for o in rendered_objects(chart))


def test_minimal_workflow_has_only_the_values_it_needs(charts):
    from chartgen.yamlio import load_data

    values = load_data((charts(MINIMAL) / "values.yaml").read_text())
    assert "properties" not in values and "secrets" not in values
    assert [o["kind"] for o in helm_objects(charts(MINIMAL))] == ["SonataFlow"]


def test_braces_folders_are_covered_and_survive_helm(charts):
    """The corpus folders with `{{` in their files render, and Helm prints the braces as written."""
    import helm_python

    from chartgen.sources import load_workflow

    need(CORPUS.is_dir(), f"{CORPUS} is absent")
    checked = []
    for folder in corpus_folders():
        if not renders(folder):
            continue
        markers = set()
        for source in load_workflow(folder).files():
            text = source.content.decode("utf-8", errors="replace")
            markers |= {m for m in ("{{-", "{{", "}}") if m in text}
        if "{{" not in markers:
            continue
        with helm_python.Chart.load(str(charts(folder))) as chart:
            rendered = "".join(chart.render({}, name="r", namespace="n").values())
        for marker in markers:
            assert marker in rendered, (folder_id(folder), marker)
        checked.append((folder_id(folder), sorted(markers)))
    # 06_form-widget-demo (schemas) and events-quarkus (flow) carry `{{` into the cluster.
    assert len(checked) >= 2, checked


def test_existing_secret_replaces_the_chart_secret(charts):
    folders = [f for f in FOLDERS if f.is_dir() and renders(f) and secret_values(f)]
    need(bool(folders), "no workflow with secret.properties")
    folder = folders[0]
    got = helm_objects(charts(folder), {"secrets": {"existingSecret": "hand-made"}})
    assert [o for o in got if o["kind"] == "Secret"] == []
    sonataflow = next(o for o in got if o["kind"] == "SonataFlow")
    env = sonataflow["spec"]["podTemplate"]["container"]["env"]
    assert env and {e["valueFrom"]["secretKeyRef"]["name"] for e in env} == {"hand-made"}
    want_env = copy.deepcopy(next(o for o in expected_objects(folder) if o["kind"] == "SonataFlow")
                             ["spec"]["podTemplate"]["container"]["env"])
    for entry in want_env:
        entry["valueFrom"]["secretKeyRef"]["name"] = "hand-made"
    assert env == want_env


def test_image_digest_pins_the_image(charts):
    folder = next(f for f in FOLDERS if f.is_dir() and renders(f))
    digest = "sha256:" + "ab" * 32
    got = helm_objects(charts(folder), {"image": {"digest": digest, "registry": ""}})
    image = next(o for o in got if o["kind"] == "SonataFlow")["spec"]["podTemplate"]["container"]["image"]
    assert image == f"serverless-workflow-{folder.name}@{digest}"


def test_extra_properties_are_appended(charts):
    folders = [f for f in FOLDERS if f.is_dir() and renders(f) and (f / "application.properties").is_file()]
    need(bool(folders), "no workflow with application.properties")
    folder = folders[0]
    got = helm_objects(charts(folder), {"properties": {"quarkus.log.level": "DEBUG", "my.port": 8080}})
    props = next(o for o in got if o["kind"] == "ConfigMap" and o["metadata"]["name"].endswith("-props"))
    original = (folder / "application.properties").read_text(encoding="utf-8")
    separator = "" if not original or original.endswith("\n") else "\n"
    assert props["data"]["application.properties"] == original + separator + "my.port=8080\nquarkus.log.level=DEBUG\n"
