"""Adoption, piece by piece: the version rule, chart names and folders from chartgen.yaml,
the published history, `chartgen adopt` and `chartgen init`, publishing never below what is
published, the no-chartgen.yaml notice, and charts asked for by path."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from chartgen.chart.versioning import SAME_RUN, Floor, decide_version, version_floor
from chartgen.cli import cli
from chartgen.config import default_config, load_config
from chartgen.errors import ChartgenError
from chartgen.settings import ChartSettings, Settings
from tests.adoption_helpers import (SOURCE_REPOSITORY, chart_releaser_index, chart_repository,
                                    source_repository)
from tests.conftest import REPO, need_tool
from tests.git_helpers import git
from oci_registry import registry  # noqa: F401  (session fixture: a registry on 127.0.0.1)

PRE = ChartSettings()


# -- the version rule ---------------------------------------------------------------------

@pytest.mark.parametrize("previous, previous_hash, floor, expected", [
    (None, None, None, ("0.1.0-rc.1", True)),                                   # nothing known: the start
    (None, None, Floor("1.4.0-rc0"), ("1.4.1-rc.1", True)),                     # chart-releaser's rcN: next patch
    (None, None, Floor("0.2.26"), ("0.2.27-rc.1", True)),
    (None, None, Floor("1.4.1-rc.1", "sha256:new"), ("1.4.1-rc.1", True)),      # published with this content
    ("0.1.0-rc.1", "sha256:new", None, ("0.1.0-rc.1", False)),                  # unchanged: kept
    ("0.1.0-rc.1", "sha256:new", Floor("1.4.0-rc0"), ("1.4.1-rc.1", True)),     # below published: goes above
    ("0.1.0-rc.1", "sha256:old", None, ("0.1.0-rc.2", True)),                   # changed: one step
    ("1.4.1-rc.2", "sha256:old", Floor("1.4.1-rc.1", "sha256:new"), ("1.4.1-rc.3", True)),  # never down
    ("1.4.1-rc.1", "sha256:new", Floor("1.4.1-rc.1", "sha256:new"), ("1.4.1-rc.1", False)),
    ("1.4.1-rc.1", "sha256:new", Floor("1.4.1-rc.1", "sha256:other"), ("1.4.1-rc.1", False)),
    ("1.4.0-rc0", None, Floor("1.4.1-rc.1", SAME_RUN), ("1.4.1-rc.1", True)),  # build --pr: the built version
    ("2.0.0", "sha256:old", Floor("1.4.1-rc.1", SAME_RUN), ("2.0.1-rc.1", True)),  # the base is ahead: above it
])
def test_one_version_rule(previous, previous_hash, floor, expected):
    assert decide_version(previous, previous_hash, "sha256:new", floor, PRE) == expected


def test_initial_version_applies_only_above_the_floor():
    settings = replace(PRE, initial_version="2.0.0-rc.1")
    assert decide_version(None, None, "h", None, settings) == ("2.0.0-rc.1", True)
    assert decide_version(None, None, "h", Floor("1.4.0-rc0"), settings) == ("2.0.0-rc.1", True)
    assert decide_version(None, None, "h", Floor("3.0.0"), settings) == ("3.0.1-rc.1", True)
    assert decide_version(None, None, "h", Floor("1.0.0"), replace(PRE, version_policy="patch")) == ("1.0.1", True)


def test_floor_is_the_higher_of_recorded_and_published():
    settings = Settings(version_floors=(("greeting", "1.4.0-rc0"), ("mta-v7", "1.4.0-rc2")),
                        published=(("greeting", "1.4.1-rc.1", "sha256:x"), ("mta-v7", "1.3.0", ""),
                                   ("broken", "not-a-version", "")))
    assert version_floor(settings, "greeting") == Floor("1.4.1-rc.1", "sha256:x", "the published index")
    assert version_floor(settings, "mta-v7") == Floor("1.4.0-rc2", "", "versionFloors")
    assert version_floor(settings, "broken") is None and version_floor(settings, "other") is None


# -- chart names and folders from chartgen.yaml --------------------------------------------

def _repo(tmp_path: Path, extra: str = "") -> Path:
    root = tmp_path / "repo"
    (root / "workflows").mkdir(parents=True)
    shutil.copytree(REPO / "workflow_sources/greeting", root / "workflows/greeting")
    shutil.copytree(REPO / "workflow_sources/mta", root / "workflows/mta-v7.x")
    shutil.copytree(REPO / "workflow_sources/move2kube", root / "workflows/move2kube")
    shutil.copytree(REPO / "workflow_sources/shared", root / "workflows/shared")
    (root / "chartgen.yaml").write_text("sources: workflows\nshared: workflows/shared\n"
                                        f"repository: {SOURCE_REPOSITORY}\n" + extra)
    return root


def _run(root: Path, *args: str, **kwargs):
    return CliRunner().invoke(cli, ["--config", str(root / "chartgen.yaml"), *args], **kwargs)


def _failed(result, code: str, exit_code: int) -> bool:
    """The command stopped with a ChartgenError `code` that `chartgen` exits `exit_code` with."""
    exc = result.exception
    return isinstance(exc, ChartgenError) and exc.exit_code == exit_code and \
        code in {f.code for f in exc.findings}


def test_workflows_mapping_names_the_chart_and_its_folder(tmp_path):
    root = _repo(tmp_path, "workflows:\n  mta-v7.x: {chart: mta-v7, folder: mta-v7.x}\n"
                           "versionFloors: {mta-v7: 1.4.0-rc0, greeting: 1.4.0-rc0, workflows: 0.2.26}\n")
    result = _run(root, "build", "--all")
    assert result.exit_code == 0, result.output
    assert "(chart mta-v7 1.4.1-rc.1, dist/mta-v7-1.4.1-rc.1.tgz)" in result.stdout
    assert "(chart greeting 1.4.1-rc.1," in result.stdout and "(chart move2kube 0.1.0-rc.1," in result.stdout
    assert "workflows 0.2.27-rc.1" in result.stdout
    chart = yaml.safe_load((root / "charts/mta-v7.x/Chart.yaml").read_text())
    assert chart["name"] == "mta-v7" and not (root / "charts/mta-v7-x").exists()
    umbrella = yaml.safe_load((root / "charts/workflows/Chart.yaml").read_text())
    assert [d["name"] for d in umbrella["dependencies"]] == ["greeting", "move2kube", "mta-v7"]
    # lint accepts the folder chartgen.yaml asks for; `chartgen lint mta-v7.x` finds it by workflow name
    lint = _run(root, "lint", "mta-v7.x")
    assert lint.exit_code == 0 and "chart-dir-name" not in lint.output, lint.output
    # the second build changes nothing, the stale check keeps the mapped chart
    again = _run(root, "build", "--all")
    assert sorted(again.stdout.splitlines()) == sorted(result.stdout.splitlines()) and (root / "charts/mta-v7.x").is_dir()


def test_validate_checks_the_mapped_chart_name(tmp_path):
    root = _repo(tmp_path, "workflows:\n  greeting: {chart: workflows}\n  move2kube: {chart: m2k}\n")
    shutil.copytree(root / "workflows/move2kube", root / "workflows/workflows")
    main = root / "workflows/workflows/move2kube.sw.yaml"
    main.write_text(main.read_text().replace("id: move2kube", "id: other", 1))
    result = _run(root, "validate")
    clashes = [line for line in result.stdout.splitlines() if "[chart-name-clash]" in line]
    assert len(clashes) == 2, result.output              # greeting maps onto it, workflows/ is named like it
    assert any("workflow folder 'greeting' gives the chart 'workflows'" in line for line in clashes)
    assert not any("'move2kube'" in line for line in clashes)


def test_two_workflows_cannot_share_a_chart_folder(tmp_path):
    root = _repo(tmp_path, "workflows:\n  greeting: {chart: hello, folder: same}\n  move2kube: {folder: same}\n")
    result = _run(root, "chart", "greeting", "move2kube")
    assert _failed(result, "chart-name-clash", 2), result.output


def test_bad_mapping_is_a_config_error(tmp_path):
    root = _repo(tmp_path, "workflows:\n  mta-v7.x: {chart: Mta_V7, color: red}\nversionFloors: {greeting: latest}\n")
    result = _run(root, "chart")
    assert _failed(result, "config-unknown-key", 2) and _failed(result, "config-invalid", 2)
    text = result.exception.format()
    assert "'workflows.mta-v7.x.color'" in text and "workflows.mta-v7.x.chart: 'Mta_V7' does not match" in text
    assert "versionFloors.greeting: 'latest' does not match" in text


# -- a chart asked for by path is never stale ----------------------------------------------

def test_chart_of_a_folder_outside_the_sources_stays(tmp_path):
    root = _repo(tmp_path)
    other = tmp_path / "elsewhere" / "other-folder"
    other.mkdir(parents=True)
    (other / "other.sw.yaml").write_text('id: other\nversion: "1.0"\nspecVersion: "0.8"\nname: Other\n'
                                         'start: Done\nstates:\n  - name: Done\n    type: inject\n'
                                         '    data: {}\n    end: true\n')
    out = tmp_path / "out"
    result = _run(root, "chart", str(other), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "removed" not in result.output and (out / "other-folder/Chart.yaml").is_file()
    notes = yaml.safe_load((out / "other-folder/Chart.yaml").read_text())["annotations"]
    assert notes["chartgen.io/source-path"] == "../elsewhere/other-folder"
    # and the charts of the sources written there later leave it alone too
    assert _run(root, "chart", "--out", str(out)).exit_code == 0
    assert (out / "other-folder/Chart.yaml").is_file()
    built = _run(root, "build", str(other), "--until", "chart")
    assert built.exit_code == 0 and "removed" not in built.output, built.output


# -- the published history -------------------------------------------------------------------

def _published_dir(tmp_path: Path) -> Path:
    repo = tmp_path / "published"
    repo.mkdir()
    (repo / "index.yaml").write_text(chart_releaser_index())
    return repo


def test_newest_reads_only_the_newest_entry_and_agrees_with_a_full_parse():
    from chartgen.repo.index import newest_version
    from chartgen.repo.published import newest
    from chartgen.repo.reading import parse_index

    irregular = ("apiVersion: v1\nentries:\n  x:\n  - version: '1.0.0'\n    name: x\n  - name: x\n"
                 "    version: \"1.2.0\"\n    annotations:\n      chartgen.io/content-hash: sha256:abc\n"
                 "    dependencies:\n    - name: d\n      version: 9.9.9\n  - name: x\n    version: 1.2.0\n"
                 "  y:\n  - name: y\n    version: not-semver\ngenerated: x\n")
    for text in (chart_releaser_index(), irregular):
        lazy, full = parse_index(text), parse_index(text)
        expected = {}
        for name in full.names():
            version = newest_version(full.versions(name))
            if version is not None:
                entry = next(e for e in full.versions(name) if str(e["version"]) == version)
                expected[name] = (version, (entry.get("annotations") or {}).get("chartgen.io/content-hash", ""))
        assert newest(lazy) == expected
    assert newest(parse_index(irregular))["x"] == ("1.2.0", "sha256:abc")


def test_build_continues_from_the_published_index_of_the_target(tmp_path):
    repo = _published_dir(tmp_path)
    root = _repo(tmp_path, f"publish:\n  target: dir:{repo}\n")
    result = _run(root, "build", "greeting")
    assert result.exit_code == 0, result.output
    assert "(chart greeting 1.4.1-rc.1," in result.stdout and "workflows 0.2.27-rc.1" in result.stdout
    assert "warning" not in result.stderr
    published = _run(root, "publish")
    assert published.exit_code == 0, published.output
    assert "published greeting 1.4.1-rc.1" in published.stdout
    assert "greeting 1.3.0-rc10 is listed 3 times in the index" in published.stderr
    # rebuilt from scratch (no charts committed): the published version holds this content, so it stays
    shutil.rmtree(root / "charts")
    shutil.rmtree(root / "dist")
    again = _run(root, "build", "greeting")
    assert "(chart greeting 1.4.1-rc.1," in again.stdout, again.output


def test_unreachable_index_is_said_once(tmp_path):
    root = _repo(tmp_path, f"publish:\n  target: 'git:{tmp_path}/nowhere.git#gh-pages:docs'\n"
                           "  url: http://127.0.0.1:9/charts\n")
    result = _run(root, "build", "--all", "--until", "chart", "--format", "json",
                  env={"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": "", "GITHUB_STEP_SUMMARY": ""})
    assert result.exit_code == 0, result.output
    json.loads(result.stdout)                                   # stdout stays one JSON document
    assert "::warning file=" in result.stderr                   # the annotations go to stderr
    warnings = [line for line in result.stderr.splitlines() if "[published-unreachable]" in line]
    assert len(warnings) == 2, result.stderr                    # one per place, not per workflow
    assert warnings[0].startswith(f"git:{tmp_path}/nowhere.git#gh-pages:docs: warning: cannot read what is "
                                  "published there")


def test_no_published_repository_is_said_for_new_charts_only(tmp_path):
    root = _repo(tmp_path)
    first = _run(root, "build", "greeting", "--until", "chart")
    assert first.exit_code == 0
    assert "new charts of greeting start at 0.1.0-rc.1" in first.stderr and "[published-unknown]" in first.stderr
    second = _run(root, "build", "greeting", "--until", "chart")
    assert "published-unknown" not in second.stderr
    floors = _repo(tmp_path / "b", "versionFloors: {greeting: 1.0.0}\n")
    assert "published-unknown" not in _run(floors, "build", "greeting", "--until", "chart").stderr


def test_publish_refuses_a_version_below_the_published_one(tmp_path):
    from chartgen.repo.publish import publish
    from tests.publish_helpers import package

    repo = tmp_path / "repo"
    publish([package(tmp_path / "a", tmp_path / "d", "common", "1.2.0")], f"dir:{repo}")
    older = package(tmp_path / "b", tmp_path / "d", "common", "1.1.9")
    with pytest.raises(ChartgenError) as caught:
        publish([older], f"dir:{repo}")
    assert caught.value.code == "version-older"
    assert "common 1.1.9 is below 1.2.0, the newest version of common published in" in str(caught.value)
    assert "--allow-older" in str(caught.value)
    assert [e["version"] for e in yaml.safe_load((repo / "index.yaml").read_text())["entries"]["common"]] == ["1.2.0"]
    done = publish([older], f"dir:{repo}", allow_older=True)                     # a maintenance release
    assert done.added == (("common", "1.1.9"),)
    run = CliRunner().invoke(cli, ["publish", str(package(tmp_path / "c", tmp_path / "d", "common", "1.0.0")),
                                          "--to", f"dir:{repo}"])
    assert _failed(run, "version-older", 1)


def test_publish_refuses_older_in_an_oci_registry(registry, tmp_path):
    from chartgen.repo.publish import publish
    from tests.publish_helpers import package

    target = f"oci://{registry}/charts/older"
    publish([package(tmp_path / "a", tmp_path / "d", "flows", "2.0.0")], target)
    with pytest.raises(ChartgenError) as caught:
        publish([package(tmp_path / "b", tmp_path / "d", "flows", "1.9.0")], target)
    assert caught.value.code == "version-older"
    assert publish([package(tmp_path / "b", tmp_path / "d", "flows", "1.9.0")], target,
                   allow_older=True).added == (("flows", "1.9.0"),)
    from chartgen.repo.published import read_location

    assert read_location(target, ["flows", "absent"]) == {"flows": ("2.0.0", "")}


# -- the GitHub App for the chart repository's gh-pages ----------------------------------------

def test_the_app_pushes_only_to_the_chart_repository(monkeypatch):
    from chartgen.gitops import auth
    from tests.github_standin.apps import rsa_key

    private, _public = rsa_key()
    for name in (*auth.APP_ENV, "CHARTGEN_GIT_TOKEN", "GH_TOKEN", "GITHUB_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    pr = default_config(Path(".")).pr
    charts = "https://github.com/acme/charts.git"
    assert auth.push_credentials(replace(pr, config_repo=charts), charts) is None       # no app configured
    monkeypatch.setenv(auth.APP_ID_ENV, "77")
    monkeypatch.setenv(auth.APP_KEY_ENV, private)
    app = auth.push_credentials(replace(pr, config_repo=charts), "https://github.com/ACME/charts")
    assert isinstance(app, auth.GitHubAppToken) and app.repository.lower() == "acme/charts"
    assert auth.target_credentials(replace(pr, config_repo=charts), f"git:{charts}#gh-pages:docs") is not None
    assert auth.push_credentials(replace(pr, config_repo=charts), "https://github.com/acme/other.git") is None
    assert auth.push_credentials(replace(pr, config_repo=charts), "git@github.com:acme/charts.git") is None  # ssh keys
    assert auth.target_credentials(pr, "dir:/srv/charts") is None
    assert auth.push_credentials(pr, "https://github.com/acme/pages.git") is not None     # no chart repository known
    monkeypatch.setenv("CHARTGEN_GIT_TOKEN", "ghp_" + "x" * 36)
    assert auth.push_credentials(pr, "https://github.com/acme/pages.git") is None         # ... unless a token is given


# -- chartgen adopt -----------------------------------------------------------------------------

def test_adopt_matches_by_sonataflow_and_records_names_and_floors(tmp_path):
    bare = chart_repository(tmp_path)
    root = _repo(tmp_path, "# my settings\npr:\n  base: main   # the default\n")
    before = (root / "chartgen.yaml").read_text()
    dry = _run(root, "adopt", "--config-repo", str(bare), "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert dry.stdout.splitlines()[-1] == "chartgen.yaml: would record workflows (1), versionFloors (4) (dry run)"
    assert (root / "chartgen.yaml").read_text() == before
    result = _run(root, "adopt", "--config-repo", str(bare), "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    by_workflow = {w["workflow"]: w for w in report["workflows"]}
    assert by_workflow["mta-v7.x"] == {"workflow": "mta-v7.x", "chart": "mta-v7", "folder": "mta-v7.x",
                                       "how": "SonataFlow mta in charts/mta-v7.x/templates/04-sonataflow_mta.yaml",
                                       "floor": "1.4.0-rc2"}
    assert by_workflow["greeting"]["floor"] == "1.4.0-rc0"
    assert report["umbrella"] == {"chart": "workflows", "floor": "0.2.26"}
    assert report["notTakenOver"] == [{"folder": "mta", "chart": "mta", "version": "1.2.0-rc1"}]
    text = (root / "chartgen.yaml").read_text()
    assert text.startswith(before)
    assert "# my settings" in text and "base: main   # the default" in text          # comments kept
    settings = load_config(root / "chartgen.yaml").settings
    assert settings.chart_of("mta-v7.x").name == "mta-v7" and settings.pr.config_repo == str(bare)
    assert settings.publish.target == f"git:{bare}#gh-pages:docs"
    assert dict(settings.version_floors)["mta-v7"] == "1.4.0-rc2"
    again = _run(root, "adopt")
    assert again.stdout.splitlines()[-1] == "chartgen.yaml: already up to date"


def test_adopt_without_chartgen_yaml_or_source_is_a_usage_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CHARTGEN_CONFIG", raising=False)
    result = CliRunner().invoke(cli, ["adopt"])
    assert _failed(result, "adopt-no-config", 2)
    (tmp_path / "chartgen.yaml").write_text("sources: .\n")
    result = CliRunner().invoke(cli, ["adopt"])
    assert _failed(result, "adopt-no-source", 2)


def test_adoption_plan_tells_charts_apart(tmp_path):
    from chartgen.adopt.chartrepo import ChartRepository, ExistingChart, sonataflow_names
    from chartgen.adopt.mapping import Workflow, plan_adoption

    assert sonataflow_names("kind: ConfigMap\nmetadata:\n  name: x\n---\nkind: SonataFlow\nmetadata:\n"
                            "  labels:\n    app: y\n  name: \"MyFlow\"\n") == ["myflow"]
    assert sonataflow_names("kind: SonataFlow\nmetadata:\n  name: {{ .Values.name }}\n") == []
    charts = (ExistingChart("a", "flow-a", "1.0.0", ("flow",)), ExistingChart("flow", "flow", "2.0.0", ("flow",)),
              ExistingChart("b", "flow-b", "1.5.0", ("flow",)),
              ExistingChart("mine", "mine", "3.0.0", (), "other-id", "workflows/x", SOURCE_REPOSITORY),
              ExistingChart("twice-1", "t1", "1.0.0", ("twice",)), ExistingChart("twice-2", "t2", "1.0.0", ("twice",)))
    repository = ChartRepository("u", "main", "charts", charts)
    plan = plan_adoption([Workflow("flow", "Flow", "workflows/flow"), Workflow("x", "whatever", "workflows/x"),
                          Workflow("twice", "twice", "workflows/twice")], repository, None,
                         umbrella="workflows", source_repository=SOURCE_REPOSITORY)
    got = {a.workflow: (a.chart, a.folder, a.floor) for a in plan.adoptions}
    assert got["flow"] == ("flow", "flow", "2.0.0")             # several deploy it: the folder's namesake
    assert got["x"] == ("mine", "mine", "")                     # made by chartgen from here: no floor from it
    assert got["twice"] == ("twice", "twice", "")               # ambiguous: not mapped, and said so
    assert plan.problems == ("twice: charts twice-1, twice-2 all deploy its workflow; not mapped "
                             "(set workflows.twice.chart and .folder in chartgen.yaml)",)
    assert plan.mapping == {"x": {"chart": "mine", "folder": "mine"}}


def test_settings_file_keeps_comments_and_the_users_choices():
    from chartgen.adopt.configfile import update_settings_text

    text = ("# top\nsources: workflows  # here\nworkflows:\n  greeting: {chart: hello}\n"
            "versionFloors:\n  greeting: 2.0.0\npr:\n  configRepo: https://example.com/mine.git\n")
    new, changes = update_settings_text(text, mapping={"greeting": {"chart": "greeting-x", "folder": "g"},
                                                       "mta-v7.x": {"chart": "mta-v7", "folder": "mta-v7.x"}},
                                        floors={"greeting": "1.4.0-rc0", "mta-v7": "1.4.0-rc2"},
                                        fill={("pr", "configRepo"): "https://example.com/other.git",
                                              ("publish", "target"): "git:https://example.com/other.git#gh-pages:docs"})
    data = yaml.safe_load(new)
    assert data["workflows"] == {"greeting": {"chart": "hello"}, "mta-v7.x": {"chart": "mta-v7", "folder": "mta-v7.x"}}
    assert data["versionFloors"] == {"greeting": "2.0.0", "mta-v7": "1.4.0-rc2"}
    assert data["pr"]["configRepo"] == "https://example.com/mine.git"
    assert data["publish"]["target"] == "git:https://example.com/other.git#gh-pages:docs"
    assert new.startswith("# top\nsources: workflows  # here\n")
    assert changes == ["publish.target", "workflows (1)", "versionFloors (1)"]
    assert update_settings_text(new, mapping={"mta-v7.x": {"chart": "mta-v7"}}, floors={"mta-v7": "1.4.0-rc2"}) \
        == (new, [])


# -- chartgen init ------------------------------------------------------------------------------

def test_init_finds_the_layout_and_writes_commented_settings(tmp_path):
    src = source_repository(tmp_path)
    (src / ".gitignore").write_text("*.pyc")
    result = CliRunner().invoke(cli, ["init", str(src), "--no-ci"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[:2] == [
        "found 4 workflow folders in workflows/ (escalation, greeting, move2kube, mta-v7.x), shared files in "
        "workflows/shared/", f"repository {SOURCE_REPOSITORY} (git remote origin)"]
    config = load_config(src / "chartgen.yaml")
    assert (config.settings.sources, config.settings.shared, config.repository) == (
        "workflows", "workflows/shared", SOURCE_REPOSITORY)
    assert (src / ".gitignore").read_text() == "*.pyc\n# chartgen: chart archives and index, build cache and logs\n" \
                                               "/dist/\n/.chartgen/\n"
    assert not (src / ".github").exists()
    again = CliRunner().invoke(cli, ["init", str(src)])
    assert _failed(again, "init-exists", 2)
    forced = CliRunner().invoke(cli, ["init", str(src), "--force", "--no-ci"])
    assert forced.exit_code == 0 and ".gitignore: already ignores dist/ and .chartgen/" in forced.output
    built = _run(src, "build", "--all", "--until", "lint")
    assert built.exit_code == 0, built.output


def test_init_layouts(tmp_path):
    from chartgen.adopt.layout import detect_layout, https_url

    flat = tmp_path / "flat"
    shutil.copytree(REPO / "workflow_sources/greeting", flat / "greeting")
    shutil.copytree(REPO / "workflow_sources/mta", flat / "mta")
    shutil.copytree(REPO / "workflow_sources/shared", flat / "_shared")
    (flat / "charts/old").mkdir(parents=True)
    (flat / "charts/old/Chart.yaml").write_text("name: old\nversion: 1.0.0\n")
    layout = detect_layout(flat)
    assert (layout.sources, layout.shared, layout.workflows) == (".", "_shared", ("greeting", "mta"))
    assert layout.charts == "generated-charts" and layout.chart_folders == ("charts",)
    assert "chartgen adopt --config-repo . --charts-dir charts" in layout.notes[0]
    empty = detect_layout(tmp_path / "flat" / "greeting" / "schemas")
    assert (empty.sources, empty.workflows) == ("workflows", ()) and "no workflow folder found" in empty.notes[-1]
    assert https_url("git@github.com:org/repo.git") == "https://github.com/org/repo"
    assert https_url("https://user:ghp_secret@github.com/org/repo.git") == "https://github.com/org/repo"
    assert https_url("ssh://git@gitlab.example.com/group/sub/repo.git") == "https://gitlab.example.com/group/sub/repo"
    assert https_url("/srv/git/repo") == ""


def test_init_finds_this_repositorys_pages_index_and_adopts_it(tmp_path):
    bare = chart_repository(tmp_path)
    src = source_repository(tmp_path)
    git("remote", "set-url", "origin", str(bare), cwd=src)
    git("fetch", "-q", "origin", "gh-pages:refs/remotes/origin/gh-pages", cwd=src)
    result = CliRunner().invoke(cli, ["init", str(src), "--no-ci", "--index", f"git:{bare}#gh-pages:docs"])
    assert result.exit_code == 0, result.output
    assert f"published index on this repository's gh-pages branch: git:{bare}#gh-pages:docs" in result.stdout
    settings = load_config(src / "chartgen.yaml").settings
    assert settings.publish.target == f"git:{bare}#gh-pages:docs"
    assert dict(settings.version_floors) == {"greeting": "1.4.0-rc0", "move2kube": "1.4.0-rc1", "workflows": "0.2.26"}


def test_init_workflows_pass_actionlint_and_zizmor(tmp_path):
    src = source_repository(tmp_path)
    assert CliRunner().invoke(cli, ["init", str(src)]).exit_code == 0
    files = sorted((src / ".github/workflows").glob("*.yaml"))
    assert [f.name for f in files] == ["chartgen-main.yaml", "chartgen-pull-request.yaml", "chartgen-workflow.yaml"]
    from chartgen import __version__

    for path in files:
        text = path.read_text()
        assert "pip install ." not in text
        assert f"'chartgen @ git+https://github.com/chartgen/chartgen@v{__version__}'" in text
    main = yaml.safe_load((src / ".github/workflows/chartgen-main.yaml").read_text())
    publish = main["jobs"]["publish"]["steps"][-1]
    assert publish["env"]["CHARTGEN_GITHUB_APP_ID"] == "${{ vars.CHARTGEN_GITHUB_APP_ID }}"   # the app by default
    assert main["jobs"]["workflow"]["with"]["github-app-id"] == "${{ vars.CHARTGEN_GITHUB_APP_ID }}"
    assert "under workflows/." in (src / ".github/workflows/chartgen-workflow.yaml").read_text()
    actionlint = need_tool("actionlint")
    proc = subprocess.run([actionlint, "-color=false", *map(str, files)], cwd=src, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    zizmor = need_tool("zizmor")
    proc = subprocess.run([zizmor, "--offline", "--no-progress", str(src / ".github/workflows")], cwd=src,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_packaged_workflows_are_the_projects_own():
    """init writes the project's documented workflows: the packaged copies never drift."""
    packaged = REPO / "chartgen/data/github-actions"
    for name in ("main.yaml", "pull-request.yaml", "chartgen-workflow.yaml"):
        assert (packaged / name).read_bytes() == (REPO / ".github/workflows" / name).read_bytes(), name


# -- no chartgen.yaml ---------------------------------------------------------------------------

def test_without_chartgen_yaml_the_defaults_are_said_once_on_stderr(tmp_path):
    root = tmp_path / "bare"
    shutil.copytree(REPO / "workflow_sources", root / "workflow_sources")
    env = {k: v for k, v in os.environ.items() if k != "CHARTGEN_CONFIG"}
    run = subprocess.run([sys.executable, "-m", "chartgen", "build", "--all", "--until", "chart", "--format", "json"],
                         cwd=root, capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stderr
    json.loads(run.stdout)
    notices = [line for line in run.stderr.splitlines() if "no chartgen.yaml" in line]
    assert notices == [f"chartgen: no chartgen.yaml in {root} or above; using the defaults: sources workflow_sources, "
                       "shared workflow_sources/shared, charts charts, dist dist (`chartgen init` writes a "
                       "chartgen.yaml for this repository)"]
    quiet = subprocess.run([sys.executable, "-m", "chartgen", "index", str(root)], cwd=root, capture_output=True,
                           text=True, env=env)
    assert "no chartgen.yaml" not in quiet.stderr
