"""The command line's manners (issue 14): "did you mean", one JSON document on stdout for
failures too, `--index-format`, options that exclude each other, one line per finished
workflow when stdout is not a terminal, unwritable output paths, hand edits of generated
charts, and the empty index.

Run as a user runs chartgen (a subprocess of `python -m chartgen` in a project of its own),
except where a failure has to be provoked from inside (then `chartgen.cli.main` in-process).
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from conftest import REPO
from test_build import make_repo

DIGEST = "sha256:" + "a" * 64


def make_project(root: Path, names=("greeting",), broken=(), extra="") -> Path:
    """A repository of one's own in `root`: chartgen.yaml and copies of workflow_sources/ folders."""
    assert root.name == "repo"
    return make_repo(root.parent, names=names, broken=broken, extra_config=extra)


@pytest.fixture
def project(tmp_path) -> Path:
    return make_project(tmp_path / "repo")


def chartgen(root: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items()
            if k not in ("CHARTGEN_CONFIG", "CHARTGEN_DEBUG", "GITHUB_ACTIONS", "CHARTGEN_TEKTON_RESULTS")}
    full["PYTHONPATH"] = str(REPO) + os.pathsep + full.get("PYTHONPATH", "")
    full.update(env or {})
    return subprocess.run([sys.executable, "-m", "chartgen", *args], cwd=root, env=full, capture_output=True,
                          text=True, timeout=300)


def in_process(capsys, *args: str) -> tuple[int, str, str]:
    from chartgen.cli import main

    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# ---------------------------------------------------------------------------------------------
# did you mean


def test_did_you_mean_names_the_close_candidates():
    from chartgen.errors import did_you_mean

    assert did_you_mean("biuld", ["build", "validate"]) == "did you mean 'build'?"
    assert did_you_mean("mta", ["mta-a", "mta-b", "zzz"]) == "did you mean one of 'mta-a', 'mta-b'?"
    assert did_you_mean("qqqq", ["build", "validate"]) == ""


def test_unknown_command_suggests_the_close_one(project):
    proc = chartgen(project, "biuld", "greeting")
    assert proc.returncode == 2
    assert "No such command 'biuld'. Did you mean 'build'?" in proc.stderr
    assert "Did you mean" not in chartgen(project, "frobnicate").stderr
    sub = chartgen(project, "image", "biuld", "greeting")       # a group's own commands (click's wording)
    assert sub.returncode == 2 and "Did you mean 'build'?" in sub.stderr


@pytest.mark.parametrize("args, code", [(("build", "greting"), "unknown-workflow"),
                                        (("validate", "greting"), "unknown-workflow"),
                                        (("render", "workflow_sources/greting", "--out", "out"), "unknown-workflow"),
                                        (("lint", "greting"), "unknown-chart"),
                                        (("version", "greting", "--patch"), "unknown-chart")])
def test_unknown_workflow_or_chart_suggests_the_close_one(project, args, code):
    chartgen(project, "chart", "greeting")
    proc = chartgen(project, *args)
    assert proc.returncode == 2, proc.stderr
    assert "did you mean 'greeting'?" in proc.stderr and f"[{code}]" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_suggestions_of_hostile_folder_names_stay_on_one_line(project):
    (project / "workflow_sources" / "greetin\ng\x1b[2J").mkdir()
    proc = chartgen(project, "build", "greetinx")
    assert proc.returncode == 2
    assert len(proc.stderr.splitlines()) == 1, proc.stderr
    assert "\x1b" not in proc.stderr and "\\x1b" in proc.stderr


# ---------------------------------------------------------------------------------------------
# --format json: one JSON document on stdout, also for failures

JSON_COMMANDS = {   # command -> arguments that are fine apart from what each test breaks
    "build": ["build", "greeting"],
    "chart": ["chart", "greeting"],
    "compat": ["compat"],
    "image build": ["image", "build", "greeting"],
    "lint": ["lint"],
    "package": ["package"],
    "plan": ["plan", "--since", "HEAD"],
    "pr": ["pr", "greeting"],
    "validate": ["validate", "greeting"],
}


def failure_document(stdout: str) -> dict:
    document = json.loads(stdout)        # exactly one document: json.loads refuses trailing data
    assert document["ok"] is False
    assert document["findings"] and all(set(f) == {"path", "line", "column", "severity", "message", "code"}
                                         for f in document["findings"])
    return document


