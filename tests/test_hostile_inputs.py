"""Hostile and broken inputs (issue 11): no template injection, no hangs, no silent data loss,
no internal errors.

Each class of hostile input has a generator (`HOSTILE`) that spoils a fresh copy of the
sample repository; the same generators drive benchmarks/bench_hostile.py. Every case runs
through the real CLI (`python -m chartgen validate/render/chart/build` in a subprocess with
a timeout, so a hang fails the test instead of hanging CI) and expects either a clear error
(exit 1 or 2, the finding's code and path, never exit 70 or a traceback, nothing written)
or a faithful result. The library functions behind them are tested directly below.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest

from chartgen import limits
from chartgen.errors import ChartgenError, Finding, printable
from tests.conftest import REPO

WORKFLOW = "greeting"
CONFIG = "sources: workflow_sources\nshared: workflow_sources/shared\ncharts: charts\ndist: dist\n"
TIMEOUT = 120   # seconds for one CLI run: generous on a busy 2-core machine; a hang fails, not blocks


# --------------------------------------------------------------------------- generators

def make_project(root: Path, config: str = CONFIG) -> Path:
    """The greeting workflow and the shared folder, as in this repository."""
    sources = root / "workflow_sources"
    sources.mkdir(parents=True)
    shutil.copytree(REPO / "workflow_sources" / WORKFLOW, sources / WORKFLOW)
    shutil.copytree(REPO / "workflow_sources" / "shared", sources / "shared")
    (root / "chartgen.yaml").write_text(config)
    return root


def folder(root: Path, name: str = WORKFLOW) -> Path:
    return root / "workflow_sources" / name


def alias_bomb(levels: int = 10, width: int = 10, key: str = "bomb") -> str:
    """`width`**`levels` strings from about 600 bytes (the billion laughs)."""
    lines = [f"{key}:", "  l0: &l0 [" + ", ".join(['"lol"'] * width) + "]"]
    lines += [f"  l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * width) + "]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def template_injection_folder(root: Path) -> None:
    target = folder(root) / "schemas" / 'x"}}{{ .Release.Name }}'
    target.mkdir()
    (target / "a.json").write_text('{"type": "object"}\n')


def alias_bomb_workflow(root: Path) -> None:
    with open(folder(root) / "greeting.sw.yaml", "a") as handle:
        handle.write(alias_bomb())


def alias_bomb_config(root: Path) -> None:
    with open(root / "chartgen.yaml", "a") as handle:
        handle.write(alias_bomb(key="bomb"))


def alias_bomb_spec(root: Path) -> None:
    specs = folder(root) / "specs"
    specs.mkdir()
    (specs / "api.yaml").write_text("openapi: 3.0.0\ninfo: {title: t, version: '1'}\npaths: {}\n" + alias_bomb(key="x-bomb"))


def deep_nesting(root: Path) -> None:
    # 60 KB of `- - - ...`: libyaml's composer used to crash the interpreter (SIGSEGV) on it.
    (folder(root) / "schemas" / "deep.yaml").write_text("- " * 30_000 + "x\n")


def injected_state_name(root: Path) -> None:
    """Only a warning (an unreachable state): the build goes through, and no line of output
    may carry a raw workflow command, an ANSI escape or a line separator."""
    with open(folder(root) / "greeting.sw.yaml", "a") as handle:
        handle.write('  - name: "Orphan\\n::error title=X::pwned\\n::add-mask::x\\e[31m\\u2028red"\n'
                     "    type: inject\n    data: {}\n    end: true\n")


def injected_file_name(root: Path) -> None:
    (folder(root) / "schemas" / "a\n::error title=X::pwned\x1b[2J.json").write_text("{}\n")


def fifos(root: Path) -> None:
    """A FIFO as a resource, as a README, and as the main workflow of another folder (whose
    id every command reads): each used to hang validate, render, chart and build."""
    os.mkfifo(folder(root) / "schemas" / "fifo.json")
    os.mkfifo(folder(root) / "NOTES.md")
    other = folder(root, "other")
    other.mkdir()
    os.mkfifo(other / "other.sw.yaml")


def devices(root: Path) -> None:
    """Symlinks to endless devices: `build` used to read them before validating (GBs, then
    MemoryError, exit 70)."""
    os.symlink("/dev/zero", folder(root) / "schemas" / "zero.json")
    os.symlink("/dev/urandom", folder(root) / "random.bin")


def device_not_deployed(root: Path) -> None:
    os.symlink("/dev/urandom", folder(root) / "random.bin")
    os.symlink("/dev/zero", folder(root) / "zero.sw.yaml.orig")


def huge_file(root: Path) -> None:
    with open(folder(root) / "schemas" / "huge.json", "wb") as handle:   # sparse: costs no disk
        handle.truncate(limits.DEFAULT.max_file_size + 1)


def sources_outside(root: Path) -> None:
    (root / "chartgen.yaml").write_text(CONFIG.replace("sources: workflow_sources", "sources: ../../../../"))


def file_symlink_loop(root: Path) -> None:
    schemas = folder(root) / "schemas"
    os.symlink("loop2.json", schemas / "loop1.json")
    os.symlink("loop1.json", schemas / "loop2.json")


def directory_symlink_loops(root: Path) -> None:
    schemas = folder(root) / "schemas"
    os.symlink(".", schemas / "self")
    os.symlink("dloop2", schemas / "dloop1")
    os.symlink("dloop1", schemas / "dloop2")


def undecodable_name(root: Path) -> None:
    (folder(root) / "schemas" / os.fsdecode(b"b\xff.json")).write_text("{}\n")


def umbrella_clash(root: Path) -> None:
    shutil.rmtree(folder(root))
    clash = folder(root, "workflows")
    shutil.copytree(REPO / "workflow_sources" / WORKFLOW, clash)
    (clash / "greeting.sw.yaml").write_text((clash / "greeting.sw.yaml").read_text().replace(
        "id: greeting", "id: other", 1))


def unprintable_folder_name(root: Path) -> None:
    shutil.copytree(folder(root), folder(root, "evil\n::error::x"))


@dataclass(frozen=True)
class Hostile:
    """One class of hostile input and what each command must answer.

    `expect` maps a command to (exit code, finding code or None for success); `shows` is
    text the output must contain (the path, escaped as chartgen prints it)."""

    make: Callable[[Path], None]
    expect: dict[str, tuple[int, str | None]]
    shows: str = ""
    workflow: str = WORKFLOW
    env: dict[str, str] = field(default_factory=dict)


BAD = 1
ALL_BAD = {"validate": (1, None), "render": (1, None), "chart": (1, None), "build": (1, None)}


def _bad(code: str, exit_code: int = 1, **overrides) -> dict:
    expect = {command: (exit_code, code) for command in ALL_BAD}
    expect.update(overrides)
    return expect


HOSTILE: dict[str, Hostile] = {
    # 1. template injection through a resource sub-folder name
    "path-name": Hostile(template_injection_folder, _bad("path-name"),
                         shows='schemas/x"}}{{ .Release.Name }}'),
    # 2. YAML alias bombs and deep nesting, in a workflow, in chartgen.yaml, in a spec
    "alias-bomb-workflow": Hostile(alias_bomb_workflow, _bad("yaml-aliases"), shows="greeting.sw.yaml:"),
    "alias-bomb-config": Hostile(alias_bomb_config, _bad("yaml-aliases", 2), shows="chartgen.yaml:"),
    "alias-bomb-spec": Hostile(alias_bomb_spec, _bad("yaml-aliases", render=(0, None), chart=(0, None)),
                               shows="specs/api.yaml:"),
    "deep-nesting": Hostile(deep_nesting, _bad("yaml-depth", render=(0, None), chart=(0, None)),
                            shows="schemas/deep.yaml:1:"),
    # 4. GitHub Actions command injection (checked under GITHUB_ACTIONS=true)
    "ci-state-name": Hostile(injected_state_name, {"validate": (0, "unreachable-state"), "render": (0, None),
                                                   "chart": (0, None), "build": (0, None)},
                             shows="Orphan\\n::error title=X::pwned\\n::add-mask::x\\x1b[31m\\u2028red",
                             env={"GITHUB_ACTIONS": "true"}),
    "ci-file-name": Hostile(injected_file_name, _bad("configmap-key"),
                            shows="schemas/a\\n::error title=X::pwned\\x1b[2J.json", env={"GITHUB_ACTIONS": "true"}),
    # 5. unbounded reads and hangs
    "fifo": Hostile(fifos, _bad("not-a-regular-file"), shows="schemas/fifo.json"),
    "devices": Hostile(devices, _bad("path-escape"), shows="schemas/zero.json"),
    "device-not-deployed": Hostile(device_not_deployed, {c: (0, None) for c in ALL_BAD}),
    "huge-file": Hostile(huge_file, _bad("file-too-large"), shows="schemas/huge.json"),
    "sources-outside": Hostile(sources_outside, _bad("config-outside-repository", 2), shows="chartgen.yaml:1:"),
    # 6. symlink loops and undecodable names
    "file-symlink-loop": Hostile(file_symlink_loop, _bad("symlink-loop"), shows="schemas/loop1.json"),
    "dir-symlink-loops": Hostile(directory_symlink_loops, {c: (0, None) for c in ALL_BAD}),
    "undecodable-name": Hostile(undecodable_name, _bad("configmap-key"), shows="schemas/b\\xff.json"),
    "unprintable-folder": Hostile(unprintable_folder_name, _bad("path-name", 2), shows="evil\\n::error::x",
                                  workflow="evil\n::error::x"),
    # 10. a workflow folder named like the umbrella chart
    "umbrella-clash": Hostile(umbrella_clash, _bad("chart-name-clash", render=(0, None),
                                                   chart=(2, "chart-name-clash")),
                              shows="workflow_sources/workflows", workflow="workflows"),
}


def command_line(command: str, workflow: str) -> list[str]:
    if command == "validate":
        return ["validate", workflow]
    if command == "render":
        return ["render", workflow, "--out", "rendered"]
    if command == "build":
        return ["build", "--no-cache", workflow]
    return [command, workflow]


def run_cli(root: Path, args: list[str], env: dict | None = None, timeout: float = TIMEOUT):
    """`python -m chartgen ARGS` in `root`; output decoded strictly (it must be UTF-8)."""
    clean = {k: v for k, v in os.environ.items()
             if k not in ("GITHUB_ACTIONS", "CI", "CHARTGEN_CONFIG", "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY",
                          "CHARTGEN_DEBUG")}
    clean["PYTHONPATH"] = os.pathsep.join([str(REPO), clean.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    proc = subprocess.run([sys.executable, "-m", "chartgen", *args], cwd=root, env={**clean, **(env or {})},
                          capture_output=True, timeout=timeout)
    return proc.returncode, proc.stdout.decode("utf-8"), proc.stderr.decode("utf-8")


def assert_single_line_output(text: str) -> None:
    """No raw workflow command, ANSI escape, carriage return or Unicode line separator."""
    for bad in ("\x1b", "\r", "\u2028", "\u2029", "\x85"):
        assert bad not in text, f"{bad!r} reached the output"
    for line in text.split("\n"):
        if line.lstrip().startswith("::"):
            assert re.match(r"::(error|warning) file=", line), f"raw workflow command on a line: {line!r}"


def assert_nothing_written(root: Path) -> None:
    left = sorted(p.name for p in root.iterdir()) if root.is_dir() else []
    assert set(left) <= {"chartgen.yaml", "workflow_sources", ".chartgen"}, f"left behind: {left}"


# ------------------------------------------------------------------------- through the CLI

CASES = [(name, command) for name, hostile in HOSTILE.items() for command in hostile.expect]


@pytest.mark.parametrize(("name", "command"), CASES, ids=[f"{n}-{c}" for n, c in CASES])
def test_cli_answers_clearly(tmp_path, name, command):
    hostile = HOSTILE[name]
    root = make_project(tmp_path / "repo")
    hostile.make(root)
    exit_code, code = hostile.expect[command]
    status, out, err = run_cli(root, command_line(command, hostile.workflow), hostile.env)
    text = out + err
    assert status == exit_code, text
    assert "Traceback" not in text and "internal error" not in text and "internal-error" not in text, text
    if code is not None:
        assert f"[{code}]" in text, text
    if hostile.shows and (code is not None or command == "validate"):
        assert hostile.shows in text, text
    assert_single_line_output(text)
    if exit_code:
        assert_nothing_written(root)
    elif command == "build":
        archive = root / "dist" / "greeting-0.1.0-rc.1.tgz"
        with tarfile.open(archive) as tar:
            names = tar.getnames()
        assert "greeting/files/schemas/greeting-input-schema.json" in names or any(
            n.endswith("greeting-input-schema.json") for n in names), names
        assert not any(re.search(r"random|zero|loop|Orphan", n) for n in names), names


def test_alias_bomb_position_and_speed(tmp_path):
    """The finding points at the alias that crosses the limit, and it comes at once."""
    import time

    root = make_project(tmp_path / "repo")
    alias_bomb_workflow(root)
    start = time.perf_counter()
    status, out, err = run_cli(root, ["validate", WORKFLOW])
    elapsed = time.perf_counter() - start
    text = (folder(root) / "greeting.sw.yaml").read_text().splitlines()
    match = re.search(r"greeting\.sw\.yaml:(\d+):(\d+): error: .*\[yaml-aliases\]", out)
    assert status == 1 and match, out + err
    line, col = int(match.group(1)), int(match.group(2))
    # aliases add 12,330 nodes up to l3, then 11,111 each: the 8th alias of l4 crosses 100,000
    assert text[line - 1][col - 1] == "*" and text[line - 1].lstrip().startswith("l4:")
    assert col == text[line - 1].index("*l3") + 1 + 7 * len("*l3, ")
    assert elapsed < 30, elapsed   # not a timing test: minutes before (seconds of margin on a busy machine)


def test_json_output_of_undecodable_and_injected_names_is_valid(tmp_path):
    root = make_project(tmp_path / "repo")
    undecodable_name(root)
    injected_file_name(root)
    status, out, _ = run_cli(root, ["validate", "--format", "json", WORKFLOW])
    assert status == 1
    data = json.loads(out)
    paths = sorted(f["path"] for f in data["findings"])
    assert any(p.endswith("schemas/b\\xff.json") for p in paths), paths
    assert any(p.endswith("schemas/a\\n::error title=X::pwned\\x1b[2J.json") for p in paths), paths
    out.encode("ascii")   # json.dumps escapes the rest; no lone surrogate anywhere


def test_limits_come_from_chartgen_yaml(tmp_path):
    root = make_project(tmp_path / "repo", CONFIG + "limits:\n  maxFileSize: 8KiB\n  maxYamlAliasNodes: 5\n")
    (folder(root) / "schemas" / "big.json").write_text('{"description": "' + "x" * 9000 + '"}\n')
    with open(folder(root) / "greeting.sw.yaml", "a") as handle:
        handle.write("x-small: &a [1, 2, 3]\nx-copy: [*a, *a]\n")
    status, out, err = run_cli(root, ["validate", WORKFLOW])
    assert status == 1
    assert "schemas/big.json: error: file is larger than 8 KiB" in out and "[file-too-large]" in out
    assert "more than 5 nodes" in out and "[yaml-aliases]" in out
    bad = make_project(tmp_path / "bad", CONFIG + "limits:\n  maxFileSize: lots\n")
    status, out, err = run_cli(bad, ["validate", WORKFLOW])
    assert status == 2 and "limits.maxFileSize" in err and "[config-invalid]" in err


# ------------------------------------------------------------------------------ library

def test_read_file_reads_regular_files_only_and_within_the_limit(tmp_path):
    from chartgen.limits import read_file

    good = tmp_path / "good.json"
    good.write_bytes(b"x" * 100)
    assert read_file(good) == b"x" * 100
    assert read_file(good, limit=100) == b"x" * 100
    os.mkfifo(tmp_path / "fifo")
    os.symlink("/dev/zero", tmp_path / "zero")
    os.symlink("loop", tmp_path / "loop")
    (tmp_path / "dir").mkdir()
    cases = {"fifo": "not-a-regular-file", "zero": "not-a-regular-file", "loop": "symlink-loop",
             "dir": "not-a-regular-file", "missing": "unreadable"}
    for name, code in cases.items():
        with pytest.raises(ChartgenError) as info:
            read_file(tmp_path / name)
        assert info.value.code == code and info.value.findings[0].path == str(tmp_path / name)
    with pytest.raises(ChartgenError) as info:
        read_file(good, limit=99)
    assert info.value.code == "file-too-large"
    outside = tmp_path / "inner"
    outside.mkdir()
    os.symlink(good, outside / "link.json")
    with pytest.raises(ChartgenError) as info:
        read_file(outside / "link.json", within=outside)
    assert info.value.code == "path-escape"
    assert read_file(outside / "link.json", within=tmp_path) == b"x" * 100


def test_printable_escapes_every_control_visibly():
    assert printable("a\nb\rc\td") == "a\\nb\\rc\\td"
    assert printable("red\x1b[31m\x7f\x85") == "red\\x1b[31m\\x7f\\x85"
    assert printable("line\u2028para\u2029rtl\u202e") == "line\\u2028para\\u2029rtl\\u202e"
    assert printable(os.fsdecode(b"b\xff.json")) == "b\\xff.json"
    assert printable("caf\u00e9 {{ x }} \\n") == "caf\u00e9 {{ x }} \\n"   # printable text is kept


def test_findings_are_single_line_on_every_output_path(monkeypatch):
    import io

    from chartgen import ci

    finding = Finding("w/a\n::error::x.json", 3, 4, "error", "state 'A\n::add-mask::x\x1b[2J'", "c")
    assert "\n" not in finding.format() and "\x1b" not in finding.format()
    assert finding.to_dict()["path"] == "w/a\\n::error::x.json"
    assert "\n" not in str(ChartgenError("bad\nname", path="p"))
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    stream = io.StringIO()
    ci.annotate([finding], stream)
    assert stream.getvalue().count("\n") == 1 and stream.getvalue().startswith("::error file=")


def test_secrets_are_redacted_in_their_escaped_form():
    from chartgen.errors import register_secret

    register_secret("multi\nline-secret")
    assert "line-secret" not in Finding("p", message="got multi\nline-secret here").format()


def test_alias_guard_on_every_reader(monkeypatch):
    from chartgen.yamlio import check_yaml, load_data, load_document

    bomb = alias_bomb()
    for reader in (load_document, load_data, check_yaml):
        with pytest.raises(ChartgenError) as info:
            reader(bomb, "bomb.yaml")
        finding = info.value.findings[0]
        assert (finding.code, finding.path, finding.line) == ("yaml-aliases", "bomb.yaml", 6)
    with pytest.raises(ChartgenError) as info:
        load_data("a: &a [1, *a]\n", "r.yaml")
    assert info.value.code == "yaml-aliases" and "recursive" in info.value.findings[0].message
    with pytest.raises(ChartgenError) as info:
        load_document("[" * 50_000 + "]" * 50_000, "deep.yaml")   # JSON-looking: json's own recursion limit
    assert info.value.code in ("json-syntax", "yaml-depth")
    with pytest.raises(ChartgenError) as info:
        load_data("- " * 50_000 + "x", "deep.yaml")
    assert info.value.code == "yaml-depth"
    # Ordinary anchors and merge keys still work, and the limits are settings.
    assert load_data("a: &x {b: 1}\nc: *x\nd: {<<: *x, e: 2}\n") == {"a": {"b": 1}, "c": {"b": 1},
                                                                       "d": {"b": 1, "e": 2}}
    monkeypatch.setattr(limits, "_current", limits.Limits(max_yaml_alias_nodes=2))
    with pytest.raises(ChartgenError):
        load_data("a: &x [1, 2]\nc: *x\n")
    monkeypatch.setattr(limits, "_current", limits.Limits(max_yaml_alias_size=5))
    with pytest.raises(ChartgenError) as info:
        load_data("a: &x abcdef\nc: *x\n")
    assert "limits.maxYamlAliasSize" in info.value.findings[0].message


def test_ruamel_readers_are_guarded():
    from chartgen.chart.versioning import set_chart_version
    from chartgen.tekton import pin_task_images

    with pytest.raises(ChartgenError) as info:
        set_chart_version("version: 1.0.0\n" + alias_bomb(), "2.0.0")
    assert info.value.code == "yaml-aliases"
    with pytest.raises(ChartgenError) as info:
        pin_task_images("kind: Task\n" + alias_bomb(), {}, path="task.yaml")
    assert info.value.code == "yaml-aliases"


def test_sources_refuse_names_that_are_not_path_segments(tmp_path):
    from chartgen.sources import load_workflow
    from chartgen.validation import validate_folder

    root = make_project(tmp_path / "repo")
    template_injection_folder(root)
    # A shared file in a badly named folder, referenced from a schema: refused the same way.
    shared_bad = root / "workflow_sources" / "shared" / "schemas" / "q}}"
    shared_bad.mkdir()
    (shared_bad / "r.json").write_text('{"type": "string"}\n')
    schema = folder(root) / "schemas" / "workflow-output-schema.json"
    schema.write_text(schema.read_text().replace("workflow-result-schema.json", "q}}/r.json"))
    # Not deployed (not a data file): no finding, whatever the name.
    (folder(root) / "schemas" / 'notes "}} .txt').write_text("n\n")
    loaded = load_workflow(folder(root))
    assert not any("}}" in r.file.rel for r in loaded.resources)
    findings = validate_folder(loaded)
    by_code = {(f.code, f.path) for f in findings if f.is_error}
    assert ("path-name", str(folder(root) / "schemas" / 'x"}}{{ .Release.Name }}')) in by_code
    assert ("path-name", str(shared_bad)) in by_code
    assert not any("notes" in f.path for f in findings)
    assert {code for code, _ in by_code} == {"path-name"}   # no second, misleading finding


def test_config_refuses_sources_and_shared_outside_the_repository(tmp_path):
    from chartgen.config import load_config
    from chartgen.errors import UsageError

    root = tmp_path / "repo"
    root.mkdir()
    (root / "chartgen.yaml").write_text("sources: flows\nshared: ../elsewhere/shared\n")
    with pytest.raises(UsageError) as info:
        load_config(root / "chartgen.yaml")
    finding = info.value.findings[0]
    assert (finding.code, finding.line, finding.column) == ("config-outside-repository", 2, 9)
    (root / "chartgen.yaml").write_text(f"sources: {root}/flows\nlimits:\n  maxFileSize: 2MiB\n")
    config = load_config(root / "chartgen.yaml")
    assert config.limits.max_file_size == 2 * 1024 * 1024


def test_umbrella_clash_is_a_validation_finding(tmp_path):
    from chartgen.sources import load_workflow
    from chartgen.validation import RepositoryContext, validate_folder

    root = make_project(tmp_path / "repo")
    umbrella_clash(root)
    loaded = load_workflow(folder(root, "workflows"))
    assert not any(f.code == "chart-name-clash" for f in validate_folder(loaded))
    findings = validate_folder(loaded, repository=RepositoryContext(umbrella_chart="workflows"))
    assert [f.path for f in findings if f.code == "chart-name-clash"] == [str(folder(root, "workflows"))]
