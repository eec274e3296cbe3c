"""index.html: a small static page of a Helm repository."""

from __future__ import annotations

import re

from chartgen.repo.index import IndexFile


def render_html(index: IndexFile, *, title: str = "Helm charts", base_url: str | None = None,
                max_versions: int = 10) -> str:
    """A small static page: charts, versions, compatibility annotations, install commands."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("chartgen", "templates"),
                             autoescape=True, keep_trailing_newline=True)
    charts = []
    for name in sorted(index.entries):
        versions = list(index.head(name, max_versions))
        if not versions:
            continue
        latest = versions[0]
        charts.append({
            "name": name,
            "latest": latest,
            "versions": versions,
            "more": max(0, index.count(name) - max_versions),
            "annotations": dict(sorted((latest.get("annotations") or {}).items())),
        })
    return env.get_template("index.html.j2").render(
        title=title, charts=charts, base_url=base_url or "", generated=index.generated,
        repo_alias=_repo_alias(base_url))


def _repo_alias(base_url: str | None) -> str:
    if not base_url:
        return "charts"
    tail = base_url.rstrip("/").rsplit("/", 1)[-1]
    alias = re.sub(r"[^a-z0-9-]+", "-", tail.lower()).strip("-")
    return alias or "charts"
