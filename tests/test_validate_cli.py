"""`chartgen validate` as a user runs it: exit codes, output formats, --strict, default folders."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from chartgen.cli import main

FIXTURES = Path(__file__).parent / "fixtures" / "validate"
CLEAN = """id: {id}
specVersion: "0.8"
version: "1.0"
annotations: ["workflow-type/{kind}"]
start: Start
states:
  - name: Start
    type: inject
    data: {data}
    end: true
"""


def run(argv, capsys) -> tuple[int, str, str]:
    try:
        main(argv)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def _tree(root: Path) -> list[tuple[str, int]]:
    return sorted((str(p.relative_to(root)), p.stat().st_mtime_ns) for p in root.rglob("*"))


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.delenv("CHARTGEN_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _repo(root: Path, workflows: dict[str, str]) -> Path:
    (root / "chartgen.yaml").write_text("sources: workflow_sources\nshared: workflow_sources/shared\n")
    for name, text in workflows.items():
        folder = root / "workflow_sources" / name
        folder.mkdir(parents=True)
        (folder / f"{name}.sw.yaml").write_text(text)
    return root


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.iterdir() if p.is_dir()))
def test_bad_fixture_exits_1_names_the_file_and_writes_nothing(name, in_tmp, capsys):
    if name == "ignored-settings":
        argv = ["validate", "--strict", str(FIXTURES / name)]  # warnings only: fails with --strict
    else:
        argv = ["validate", str(FIXTURES / name)]
    before = _tree(FIXTURES / name)
    code, out, err = run(argv, capsys)
    assert code == 1, out + err
    assert str(FIXTURES / name) in out
    assert "Traceback" not in out + err
    assert _tree(FIXTURES / name) == before
    assert list(in_tmp.iterdir()) == []
    for line in out.splitlines():
        assert ": error: " in line or ": warning: " in line
        assert line.rstrip().endswith("]")
    # The summary; before it, only the once-per-process note that the defaults apply (said in
    # whichever test of the process comes first).
    lines = err.strip().splitlines()
    assert lines[-1].startswith("1 folder: ")
    assert all(line.startswith("chartgen: no chartgen.yaml in ") for line in lines[:-1]), err


def test_clean_folder_exits_0(in_tmp, capsys):
    _repo(in_tmp, {"hello": CLEAN.format(id="hello", kind="infrastructure", data="{}")})
    code, out, err = run(["validate"], capsys)
    assert (code, out) == (0, "")
    assert err.strip() == "1 folder: 0 errors, 0 warnings"


def test_strict_makes_warnings_fail(in_tmp, capsys):
    code, out, err = run(["validate", str(FIXTURES / "ignored-settings")], capsys)
    assert code == 0 and "warning: " in out
    assert "0 errors, 9 warnings" in err
    code, _, _ = run(["validate", "--strict", str(FIXTURES / "ignored-settings")], capsys)
    assert code == 1


def test_json_format(in_tmp, capsys):
    code, out, _ = run(["validate", "--format", "json", str(FIXTURES / "references")], capsys)
    assert code == 1
    document = json.loads(out)
    assert document["ok"] is False
    findings = document["findings"]
    assert {f["code"] for f in findings} >= {"unknown-function", "no-end", "unreachable-state"}
    first = findings[0]
    assert set(first) == {"path", "line", "column", "severity", "message", "code"}
    assert first["path"].endswith("flow.sw.yaml") and first["line"] > 0


def test_usage_errors_exit_2(in_tmp, capsys):
    code, _, err = run(["validate", str(in_tmp / "missing")], capsys)
    assert code == 2 and "no workflow folder" in err
    code, _, _ = run(["validate", "--format", "xml", str(FIXTURES / "references")], capsys)
    assert code == 2


def test_default_validates_every_folder_and_knows_the_repository(in_tmp, capsys):
    options = "\n      workflowOptions:\n        currentVersion: {}\n        upgradeOptions: []\n" \
              "        migrationOptions: []\n        newOptions: [{id: infra, name: Infra}]\n" \
              "        continuationOptions: []\n        otherOptions: []"
    _repo(in_tmp, {"infra": CLEAN.format(id="infra", kind="infrastructure", data="{}"),
                   "assess": CLEAN.format(id="assess", kind="assessment", data=options),
                   "copy": CLEAN.format(id="Infra", kind="infrastructure", data="{}")})
    code, out, err = run(["validate"], capsys)
    assert code == 1
    assert err.strip().startswith("3 folders: 2 errors")
    assert out.count("[duplicate-id]") == 2
    # One folder alone still sees the others: the recommended id exists, the duplicate is found.
    code, out, _ = run(["validate", "assess"], capsys)
    assert (code, out) == (0, "")
    code, out, _ = run(["validate", "workflow_sources/copy"], capsys)
    assert code == 1 and "[duplicate-id]" in out and "workflow_sources/infra" in out


def test_folder_of_folders(in_tmp, capsys):
    _repo(in_tmp, {"one": CLEAN.format(id="one", kind="infrastructure", data="{}"),
                   "two": CLEAN.format(id="two", kind="infrastructure", data="{}")})
    code, _, err = run(["validate", "workflow_sources"], capsys)
    assert code == 0 and err.strip() == "2 folders: 0 errors, 0 warnings"


def test_console_script_no_traceback_on_garbage(tmp_path):
    folder = tmp_path / "garbage"
    folder.mkdir()
    (folder / "g.sw.yaml").write_bytes(b"\x00\xff{{{: [")
    (folder / "secret.properties").write_bytes(b"\xff\xfe bad")
    env = {k: v for k, v in os.environ.items() if k not in ("GITHUB_ACTIONS", "CHARTGEN_CONFIG")}
    result = subprocess.run([sys.executable, "-m", "chartgen", "validate", str(folder)], cwd=tmp_path,
                            capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert "g.sw.yaml" in result.stdout and "secret.properties" in result.stdout


def test_paths_are_relative_to_the_current_folder(in_tmp, capsys):
    _repo(in_tmp, {"bad": CLEAN.format(id="bad_id", kind="infrastructure", data="{}")})
    code, out, _ = run(["validate"], capsys)
    assert code == 1 and out.startswith("workflow_sources/bad/bad.sw.yaml:1:5: error: ")
    code, out2, _ = run(["validate", "workflow_sources/bad/bad.sw.yaml"], capsys)   # a workflow file
    assert (code, out2) == (1, out)


def test_extra_jq_functions_from_chartgen_yaml(in_tmp, capsys):
    flow = CLEAN.format(id="fn", kind="infrastructure", data="{}").replace(
        "    data: {}", "    data: {}\n    stateDataFilter:\n      output: '${ {id: uuid4, x: (.a | myfunc(1))} }'")
    _repo(in_tmp, {"fn": flow})
    code, out, _ = run(["validate"], capsys)
    assert code == 1 and "myfunc/1 is not defined" in out and "uuid4" not in out.split("expression:")[0]
    with open(in_tmp / "chartgen.yaml", "a") as handle:
        handle.write("validate:\n  jq_functions: [myfunc/1]\n")
    code, out, _ = run(["validate"], capsys)
    assert (code, out) == (0, "")
    with open(in_tmp / "chartgen.yaml", "a") as handle:
        handle.write("  unknown_setting: 1\n")
    code, _, err = run(["validate"], capsys)
    assert code == 2 and "unknown_setting" in err


def test_missing_sources_folder_is_a_usage_error(in_tmp, capsys):
    code, out, err = run(["validate"], capsys)
    assert code == 2 and out == ""
    assert "workflow_sources" in err and "does not exist" in err


def test_unlistable_folder_is_reported_and_the_others_still_checked(in_tmp, capsys, monkeypatch):
    import chartgen.sources

    _repo(in_tmp, {"locked": CLEAN.format(id="locked", kind="infrastructure", data="{}"),
                   "open": CLEAN.format(id="open_id", kind="infrastructure", data="{}")})
    real_listdir = chartgen.sources.os.listdir

    def listdir(path):
        if str(path).endswith("locked"):
            raise PermissionError(13, "Permission denied")
        return real_listdir(path)

    monkeypatch.setattr(chartgen.sources.os, "listdir", listdir)
    code, out, err = run(["validate"], capsys)
    assert code == 1
    assert "workflow_sources/locked: error: cannot list folder: Permission denied [unreadable]" in out
    assert "workflow_sources/open/open.sw.yaml:1:5: error:" in out and "[k8s-name]" in out
    assert err.strip() == "2 folders: 2 errors, 0 warnings"
