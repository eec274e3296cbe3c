"""The command line's contract: version, help, usage errors and chartgen.yaml errors.

Run as a user runs it (a subprocess of `python -m chartgen`), so exit codes and the
`path:line:col: error: message [code]` lines are what `chartgen.cli.main` really prints.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, need

from chartgen import __version__
from chartgen.cli import COMMANDS


def chartgen(*args: str, cwd: Path = REPO, env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if k not in ("CHARTGEN_CONFIG", "CHARTGEN_DEBUG")}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "chartgen", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=60)


@pytest.fixture
def validate_available():
    need((REPO / "chartgen" / "commands" / "validate.py").exists(),
         "chartgen/commands/validate.py is not written yet")


@pytest.fixture
def project(tmp_path: Path):
    """An empty repository of one's own: chartgen.yaml and workflow_sources/."""
    (tmp_path / "workflow_sources").mkdir()

    def write(config_text: str) -> Path:
        (tmp_path / "chartgen.yaml").write_text(config_text, encoding="utf-8")
        return tmp_path

    return write


def test_version_prints_version_and_exits_0():
    proc = chartgen("--version")
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"chartgen {__version__}"
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", __version__)


_EXIT_PROBE = """
import atexit, sys, threading, time
atexit.register(lambda: print("exit handler ran", flush=True))
if sys.argv[1] == "thread":          # a thread still running: its work is waited for
    def late():
        time.sleep(0.3)
        print("thread finished", flush=True)
    threading.Thread(target=late).start()
sys.stdout.write("x" * 200000)       # buffered output is flushed
sys.argv = ["chartgen", *sys.argv[2:]]
from chartgen.entry import main
main()
"""


@pytest.mark.parametrize("thread", ["thread", "alone"])
def test_exit_skips_teardown_but_not_handlers_output_or_threads(thread):
    """The command exits without the interpreter's teardown (`chartgen.entry.leave`), with its
    exit status, exit handlers run, output flushed, other threads waited for."""
    for args, status in ((["--help"], 0), (["frobnicate"], 2)):
        proc = subprocess.run([sys.executable, "-c", _EXIT_PROBE, thread, *args], cwd=REPO, capture_output=True,
                              text=True, timeout=60)
        assert proc.returncode == status, proc.stderr
        assert proc.stdout.startswith("x" * 200000) and "exit handler ran" in proc.stdout
        assert ("thread finished" in proc.stdout) == (thread == "thread")
        assert ("Usage: chartgen" in proc.stdout) == (status == 0) and "Traceback" not in proc.stderr


def test_help_lists_every_subcommand():
    proc = chartgen("--help")
    assert proc.returncode == 0
    listed = set(re.findall(r"^  (\w+)\s", proc.stdout, re.MULTILINE))
    assert set(COMMANDS) <= listed, f"missing from --help: {set(COMMANDS) - listed}"
    assert "--config" in proc.stdout and "--version" in proc.stdout


def test_short_help_option():
    assert chartgen("-h").stdout == chartgen("--help").stdout


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_subcommand_has_help(name):
    from click.testing import CliRunner

    from chartgen.cli import cli

    result = CliRunner().invoke(cli, [name, "--help"], prog_name="chartgen")
    assert result.exit_code == 0, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.output.startswith(f"Usage: chartgen {name}"), result.output


def test_unknown_command_exits_2():
    proc = chartgen("frobnicate")
    assert proc.returncode == 2
    assert "No such command 'frobnicate'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unknown_option_exits_2():
    proc = chartgen("--no-such-option")
    assert proc.returncode == 2
    assert "No such option" in proc.stderr


