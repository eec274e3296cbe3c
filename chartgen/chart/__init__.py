"""Helm charts of workflows: one sub-chart per workflow folder, the umbrella chart, versions,
the compatibility matrix and lint.

Public API (imported lazily by the CLI):

    generate_chart(folder, config, *, out_dir=None, source_commit=None, image_digest=None,
                   image_tag=None) -> ChartResult(name, version, path, changed, previous_version)
    generate_charts(folders, config, ...) -> tuple[ChartResult, ...]   (umbrella regenerated once)
    generate_umbrella(config, charts_dir) -> ChartResult
    bump_version(chart_dir, part, *, prerelease=False, config=None) -> str
    compat_matrix(charts_dir) -> list[CompatRow]
    lint_charts(paths, config, *, since="HEAD") -> tuple[Finding, ...]
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "ChartResult": "chartgen.chart.writer",
    "ChartDraft": "chartgen.chart.generate",
    "draft_chart": "chartgen.chart.generate",
    "generate_chart": "chartgen.chart.generate",
    "generate_charts": "chartgen.chart.generate",
    "generate_umbrella": "chartgen.chart.umbrella",
    "bump_version": "chartgen.chart.versioning",
    "CompatRow": "chartgen.chart.compat",
    "compat_matrix": "chartgen.chart.compat",
    "lint_charts": "chartgen.chart.lint",
    "ChartSettings": "chartgen.settings",
    "chart_name": "chartgen.names",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'chartgen.chart' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
