"""charts/ holds the generated charts of workflow_sources/ (and the umbrella chart),
committed. Regenerating them from the sources must change nothing: a change to a
workflow or to the generator shows its effect on the charts in the same commit.

Fix a failure with:  chartgen build --all --until lint   (then commit charts/)
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

from chartgen.build.options import BuildOptions
from chartgen.build.runner import build
from chartgen.config import load_config
from chartgen.sources import discover
from tests.conftest import REPO

FIX = "charts/ is out of date with its sources: run `chartgen build --all --until lint` and commit charts/"


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_committed_charts_match_their_sources(tmp_path):
    config = load_config(REPO / "chartgen.yaml")
    committed = config.charts_dir
    assert committed.is_dir() and any(committed.iterdir()), FIX
    # Regenerate on top of a copy, so versions continue from the committed ones.
    work = tmp_path / "charts"
    shutil.copytree(committed, work)
    regenerated_config = config.with_overrides(charts=str(work), dist=str(tmp_path / "dist"),
                                               build=replace(config.build, cache="", executor="thread"))
    folders = discover(config.sources_dir, config.shared_dir)
    report = build(folders, regenerated_config, BuildOptions(until="chart", use_cache=False))
    assert report.ok, "\n".join(f.format() for w in report.workflows if not w.ok
                                for f in w.failed_stage.findings)
    before, after = tree(committed), tree(work)
    changed = sorted(k for k in before.keys() & after.keys() if before[k] != after[k])
    added, removed = sorted(after.keys() - before.keys()), sorted(before.keys() - after.keys())
    assert not (changed or added or removed), f"{FIX}\nchanged: {changed[:20]}\nnew: {added[:20]}\n" \
                                              f"stale: {removed[:20]}"


def test_every_workflow_has_its_committed_chart():
    config = load_config(REPO / "chartgen.yaml")
    from chartgen.chart import chart_name

    names = {chart_name(f.name) for f in discover(config.sources_dir, config.shared_dir)}
    present = {p.name for p in config.charts_dir.iterdir() if (p / "Chart.yaml").is_file()}
    assert names <= present, f"{FIX} (missing: {sorted(names - present)})"

    umbrella = config.chart.umbrella_name
    assert umbrella in present, f"the umbrella chart charts/{umbrella} is missing: " + FIX
