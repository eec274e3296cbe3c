"""Shared helpers of the chart tests: which folders render, generated charts, Helm output."""

from __future__ import annotations

import copy
from functools import lru_cache
from pathlib import Path

import yaml

from conftest import CORPUS, REPO

CONFIG_PATH = REPO / "chartgen.yaml"


@lru_cache(maxsize=1)
def repo_config():
    from chartgen.config import load_config

    return load_config(CONFIG_PATH)


def workflow_source_folders() -> list[Path]:
    from chartgen.sources import discover

    config = repo_config()
    if not config.sources_dir.is_dir():
        return []
    return discover(config.sources_dir, config.shared_dir)


def corpus_folders() -> list[Path]:
    if not CORPUS.is_dir():
        return []
    return [p for p in sorted(CORPUS.glob("*/*"))
            if p.is_dir() and not p.name.startswith(("_", ".")) and p.name != "shared"]


@lru_cache(maxsize=None)
def renders(folder: Path) -> bool:
    """Does `chartgen render` accept the folder? (The chart tests cover those that do.)"""
    from chartgen.errors import ChartgenError
    from chartgen.manifests import render_manifests, render_options
    from chartgen.sources import load_workflow

    try:
        render_manifests(load_workflow(folder), render_options(repo_config().render))
    except ChartgenError:
        return False
    return True


def folder_id(folder: Path) -> str:
    return f"{folder.parent.name}/{folder.name}"


def helm_objects(chart_dir: Path, values: dict | None = None, *, name: str = "rel",
                 namespace: str = "ns1") -> list[dict]:
    """Objects real Helm (helm-python-sdk) renders from the chart, sorted by kind and name."""
    import helm_python

    with helm_python.Chart.load(str(chart_dir)) as chart:
        rendered = chart.render(values or {}, name=name, namespace=namespace)
    objects = []
    for template, text in sorted(rendered.items()):
        if not template.endswith(".yaml"):
            continue
        objects.extend(doc for doc in yaml.load_all(text, Loader=yaml.CSafeLoader) if doc)
    return sorted(objects, key=object_key)


def object_key(obj: dict) -> tuple[str, str]:
    return obj["kind"], obj["metadata"]["name"]


def expected_objects(folder: Path, **option_overrides) -> list[dict]:
    """What `chartgen render` produces for the folder with the given render options."""
    from chartgen.manifests import render_manifests, render_options
    from chartgen.sources import load_workflow

    options = render_options(repo_config().render, **option_overrides)
    return sorted((copy.deepcopy(m.obj) for m in render_manifests(load_workflow(folder), options)),
                  key=object_key)


def secret_values(folder: Path) -> dict[str, str]:
    from chartgen.manifests import render_manifests, render_options
    from chartgen.sources import load_workflow

    for manifest in render_manifests(load_workflow(folder), render_options(repo_config().render)):
        if manifest.kind == "Secret":
            return dict(manifest.obj["stringData"])
    return {}


def generate(folder: Path, out_dir: Path, **kwargs):
    from chartgen.chart import generate_charts

    return generate_charts([folder], repo_config(), out_dir=out_dir, umbrella=False, **kwargs)[0]
