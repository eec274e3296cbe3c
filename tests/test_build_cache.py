"""What invalidates the build cache (.chartgen/cache.json), and what does not."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from chartgen.build.options import BuildOptions
from chartgen.build.runner import build
from chartgen.config import load_config
from tests.conftest import REPO


def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    shutil.copytree(REPO / "workflow_sources", root / "workflow_sources")
    (root / "chartgen.yaml").write_text("build:\n  executor: thread\n")
    return root


def run(root: Path, until: str = "package"):
    config = load_config(root / "chartgen.yaml")
    folders = [root / "workflow_sources" / n for n in ("greeting", "mta")]
    return build(folders, config, BuildOptions(until=until))


def test_output_removed_or_edited_is_rebuilt(tmp_path):
    root = repo(tmp_path)
    first = run(root)
    assert run(root).cached == ("greeting", "mta")
    archive = root / first.workflows[1].outputs["archive"]
    archive.unlink()
    assert run(root).cached == ("greeting",) and archive.is_file()
    values = root / "charts/greeting/values.yaml"
    values.write_text(values.read_text() + "# edited by hand\n")
    report = run(root)
    assert report.cached == ("mta",)
    assert report.workflows[0].failed_stage.findings[0].code == "chart-hand-edit"   # not overwritten unasked
    assert "# edited by hand" in values.read_text()
    (root / "chartgen.yaml").write_text("build:\n  executor: thread\nchart:\n  hand_edits: overwrite\n")
    report = run(root)
    assert report.ok
    assert "# edited by hand" not in values.read_text()      # regenerated


def test_settings_that_shape_outputs_invalidate_build_settings_do_not(tmp_path):
    root = repo(tmp_path)
    run(root)
    config = root / "chartgen.yaml"
    config.write_text("build:\n  executor: thread\n  parallelism: 1\n")
    assert run(root).cached == ("greeting", "mta")
    config.write_text(config.read_text() + "image:\n  registry: registry.example.com/other\n")
    assert run(root).cached == ()


def test_a_shorter_run_reuses_a_longer_record(tmp_path):
    root = repo(tmp_path)
    run(root, "package")
    report = run(root, "render")
    assert report.cached == ("greeting", "mta")
    assert [s.stage for s in report.workflows[0].stages] == ["validate", "render"]
    recorded = json.loads((root / ".chartgen/cache.json").read_text())["workflows"]["mta"]["stages"]
    assert [s["stage"] for s in recorded] == ["validate", "render", "chart", "lint", "package"]


def test_broken_cache_file_only_costs_a_rebuild(tmp_path):
    root = repo(tmp_path)
    run(root)
    (root / ".chartgen/cache.json").write_text("{not json")
    report = run(root)
    assert report.ok and report.cached == ()
    assert run(root).cached == ("greeting", "mta")
