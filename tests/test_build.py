"""`chartgen build`: stages in order, a failing workflow stops alone, skipping by content
hash with identical output, CI outputs. Runs on copies of workflow_sources/ in tmp dirs."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from chartgen.build import runner, stages
from chartgen.build.options import BuildOptions
from chartgen.build.output import format_text
from chartgen.build.runner import build
from chartgen.build.stages import selected_stages
from chartgen.cli import cli
from chartgen.config import load_config
from chartgen.errors import ChartgenError, UsageError
from tests.conftest import REPO

FIXTURES = Path(__file__).parent / "fixtures" / "build"


def make_repo(tmp_path: Path, names=("greeting", "mta"), broken=("bad-yaml",), extra_config="") -> Path:
    root = tmp_path / "repo"
    sources = root / "workflow_sources"
    sources.mkdir(parents=True)
    for name in names:
        shutil.copytree(REPO / "workflow_sources" / name, sources / name)
    if (REPO / "workflow_sources" / "shared").is_dir():
        shutil.copytree(REPO / "workflow_sources" / "shared", sources / "shared")
    for name in broken:
        shutil.copytree(FIXTURES / name, sources / name)
    (root / "chartgen.yaml").write_text("sources: workflow_sources\nshared: workflow_sources/shared\n"
                                        "charts: charts\ndist: dist\n" + extra_config)
    return root


def run(root: Path, *args: str, env=None):
    return CliRunner().invoke(cli, ["--config", str(root / "chartgen.yaml"), "build", *args], env=env)


def test_stage_table_order_and_selection():
    names = [s.name for s in stages.STAGES]
    assert names == ["validate", "render", "chart", "lint", "package", "umbrella", "index", "image", "publish", "pr"]
    # The umbrella chart follows the workflow charts whenever they are written.
    assert [s.name for s in selected_stages(BuildOptions(until="lint"))] == ["validate", "render", "chart", "lint",
                                                                            "umbrella"]
    assert [s.name for s in selected_stages(BuildOptions(until="render"))] == ["validate", "render"]
    chosen = selected_stages(BuildOptions(image=True, pr=True, publish="dir:/tmp/x"))
    assert [s.name for s in chosen] == names
    with pytest.raises(UsageError):
        selected_stages(BuildOptions(until="deploy"))


def test_failing_workflow_stops_alone_with_its_error(tmp_path):
    root = make_repo(tmp_path)
    result = run(root, "--all", "--until", "render")
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert any(line.startswith("bad-yaml  FAILED  at validate:") for line in lines)   # in finishing order
    assert any("bad-yaml.sw.yaml:8:" in line and "error:" in line for line in lines), result.output
    assert "greeting  ok      validate render" in result.output
    assert "mta       ok      validate render" in result.output
    assert lines[-1] == "2 of 3 workflows built; failures above"


def test_json_summary(tmp_path):
    root = make_repo(tmp_path)
    result = run(root, "--all", "--until", "render", "--format", "json")
    data = json.loads(result.output)
    assert data["ok"] is False
    by_name = {w["name"]: w for w in data["workflows"]}
    assert [s["stage"] for s in by_name["mta"]["stages"]] == ["validate", "render"]
    assert by_name["bad-yaml"]["stages"][-1]["status"] == "failed"
    assert by_name["bad-yaml"]["errors"] and "bad-yaml.sw.yaml:8" in by_name["bad-yaml"]["errors"][0]
    for key in ("chart_version", "image_digest", "pr_url", "errors"):
        assert key in by_name["mta"]


def test_second_run_is_replayed_from_the_cache_with_identical_output(tmp_path, monkeypatch):
    root = make_repo(tmp_path)
    first = run(root, "--all", "--until", "render")
    calls = []
    real = runner.run_workflow_stages

    def counting(folder, *args, **kwargs):
        calls.append(Path(folder).name)
        return real(folder, *args, **kwargs)

    monkeypatch.setattr(runner, "run_workflow_stages", counting)
    config = load_config(root / "chartgen.yaml")
    config = config.with_overrides(build=replace(config.build, executor="thread"))
    folders = sorted((root / "workflow_sources").iterdir())
    folders = [f for f in folders if f.name != "shared"]
    report = build(folders, config, BuildOptions(until="render"))
    assert calls == [] and set(report.cached) == {"bad-yaml", "greeting", "mta"}
    # the same lines (a pipe gets them in the order the workflows finished)
    assert sorted(format_text(report).splitlines()) == sorted(first.output.splitlines())

    # A changed file rebuilds that workflow only.
    props = root / "workflow_sources" / "greeting" / "application.properties"
    props.write_text(props.read_text() + "\nextra.setting=1\n")
    report = build(folders, config, BuildOptions(until="render"))
    assert calls == ["greeting"]
    assert set(report.cached) == {"bad-yaml", "mta"}


def test_shared_file_change_rebuilds_its_users(tmp_path, monkeypatch):
    root = make_repo(tmp_path, broken=())
    from chartgen.plan import SharedIndex

    config = load_config(root / "chartgen.yaml")
    index = SharedIndex(config.shared_dir)
    users = {n for n in ("greeting", "mta") if index.uses(root / "workflow_sources" / n)}
    if not users:
        pytest.skip("no workflow of workflow_sources uses a shared file")
    used = sorted({t for n in users for t in index.uses(root / "workflow_sources" / n)})[0]
    run(root, "--all", "--until", "validate")
    target = config.shared_dir / used.split("/", 1)[1]
    target.write_text(target.read_text() + "\n")
    config = config.with_overrides(build=replace(config.build, executor="thread"))
    report = build([root / "workflow_sources" / n for n in ("greeting", "mta")], config,
                   BuildOptions(until="validate"))
    assert set(report.cached) == {"greeting", "mta"} - users


def test_no_cache_redoes_everything(tmp_path):
    root = make_repo(tmp_path, broken=())
    config = load_config(root / "chartgen.yaml")
    folders = [root / "workflow_sources" / n for n in ("greeting", "mta")]
    build(folders, config, BuildOptions(until="validate"))
    assert build(folders, config, BuildOptions(until="validate")).cached == ("greeting", "mta")
    assert build(folders, config, BuildOptions(until="validate", use_cache=False)).cached == ()


def test_a_crashing_stage_fails_its_workflow_only(tmp_path, monkeypatch):
    root = make_repo(tmp_path, broken=())

    def render(job):
        if job.folder.name == "mta":
            raise ChartgenError("renderer refused", path=job.folder / "mta.sw.yaml", line=3, code="boom")
        return "fine", {}

    stage = stages.STAGE_BY_NAME["render"]
    monkeypatch.setitem(stages.STAGE_BY_NAME, "render", stages.Stage("render", "workflow", render))
    config = load_config(root / "chartgen.yaml")
    config = config.with_overrides(build=replace(config.build, executor="thread", cache=""))
    report = build([root / "workflow_sources" / n for n in ("greeting", "mta")], config, BuildOptions(until="chart"))
    by_name = {w.name: w for w in report.workflows}
    assert [s.stage for s in by_name["mta"].stages] == ["validate", "render"]
    assert by_name["mta"].failed_stage.findings[0].format().endswith("mta.sw.yaml:3:1: error: renderer refused [boom]")
    assert [s.stage for s in by_name["greeting"].stages][:2] == ["validate", "render"]
    assert stage.name == "render"


def test_process_and_inline_runs_agree(tmp_path):
    root = make_repo(tmp_path)
    outputs = []
    for executor in ("process", "thread"):
        (root / "chartgen.yaml").write_text("build:\n  executor: %s\n  parallelism: 2\n  cache: ''\n" % executor)
        outputs.append(run(root, "--all", "--until", "render").output)
    (root / "chartgen.yaml").write_text("build:\n  parallelism: 1\n  cache: ''\n")
    outputs.append(run(root, "--all", "--until", "render").output)
    lines = [sorted(output.splitlines()) for output in outputs]   # a pipe gets them in finishing order
    assert lines[0] == lines[1] == lines[2]


def test_github_outputs_summary_and_annotations(tmp_path):
    root = make_repo(tmp_path)
    env = {"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(tmp_path / "out"),
           "GITHUB_STEP_SUMMARY": str(tmp_path / "summary")}
    result = run(root, "--all", "--until", "render", env=env)
    assert result.exit_code == 1
    assert "::error file=" in result.output and "bad-yaml.sw.yaml,line=8" in result.output
    out = (tmp_path / "out").read_text()
    assert "ok=false\n" in out and "failed=bad-yaml\n" in out
    summary = (tmp_path / "summary").read_text()
    assert "| mta | ✅ |" in summary and "| bad-yaml | ❌ validate |" in summary


def test_tekton_results_written(tmp_path):
    root = make_repo(tmp_path, broken=())
    results = tmp_path / "results"
    result = run(root, "greeting", "--until", "render", "--tekton-results", str(results))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in results.iterdir()) == ["CHART_VERSION", "IMAGE_DIGEST", "IMAGE_URL", "PR_URL"]
    assert (results / "PR_URL").read_text() == ""


def test_usage_errors(tmp_path):
    """Bad usage is a UsageError (the CLI prints it and exits 2), never a traceback."""
    root = make_repo(tmp_path, broken=())
    for args in ((), ("--all", "mta"), ("no-such-workflow",)):
        result = run(root, *args)
        assert isinstance(result.exception, UsageError) and result.exception.exit_code == 2, args
    assert run(root, "--until", "deploy", "mta").exit_code == 2     # click's own usage error
    assert not (root / "charts").exists() and not (root / "dist").exists()


def test_since_builds_what_the_plan_lists(tmp_path):
    import subprocess

    root = make_repo(tmp_path, broken=())
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@e"}
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "x"]):
        subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, env={**os.environ, **env})
    props = root / "workflow_sources/mta/application.properties"
    props.write_text(props.read_text() + "\nx=1\n")
    result = run(root, "--since", "HEAD", "--until", "validate")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0].split()[:2] == ["mta", "ok"]
    assert "1 of 1 workflows built" in result.output
    assert isinstance(run(root, "--since", "HEAD", "mta").exception, UsageError)


def test_folder_without_workflow_is_reported(tmp_path):
    root = make_repo(tmp_path, names=("greeting",), broken=("no-main",))
    result = run(root, "--all", "--until", "validate")
    assert result.exit_code == 1
    assert "no-main   FAILED  at validate:" in result.output
    assert "[no-workflow]" in result.output


def test_workers_start_cleanly_after_helm_is_loaded(tmp_path):
    """helm_python runs Go threads in-process; forking such a process is unsafe, so the pool
    switches to forkserver. The results must be the same."""
    import sys

    pytest.importorskip("helm_python")
    assert "helm_python" in sys.modules
    root = make_repo(tmp_path)
    config = load_config(root / "chartgen.yaml")
    config = config.with_overrides(build=replace(config.build, executor="process", parallelism=2, cache=""))
    folders = [root / "workflow_sources" / n for n in ("bad-yaml", "greeting", "mta")]
    report = build(folders, config, BuildOptions(until="render"))
    assert [w.ok for w in report.workflows] == [False, True, True]


def test_publish_enabled_without_target_is_a_usage_error(tmp_path):
    root = make_repo(tmp_path, broken=(), extra_config="build:\n  publish: true\n")
    result = run(root, "mta", "--until", "validate")
    assert isinstance(result.exception, UsageError)
    assert "publish.target is empty" in str(result.exception)


def test_json_stays_parseable_under_github_actions(tmp_path):
    root = make_repo(tmp_path)
    env = {"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(tmp_path / "out"),
           "GITHUB_STEP_SUMMARY": str(tmp_path / "summary")}
    result = run(root, "--all", "--until", "validate", "--format", "json", env=env)
    assert json.loads(result.stdout)["ok"] is False
    assert "::error file=" in result.stderr


def test_progress_on_a_terminal_plain_lines_elsewhere(tmp_path):
    """On a terminal: a live line per workflow (stage by stage), erased before the result;
    in a pipe: the result lines only."""
    import os
    import pty
    import subprocess
    import sys

    root = make_repo(tmp_path, broken=())
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "GITHUB_ACTIONS")}
    pid, fd = pty.fork()
    if pid == 0:  # child: stdout and stderr are the terminal
        os.chdir(root)
        os.execve(sys.executable, [sys.executable, "-m", "chartgen", "build", "--all", "--until", "render"], env)
    seen = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    os.waitpid(pid, 0)
    text = seen.decode()
    assert "greeting    validate ..." in text and "mta         render ok" in text
    assert "\x1b[3F" in text                     # redrawn in place (2 workflows + repository line)
    piped = subprocess.run([sys.executable, "-m", "chartgen", "build", "--all", "--until", "render"], cwd=root,
                           env=env, capture_output=True, text=True)
    assert "\x1b" not in piped.stdout + piped.stderr
    assert piped.stdout.splitlines()[-1] == "2 of 2 workflows built"


def test_progress_too_many_workflows_for_the_screen_is_one_line(monkeypatch):
    import io

    from chartgen.build.progress import Progress

    monkeypatch.setenv("LINES", "24")
    monkeypatch.setenv("COLUMNS", "100")
    stream = io.StringIO()
    progress = Progress([f"w{i:02d}" for i in range(60)], stream, "package")
    progress("w01", "chart", "running")
    progress("w02", "package", "ok")
    progress("w03", "validate", "failed")
    assert stream.getvalue().endswith("\r\x1b[2K2/60 workflows; running: w01 (chart)")
    assert "\n" not in stream.getvalue()
    progress.close()
    assert stream.getvalue().endswith("\r\x1b[2K")
