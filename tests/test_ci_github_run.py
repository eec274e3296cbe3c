"""Run the pull-request pipeline's own `run:` scripts on a real git history, the way the
runner would (env from `env:`, outputs through $GITHUB_OUTPUT), without GitHub: the plan
job's matrix, then the reusable workflow's build and charts check for each entry."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import yaml

from tests.conftest import REPO, need_tool
from tests.git_helpers import git as run_git
from tests.test_ci_github_workflows import WORKFLOWS, load

# the build step's app settings, and no signing key (publish.sign is off in these repositories)
NO_APP = {"CHARTGEN_GITHUB_APP_ID": "", "CHARTGEN_GITHUB_APP_PRIVATE_KEY": "", "CHARTGEN_SIGNING_KEY": "",
          "CHARTGEN_SIGNING_PASSPHRASE": ""}


def git(root: Path, *args: str) -> str:
    return run_git("-C", str(root), *args).strip()


def step(workflow: str, job: str, name_or_id: str) -> dict:
    for item in load(WORKFLOWS / workflow)["jobs"][job]["steps"]:
        if name_or_id in (item.get("name"), item.get("id")):
            return item
    raise AssertionError(f"no step {name_or_id} in {workflow}/{job}")


def run_step(item: dict, root: Path, tmp: Path, env_values: dict) -> tuple[subprocess.CompletedProcess, dict]:
    """Run one step's script; `env:` values are given already evaluated (as the runner would)."""
    output = tmp / f"output-{os.urandom(4).hex()}"
    output.touch()
    env = {**os.environ, "GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(output),
           "GITHUB_STEP_SUMMARY": str(tmp / "summary"), "CI": "true"}
    for key in item.get("env", {}):
        env[key] = env_values[key]
    proc = subprocess.run(["bash", "-e", "-c", item["run"]], cwd=root, env=env, capture_output=True, text=True)
    outputs = {}
    lines = output.read_text().split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if "<<" in line:
            name, delimiter = line.split("<<", 1)
            end = lines.index(delimiter, i + 1)
            outputs[name] = "\n".join(lines[i + 1:end])
            i = end + 1
            continue
        if "=" in line:
            name, value = line.split("=", 1)
            outputs[name] = value
        i += 1
    return proc, outputs


def make_repository(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    shutil.copy(REPO / "chartgen.yaml", root / "chartgen.yaml")
    shutil.copytree(REPO / "workflow_sources", root / "workflow_sources")
    (root / ".gitignore").write_text("/dist/\n/.chartgen/\n")
    subprocess.run(["chartgen", "build", "--all", "--until", "lint"], cwd=root, check=True, capture_output=True)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "workflows and their charts")
    return root


def test_pull_request_pipeline_scripts(tmp_path):
    need_tool("git")
    need_tool("chartgen")
    root = make_repository(tmp_path)
    base = git(root, "rev-parse", "HEAD")
    git(root, "checkout", "-q", "-b", "change")
    # A change to a shared schema: every workflow that uses it is planned.
    shared = next(p for p in sorted((root / "workflow_sources/shared").rglob("*.json")))
    shared.write_text(shared.read_text().rstrip("\n") + "\n\n")
    git(root, "commit", "-q", "-am", "touch a shared schema")

    proc, outputs = run_step(step("pull-request.yaml", "plan", "plan"), root, tmp_path, {"BASE_SHA": base})
    assert proc.returncode == 0, proc.stderr
    matrix = json.loads(outputs["matrix"])
    assert outputs["any"] == "true" and matrix["include"]
    assert json.loads(proc.stdout) == matrix

    build_step = step("chartgen-workflow.yaml", "build", "build")
    check_step = step("chartgen-workflow.yaml", "build", "Committed charts match their sources")
    for entry in matrix["include"]:
        values = {"WORKFLOW": entry["workflow"], "RELEASE": "false", "CHARTGEN_REGISTRY_USERNAME": "",
                  "CHARTGEN_REGISTRY_PASSWORD": "", "GH_TOKEN": "", "SOURCE_COMMIT": "0" * 40, **NO_APP,
                  "REGISTRY": "", "CONFIG_REPOSITORY": ""}
        proc, outputs = run_step(build_step, root, tmp_path, values)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert outputs["ok"] == "true" and outputs["chart-version"]
    # Whitespace in a schema changes the charts that embed it: they were not regenerated
    # in the pull request, so the check names them and fails.
    proc, _ = run_step(check_step, root, tmp_path, {})
    assert proc.returncode == 1 and "charts/ is out of date" in proc.stdout


