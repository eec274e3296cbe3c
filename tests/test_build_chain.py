"""`chartgen build` end to end with the real stages: the shipped chartgen.yaml on a fresh
copy of the repository, charts in charts/, archives and index in dist/, the umbrella
chart, the second run that changes nothing, publish to a folder, PR to a bare git repo,
and the kaniko context for the Tekton task."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from chartgen.cli import cli
from tests.conftest import REPO, need_tool
from tests.git_helpers import git, seeded_chart_repository


@pytest.fixture
def fresh(tmp_path) -> Path:
    """A fresh clone's worth of inputs: the shipped chartgen.yaml and workflow_sources/."""
    root = tmp_path / "repo"
    root.mkdir()
    shutil.copy(REPO / "chartgen.yaml", root / "chartgen.yaml")
    shutil.copytree(REPO / "workflow_sources", root / "workflow_sources")
    return root


def run(root: Path, *args: str, env=None):
    return CliRunner().invoke(cli, ["--config", str(root / "chartgen.yaml"), "build", *args], env=env)


def snapshot(root: Path) -> dict[str, tuple[int, bytes]]:
    return {p.relative_to(root).as_posix(): (p.stat().st_mtime_ns, p.read_bytes())
            for d in ("charts", "dist") for p in sorted((root / d).rglob("*")) if p.is_file()}


def test_build_mta_on_a_fresh_machine(fresh):
    result = run(fresh, "mta")
    assert result.exit_code == 0, result.output
    line = result.stdout.splitlines()[0]   # stderr: the one-time note that nothing published is known
    assert line.split()[:7] == ["mta", "ok", "validate", "render", "chart", "lint", "package"], line
    assert "(chart mta " in line
    chart = yaml.safe_load((fresh / "charts/mta/Chart.yaml").read_text())
    archive = fresh / "dist" / f"mta-{chart['version']}.tgz"
    assert archive.is_file()
    index = yaml.safe_load((fresh / "dist/index.yaml").read_text())
    entry = index["entries"]["mta"][0]
    assert entry["version"] == chart["version"]
    assert entry["digest"] == hashlib.sha256(archive.read_bytes()).hexdigest()
    # The umbrella chart depends on what charts/ holds, and is packaged and indexed too.
    umbrella = yaml.safe_load((fresh / "charts/workflows/Chart.yaml").read_text())
    assert [d["name"] for d in umbrella["dependencies"]] == ["mta"]
    assert "workflows" in index["entries"]
    assert "[umbrella]" in result.output and "[index]" in result.output


def test_second_run_changes_nothing_and_prints_the_same(fresh):
    first = run(fresh, "--all")
    assert first.exit_code == 0, first.output
    before = snapshot(fresh)
    second = run(fresh, "--all")
    assert sorted(second.stdout.splitlines()) == sorted(first.stdout.splitlines())   # in finishing order
    assert snapshot(fresh) == before          # same bytes, not even rewritten


def test_changed_workflow_gets_a_new_chart_version(fresh):
    assert run(fresh, "greeting", "mta").exit_code == 0
    old = yaml.safe_load((fresh / "charts/greeting/Chart.yaml").read_text())["version"]
    mta_before = (fresh / "charts/mta/Chart.yaml").read_bytes()
    props = fresh / "workflow_sources/greeting/application.properties"
    props.write_text(props.read_text() + "\ngreeting.extra=1\n")
    result = run(fresh, "greeting", "mta")
    assert result.exit_code == 0, result.output
    new = yaml.safe_load((fresh / "charts/greeting/Chart.yaml").read_text())["version"]
    assert new != old
    assert (fresh / "charts/mta/Chart.yaml").read_bytes() == mta_before
    versions = {e["version"] for e in yaml.safe_load((fresh / "dist/index.yaml").read_text())["entries"]["greeting"]}
    assert versions == {old, new}


def test_publish_to_a_folder(fresh, tmp_path):
    target = tmp_path / "site"
    result = run(fresh, "greeting", "--publish", f"dir:{target}")
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in target.iterdir())
    assert "index.yaml" in names and any(n.startswith("greeting-") for n in names)
    assert any(n.startswith("workflows-") for n in names)
    assert "[publish]" in result.output


def test_pull_request_branch_to_a_bare_chart_repository(fresh, tmp_path):
    need_tool("git")
    bare = seeded_chart_repository(tmp_path)
    result = run(fresh, "greeting", "--pr", "--forge", "none", "--config-repository", str(bare),
                 "--source-commit", "0123456789abcdef0123456789abcdef01234567", "--format", "json")
    assert result.exit_code == 0, result.output
    import json

    data = json.loads(result.stdout)
    stages = [s["stage"] for s in data["workflows"][0]["stages"]]
    assert stages[-1] == "pr"
    branches = git("--git-dir", str(bare), "branch", "--list")
    assert "chartgen/greeting" in branches
    files = git("--git-dir", str(bare), "ls-tree", "-r", "--name-only", "chartgen/greeting")
    assert "charts/greeting/Chart.yaml" in files


def test_pull_request_dry_run_shows_the_diff_and_pushes_nothing(fresh, tmp_path):
    need_tool("git")
    bare = seeded_chart_repository(tmp_path)
    result = run(fresh, "greeting", "--pr", "--dry-run", "--forge", "none", "--config-repository", str(bare))
    assert result.exit_code == 0, result.output
    assert "charts/greeting/Chart.yaml" in result.output      # the diff that would be proposed
    assert "+apiVersion: v2" in result.output
    assert "chartgen/greeting" not in git("--git-dir", str(bare), "branch", "--list")


def test_kaniko_context_and_results_for_the_tekton_task(fresh, tmp_path):
    context = tmp_path / "ws" / ".chartgen" / "kaniko" / "greeting"
    results = tmp_path / "results"
    result = run(fresh, "greeting", "--until", "validate", "--image", "--builder", "kaniko",
                 "--image-context", str(context), "--registry", "registry.example.com/team",
                 "--tekton-results", str(results))
    assert result.exit_code == 0, result.output
    assert (context / "Containerfile").is_file()
    args = Path(str(context) + ".args").read_text().splitlines()
    assert f"--dockerfile={context}/Containerfile" in args
    assert any(a.startswith("--destination=registry.example.com/team/serverless-workflow-greeting:") for a in args)
    assert "--no-push" not in args and not any(a.startswith("--digest-file") for a in args)
    image_url = (results / "IMAGE_URL").read_text()
    assert f"--destination={image_url}" in args
    assert (results / "IMAGE_DIGEST").read_text() == ""