@pytest.mark.parametrize("name", sorted(JSON_COMMANDS))
def test_a_usage_error_is_a_json_document_with_format_json(project, name):
    proc = chartgen(project, *JSON_COMMANDS[name], "--qqqqqq", "--format", "json")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    document = failure_document(proc.stdout)
    assert [(f["code"], f["message"]) for f in document["findings"]] == [("usage", "No such option '--qqqqqq'.")]
    assert "No such option" in proc.stderr              # the human reads stderr as before
    text = chartgen(project, *JSON_COMMANDS[name], "--qqqqqq")
    assert text.returncode == 2 and text.stdout == ""   # no JSON without --format json


@pytest.mark.parametrize("name", ["build", "chart", "image build", "pr", "validate"])
def test_an_unknown_workflow_is_a_json_document_with_format_json(project, name):
    args = [a if a != "greeting" else "greting" for a in JSON_COMMANDS[name]]
    proc = chartgen(project, *args, "--format=json")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    (finding,) = failure_document(proc.stdout)["findings"]
    assert finding["code"] == "unknown-workflow" and finding["path"] == "greting"
    assert "did you mean 'greeting'?" in finding["message"]


@pytest.mark.parametrize("args, code", [(["lint", "greting"], "unknown-chart"),
                                        (["package", "greting"], "usage"),
                                        (["compat", "--operator", "1.x"], "bad-version"),
                                        (["plan", "--since", "no-such-rev"], "plan-no-git")])
def test_other_bad_input_is_a_json_document_with_format_json(project, args, code):
    chartgen(project, "chart", "greeting")
    proc = chartgen(project, *args, "--format", "json")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert [f["code"] for f in failure_document(proc.stdout)["findings"]] == [code]


def test_bad_input_that_exits_1_is_a_json_document(tmp_path):
    root = make_project(tmp_path / "repo", broken=("bad-yaml",))
    proc = chartgen(root, "chart", "bad-yaml", "--format", "json")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert {f["code"] for f in failure_document(proc.stdout)["findings"]} == {"yaml-syntax"}
    validate = chartgen(root, "validate", "bad-yaml", "--format", "json")
    assert validate.returncode == 1 and "yaml-syntax" in {f["code"] for f in failure_document(validate.stdout)["findings"]}
    build = chartgen(root, "build", "bad-yaml", "greeting", "--until", "validate", "--format", "json")
    assert build.returncode == 1
    report = failure_document(build.stdout)
    assert [w["ok"] for w in report["workflows"]] == [False, True]      # the report, with ok and findings
    assert {f["code"] for f in report["findings"]} == {"yaml-syntax"}


def test_validate_and_lint_documents_have_the_same_shape(project):
    proc = chartgen(project, "validate", "greeting", "--format", "json")
    assert proc.returncode == 0 and json.loads(proc.stdout) == {"ok": True, "findings": []}
    chartgen(project, "chart", "greeting")
    lint = chartgen(project, "lint", "greeting", "--no-git", "--format", "json")
    assert lint.returncode == 0 and json.loads(lint.stdout) == {"ok": True, "findings": []}


def test_ok_follows_the_exit_status_with_strict(project):
    warned = str(REPO / "tests" / "fixtures" / "validate" / "ignored-settings")    # warnings, no error
    lenient = chartgen(project, "validate", warned, "--format", "json")
    strict = chartgen(project, "validate", warned, "--strict", "--format", "json")
    warnings = json.loads(lenient.stdout)["findings"]
    assert warnings and all(f["severity"] == "warning" for f in warnings), lenient.stdout
    assert (lenient.returncode, json.loads(lenient.stdout)["ok"]) == (0, True)
    assert (strict.returncode, json.loads(strict.stdout)["ok"]) == (1, False)


def test_a_configuration_error_is_a_json_document(project):
    (project / "chartgen.yaml").write_text("sources: workflow_sources\nbogus: 1\n")
    proc = chartgen(project, "validate", "--format", "json")
    assert proc.returncode == 2
    assert [f["code"] for f in failure_document(proc.stdout)["findings"]] == ["config-unknown-key"]