def test_check_passes_when_charts_are_committed_with_the_change(tmp_path):
    need_tool("git")
    need_tool("chartgen")
    root = make_repository(tmp_path)
    base = git(root, "rev-parse", "HEAD")
    git(root, "checkout", "-q", "-b", "change")
    props = root / "workflow_sources/greeting/application.properties"
    props.write_text(props.read_text() + "\ngreeting.extra=1\n")
    subprocess.run(["chartgen", "build", "greeting", "--until", "lint"], cwd=root, check=True, capture_output=True)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "greeting setting, with its chart")
    proc, outputs = run_step(step("pull-request.yaml", "plan", "plan"), root, tmp_path, {"BASE_SHA": base})
    assert [e["workflow"] for e in json.loads(outputs["matrix"])["include"]] == ["greeting"]
    values = {"WORKFLOW": "greeting", "RELEASE": "false", "CHARTGEN_REGISTRY_USERNAME": "",
              "CHARTGEN_REGISTRY_PASSWORD": "", "GH_TOKEN": "", "SOURCE_COMMIT": "0" * 40, **NO_APP,
                  "REGISTRY": "", "CONFIG_REPOSITORY": ""}
    proc, _ = run_step(step("chartgen-workflow.yaml", "build", "build"), root, tmp_path, values)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc, _ = run_step(step("chartgen-workflow.yaml", "build", "Committed charts match their sources"),
                       root, tmp_path, {})
    assert proc.returncode == 0, proc.stdout + proc.stderr

    # The same change without its charts: the check fails and says what to do.
    git(root, "checkout", "-q", "-b", "forgetful", base)
    props.write_text(props.read_text() + "\ngreeting.other=2\n")
    git(root, "commit", "-q", "-am", "setting without chart")
    run_step(step("chartgen-workflow.yaml", "build", "build"), root, tmp_path, values)
    proc, _ = run_step(step("chartgen-workflow.yaml", "build", "Committed charts match their sources"),
                       root, tmp_path, {})
    assert proc.returncode == 1
    assert "::error::charts/ is out of date" in proc.stdout and "charts/greeting" in proc.stdout


def test_nothing_affected_skips_the_matrix(tmp_path):
    need_tool("git")
    root = make_repository(tmp_path)
    base = git(root, "rev-parse", "HEAD")
    (root / "README.md").write_text("docs only\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "docs")
    proc, outputs = run_step(step("pull-request.yaml", "plan", "plan"), root, tmp_path, {"BASE_SHA": base})
    assert proc.returncode == 0 and outputs["any"] == "false" and outputs["count"] == "0"
    check = load(WORKFLOWS / "pull-request.yaml")["jobs"]["check"]
    assert check["if"] == "needs.plan.outputs.any == 'true'"
    assert yaml.safe_load(outputs["matrix"]) == {"include": []}


def test_release_step_passes_variables_as_arguments(tmp_path):
    """The release branch of the build step, with a recording `chartgen` first on PATH:
    hostile values arrive as single arguments, never as shell code."""
    fake = tmp_path / "bin" / "chartgen"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done > \"$ARGS_FILE\"\n")
    fake.chmod(0o755)
    item = dict(step("chartgen-workflow.yaml", "build", "build"))
    hostile = "mta; touch /tmp/pwned-$$ #"
    values = {"WORKFLOW": hostile, "RELEASE": "true", "CHARTGEN_REGISTRY_USERNAME": "u",
              "CHARTGEN_REGISTRY_PASSWORD": "p", "GH_TOKEN": "t", "SOURCE_COMMIT": "a" * 40, **NO_APP,
              "REGISTRY": "registry.example.com/team", "CONFIG_REPOSITORY": "https://github.com/org/charts.git"}
    item["run"] = f'export PATH="{fake.parent}:$PATH" ARGS_FILE="{tmp_path / "args"}"\n' + item["run"]
    proc, _ = run_step(item, tmp_path, tmp_path, values)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "args").read_text().splitlines() == [
        "build", hostile, "--image", "--push", "--source-commit", "a" * 40, "--registry", "registry.example.com/team",
        "--pr", "--config-repository", "https://github.com/org/charts.git"]