def test_missing_config_file_exits_2(tmp_path, validate_available):
    missing = tmp_path / "nowhere" / "chartgen.yaml"
    proc = chartgen("--config", str(missing), "validate", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"{missing}: error: configuration file {missing} does not exist [config-missing]"


def test_missing_config_file_from_environment_exits_2(tmp_path, validate_available):
    missing = tmp_path / "gone.yaml"
    proc = chartgen("validate", cwd=tmp_path, env={"CHARTGEN_CONFIG": str(missing)})
    assert proc.returncode == 2
    assert "[config-missing]" in proc.stderr and str(missing) in proc.stderr


def test_unknown_top_level_key(project, validate_available):
    root = project("sources: workflow_sources\nchart_dir: charts\n")
    proc = chartgen("validate", cwd=root)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert re.search(r"chartgen\.yaml:2:\d+: error: unknown setting 'chart_dir' \(known here: [^)]*\bcharts\b[^)]*\) "
                     r"\[config-unknown-key\]", proc.stderr), proc.stderr
    assert "Traceback" not in proc.stderr


def test_unknown_nested_key_names_its_path(project, validate_available):
    root = project("sources: workflow_sources\nimage:\n  registry: quay.io/x\n  registy: quay.io/y\n")
    proc = chartgen("validate", cwd=root)
    assert proc.returncode == 2
    assert re.search(r"chartgen\.yaml:4:\d+: error: unknown setting 'image\.registy' \(known here: [^)]*\bregistry\b",
                     proc.stderr), proc.stderr


def test_unknown_key_is_reported_at_the_key(project, validate_available):
    root = project("sources: workflow_sources\ncharts: charts\nimagee:\n  registry: quay.io/x\n")
    proc = chartgen("validate", cwd=root)
    assert proc.returncode == 2
    assert re.search(r"chartgen\.yaml:3:1: error: unknown setting 'imagee'", proc.stderr), proc.stderr


def test_wrong_type_is_an_error_with_its_line(project, validate_available):
    root = project("sources: workflow_sources\ndist: 3\n")
    proc = chartgen("validate", cwd=root)
    assert proc.returncode == 2
    assert re.search(r"chartgen\.yaml:2:7: error: dist: 3 is not of type 'string' \[config-invalid\]",
                     proc.stderr), proc.stderr


def test_every_config_problem_is_reported_at_once(project, validate_available):
    root = project("sources: workflow_sources\ndist: [a]\nbogus: 1\nimage:\n  nope: true\n")
    proc = chartgen("validate", cwd=root)
    assert proc.returncode == 2
    lines = [ln for ln in proc.stderr.splitlines() if ": error: " in ln]
    assert len(lines) == 3, proc.stderr
    assert {re.search(r"\[([a-z-]+)\]$", ln).group(1) for ln in lines} == {"config-invalid", "config-unknown-key"}


def test_config_that_is_not_a_mapping(project, validate_available):
    root = project("- sources\n- charts\n")
    proc = chartgen("validate", cwd=root)
    assert proc.returncode == 2
    assert "chartgen.yaml must be a mapping of settings [config-type]" in proc.stderr


def test_config_with_bad_yaml(project, validate_available):
    root = project("sources: [workflow_sources\n")
    proc = chartgen("validate", cwd=root)
    assert proc.returncode == 2  # a broken chartgen.yaml is bad usage, like a bad setting
    assert re.search(r"chartgen\.yaml:\d+:\d+: error: YAML syntax error", proc.stderr), proc.stderr
    assert "Traceback" not in proc.stderr


def test_config_is_found_in_a_parent_folder(project, validate_available):
    root = project("sources: workflow_sources\nbogus: 1\n")
    sub = root / "workflow_sources"
    proc = chartgen("validate", cwd=sub)
    assert proc.returncode == 2
    assert str(root / "chartgen.yaml") in proc.stderr


def test_valid_empty_repository_validates(project, validate_available):
    """A correct chartgen.yaml is accepted: the exit code is no longer a usage error."""
    root = project("sources: workflow_sources\nshared: workflow_sources/shared\n")
    proc = chartgen("validate", cwd=root)
    assert "[config-" not in proc.stderr
    assert proc.returncode in (0, 1)


def test_config_that_is_a_directory_exits_2(tmp_path):
    proc = chartgen("--config", str(tmp_path), "validate", cwd=tmp_path)
    assert proc.returncode == 2
    assert "is a directory" in proc.stderr


def test_config_not_utf8_exits_2(tmp_path, validate_available):
    config = tmp_path / "chartgen.yaml"
    config.write_bytes(b"sources: caf\xe9\n")
    proc = chartgen("validate", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"{config}: error: cannot read configuration")
    assert proc.stderr.rstrip().endswith("[config-unreadable]")
    assert "Traceback" not in proc.stderr


def test_config_duplicate_key_exits_2(project, validate_available):
    root = project("sources: workflow_sources\nsources: elsewhere\n")
    proc = chartgen("validate", cwd=root)
    assert proc.returncode == 2
    assert re.search(r"chartgen\.yaml:2:1: error: duplicate key 'sources' \(first defined at line 1\)", proc.stderr)