def test_an_internal_error_is_a_json_document(project, monkeypatch, capsys):
    import chartgen.commands.validate as validate

    def broken(ctx):
        raise RuntimeError("a bug")

    monkeypatch.chdir(project)
    monkeypatch.setattr(validate, "load_config", broken)
    monkeypatch.delenv("CHARTGEN_DEBUG", raising=False)
    code, out, err = in_process(capsys, "validate", "--format", "json")
    assert code == 70 and "internal error: RuntimeError: a bug" in err
    assert [f["code"] for f in failure_document(out)["findings"]] == ["internal-error"]


def test_failed_pull_requests_give_one_document_with_the_results(capsys):
    """`pr --format json` when some pull requests failed: the findings and what went through."""
    from chartgen.commands._common import fail
    from chartgen.errors import ChartgenError

    with pytest.raises(SystemExit) as exited:
        fail(ChartgenError("push refused", path="charts/mta", code="git-auth"), "json",
             results=[{"workflow": "greeting", "action": "opened"}])
    assert exited.value.code == 1
    out, err = capsys.readouterr()
    document = failure_document(out)
    assert document["results"] == [{"workflow": "greeting", "action": "opened"}]
    assert err == "charts/mta: error: push refused [git-auth]\n"


@pytest.mark.parametrize("args, expected", [
    (["build", "--format", "json"], "json"),
    (["--config", "x.yaml", "build", "--format=json", "mta"], "json"),
    (["build", "mta", "--bogus", "--format", "json"], "json"),
    (["build", "--format", "json", "--format", "text"], "text"),
    (["build", "--source-commit", "--format", "json"], None),     # --format is the value of --source-commit
    (["image", "build", "mta", "--format", "json"], "json"),
    (["index", "--format", "json"], None),                        # the old name of --index-format
    (["publish", "--format", "json"], None),
    (["biuld", "--format", "json"], None),
    (["build", "--", "--format", "json"], None),
    (["build", "--format"], None),
])
def test_output_format_is_read_as_click_reads_the_command_line(args, expected):
    from chartgen.cli import output_format

    assert output_format(args) == expected


# ---------------------------------------------------------------------------------------------
# --index-format


def test_index_format_and_its_old_name(project):
    dist = project / "dist"
    dist.mkdir()
    proc = chartgen(project, "index", "dist", "--index-format", "yaml")
    assert proc.returncode == 0 and proc.stderr == ""
    assert (dist / "index.yaml").read_text().startswith("apiVersion: v1")
    old = chartgen(project, "index", "dist", "--format", "json")
    assert old.returncode == 0
    assert "warning: --format is the old name of --index-format" in old.stderr and "[deprecated-option]" in old.stderr
    assert (dist / "index.yaml").read_text().startswith("{")
    both = chartgen(project, "index", "dist", "--format", "json", "--index-format", "yaml")
    assert both.returncode == 2 and "disagree" in both.stderr
    same = chartgen(project, "publish", "--to", "dir:site", "--format", "yaml", "--index-format", "yaml")
    assert "[deprecated-option]" in same.stderr and "disagree" not in same.stderr
    for name in ("index", "publish"):
        shown = chartgen(project, name, "--help").stdout
        assert "--index-format" in shown and "--format" not in shown.replace("--index-format", "")


# ---------------------------------------------------------------------------------------------
# options that exclude each other


@pytest.mark.parametrize("args, named", [
    (["version", "greeting", "--major", "--minor"], "--major and --minor"),
    (["version", "greeting", "--patch", "--minor", "--major"], "--major, --minor and --patch"),
    (["version", "greeting", "--release", "--prerelease"], "--release and --prerelease"),
    (["lint", "greeting", "--since", "HEAD~1", "--no-git"], "--since and --no-git"),
    (["tekton", "pin", "task.yaml", "--check", "-o", "out.yaml", "--image", f"chartgen-image=x@{DIGEST}"],
     "--check and --output"),
    (["build", "greeting", "--image", "--image-digest", DIGEST], "--image and --image-digest"),
    (["build", "greeting", "--all"], "WORKFLOWS and --all"),
    (["build", "--all", "--since", "HEAD"], "--all and --since"),
])
def test_options_that_exclude_each_other_are_refused(project, args, named):
    chartgen(project, "chart", "greeting")
    (project / "task.yaml").write_text("apiVersion: tekton.dev/v1\nkind: Task\n")
    before = tree(project)
    proc = chartgen(project, *args)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert f"{named} cannot be used together" in proc.stderr and "[usage]" in proc.stderr
    assert tree(project) == before                   # refused before anything was done


