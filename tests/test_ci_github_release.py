"""The release workflow's own `run:` scripts, run the way the runner would, in order, on a
copy of the repository with a bare git remote. `buildah` and `gh` are recording stand-ins
(no ghcr.io or GitHub here; tests/test_chartgen_image.py builds the image with the real
buildah); chartgen and git are real. What is checked: the digest buildah reports ends up
pinned in the Task, the release carries the pinned Task, the PR branch holds one commit that
changes that one line, reruns change nothing more, and the token is never an argument."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, need_tool
from tests.test_ci_github_run import git, run_step, step
from tests.test_ci_github_workflows import WORKFLOWS, load

TOKEN = "ghs_releaseToken1234567890abcdefghijkl"
DIGEST = "sha256:" + "5e" * 32

FAKE_BUILDAH = r"""#!/bin/sh
# Records each call; `login` reads the password from stdin; `push` writes the digest file.
printf '%s\n' "$*" >> "$TOOL_LOG"
case "$1" in
  login) cat > "$TOOL_LOG.password" ;;
  push) while [ $# -gt 0 ]; do [ "$1" = --digestfile ] && printf '%s' "$FAKE_DIGEST" > "$2"; shift; done ;;
esac
"""

FAKE_GH = r"""#!/bin/sh
# Records each call; remembers releases and PRs it "created" so `view` answers like GitHub.
printf '%s\n' "$*" >> "$TOOL_LOG"
state="$TOOL_LOG.state"; touch "$state"
case "$1 $2" in
  "release view") grep -qx "release $3" "$state" ;;
  "release create") echo "release $3" >> "$state" ;;
  "pr view") grep -qx "pr $3" "$state" ;;
  "pr create") while [ $# -gt 0 ]; do [ "$1" = --head ] && echo "pr $2" >> "$state"; shift; done ;;
  *) exit 0 ;;
