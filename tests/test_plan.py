"""`chartgen plan`: which workflows a change affects, from real git history."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from chartgen.cli import cli
from chartgen.config import load_config
from chartgen.plan import SharedIndex, plan, plan_paths
from tests.conftest import CORPUS, REPO, need_shared, need_tool
from tests.git_helpers import git as run_git

MAIN = """id: {name}
version: "1.0"
specVersion: "0.8"
name: {name}
start: Start
{extra}states:
  - name: Start
    type: inject
    data: {{}}
    end: true
"""


def git(root: Path, *args: str) -> str:
    return run_git("-C", str(root), *args).strip()


def write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def make_repo(root: Path) -> Path:
    """Three workflows: `alpha` uses shared/schemas/result.json (which uses common.json),
    `beta` uses shared/schemas/other.json from its main file, `gamma` uses nothing shared."""
    need_tool("git")
    write(root, "chartgen.yaml", "sources: workflow_sources\nshared: workflow_sources/shared\n")
    write(root, "workflow_sources/alpha/alpha.sw.yaml",
          MAIN.format(name="alpha", extra="dataInputSchema: schemas/input.json\n"))
    write(root, "workflow_sources/alpha/schemas/input.json",
          '{"type": "object", "properties": {"r": {"$ref": "../shared/schemas/result.json"}}}')
    write(root, "workflow_sources/beta/beta.sw.yaml",
          MAIN.format(name="beta", extra="dataInputSchema: shared/schemas/other.json\n"))
    write(root, "workflow_sources/gamma/gamma.sw.yaml", MAIN.format(name="gamma", extra=""))
    write(root, "workflow_sources/gamma/specs/big.yaml", "openapi: 3.0.0\n" + "x: y\n" * 1000)
    write(root, "workflow_sources/shared/schemas/result.json", '{"$ref": "common.json"}')
    write(root, "workflow_sources/shared/schemas/common.json", '{"type": "object"}')
    write(root, "workflow_sources/shared/schemas/other.json", '{"type": "string"}')
    write(root, "workflow_sources/shared/schemas/unused.json", '{"type": "string"}')
    write(root, "README.md", "hello\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    return root


@pytest.fixture
def repo(tmp_path) -> Path:
    return make_repo(tmp_path / "repo")


def commit(root: Path, message: str = "change") -> None:
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)


def names(root: Path, since: str = "HEAD~1", **kw) -> tuple[str, ...]:
    return plan(load_config(root / "chartgen.yaml"), since, **kw).names


def test_change_in_a_folder_affects_only_that_workflow(repo):
    write(repo, "workflow_sources/gamma/specs/big.yaml", "openapi: 3.0.1\n")
    commit(repo)
    result = plan(load_config(repo / "chartgen.yaml"), "HEAD~1")
    assert result.names == ("gamma",)
    assert result.workflows[0].reasons == ("folder: workflow_sources/gamma/specs/big.yaml",)
    assert result.workflows[0].folder == "workflow_sources/gamma"
    assert result.workflows[0].shared == ()
    write(repo, "workflow_sources/alpha/application.properties", "a=1\n")
    commit(repo)
    alpha = plan(load_config(repo / "chartgen.yaml"), "HEAD~1").workflows[0]
    assert alpha.shared == ("shared/schemas/common.json", "shared/schemas/result.json")


def test_shared_change_affects_users_transitively(repo):
    write(repo, "workflow_sources/shared/schemas/common.json", '{"type": "array"}')
    commit(repo)
    result = plan(load_config(repo / "chartgen.yaml"), "HEAD~1")
    assert result.names == ("alpha",)
    assert result.workflows[0].reasons == ("shared: shared/schemas/common.json",)
    assert result.workflows[0].shared == ("shared/schemas/common.json", "shared/schemas/result.json")


def test_shared_reference_from_main_file(repo):
    write(repo, "workflow_sources/shared/schemas/other.json", '{"type": "number"}')
    commit(repo)
    assert names(repo) == ("beta",)


def test_unused_shared_file_affects_nothing(repo):
    write(repo, "workflow_sources/shared/schemas/unused.json", '{}')
    write(repo, "README.md", "changed\n")
    commit(repo)
    assert names(repo) == ()


def test_deleting_a_shared_file_affects_the_workflows_that_used_it(repo):
    (repo / "workflow_sources/shared/schemas/result.json").unlink()
    commit(repo)
    assert names(repo) == ("alpha",)


def test_config_and_generator_affect_everything(repo):
    write(repo, "chartgen.yaml", "sources: workflow_sources\nshared: workflow_sources/shared\ncharts: out\n")
    commit(repo)
    result = plan(load_config(repo / "chartgen.yaml"), "HEAD~1")
    assert result.everything and result.names == ("alpha", "beta", "gamma")
    assert result.workflows[0].reasons == ("all: chartgen.yaml",)


def test_configured_extra_paths_affect_everything(repo):
    write(repo, "chartgen.yaml", "build:\n  always_affected_by: ['ci/*.sh']\n")
    commit(repo)
    write(repo, "ci/x.sh", "echo\n")
    commit(repo)
    assert names(repo) == ("alpha", "beta", "gamma")


def test_hand_written_chart_extras_affect_their_workflow(repo):
    """A file chart.extras keeps in charts/<chart>/ is an input of that workflow's chart."""
    write(repo, "chartgen.yaml", "chart:\n  extras:\n    beta: ['templates/00-extra.yaml', 'crds/*']\n"
                                 "  yamllint_config: ci/yamllint.yaml\n")
    commit(repo)
    write(repo, "charts/beta/templates/00-extra.yaml", "kind: ConfigMap\n")
    write(repo, "charts/beta/templates/01-generated.yaml", "kind: ConfigMap\n")   # generated: output only
    commit(repo)
    result = plan(load_config(repo / "chartgen.yaml"), "HEAD~1")
    assert result.names == ("beta",)
    assert result.workflows[0].reasons == ("chart extra: charts/beta/templates/00-extra.yaml",)
    write(repo, "ci/yamllint.yaml", "extends: default\n")
    commit(repo)
    assert names(repo) == ("alpha", "beta", "gamma")