def test_one_version_part_still_works(project):
    chartgen(project, "chart", "greeting")
    proc = chartgen(project, "version", "greeting", "--minor", "--prerelease")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("greeting: 0.1.0-rc.1 -> 0.2.0-rc.1\n")


# ---------------------------------------------------------------------------------------------
# one line per finished workflow when stdout is not a terminal


def test_build_prints_each_workflow_as_it_finishes_without_redraws(tmp_path):
    root = make_project(tmp_path / "repo", names=("greeting", "mta"), broken=("bad-yaml",))
    proc = chartgen(root, "build", "--all", "--until", "lint", "--no-cache")
    assert proc.returncode == 1
    assert "\r" not in proc.stdout and "\x1b" not in proc.stdout
    lines = proc.stdout.splitlines()
    heads = [line.split()[0] for line in lines if not line.startswith(" ")]
    assert sorted(heads[:3]) == ["bad-yaml", "greeting", "mta"]        # one line each, first
    assert heads[3:] == ["[umbrella]", "2"]                             # then the repository, the count
    failed = lines.index(next(line for line in lines if line.startswith("bad-yaml")))
    assert "FAILED  at validate" in lines[failed] and "[yaml-syntax]" in lines[failed + 1]
    assert lines[-1] == "2 of 3 workflows built; failures above"


def test_workflows_are_reported_in_the_order_they_finish_before_the_repository_stages(tmp_path, monkeypatch):
    from chartgen.build import stages
    from chartgen.build.options import BuildOptions
    from chartgen.build.runner import build
    from chartgen.config import load_config

    root = make_project(tmp_path / "repo", names=("greeting", "mta"), broken=("bad-yaml",),
                        extra="build:\n  executor: thread\n  parallelism: 3\n  cache: ''\n")
    config = load_config(root / "chartgen.yaml")
    validate = stages.STAGE_BY_NAME["validate"]

    def slow_for_greeting(job):
        if job.folder.name == "greeting":
            time.sleep(1.5)
        return validate.run(job)

    monkeypatch.setitem(stages.STAGE_BY_NAME, "validate", replace(validate, run=slow_for_greeting))
    events = []
    lock = threading.Lock()

    def progress(name, stage, status):
        with lock:
            events.append(("progress", name, stage, status))

    def finished(report):
        with lock:
            events.append(("finished", report.name, report.ok))

    folders = sorted((root / "workflow_sources").iterdir())
    folders = [f for f in folders if f.name != "shared"]
    report = build(folders, config, BuildOptions(until="render"), progress, finished)
    told = [e for e in events if e[0] == "finished"]
    assert told[-1] == ("finished", "greeting", True)                  # the slow one last
    assert sorted(told) == [("finished", "bad-yaml", False), ("finished", "greeting", True),
                            ("finished", "mta", True)]                 # each once
    assert [w.name for w in report.workflows] == ["bad-yaml", "greeting", "mta"]   # the report stays sorted


def test_a_workflow_is_told_once_its_pull_request_is_done(tmp_path, monkeypatch):
    """With pr (a repository stage with one result per workflow) a workflow finishes after it."""
    from chartgen.build import runner
    from chartgen.build.options import BuildOptions
    from chartgen.build.stages import Stage
    from chartgen.config import load_config

    root = make_project(tmp_path / "repo", extra="build:\n  cache: ''\n")
    config = load_config(root / "chartgen.yaml")
    order = []

    def fake_pr(config, options, jobs, earlier):
        order.append("pr ran")
        return "opened", {"per_workflow": {j.name: {"pr_url": "https://example.test/pr/1", "pr_action": "opened"}
                                           for j in jobs}}

    stages_with_pr = (Stage("validate", "workflow", runner.STAGE_BY_NAME["validate"].run),
                      Stage("pr", "repository", fake_pr, optional=True, cacheable=False))
    monkeypatch.setattr(runner, "selected_stages", lambda options: stages_with_pr)
    runner.build([root / "workflow_sources" / "greeting"], config, BuildOptions(until="validate", pr=True),
                 finished=lambda report: order.append(report.outputs.get("pr_url")))
    assert order == ["pr ran", "https://example.test/pr/1"]


