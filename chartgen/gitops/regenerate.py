"""Regenerating charts inside the scratch clone of the chart repository, in the layout
`pr.layout` asks for; adopting charts chartgen did not write; removing a chart."""

from __future__ import annotations

import shutil
from pathlib import Path

from chartgen.fsutil import MARKER
from chartgen.gitops.git import Git
from chartgen.gitops.model import ADOPTED, UMBRELLA, ChartChange, Removal, Run


def remove_chart(run: Run, removal: Removal) -> tuple[ChartChange, ...]:
    """Delete the chart's folders in the checkout, then regenerate the umbrella chart and the
    compatibility table from the charts that remain."""
    root = run.git.cwd
    for rel in removal.paths:
        shutil.rmtree(root / rel, ignore_errors=True)
    charts = root / run.charts_dir
    layout = run.settings.layout
    config = _in_checkout(run, charts)
    from chartgen.chart.umbrella import generate_umbrella, write_charts_readme

    with _standalone_copies(run):
        umbrella = charts / UMBRELLA
        if "umbrella" in layout and umbrella.is_dir():
            adopted = run.settings.adopt_charts and _adopt(umbrella)
            generate_umbrella(config, charts)
            if adopted and (umbrella / MARKER).read_text() == ADOPTED:
                (umbrella / MARKER).unlink()
        else:
            write_charts_readme(config, charts)
    return (ChartChange(removal.name, removal.version, ""),)


class _standalone_copies:
    """With the umbrella-only layout the workflow charts live only under
    <charts>/workflows/charts/; the umbrella generator reads <charts>/<name>/. Copy them out
    for the generation, and take the copies away again."""

    def __init__(self, run: Run) -> None:
        self.run, self.copies = run, []

    def __enter__(self):
        if "standalone" in self.run.settings.layout:
            return self
        charts = self.run.git.cwd / self.run.charts_dir
        nested = charts / UMBRELLA / "charts"
        for chart in sorted(nested.iterdir()) if nested.is_dir() else ():
            target = charts / chart.name
            if chart.is_dir() and not target.exists():
                shutil.copytree(chart, target)
                self.copies.append(target)
        return self

    def __exit__(self, *exc) -> None:
        for copy in self.copies:
            shutil.rmtree(copy, ignore_errors=True)


def regenerate_charts(run: Run, unit: list) -> tuple[ChartChange, ...]:
    """Write the unit's charts into the checkout, in the configured layout."""
    root = run.git.cwd
    charts = root / run.charts_dir
    layout = run.settings.layout
    config = _in_checkout(run, charts)
    changes = []
    # umbrella-only layout: every nested chart is copied out while generating, so the umbrella
    # regenerated from <charts>/<name>/ keeps the workflows this unit does not touch
    with _standalone_copies(run):
        for folder in unit:
            place = config.chart_of(folder.name)      # `workflows:`: the chart repository's name and folder
            standalone = charts / place.folder
            nested = charts / UMBRELLA / "charts" / place.name
            if "standalone" not in layout and nested.is_dir() and not standalone.exists():
                shutil.copytree(nested, standalone)  # so the version policy sees the chart we have
            adopted = [d for d in (standalone, charts / UMBRELLA) if run.settings.adopt_charts and _adopt(d)]
            result = run.generator(folder, config, out_dir=charts, **run.meta)
            for rel in getattr(result, "discarded_edits", ()):
                run.log(f"{run.charts_dir}/{getattr(result, 'name', folder.name)}/{rel}: edited by hand in the "
                        "chart repository; the pull request replaces it with the generated file")
            for chart_dir in adopted:  # a generator that left the folder alone must not leave our mark
                marker = chart_dir / MARKER
                if marker.is_file() and marker.read_text() == ADOPTED:
                    marker.unlink()
            name = getattr(result, "name", place.name)
            nested = charts / UMBRELLA / "charts" / name
            if "umbrella" in layout and standalone.is_dir() and not nested.is_dir() and (charts / UMBRELLA).is_dir():
                shutil.copytree(standalone, nested)
            changes.append(ChartChange(name, getattr(result, "previous_version", None), str(result.version),
                                       _image(run, folder)))
    if "standalone" not in layout:
        for folder in unit:
            _reset_to_head(run.git, f"{run.charts_dir}/{config.chart_of(folder.name).folder}")
    if "umbrella" not in layout:
        _reset_to_head(run.git, f"{run.charts_dir}/{UMBRELLA}")
    return tuple(changes)


def _in_checkout(run: Run, charts: Path):
    """The configuration for charts written in the chart repository's checkout. Hand edits there
    are overwritten, not refused: the pull request shows them going, for review."""
    from dataclasses import replace

    return run.config.with_overrides(charts=str(charts), chart=replace(run.config.chart, hand_edits="overwrite"))


def _adopt(chart_dir: Path) -> bool:
    """Mark a chart chartgen did not write as its own, in the scratch clone only: the chart
    generator then replaces it as a whole, and the pull request shows what goes."""
    if chart_dir.is_dir() and not (chart_dir / MARKER).exists() and any(chart_dir.iterdir()):
        (chart_dir / MARKER).write_text(ADOPTED)
        return True
    return False


def _reset_to_head(git: Git, rel: str) -> None:
    path = git.cwd / rel
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()
    if git.run("cat-file", "-e", f"HEAD:{rel}", check=False).returncode == 0:
        git.run("checkout", "HEAD", "--", rel)


def _image(run: Run, folder) -> str:
    from chartgen.chart.generate import helm_metadata_text
    from chartgen.image import version_tag

    image = run.config.image
    registry = image.registry.rstrip("/")
    repo = image.name.replace("{name}", folder.name)
    ref = f"{registry}/{repo}" if registry else repo
    version = (getattr(folder, "workflow", None) or {}).get("version")
    # the chart's default tag (chart/generate.py image_defaults): the workflow's version before image.tag
    tag = run.meta.get("image_tag") or version_tag(helm_metadata_text(version).strip() if isinstance(version, str)
                                                   else "") or image.tag
    ref += f":{tag}" if tag else ""
    digest = run.meta.get("image_digest")
    return f"{ref}@{digest}" if digest else ref
