"""The chart commands as a user runs them: chart, version, compat, lint."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass

import pytest

from test_chart_generate import FIXTURES, make_config


@pytest.fixture
def project(tmp_path):
    (tmp_path / "workflows").mkdir()
    shutil.copytree(FIXTURES / "braces-flow", tmp_path / "workflows" / "braces-flow")
    make_config(tmp_path, "chart:\n  operator_versions: '>=1.36.0 <1.37.0'\n")
    return tmp_path


@dataclass
class Result:
    exit_code: int
    output: str


@pytest.fixture
def run(capsys):
    """Run `chartgen --config <project>/chartgen.yaml ARGS` through the real entry point."""
    from chartgen.cli import main

    def invoke(project, *args) -> Result:
        try:
            main(["--config", str(project / "chartgen.yaml"), *args])
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        out, err = capsys.readouterr()
        return Result(code, out + err)
    return invoke


def test_chart_command(project, run):
    result = run(project, "chart", "braces-flow", "--commit", "feed1234")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].endswith("charts/braces-flow: braces-flow 0.1.0-rc.1 (new)")
    assert lines[1].endswith("charts/workflows: workflows 0.1.0-rc.1 (new)")
    again = run(project, "chart", "--format", "json")   # no folder: every workflow
    assert again.exit_code == 0
    assert [(r["name"], r["version"], r["changed"]) for r in json.loads(again.output)] == [
        ("braces-flow", "0.1.0-rc.1", False), ("workflows", "0.1.0-rc.1", False)]


def test_chart_command_bad_folder(project, run):
    shutil.copytree(FIXTURES / "bad" / "no-id", project / "workflows" / "no-id")
    result = run(project, "chart", "no-id")
    assert result.exit_code == 1
    assert "noid.sw.yaml:" in result.output and "error:" in result.output and "[no-id]" in result.output
    assert "Traceback" not in result.output
    assert not (project / "charts").exists()
    missing = run(project, "chart", "nothing-here")
    assert missing.exit_code == 2 and "[unknown-workflow]" in missing.output


def test_version_command(project, run):
    assert run(project, "chart").exit_code == 0
    result = run(project, "version", "braces-flow", "--minor", "--prerelease")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ["braces-flow: 0.1.0-rc.1 -> 0.2.0-rc.1", "workflows: 0.1.0-rc.2"]
    assert run(project, "version", "braces-flow", "--release").output.startswith("braces-flow: 0.2.0-rc.1 -> 0.2.0")
    assert run(project, "version", "braces-flow").exit_code == 2
    assert "already a release" in run(project, "version", "braces-flow", "--release").output


def test_compat_command(project, run):
    assert run(project, "chart").exit_code == 0
    table = run(project, "compat", "--operator", "1.36.4")
    assert table.exit_code == 0
    assert table.output.splitlines()[1].split() == [
        "braces-flow", "0.1.0-rc.1", "1.2", "braces-flow", "assessment", ">=1.36.0", "<1.37.0",
        "sonataflow.org/v1alpha08", ">=1.27.0-0", "yes"]
    too_new = run(project, "compat", "--operator", "1.37.0", "--format", "json")
    assert too_new.exit_code == 1 and json.loads(too_new.output)[0]["fits"] is False
    markdown = run(project, "compat", "--format", "markdown").output
    assert markdown.startswith("| Chart | Version |") and "| braces-flow | 0.1.0-rc.1 | 1.2 |" in markdown
    assert markdown in (project / "charts" / "README.md").read_text()


def test_lint_command(project, run):
    assert run(project, "chart").exit_code == 0
    result = run(project, "lint", "--no-git")
    assert result.exit_code == 0, result.output
    assert "2 charts linted: 0 errors, 0 warnings" in result.output


@pytest.mark.parametrize("version, constraint, fits", [
    ("1.36.0", ">=1.36.0 <1.38.0", True), ("1.37.9", ">=1.36.0 <1.38.0", True),
    ("1.38.0", ">=1.36.0 <1.38.0", False), ("1.35.2", ">=1.36.0 <1.38.0", False),
    ("1.36.5", "~1.36", True), ("1.37.0", "~1.36.0", False), ("1.36.1", "1.36.x", True),
    ("1.40.0", "^1.36", True), ("2.0.0", "^1.36", False), ("1.2.0", ">=1.0, <1.1 || >=1.2", True),
    ("1.1.5", ">=1.0, <1.1 || >=1.2", False), ("1.36", ">=1.36.0", True), ("1.36.0", "!=1.36.0", False),
])
def test_operator_constraints(version, constraint, fits):
    from chartgen.chart.compat import satisfies

    assert satisfies(version, constraint) is fits


def test_bad_constraint_is_a_usage_error():
    from chartgen.chart.compat import satisfies
    from chartgen.errors import UsageError

    with pytest.raises(UsageError):
        satisfies("1.0.0", ">=banana")
