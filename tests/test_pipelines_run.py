"""Run the chartgen-build Task's step scripts the way Tekton would: variables substituted,
one shell per step, results in files. The kaniko step runs with a stand-in executor that
records its arguments and writes a digest, since kaniko only runs in its own image."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import yaml

from tests.conftest import REPO, need_tool
from tests.git_helpers import git, seeded_chart_repository
from tests.test_pipelines import TASK_FILE

DIGEST = "sha256:" + "ab" * 32


def substitute(text: str, params: dict, workspaces: dict, results: Path) -> str:
    def replace(match):
        kind, rest = match.group(1), match.group(2)
        if kind == "params":
            return params[rest[1:]]
        if kind == "workspaces":
            name, attribute = rest[1:].split(".")
            if attribute == "bound":
                return "true" if name in workspaces else "false"
            return str(workspaces.get(name, ""))
        if kind == "results":
            return str(results / rest[1:].split(".")[0])
        raise AssertionError(match.group(0))
    return re.sub(r"\$\((params|workspaces|results)(\.[^)]*)\)", replace, text)


def run_task(tmp_path: Path, params: dict, workspaces: dict) -> tuple[Path, list[subprocess.CompletedProcess]]:
    task = yaml.safe_load(TASK_FILE.read_text())
    spec = task["spec"]
    values = {p["name"]: p.get("default", "") for p in spec["params"]} | params
    results = tmp_path / "results"
    results.mkdir(exist_ok=True)
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    executor = tmp_path / "kaniko-executor"
    executor.write_text("#!/bin/sh\nprintf '%s\\n' \"$@\" > \"$KANIKO_LOG\"\n"
                        "for a in \"$@\"; do case \"$a\" in --digest-file=*) "
                        f"printf '{DIGEST}' > \"${{a#--digest-file=}}\";; esac; done\n")
    executor.chmod(executor.stat().st_mode | stat.S_IEXEC)
    env = {**os.environ, "KANIKO_LOG": str(tmp_path / "kaniko.log")}
    for item in spec["stepTemplate"]["env"]:
        env[item["name"]] = substitute(item["value"], values, workspaces, results)
    env["HOME"] = str(home)          # /tekton/home in the pod
    done = []
    for step in spec["steps"]:
        script = substitute(step["script"], values, workspaces, results)
        script = script.replace("/kaniko/executor", str(executor)).replace("#!/busybox/sh", "#!/bin/sh")
        step_env = dict(env)
        for item in step.get("env", []):
            step_env[item["name"]] = substitute(item["value"], values, workspaces, results)
        workdir = substitute(step.get("workingDir", "/"), values, workspaces, results)
        proc = subprocess.run(["sh", "-c", script], cwd=workdir, env=step_env, capture_output=True, text=True)
        done.append(proc)
        assert proc.returncode == 0, (step["name"], proc.stdout, proc.stderr)
    return results, done


def source_workspace(tmp_path: Path) -> Path:
    source = tmp_path / "source"
    source.mkdir()
    shutil.copy(REPO / "chartgen.yaml", source / "chartgen.yaml")
    shutil.copytree(REPO / "workflow_sources", source / "workflow_sources")
    git("init", "-q", "-b", "main", cwd=source)
    git("add", "-A", cwd=source)
    git("commit", "-q", "-m", "sources", cwd=source)
    return source


def test_task_steps_build_push_and_propose(tmp_path):
    need_tool("git")
    need_tool("chartgen")
    source = source_workspace(tmp_path)
    bare = seeded_chart_repository(tmp_path)
    commit = git("rev-parse", "HEAD", cwd=source).strip()
    results, steps = run_task(tmp_path, {"workflow": "greeting", "config-repository": str(bare),
                                         "registry": "registry.example.com/team", "forge": "none",
                                         "source-commit": commit},
                              {"source": source})
    image_url = (results / "IMAGE_URL").read_text()
    assert image_url == f"registry.example.com/team/serverless-workflow-greeting:{commit}"
    assert (results / "IMAGE_DIGEST").read_text() == DIGEST
    assert re.fullmatch(r"\d+\.\d+\.\d+(-rc\.\d+)?", (results / "CHART_VERSION").read_text())
    kaniko_args = (tmp_path / "kaniko.log").read_text().splitlines()
    assert f"--destination={image_url}" in kaniko_args
    assert any(a.startswith("--dockerfile=") and a.endswith("/Containerfile") for a in kaniko_args)
    # The PR step pushed the workflow's stable branch with the chart, pinned to the digest.
    files = git("--git-dir", str(bare), "ls-tree", "-r", "--name-only", "chartgen/greeting")
    assert "charts/greeting/Chart.yaml" in files
    values = git("--git-dir", str(bare), "show", "chartgen/greeting:charts/greeting/values.yaml")
    assert DIGEST in values

    # A second run with nothing changed succeeds too and changes nothing in the chart repository.
    before = git("--git-dir", str(bare), "rev-parse", "chartgen/greeting").strip()
    shutil.rmtree(results)
    (tmp_path / "kaniko.log").unlink()
    run_task(tmp_path, {"workflow": "greeting", "config-repository": str(bare), "forge": "none",
                        "registry": "registry.example.com/team", "source-commit": commit}, {"source": source})
    assert git("--git-dir", str(bare), "rev-parse", "chartgen/greeting").strip() == before


def test_task_without_pr_or_image(tmp_path):
    need_tool("chartgen")
    source = source_workspace(tmp_path)
    results, steps = run_task(tmp_path, {"workflow": "mta", "builder": "none"}, {"source": source})
    assert (results / "PR_URL").read_text() == "" and (results / "IMAGE_URL").read_text() == ""
    assert (results / "CHART_VERSION").read_text()
    assert "no pull request" in steps[2].stdout and "no image" in steps[1].stdout


def test_task_pull_request_as_a_github_app(tmp_path, monkeypatch):
    """The forge-token workspace holding a GitHub App (keys app-id and private-key): the PR step
    opens the pull request with installation tokens chartgen mints, against the GitHub stand-in
    and a real git remote that takes them; the key shows in no step's output."""
    from tests.conftest import GITHUB_OPENAPI, need, need_shared
    from tests.github_standin import GITHUB_VARIABLES, GitHubStandin
    from tests.github_standin.apps import key_secrets, rsa_key
    from tests.github_standin.server import HTTP_BACKEND

    need_tool("chartgen")
    need_shared(GITHUB_OPENAPI)
    need(Path(HTTP_BACKEND).exists(), f"{HTTP_BACKEND} is absent (Debian package git)")
    for name in (*GITHUB_VARIABLES, "GITHUB_TOKEN", "CHARTGEN_GITHUB_APP_ID", "CHARTGEN_GITHUB_APP_PRIVATE_KEY",
                 "CHARTGEN_GITHUB_APP_PRIVATE_KEY_FILE", "CHARTGEN_GITHUB_APP_INSTALLATION_ID"):
        monkeypatch.delenv(name, raising=False)
    private, public = rsa_key()
    server = GitHubStandin(tmp_path / "srv", GITHUB_OPENAPI, None).start()
    try:
        url = server.add_repo("acme", "charts", seeded_chart_repository(tmp_path))
        server.apps.install(server.apps.add(public, app_id=4242), "acme/charts")
        source = source_workspace(tmp_path)
        with open(source / "chartgen.yaml", "a") as handle:
            handle.write(f"pr:\n  apiUrl: {server.api_url}\n")
        secret = tmp_path / "forge-token"        # the Secret, mounted: one file per key
        secret.mkdir()
        (secret / "app-id").write_text("4242\n")
        (secret / "private-key").write_text(private)
        results, steps = run_task(tmp_path, {"workflow": "greeting", "config-repository": url, "builder": "none",
                                             "forge": "github"}, {"source": source, "forge-token": secret})
        assert (results / "PR_URL").read_text() == f"{server.base_url}/acme/charts/pull/1"
        assert len(server.apps.minted()) == 1 and set(server.git_passwords) == {server.apps.minted()[0].value}
        output = "".join(p.stdout + p.stderr for p in steps)
        assert not [s for s in key_secrets(private) if s in output]
        assert server.violations == []
    finally:
        server.stop()