def test_finished_lines_are_flushed_one_workflow_at_a_time():
    from chartgen.build.options import OK, StageResult, WorkflowReport
    from chartgen.build.progress import FinishedLines

    class Stream(io.StringIO):
        flushed: list[str] = []

        def flush(self):
            self.flushed.append(self.getvalue())

    stream = Stream()
    lines = FinishedLines(stream, 10)
    lines(WorkflowReport("mta", "workflow_sources/mta", (StageResult("validate", OK, "valid"),)))
    lines(WorkflowReport("greeting", "workflow_sources/greeting", (StageResult("validate", OK, "valid"),)))
    assert stream.flushed == ["mta         ok      validate\n",
                              "mta         ok      validate\ngreeting    ok      validate\n"]


# ---------------------------------------------------------------------------------------------
# output paths that cannot be written


def unwritable_folder(tmp_path: Path) -> Path:
    """A folder nothing can be created in: read-only for a user; under /proc for root (who may
    write in any folder whatever its mode)."""
    if os.geteuid() == 0:
        return Path("/proc/chartgen-test/out")
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    return folder / "out"


@pytest.mark.parametrize("command, where", [
    (command, where) for command in ("chart", "render", "package", "image", "publish", "build-results", "tekton")
    for where in ("device", "file", "under-a-file", "unwritable")
    if (command, where) != ("tekton", "file")])     # an existing file is what --output replaces
def test_an_unwritable_output_path_is_a_usage_error_before_any_work(project, tmp_path, command, where):
    (project / "afile").write_text("x\n")
    path = {"device": "/dev/null", "file": "afile", "under-a-file": "afile/sub",
            "unwritable": str(unwritable_folder(tmp_path))}[where]
    (project / "task.yaml").write_text("apiVersion: tekton.dev/v1\nkind: Task\n")
    args = {"chart": ["chart", "greeting", "--out", path],
            "render": ["render", "greeting", "--out", path],
            "package": ["package", "--out", path],
            "image": ["image", "build", "greeting", "--builder", "kaniko", "--context-out", path],
            "publish": ["publish", "--to", f"dir:{path}", "dist/none.tgz"],
            "build-results": ["build", "greeting", "--tekton-results", path],
            "tekton": ["tekton", "pin", "task.yaml", "-o", path, "--image", f"chartgen-image=x@{DIGEST}"]}[command]
    before = tree(project)
    proc = chartgen(project, *args)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "internal error" not in proc.stderr and "Traceback" not in proc.stderr
    assert "[unwritable-output]" in proc.stderr or "is a file" in proc.stderr, proc.stderr   # click's own check
    assert path in proc.stderr
    assert tree(project) == before                          # nothing written, not even the charts


def test_unwritable_charts_and_dist_folders_of_chartgen_yaml(tmp_path):
    root = make_project(tmp_path / "repo")
    (root / "charts").write_text("not a folder\n")
    proc = chartgen(root, "build", "greeting")
    assert proc.returncode == 2
    assert "the charts folder (`charts` in chartgen.yaml) charts is a file, not a folder [unwritable-output]" \
        in proc.stderr
    assert not (root / "dist").exists()
    assert chartgen(root, "build", "greeting", "--until", "render").returncode == 0   # writes neither
    (root / "charts").unlink()
    (root / "dist").write_text("")
    package = chartgen(root, "package", "greeting")
    assert package.returncode == 2 and "the dist folder" in package.stderr


def test_a_write_refused_later_names_its_path(project, monkeypatch, capsys):
    """An OSError the checks could not foresee: exit 2 (permission) or 1 (other), never 70."""
    import errno

    monkeypatch.chdir(project)
    monkeypatch.delenv("CHARTGEN_DEBUG", raising=False)
    for number, code, status in ((errno.EACCES, "unwritable-output", 2), (errno.ENOSPC, "os-error", 1)):
        def refused(*args, _number=number, **kwargs):
            raise OSError(_number, os.strerror(_number), "charts/greeting/values.yaml")

        monkeypatch.setattr("chartgen.chart.generate.generate_charts", refused)
        exit_code, out, err = in_process(capsys, "chart", "greeting", "--format", "json")
        assert exit_code == status, err
        line = next(line for line in err.splitlines() if ": error: " in line)
        assert line.startswith("charts/greeting/values.yaml: error: ") and f"[{code}]" in line
        assert [f["code"] for f in failure_document(out)["findings"]] == [code]