def test_generator_sources_in_the_repository_affect_everything(tmp_path):
    """This repository: a change to chartgen/ (the Containerfile template included) affects all."""
    config = load_config(REPO / "chartgen.yaml")
    for changed in ("chartgen/templates/Containerfile.j2", "chartgen/manifests.py", "chartgen.yaml"):
        result = plan_paths(config, [changed])
        assert result.everything, changed
    assert not plan_paths(config, ["README.md", "tests/test_plan.py"]).workflows


def test_uncommitted_and_untracked_changes_count_unless_committed_only(repo):
    write(repo, "workflow_sources/beta/application.properties", "a=b\n")     # untracked
    write(repo, "workflow_sources/gamma/gamma.sw.yaml", MAIN.format(name="gamma", extra="description: x\n"))
    assert names(repo, "HEAD") == ("beta", "gamma")
    assert names(repo, "HEAD", committed_only=True) == ()


def test_since_uses_the_merge_base(repo):
    """REV...HEAD: changes made on main after the branch left it do not count."""
    git(repo, "checkout", "-q", "-b", "feature")
    write(repo, "workflow_sources/alpha/application.properties", "a=1\n")
    commit(repo)
    git(repo, "checkout", "-q", "main")
    write(repo, "workflow_sources/gamma/application.properties", "g=1\n")
    commit(repo)
    git(repo, "checkout", "-q", "feature")
    assert names(repo, "main") == ("alpha",)


def test_removed_workflow_is_reported_not_planned(repo):
    git(repo, "rm", "-q", "-r", "workflow_sources/gamma")
    commit(repo)
    result = plan(load_config(repo / "chartgen.yaml"), "HEAD~1")
    assert result.names == () and result.removed == ("gamma",)


def test_null_sha_means_everything(repo):
    assert names(repo, "0" * 40) == ("alpha", "beta", "gamma")


