"""`chartgen pr` with the real chart generator (chartgen.chart.generate_chart), through the
command line, against bare repositories on disk and the GitHub stand-in."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import GITHUB_OPENAPI, REPO, need, need_shared
from github_standin import GitHubStandin
from github_standin.server import HTTP_BACKEND
from github_standin.gitrepos import git, log, make_chart_repo, rev, tree

TOKEN = "ghp_" + "e2eCliT0ken" + "0123456789abcdef"
pytestmark = pytest.mark.slow  # the real chart generator and a chartgen process per call


def _have_generator() -> bool:
    try:
        from chartgen.chart import generate_chart  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.fixture
def project(tmp_path):
    need(_have_generator(), "chartgen.chart.generate_chart is not available yet")
    need((REPO / "workflow_sources" / "greeting").is_dir(), "workflow_sources/greeting is absent")
    proj = tmp_path / "proj"
    proj.mkdir()
    shutil.copytree(REPO / "workflow_sources", proj / "workflow_sources")
    shutil.copy(REPO / "chartgen.yaml", proj / "chartgen.yaml")
    return proj, make_chart_repo(tmp_path)


def chartgen(proj, *args, token=None):
    env = {k: v for k, v in os.environ.items()
           if k not in ("GITHUB_TOKEN", "GH_TOKEN", "GITHUB_SHA", "GITHUB_REPOSITORY", "GITHUB_API_URL",
                        "GITHUB_ACTIONS")}
    if token:
        env["GITHUB_TOKEN"] = token
    return subprocess.run([sys.executable, "-m", "chartgen", "--config", str(proj / "chartgen.yaml"), "pr", *args],
                          cwd=proj, capture_output=True, text=True, env=env, timeout=300)


def test_cli_first_run_rerun_and_deleted_schema(project):
    proj, bare = project
    first = chartgen(proj, "greeting", "--config-repo", str(bare), "--forge", "none", "--source-commit", "c0ffee12")
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == "greeting: pushed"
    assert "open the pull request at" in first.stderr
    files = tree(bare, "chartgen/greeting")
    chart = files["charts/greeting/Chart.yaml"].decode()
    assert "name: greeting" in chart and "version: 0.1.0" in chart
    assert "charts/workflows/Chart.yaml" in files
    assert "charts/greeting/files/schemas/workflow-output-schema.json" in files
    assert "c0ffee12" in log(bare, "chartgen/greeting")[0]

    # a new source commit that changes nothing in the chart is not worth a push
    again = chartgen(proj, "greeting", "--config-repo", str(bare), "--forge", "none", "--source-commit", "d00dfeed")
    assert again.returncode == 0 and again.stdout.strip() == "greeting: unchanged", again.stderr
    assert "nothing committed or pushed" in again.stderr

    git("--git-dir", str(bare), "update-ref", "refs/heads/main", "refs/heads/chartgen/greeting")
    (proj / "workflow_sources/greeting/schemas/workflow-output-schema.json").unlink()
    flow = proj / "workflow_sources/greeting/greeting.sw.yaml"
    block = "extensions:\n  - extensionid: workflow-output-schema\n    outputSchema: schemas/workflow-output-schema.json\n"
    assert block in flow.read_text()
    flow.write_text(flow.read_text().replace(block, ""))
    dry = chartgen(proj, "greeting", "--config-repo", str(bare), "--forge", "none", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "deleted file mode" in dry.stdout
    assert "--- a/charts/greeting/files/schemas/workflow-output-schema.json" in dry.stdout
    assert "would push to chartgen/greeting" in dry.stderr
    head = rev(bare, "chartgen/greeting")
    third = chartgen(proj, "greeting", "--config-repo", str(bare), "--forge", "none")
    assert third.returncode == 0, third.stderr
    assert rev(bare, "chartgen/greeting") != head
    assert not [p for p in tree(bare, "chartgen/greeting") if "workflow-output-schema" in p]


def test_cli_github_forge_with_standin(project, tmp_path):
    need_shared(GITHUB_OPENAPI)
    need(Path(HTTP_BACKEND).exists(), f"{HTTP_BACKEND} is absent (Debian package git)")
    proj, bare = project
    hub = GitHubStandin(tmp_path / "srv", GITHUB_OPENAPI, TOKEN).start()
    try:
        url = hub.add_repo("acme", "charts", bare)
        with open(proj / "chartgen.yaml", "a") as handle:
            handle.write(f"pr:\n  apiUrl: {hub.api_url}\n  labels: [workflows]\n")
        done = chartgen(proj, "greeting", "--config-repo", url, "--format", "json", token=TOKEN)
        assert done.returncode == 0, done.stderr
        assert '"action": "created"' in done.stdout and "/acme/charts/pull/1" in done.stdout
        pull = hub.repos["acme/charts"].pulls[1]
        assert [label["name"] for label in pull["labels"]] == ["workflows"]
        assert "| greeting | 0.1.0" in pull["body"] and "Orchestrator operator" in pull["body"]
        assert TOKEN not in done.stdout + done.stderr
        assert hub.violations == []
    finally:
        hub.stop()


def test_cli_usage_errors(project):
    proj, bare = project
    no_token = chartgen(proj, "greeting", "--config-repo", str(bare), "--forge", "github")
    assert no_token.returncode == 2 and "GITHUB_TOKEN" in no_token.stderr and "[pr-no-token]" in no_token.stderr
    creds = chartgen(proj, "greeting", "--config-repo", "https://x:sekrit99@example.com/a/b.git", "--forge", "none")
    assert creds.returncode == 2 and "sekrit99" not in creds.stderr and "[pr-url-credentials]" in creds.stderr
    unknown = chartgen(proj, "nope", "--config-repo", str(bare), "--forge", "none")
    assert unknown.returncode == 2 and "nope" in unknown.stderr
    no_repo = chartgen(proj, "greeting", "--forge", "none")
    assert no_repo.returncode == 2 and "[pr-no-repo]" in no_repo.stderr
    assert rev(bare, "chartgen/greeting") is None
    assert "Traceback" not in no_token.stderr + creds.stderr + unknown.stderr + no_repo.stderr


def test_chart_made_by_the_old_pipeline_is_adopted(project, tmp_path):
    """A chart repository like serverless-workflows-config: charts/greeting/ without chartgen's
    marker, a stale duplicate template. The PR regenerates it as a whole."""
    proj, _bare = project
    bare = make_chart_repo(tmp_path / "old", {
        "charts/greeting/Chart.yaml": "apiVersion: v2\nname: greeting\nversion: 0.0.9\n",
        "charts/greeting/templates/05-sonataflow_greeting.yaml": "kind: SonataFlow\n",
        "charts/greeting/templates/04-sonataflow_greeting.yaml": "kind: SonataFlow\n"})
    done = chartgen(proj, "greeting", "--config-repo", str(bare), "--forge", "none")
    assert done.returncode == 0, done.stderr
    files = tree(bare, "chartgen/greeting")
    assert "charts/greeting/templates/05-sonataflow_greeting.yaml" not in files
    assert "charts/greeting/.chartgen" in files and "charts/greeting/values.yaml" in files
    with open(proj / "chartgen.yaml", "a") as handle:
        handle.write("pr:\n  adoptCharts: false\n")
    refused = chartgen(proj, "greeting", "--config-repo", str(make_chart_repo(tmp_path / "old2", {
        "charts/greeting/Chart.yaml": "apiVersion: v2\nname: greeting\nversion: 0.0.9\n"})), "--forge", "none")
    assert refused.returncode == 1 and "not written by chartgen" in refused.stderr