def test_unwritable_reasons(tmp_path):
    from chartgen.fsutil import unwritable

    assert unwritable(Path("/dev/null")) == "is a device, not a folder"
    assert unwritable(Path("/dev/null"), folder=False) == "is a device, not a regular file"
    (tmp_path / "file").write_text("")
    assert unwritable(tmp_path / "file") == "is a file, not a folder"
    assert unwritable(tmp_path / "file", folder=False) is None
    assert unwritable(tmp_path / "file" / "x" / "y") == f"cannot be created: {tmp_path / 'file'} is a file, not a folder"
    assert unwritable(tmp_path / "new" / "deeper") is None and not (tmp_path / "new").exists()
    assert os.listdir(tmp_path) == ["file"]                # the probe leaves nothing behind


# ---------------------------------------------------------------------------------------------
# hand edits of generated charts


def test_a_hand_edit_is_refused_before_it_is_overwritten(project):
    assert chartgen(project, "chart", "greeting").returncode == 0
    chart = project / "charts" / "greeting"
    marker = (chart / ".chartgen").read_text()
    assert '  "values.yaml"\n' in marker and '  "Chart.yaml"\n' in marker
    with open(chart / "values.yaml", "a") as handle:
        handle.write("# tuned by hand\n")
    (chart / "templates" / "extra.yaml").write_text("kind: ConfigMap\n")
    edited = tree(chart)
    proc = chartgen(project, "chart", "greeting")
    assert proc.returncode == 1
    assert [line.split(": error: ")[0] for line in proc.stderr.splitlines()] == [
        "charts/greeting/templates/extra.yaml", "charts/greeting/values.yaml"]
    assert all(line.endswith("[chart-hand-edit]") and "--discard-edits" in line for line in proc.stderr.splitlines())
    assert tree(chart) == edited                           # left as it was
    build = chartgen(project, "build", "greeting", "--until", "chart")
    assert build.returncode == 1 and "FAILED  at chart" in build.stdout and "[chart-hand-edit]" in build.stdout
    discard = chartgen(project, "chart", "greeting", "--discard-edits")
    assert discard.returncode == 0, discard.stderr
    assert "charts/greeting/values.yaml: warning: hand edit discarded (--discard-edits) [chart-hand-edit]" \
        in discard.stderr
    assert "tuned by hand" not in (chart / "values.yaml").read_text()
    assert not (chart / "templates" / "extra.yaml").exists()
    assert chartgen(project, "chart", "greeting").returncode == 0     # nothing edited any more


def test_version_bumps_and_extras_are_no_hand_edits(project):
    with open(project / "chartgen.yaml", "a") as handle:
        handle.write("chart:\n  extras:\n    greeting: [templates/extra-*.yaml]\n")
    assert chartgen(project, "chart", "greeting").returncode == 0
    chart = project / "charts" / "greeting"
    (chart / "templates" / "extra-cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n")
    bumped = chartgen(project, "version", "greeting", "--minor")
    assert bumped.returncode == 0, bumped.stderr
    with open(project / "workflow_sources" / "greeting" / "application.properties", "a") as handle:
        handle.write("extra.setting=1\n")          # the sources change: the chart is rewritten
    proc = chartgen(project, "chart", "greeting")
    assert proc.returncode == 0, proc.stderr
    assert "(was 0.2.0)" in proc.stdout
    assert (chart / "templates" / "extra-cm.yaml").exists()


def test_a_setting_overwrites_hand_edits_with_a_warning(project):
    with open(project / "chartgen.yaml", "a") as handle:
        handle.write("chart:\n  hand_edits: overwrite\n")
    chartgen(project, "chart", "greeting")
    (project / "charts" / "greeting" / "README.md").write_text("mine\n")
    proc = chartgen(project, "chart", "greeting")
    assert proc.returncode == 0
    assert "charts/greeting/README.md: warning: hand edit discarded" in proc.stderr