def test_unknown_revision_can_mean_everything(repo):
    """After a force-push GitHub's `before` is not in the history: main.yaml asks for all."""
    result = plan(load_config(repo / "chartgen.yaml"), "1234567" * 5 + "12345", unknown="all")
    assert result.everything and result.names == ("alpha", "beta", "gamma")
    assert result.workflows[0].reasons[0].endswith("is not in this history")


def test_unknown_revision_is_a_usage_error(repo):
    result = CliRunner().invoke(cli, ["--config", str(repo / "chartgen.yaml"), "plan", "--since", "nope"])
    assert result.exit_code != 0
    assert "not a commit of this repository" in str(result.exception)


def test_outside_git_is_a_clear_usage_error(tmp_path):
    (tmp_path / "chartgen.yaml").write_text("")
    (tmp_path / "workflow_sources").mkdir()
    result = CliRunner().invoke(cli, ["--config", str(tmp_path / "chartgen.yaml"), "plan", "--since", "HEAD"])
    assert result.exception.exit_code == 2
    assert "is not in a git repository" in str(result.exception)


def test_cli_formats_and_github_outputs(repo, monkeypatch, tmp_path):
    write(repo, "workflow_sources/shared/schemas/result.json", '{"$ref": "common.json", "x": 1}')
    write(repo, "workflow_sources/beta/beta.sw.yaml", MAIN.format(name="beta", extra="description: x\n"))
    commit(repo)
    monkeypatch.chdir(repo)
    runner = CliRunner()
    out = runner.invoke(cli, ["plan", "--since", "HEAD~1"])
    assert out.exit_code == 0, out.output
    assert out.output == "alpha\nbeta\n"
    out = runner.invoke(cli, ["plan", "--since", "HEAD~1", "--format", "json"])
    data = json.loads(out.output)
    assert [w["name"] for w in data["workflows"]] == ["alpha", "beta"]
    assert data["workflows"][0]["reasons"] == ["shared: shared/schemas/result.json"]

    output, summary = tmp_path / "out", tmp_path / "summary"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_OUTPUT", str(output))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    out = runner.invoke(cli, ["plan", "--since", "HEAD~1", "--format", "github-matrix"])
    matrix = json.loads(out.output)
    assert matrix == {"include": [{"workflow": "alpha", "folder": "workflow_sources/alpha"},
                                  {"workflow": "beta", "folder": "workflow_sources/beta"}]}
    written = output.read_text()
    assert "count=2\n" in written and "any=true\n" in written and "workflows=alpha beta\n" in written
    assert f"matrix={out.output.strip()}\n" in written
    assert "| alpha | workflow_sources/alpha |" in summary.read_text()


def test_empty_matrix_says_so(repo, monkeypatch, tmp_path):
    monkeypatch.chdir(repo)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "out"))
    out = CliRunner().invoke(cli, ["plan", "--since", "HEAD", "--format", "github-matrix"])
    assert out.exit_code == 0
    assert json.loads(out.output) == {"include": []}
    assert "any=false\n" in (tmp_path / "out").read_text()
    assert "count=0\n" in (tmp_path / "out").read_text()


def test_shared_scan_agrees_with_sources_on_the_corpus():
    """The fast reference scan finds exactly the shared files `load_workflow` mounts."""
    from chartgen.sources import find_shared_dir, load_workflow

    need_shared(CORPUS)
    checked = 0
    for folder in sorted(CORPUS.glob("*/*")):
        if not folder.is_dir() or folder.name.startswith("_"):
            continue
        shared = find_shared_dir(folder)
        if shared is None:
            continue
        workflow = load_workflow(folder)
        mounted = {r.file.rel for r in workflow.resources if r.workflow_path.startswith("shared")
                   and not (folder / "shared").is_dir()}
        scanned = set(SharedIndex(shared).uses(folder))
        existing = {t for t in scanned if (shared / t.split("/", 1)[1]).is_file()}
        assert existing == mounted, folder
        checked += bool(mounted)
    assert checked >= 3
