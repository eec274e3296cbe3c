"""The GitHub Actions workflows in .github/workflows: actionlint and zizmor clean, pinned
actions, least permissions, no untrusted expression inside `run:`, one reusable workflow."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml

from tests.conftest import REPO, need_tool

WORKFLOWS = REPO / ".github" / "workflows"
FILES = sorted(WORKFLOWS.glob("*.y*ml"))
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def load(path: Path) -> dict:
    # PyYAML (YAML 1.1) reads the key `on` as True.
    data = yaml.safe_load(path.read_text())
    if True in data:
        data["on"] = data.pop(True)
    return data


def steps():
    for path in FILES:
        for job_name, job in load(path)["jobs"].items():
            for step in job.get("steps", []):
                yield path, job_name, step


def test_actionlint_clean():
    actionlint = need_tool("actionlint")
    proc = subprocess.run([actionlint, "-color=false", *map(str, FILES)], cwd=REPO,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_zizmor_clean():
    zizmor = need_tool("zizmor")
    proc = subprocess.run([zizmor, "--offline", "--no-progress", str(WORKFLOWS)], cwd=REPO,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_actions_pinned_to_commit_shas_with_version_comment():
    text = {p: p.read_text() for p in FILES}
    for path, job, step in steps():
        if "uses" in step:
            assert PINNED.match(step["uses"]), f"{path.name}/{job}: {step['uses']} is not pinned to a commit SHA"
            line = next(l for l in text[path].splitlines() if step["uses"] in l)
            assert re.search(r"# v\d+\.\d+\.\d+", line), f"{path.name}: no version comment on {line.strip()}"


def test_no_expression_inside_run():
    """Untrusted values (commit authors, branch names, inputs) reach scripts only via env."""
    for path, job, step in steps():
        assert "${{" not in step.get("run", ""), f"{path.name}/{job}: expression inside run:"


def test_least_permissions():
    for path in FILES:
        data = load(path)
        assert data.get("permissions") == {"contents": "read"}, path.name
        for name, job in data["jobs"].items():
            extra = job.get("permissions", {})
            assert set(extra.values()) <= {"read", "write"}
            if any(v == "write" for v in extra.values()):
                # publish pushes gh-pages; the release job pushes the image, the release and its pin PR
                allowed = {("main.yaml", "publish"): {"contents": "write"},
                           ("release.yaml", "image"): {"contents": "write", "packages": "write",
                                                       "pull-requests": "write"}}
                assert allowed.get((path.name, name)) == extra, (path.name, name)


def test_one_reusable_workflow_fanned_out_by_plan():
    reusable = [p for p in FILES if "workflow_call" in load(p)["on"]]
    assert [p.name for p in reusable] == ["chartgen-workflow.yaml"]
    for name in ("pull-request.yaml", "main.yaml"):
        data = load(WORKFLOWS / name)
        plan_run = " ".join(s.get("run", "") for s in data["jobs"]["plan"]["steps"])
        assert "chartgen plan" in plan_run and "--format github-matrix" in plan_run
        fan_out = [j for j in data["jobs"].values() if "uses" in j]
        assert len(fan_out) == 1
        job = fan_out[0]
        assert job["uses"].endswith("/.github/workflows/chartgen-workflow.yaml")
        assert job["strategy"]["matrix"] == "${{ fromJSON(needs.plan.outputs.matrix) }}"
        # GitHub rejects an empty matrix: the job is skipped when nothing is affected.
        assert job["if"] == "needs.plan.outputs.any == 'true'"
    # No per-workflow copies: no file names a workflow folder.
    for path in FILES:
        for folder in (REPO / "workflow_sources").iterdir():
            assert f"workflow_sources/{folder.name}" not in path.read_text(), path.name


def test_pull_requests_get_no_secrets():
    data = load(WORKFLOWS / "pull-request.yaml")
    assert list(data["on"]) == ["pull_request"]
    assert "secrets." not in (WORKFLOWS / "pull-request.yaml").read_text()
    assert "secrets" not in data["jobs"]["check"]
    assert data["jobs"]["check"]["with"]["release"] is False


def test_publish_is_serialised_and_never_cancelled():
    data = load(WORKFLOWS / "main.yaml")
    publish = data["jobs"]["publish"]
    assert publish["needs"] == "workflow"
    assert publish["concurrency"]["cancel-in-progress"] is False
    assert publish["concurrency"]["group"].startswith("chartgen-publish")
    assert "chartgen build --all --publish" in " ".join(s.get("run", "") for s in publish["steps"])


def test_checkouts_do_not_persist_credentials():
    for path, job, step in steps():
        if step.get("uses", "").startswith("actions/checkout@"):
            assert step["with"]["persist-credentials"] is False, (path.name, job)


def test_github_app_is_the_default_for_the_chart_repository():
    """The reusable workflow hands chartgen the GitHub App (id and private key; chartgen mints and
    renews the installation tokens), the token only as the fallback; the caller passes both."""
    reusable = load(WORKFLOWS / "chartgen-workflow.yaml")
    call = reusable["on"]["workflow_call"]
    assert call["inputs"]["github-app-id"]["default"] == ""
    assert "GitHub App" in call["inputs"]["github-app-id"]["description"]
    assert set(call["secrets"]) >= {"CHARTGEN_GITHUB_APP_PRIVATE_KEY", "CHART_REPO_TOKEN"}
    build = next(s for s in reusable["jobs"]["build"]["steps"] if s.get("id") == "build")
    assert build["env"]["CHARTGEN_GITHUB_APP_ID"] == "${{ inputs.github-app-id }}"
    assert build["env"]["CHARTGEN_GITHUB_APP_PRIVATE_KEY"] == "${{ secrets.CHARTGEN_GITHUB_APP_PRIVATE_KEY }}"
    caller = load(WORKFLOWS / "main.yaml")["jobs"]["workflow"]
    assert caller["with"]["github-app-id"] == "${{ vars.CHARTGEN_GITHUB_APP_ID }}"
    assert caller["secrets"]["CHARTGEN_GITHUB_APP_PRIVATE_KEY"] == "${{ secrets.CHARTGEN_GITHUB_APP_PRIVATE_KEY }}"