def test_a_hand_edited_umbrella_is_refused_before_the_version_bump(project):
    chartgen(project, "chart", "greeting")
    with open(project / "charts" / "workflows" / "values.yaml", "a") as handle:
        handle.write("# mine\n")
    chart_yaml = (project / "charts" / "greeting" / "Chart.yaml").read_text()
    proc = chartgen(project, "version", "greeting", "--patch")
    assert proc.returncode == 1
    assert proc.stderr.startswith("charts/workflows/values.yaml: error: changed or added by hand")
    assert (project / "charts" / "greeting" / "Chart.yaml").read_text() == chart_yaml   # not bumped


def test_a_marker_without_file_hashes_falls_back_to_the_content_hash(project):
    chartgen(project, "chart", "greeting")
    chart = project / "charts" / "greeting"
    (chart / ".chartgen").write_text("written by chartgen chart; regenerated as a whole\n")   # an older chartgen
    assert chartgen(project, "chart", "greeting").returncode == 0      # unedited: rewritten, now with hashes
    assert "values.yaml" in (chart / ".chartgen").read_text()
    (chart / ".chartgen").write_text("written by chartgen chart; regenerated as a whole\n")
    with open(chart / "values.yaml", "a") as handle:
        handle.write("# mine\n")
    proc = chartgen(project, "chart", "greeting")
    assert proc.returncode == 1
    assert proc.stderr.startswith("charts/greeting: error: files edited by hand since chartgen wrote this chart")


def test_hand_edits_in_the_chart_repository_are_overwritten_for_review(tmp_path, monkeypatch):
    """`chartgen pr` regenerates in the chart repository's checkout: the pull request shows the edit
    going, so it is overwritten (and the log names the file), not refused."""
    from github_standin.gitrepos import git, make_chart_repo, tree as git_tree, write_workflow

    from chartgen.config import default_config
    from chartgen.gitops.engine import open_pull_requests
    from chartgen.sources import load_workflow

    for name in ("GITHUB_TOKEN", "GH_TOKEN", "GITHUB_SHA", "GITHUB_REPOSITORY", "GITHUB_API_URL"):
        monkeypatch.delenv(name, raising=False)
    bare = make_chart_repo(tmp_path)
    sources = tmp_path / "src"
    write_workflow(sources, "greeting")
    config = default_config(sources)

    def propose(lines=None):
        return open_pull_requests([load_workflow(sources / "greeting")], config, config_repo=str(bare), forge="none",
                                  source_commit="0" * 40, log=lines.append if lines is not None else None)

    propose()
    work = tmp_path / "maintainer"     # the chart is merged, then a maintainer edits it on main
    git("clone", "-q", "-b", "chartgen/greeting", str(bare), str(work))
    with open(work / "charts" / "greeting" / "values.yaml", "a") as handle:
        handle.write("# hot fix\n")
    git("commit", "-qam", "hot fix", cwd=work)
    git("push", "-q", "origin", "HEAD:main", cwd=work)
    write_workflow(sources, "greeting", description="changed")
    lines: list[str] = []
    (result,) = propose(lines)
    assert result.action in ("pushed", "updated"), result.message
    assert b"hot fix" not in git_tree(bare, "chartgen/greeting")["charts/greeting/values.yaml"]
    assert any(line.startswith("charts/greeting/values.yaml: edited by hand in the chart repository")
               for line in lines), lines


# ---------------------------------------------------------------------------------------------
# chartgen index on a folder without archives


def test_index_of_an_empty_folder_writes_the_empty_index_helm_reads(project):
    from publish_helpers import serve_directory

    (project / "site").mkdir()
    proc = chartgen(project, "index", "site")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "site/index.yaml: 0 chart versions (json); 0 added, 0 already indexed\n"
    index = json.loads((project / "site" / "index.yaml").read_text())
    assert index["entries"] == {} and index["generated"]
    assert (project / "site" / "index.html").is_file()
    written = (project / "site" / "index.yaml").read_bytes()
    assert chartgen(project, "index", "site").returncode == 0
    assert (project / "site" / "index.yaml").read_bytes() == written      # a second run changes nothing
    import helm_python

    with serve_directory(project / "site") as url:
        assert helm_python.repo_index(url)["entries"] == {}