esac
"""


@pytest.fixture
def release_repo(tmp_path: Path):
    need_tool("git")
    root = tmp_path / "repo"
    shutil.copytree(REPO / "pipelines", root / "pipelines")
    git_init = ["init", "-q", "-b", "main"]
    git(root, *git_init)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "pipelines")
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    git(root, "remote", "add", "origin", str(remote))
    git(root, "push", "-q", "origin", "main")
    tools = tmp_path / "bin"
    tools.mkdir()
    for name, text in (("buildah", FAKE_BUILDAH), ("gh", FAKE_GH)):
        (tools / name).write_text(text)
        (tools / name).chmod(0o755)
    return root, remote, tools


def run_release_step(name: str, root: Path, tmp: Path, tools: Path, extra: dict) -> tuple[subprocess.CompletedProcess, dict]:
    item = dict(step("release.yaml", "image", name))
    item["run"] = f'export PATH="{tools}:$PATH"\n' + item["run"]
    values = {"OWNER": "Acme-Org", "ACTOR": "release-bot", "REGISTRY_TOKEN": TOKEN, "GH_TOKEN": TOKEN,
              "REFERENCE": extra.pop("REFERENCE", "")}
    env_keys = set(item.get("env", {}))
    saved = {k: os.environ.get(k) for k in extra}
    os.environ.update(extra)
    try:
        return run_step(item, root, tmp, {k: values[k] for k in env_keys})
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def runner_env(tmp: Path) -> dict:
    home = tmp / "home"
    home.mkdir(exist_ok=True)
    return {"GITHUB_REF_NAME": "v0.1.0", "GITHUB_SHA": "c0ffee" + "0" * 34, "GITHUB_SERVER_URL": "https://github.com",
            "GITHUB_REPOSITORY": "Acme-Org/chartgen", "RUNNER_TEMP": str(tmp), "TOOL_LOG": str(tmp / "tools.log"),
            "FAKE_DIGEST": DIGEST, "HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1"}


def test_release_job_pins_releases_and_proposes_the_digest(release_repo, tmp_path):
    root, remote, tools = release_repo
    env = runner_env(tmp_path)

    proc, _ = run_release_step("The tag is the package version", root, tmp_path, tools, dict(env))
    assert proc.returncode == 0, proc.stdout + proc.stderr

    proc, outputs = run_release_step("Build and push the image", root, tmp_path, tools, dict(env))
    assert proc.returncode == 0, proc.stderr
    reference = f"ghcr.io/acme-org/chartgen:0.1.0@{DIGEST}"          # owner lower-cased for the registry
    assert outputs["reference"] == reference
    calls = (tmp_path / "tools.log").read_text().splitlines()
    assert calls[0].startswith("build --layers -f pipelines/chartgen.Containerfile ")
    assert "--build-arg VERSION=0.1.0" in calls[0] and "-t ghcr.io/acme-org/chartgen:0.1.0 ." in calls[0]
    assert calls[1] == "login --username release-bot --password-stdin ghcr.io"
    assert (tmp_path / "tools.log.password").read_text() == TOKEN
    assert calls[2].startswith("push --digestfile ")

    original = (root / "pipelines/chartgen-build-task.yaml").read_text()
    proc, _ = run_release_step("Pin the Task to the pushed digest", root, tmp_path, tools,
                               dict(env, REFERENCE=reference))
    assert proc.returncode == 0, proc.stderr
    pinned = (root / "pipelines/chartgen-build-task.yaml").read_text()
    task = yaml.safe_load(pinned)
    assert {p["name"]: p.get("default") for p in task["spec"]["params"]}["chartgen-image"] == reference
    assert sum(a != b for a, b in zip(original.splitlines(), pinned.splitlines())) == 1

    for attempt in range(2):        # a re-run of the job replaces the release's assets
        proc, _ = run_release_step("Release with the pinned Task", root, tmp_path, tools,
                                   dict(env, REFERENCE=reference))
        assert proc.returncode == 0, proc.stderr
    gh_calls = [c for c in (tmp_path / "tools.log").read_text().splitlines() if c.startswith("release ")]
    assert [c.split()[1] for c in gh_calls] == ["view", "create", "view", "upload"]
    assert gh_calls[1].endswith("pipelines/chartgen-build-task.yaml pipelines/chartgen-pipeline.yaml")
    assert reference in gh_calls[1] and "--clobber" in gh_calls[3]

    for attempt in range(2):        # the PR is opened once; the branch is the same commit again
        proc, _ = run_release_step("Pull request pinning main's Task", root, tmp_path, tools,
                                   dict(env, REFERENCE=reference))
        assert proc.returncode == 0, proc.stderr
        # what a re-run starts from: a fresh checkout of the tag, pinned again
        git(root, "switch", "-q", "main")
        git(root, "branch", "-q", "-D", "chartgen/pin-v0.1.0")
        git(root, "checkout", "-q", "origin/chartgen/pin-v0.1.0", "--", "pipelines/chartgen-build-task.yaml")
    pr_calls = [c for c in (tmp_path / "tools.log").read_text().splitlines() if c.startswith("pr ")]
    assert [c.split()[1] for c in pr_calls] == ["view", "create", "view"]
    branch = "refs/heads/chartgen/pin-v0.1.0"
    diff = subprocess.run(["git", "-C", str(remote), "diff", "main", branch], capture_output=True, text=True).stdout
    changed = [l for l in diff.splitlines() if re.match(r"^[+-] ", l)]
    assert changed == ["-      default: " + yaml.safe_load(original)["spec"]["params"][7]["default"],
                       "+      default: " + reference]
    assert git(root, "log", "-1", "--format=%s", "origin/chartgen/pin-v0.1.0") == \
        "Pin the chartgen-build Task to the v0.1.0 image"

    # Once main has merged the pin, a re-run proposes nothing.
    git(root, "reset", "-q", "--hard", "origin/chartgen/pin-v0.1.0")
    proc, _ = run_release_step("Pull request pinning main's Task", root, tmp_path, tools,
                               dict(env, REFERENCE=reference))
    assert proc.returncode == 0 and f"main's Task already pins {reference}" in proc.stdout
    assert len([c for c in (tmp_path / "tools.log").read_text().splitlines() if c.startswith("pr ")]) == 3

    # The token was only ever stdin and env: never an argument, never in git's config or history.
    assert TOKEN not in (tmp_path / "tools.log").read_text()
    for config in (root / ".git" / "config", remote / "config", Path(env["HOME"]) / ".gitconfig"):
        assert not config.exists() or TOKEN not in config.read_text()
    assert TOKEN not in subprocess.run(["git", "-C", str(remote), "log", "--all", "-p"], capture_output=True,
                                       text=True).stdout


def test_a_tag_that_is_not_the_package_version_stops_the_release(release_repo, tmp_path):
    root, _, tools = release_repo
    env = dict(runner_env(tmp_path), GITHUB_REF_NAME="v9.9.9")
    proc, _ = run_release_step("The tag is the package version", root, tmp_path, tools, env)
    assert proc.returncode == 1
    assert "::error::tag v9.9.9 but the package says: chartgen " in proc.stdout
    assert not (tmp_path / "tools.log").exists()


def test_release_build_args_are_the_containerfiles_args():
    run = step("release.yaml", "image", "Build and push the image")["run"]
    given = set(re.findall(r"--build-arg (\w+)=", run))
    declared = set(re.findall(r"^ARG (\w+)", (REPO / "pipelines/chartgen.Containerfile").read_text(), re.M))
    assert given and given <= declared, given - declared


def test_release_job_permissions_are_the_ones_it_needs():
    data = load(WORKFLOWS / "release.yaml")
    assert list(data["on"]) == ["push"] and data["on"]["push"] == {"tags": ["v*"]}
    job = data["jobs"]["image"]
    assert job["permissions"] == {"contents": "write", "packages": "write", "pull-requests": "write"}
    assert job["concurrency"]["cancel-in-progress"] is False
