"""The documentation stays true: generated references are current, every error code is
documented, links resolve, the README's commands are the ones CI runs, LICENSE is the one
pyproject names."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from chartgen import docgen

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


@pytest.mark.parametrize("page, generate, refresh", [
    ("cli.md", docgen.cli_markdown, docgen.CLI_REFRESH),
    ("configuration.md", docgen.config_markdown, docgen.CONFIG_REFRESH),
])
def test_generated_reference_is_current(page, generate, refresh):
    committed = _read(DOCS / page)
    assert committed == generate(), f"docs/{page} is stale: run `{refresh}` and commit it"


def test_cli_reference_lists_every_command_and_option():
    import click

    from chartgen.cli import COMMANDS, cli

    text = _read(DOCS / "cli.md")
    ctx = click.Context(cli, info_name="chartgen", **cli.context_settings)
    for name in COMMANDS:
        command = cli.get_command(ctx, name)
        assert f"## `chartgen {name}`" in text
        commands = [(name, command)]
        if isinstance(command, click.Group):
            commands += [(f"{name} {sub}", command.get_command(ctx, sub)) for sub in command.list_commands(ctx)]
        for path, each in commands:
            section = text.split(f"## `chartgen {path}`\n", 1)[1].split("\n## ", 1)[0]
            for param in each.params:
                for opt in getattr(param, "opts", ()):
                    if isinstance(param, click.Option) and not param.hidden:
                        assert opt in section, (path, opt)


def test_every_setting_has_type_default_and_meaning():
    assert docgen.undocumented_settings() == [], "add a description to these keys in chartgen/data/config/*.json"
    text = _read(DOCS / "configuration.md")
    core, sections = docgen.config_sections()
    rows = docgen.config_rows(core)
    rows += [row for name, section in sections for row in docgen.config_rows(section, f"{name}.")]
    assert len(rows) > 80
    for key, _schema in rows:
        assert f"| `{key}` |" in text, key


def test_every_error_code_is_documented_and_every_documented_code_exists():
    codes, unresolved = docgen.finding_codes()
    assert not unresolved, ("codes built at run time cannot be checked; write them as string constants: "
                            f"{unresolved}")
    documented = docgen.documented_codes(_read(DOCS / "errors.md"))
    undocumented = {code: places[0] for code, places in codes.items() if code not in documented}
    assert not undocumented, f"add these codes to docs/errors.md (see its 'Adding a code'): {undocumented}"
    gone = sorted(set(documented) - set(codes))
    assert not gone, f"docs/errors.md documents codes chartgen no longer emits; remove them: {gone}"
    assert len(codes) > 150  # the scan found the code base's codes, not a handful


def test_error_code_rows_are_well_formed():
    text = _read(DOCS / "errors.md")
    rows = [line for line in text.splitlines() if re.match(r"^\| `[^`]+` \|", line)]
    levels = {"error", "warning", "usage", "error, warning", "warning, error", "usage, error", "error, usage"}
    for row in rows:
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", row)[1:-1]]
        assert len(cells) == 4, row
        code, level, meaning, fix = cells
        assert docgen.CODE_PATTERN.match(code.strip("`")), row
        assert level in levels, row
        assert meaning and fix, row
    assert len(rows) == len(docgen.documented_codes(text)), "a code is documented twice"


def test_code_scan_finds_every_way_of_raising(tmp_path):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "m.py").write_text(textwrap.dedent('''
        CODES = {"a": "from-table", "b": "from-table-2"}

        def report(path, message, code):                  # a forwarder: its callers give codes
            findings.add(path, 0, 0, message, code)

        def fail(message, *, code="default-code"):
            raise ChartgenError(message, code=code)

        class Check:
            def error(self, pointer, message, code):      # a method forwarding its code
                self.findings.add(self.path, 1, 1, message, code)

        def rules(x):
            raise UsageError("m", code="by-keyword")
            Finding("p", 1, 2, "error", "m", "positional-finding")
            report("p", "message with spaces", "via-forwarder")
            check.error(("id",), "m", "if-a" if x else "if-b")
            check.error(("id",), "m", CODES[x])
            findings.append({"code": "in-dict"})
            raise ChartgenError(findings=exc.findings, code=exc.code)   # passed on: no new code
            check.error(("id",), "m", f"dyn-{x}")
    '''))
    codes, unresolved = docgen.finding_codes(package)
    assert set(codes) == {"from-table", "from-table-2", "default-code", "by-keyword", "positional-finding",
                          "via-forwarder", "if-a", "if-b", "in-dict"}
    assert len(unresolved) == 1 and "dyn-" in unresolved[0]


def test_docgen_entry_point():
    done = subprocess.run([sys.executable, "-m", "chartgen.docgen", "codes"], capture_output=True, text=True,
                          cwd=ROOT)
    assert done.returncode == 0 and "unknown-state\tchartgen/validation/" in done.stdout
    assert "unresolved" not in done.stdout
    done = subprocess.run([sys.executable, "-m", "chartgen.docgen", "nonsense"], capture_output=True, text=True)
    assert done.returncode == 2 and "usage" in done.stderr


def test_cli_does_not_import_docgen():
    done = subprocess.run([sys.executable, "-c", "import sys; from chartgen.cli import main\n"
                           "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
                           "print('chartgen.docgen' in sys.modules)"], capture_output=True, text=True, cwd=ROOT)
    assert done.stdout.strip().splitlines()[-1] == "False"


# --- links and the README -------------------------------------------------------------------

PAGES = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted(DOCS.glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def _anchors(text: str) -> set[str]:
    """GitHub's heading anchors of a Markdown page."""
    anchors = set()
    for line in text.splitlines():
        match = re.match(r"^#{1,6} (.*)", line)
        if match:
            title = match.group(1).strip().lower()
            anchors.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return anchors


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_local_links_resolve(page):
    text = _read(page)
    in_code = re.sub(r"```.*?```", "", text, flags=re.S)
    for target in LINK.findall(in_code):
        if re.match(r"^[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        assert resolved.exists(), f"{page.name}: link to {target} leads nowhere"
        if anchor and resolved.suffix == ".md":
            assert anchor in _anchors(_read(resolved)), f"{page.name}: no heading for #{anchor} in {resolved.name}"


def test_docs_index_links_every_page():
    index = _read(DOCS / "README.md")
    for page in DOCS.glob("*.md"):
        if page.name != "README.md":
            assert f"]({page.name})" in index, f"docs/README.md does not link {page.name}"


def test_readme_is_short_and_starts_with_what_a_new_user_runs():
    text = _read(ROOT / "README.md")
    assert len(text.splitlines()) < 150
    first_screen = "\n".join(text.splitlines()[:60])
    for command in ("python3 -m venv .venv", ". .venv/bin/activate", "pip install -e '.[test]'",
                    "chartgen build mta", "python3 -m pytest -q", "apt-get install"):
        assert command in first_screen, command


def test_readme_test_command_is_what_ci_runs():
    script = _read(ROOT / ".ci" / "run")
    commands = [line.strip() for line in script.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert commands[-1] == "python3 -m pytest -q"
    readme = _read(ROOT / "README.md")
    assert f"$ {commands[-1]}\n" in readme
    for step in ("python3 -m venv .venv", ". .venv/bin/activate", "pip install -e '.[test]'"):
        assert step in script.replace("--quiet ", "") and step in readme, step


def test_readme_build_output_is_real(tmp_path):
    """The README shows what `chartgen build mta` prints in a fresh clone."""
    readme = _read(ROOT / "README.md")
    shown = readme.split("$ chartgen build mta", 1)[1].split("```", 1)[0].split("\n", 1)[1]
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    for path in ("chartgen", "workflow_sources", "charts", "chartgen.yaml"):   # the working tree, not HEAD
        subprocess.run(["rm", "-rf", str(clone / path)], check=True)
        subprocess.run(["cp", "-r", str(ROOT / path), str(clone / path)], check=True)
    subprocess.run(["rm", "-rf", str(clone / "dist"), str(clone / ".chartgen")], check=True)
    done = subprocess.run([sys.executable, "-m", "chartgen", "build", "mta"], cwd=clone, capture_output=True,
                          text=True, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(clone), "HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    assert done.stdout == shown


# --- LICENSE ----------------------------------------------------------------------------------


def test_license_is_the_apache_license_pyproject_names():
    text = _read(ROOT / "LICENSE")
    assert text.lstrip().startswith("Apache License\n                           Version 2.0, January 2004")
    assert "END OF TERMS AND CONDITIONS" in text and "APPENDIX: How to apply the Apache License" in text
    assert len(text.splitlines()) == 202
    pyproject = _read(ROOT / "pyproject.toml")
    assert 'license = "Apache-2.0"' in pyproject and 'license-files = ["LICENSE"]' in pyproject
