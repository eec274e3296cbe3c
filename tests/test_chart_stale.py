"""Charts of deleted workflow folders leave this repository's charts folder (and the umbrella
chart) on the next `chartgen build` or `chartgen chart`; nothing else is ever removed."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml
from click.testing import CliRunner

from chartgen.chart.stale import source_is_gone, stale_charts
from chartgen.cli import cli
from chartgen.config import load_config
from tests.conftest import REPO

REPOSITORY = "https://github.com/acme/flows"


def make_repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    sources = root / "workflow_sources"
    sources.mkdir(parents=True)
    shutil.copytree(REPO / "workflow_sources" / "greeting", sources / "greeting")
    shutil.copytree(REPO / "workflow_sources" / "shared", sources / "shared")
    legacy = sources / "legacy"
    shutil.copytree(REPO / "workflow_sources" / "greeting", legacy)
    main = next(legacy.glob("*.sw.yaml"))
    main.write_text(main.read_text().replace("id: greeting", "id: legacy", 1))
    main.rename(legacy / "legacy.sw.yaml")
    (root / "chartgen.yaml").write_text(f"repository: {REPOSITORY}\nsources: workflow_sources\n"
                                        "charts: charts\ndist: dist\n")
    return root


def cli_run(root: Path, *args: str):
    result = CliRunner().invoke(cli, ["--config", str(root / "chartgen.yaml"), *args])
    return result


def umbrella_dependencies(root: Path) -> list[str]:
    data = yaml.safe_load((root / "charts/workflows/Chart.yaml").read_text())
    return [d["name"] for d in data.get("dependencies", [])]


def test_build_removes_the_chart_of_a_deleted_workflow_once(tmp_path):
    root = make_repo(tmp_path)
    result = cli_run(root, "build", "--all", "--until", "lint")
    assert result.exit_code == 0, result.output
    assert umbrella_dependencies(root) == ["greeting", "legacy"]

    shutil.rmtree(root / "workflow_sources" / "legacy")
    result = cli_run(root, "build", "--all", "--until", "lint")
    assert result.exit_code == 0, result.output
    assert "removed charts/legacy (workflow_sources/legacy is gone)" in result.output
    assert not (root / "charts" / "legacy").exists()
    assert umbrella_dependencies(root) == ["greeting"]
    assert "legacy" not in (root / "charts/README.md").read_text()
    assert "legacy" not in (root / "charts/workflows/values.yaml").read_text()
    assert not [p for p in (root / "charts").iterdir() if p.name.startswith(".")]   # no trash left

    snapshot = {p: p.read_bytes() for p in (root / "charts").rglob("*") if p.is_file()}
    result = cli_run(root, "build", "--all", "--until", "lint")
    assert result.exit_code == 0 and "removed" not in result.output, result.output
    assert {p: p.read_bytes() for p in (root / "charts").rglob("*") if p.is_file()} == snapshot


def test_a_partial_build_also_drops_a_deleted_workflow(tmp_path):
    """The umbrella is made from the whole charts folder on every build, so a stale chart
    goes whichever workflows were named: the comparison is with the whole sources folder."""
    root = make_repo(tmp_path)
    assert cli_run(root, "build", "--all", "--until", "lint").exit_code == 0
    shutil.rmtree(root / "workflow_sources" / "legacy")
    result = cli_run(root, "build", "greeting", "--until", "lint")
    assert result.exit_code == 0, result.output
    assert not (root / "charts" / "legacy").exists() and umbrella_dependencies(root) == ["greeting"]


def test_chart_command_reports_the_removal(tmp_path):
    root = make_repo(tmp_path)
    assert cli_run(root, "chart").exit_code == 0
    shutil.rmtree(root / "workflow_sources" / "legacy")
    result = cli_run(root, "chart")
    assert result.exit_code == 0, result.output
    assert f"{root / 'charts' / 'legacy'}: legacy 0.1.0-rc.1 removed (workflow_sources/legacy is gone)" in result.output
    assert umbrella_dependencies(root) == ["greeting"]


def test_only_our_generated_charts_of_gone_folders_are_stale(tmp_path):
    root = make_repo(tmp_path)
    assert cli_run(root, "chart").exit_code == 0
    charts = root / "charts"
    # a hand-written chart (no marker), another repository's chart, one whose folder moved
    shutil.copytree(charts / "legacy", charts / "handmade")
    (charts / "handmade" / ".chartgen").unlink()
    other = charts / "other"
    shutil.copytree(charts / "legacy", other)
    chart_yaml = other / "Chart.yaml"
    chart_yaml.write_text(chart_yaml.read_text().replace(REPOSITORY, "https://github.com/else/where"))
    shutil.rmtree(root / "workflow_sources" / "legacy")
    shutil.copytree(REPO / "workflow_sources" / "greeting", root / "workflow_sources" / "Legacy")
    config = load_config(root / "chartgen.yaml")
    assert stale_charts(config, charts) == []          # `Legacy` makes the chart `legacy` now

    shutil.rmtree(root / "workflow_sources" / "Legacy")
    stale = stale_charts(load_config(root / "chartgen.yaml"), charts)
    assert [(s.name, s.path.name, s.source_path) for s in stale] == [("legacy", "legacy", "workflow_sources/legacy")]


def test_an_empty_or_missing_sources_folder_removes_nothing(tmp_path):
    root = make_repo(tmp_path)
    assert cli_run(root, "chart").exit_code == 0
    before = sorted(p.name for p in (root / "charts").iterdir())
    shutil.rmtree(root / "workflow_sources")
    (root / "workflow_sources").mkdir()
    assert stale_charts(load_config(root / "chartgen.yaml"), root / "charts") == []
    shutil.rmtree(root / "workflow_sources")
    assert stale_charts(load_config(root / "chartgen.yaml"), root / "charts") == []
    assert sorted(p.name for p in (root / "charts").iterdir()) == before


def test_source_is_gone_rules(tmp_path):
    (tmp_path / "workflow_sources" / "here").mkdir(parents=True)
    notes = {"chartgen.io/source-repository": REPOSITORY, "chartgen.io/source-path": "workflow_sources/gone"}
    kwargs = {"root": tmp_path, "repository": REPOSITORY, "chart_names": {"here"}}
    assert source_is_gone(notes, "gone", **kwargs)
    assert not source_is_gone(notes, "here", **kwargs)                                    # name still made
    assert not source_is_gone({**notes, "chartgen.io/source-path": "workflow_sources/here"}, "x", **kwargs)
    assert not source_is_gone({**notes, "chartgen.io/source-path": "../outside"}, "x", **kwargs)
    assert not source_is_gone({**notes, "chartgen.io/source-path": "/abs"}, "x", **kwargs)
    assert not source_is_gone({**notes, "chartgen.io/source-path": ""}, "x", **kwargs)
    assert not source_is_gone({**notes, "chartgen.io/source-repository": "https://x/y"}, "gone", **kwargs)
    # no repository configured: charts that record none are this folder's own
    bare = {"chartgen.io/source-path": "workflow_sources/gone"}
    assert source_is_gone(bare, "gone", **{**kwargs, "repository": ""})
    assert not source_is_gone(bare, "gone", **kwargs)
