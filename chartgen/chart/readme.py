"""README.md of workflow charts, of the umbrella chart and of the charts folder.

READMEs are written with the version token of versioning.py and the real version is put
in afterwards (`apply_version`), so the content hash leaves the version out; the few
places that show the version have fixed forms, which `set_readme_version` rewrites for
`chartgen version`.
"""

from __future__ import annotations

import re
from typing import Any, Iterable

from chartgen.chart.settings import VERSION_TOKEN


def shield(text: str) -> str:
    """Escape a badge text for img.shields.io (`-` -> `--`, `_` -> `__`, space -> `_`)."""
    return text.replace("-", "--").replace("_", "__").replace(" ", "_").replace("+", "%2B")


def md_cell(text: Any) -> str:
    """Text safe inside a Markdown table cell."""
    from chartgen.chart.textfiles import visible

    text = str(text).replace("\\", "\\\\").replace("|", "\\|")
    return visible(" ".join(text.splitlines()), keep="").strip()


def md_text(text: str) -> str:
    """Free text from a workflow, shown as a paragraph (no raw HTML, no heading)."""
    clean = "\n".join((text or "").splitlines()).strip().replace("<", "&lt;").replace(">", "&gt;")
    return clean


def _version_forms(version: str) -> list[tuple[str, str]]:
    """(pattern, replacement-format) pairs of every place a README shows the chart version."""
    return [
        (f"![Version: {version}](https://img.shields.io/badge/Version-{shield(version)}-",
         "![Version: {v}](https://img.shields.io/badge/Version-{s}-"),
        (f"--version {version}", "--version {v}"),
    ]


_ROW = re.compile(r"^\| (?P<v>[^ |]+) \|", re.MULTILINE)


def set_readme_version(text: str, old: str, new: str) -> str:
    """Replace the chart version `old` by `new` where a generated README shows it."""
    for pattern, replacement in _version_forms(old):
        text = text.replace(pattern, replacement.format(v=new, s=shield(new)))
    compat = text.find("## Compatibility")
    if compat >= 0:
        head, tail = text[:compat], text[compat:]
        tail = _ROW.sub(lambda m: f"| {new} |" if m.group("v") == old else m.group(0), tail, count=0)
        text = head + tail
    return text


def apply_version(text: str, version: str) -> str:
    return set_readme_version(text, VERSION_TOKEN, version)


def _code(text: str) -> str:
    """A Markdown code span, also for text holding backticks."""
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def _shorten(text: str, limit: int = 100) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _next_text(state: dict) -> str:
    from chartgen.chart.mermaid import _exits, as_list

    targets: list[str] = []
    holders = [state, *as_list(state.get("dataConditions")), *as_list(state.get("eventConditions"))]
    if isinstance(state.get("defaultCondition"), dict):
        holders.append(state["defaultCondition"])
    for holder in holders:
        if not isinstance(holder, dict):
            continue
        target, ends = _exits(holder)
        if target and target not in targets:
            targets.append(target)
        if ends and "end" not in targets:
            targets.append("end")
    return ", ".join(targets) or "-"


def workflow_readme(*, chart: str, description: str, workflow_id: str, workflow_type: str,
                    source_path: str, source_repository: str, flow: dict, kube_version: str,
                    operator_versions: str, sonataflow_api: str, app_version: str, image: str,
                    persistence: dict, secret_keys: Iterable[str], value_rows, resources,
                    helm_repository: str, umbrella: str) -> str:
    from chartgen.chart.mermaid import as_list, state_diagram
    from chartgen.chart.textfiles import render_text, visible

    states = [s for s in as_list(flow.get("states")) if isinstance(s, dict)]
    start = flow.get("start")
    start = start.get("stateName") if isinstance(start, dict) else start
    if not isinstance(start, str):
        start = states[0].get("name", "") if states else ""
    start = " ".join(str(start).splitlines())
    secret_keys = tuple(secret_keys)
    functions = [{"name": md_cell(f.get("name", "")), "type": md_cell(f.get("type", "rest")),
                  "operation": md_cell(_code(_shorten(str(f["operation"]))) if f.get("operation") else "-")}
                 for f in as_list(flow.get("functions")) if isinstance(f, dict)]
    kinds = sorted({str(e.get("kind", "consumed")) for e in as_list(flow.get("events")) if isinstance(e, dict)})
    events = " and ".join({"consumed": "consumes", "produced": "produces"}.get(k, str(k)) for k in kinds)
    return visible(render_text(
        "README.md.j2",
        chart=chart, version=VERSION_TOKEN, version_badge=shield(VERSION_TOKEN),
        app_version=app_version, app_version_badge=shield(app_version),
        description=md_text(description) or f"The serverless workflow `{workflow_id}`.",
        workflow_id=workflow_id, workflow_type=workflow_type, source_path=source_path,
        source_repository=source_repository, diagram=state_diagram(flow),
        states=[{"name": md_cell(s.get("name", "")), "type": md_cell(s.get("type", "")),
                 "next": md_cell(_next_text(s))} for s in states],
        start=start, kube_version=kube_version, operator_versions=operator_versions,
        sonataflow_api=sonataflow_api, image=image,
        persistence_enabled=bool(persistence["enabled"]),
        postgres_service=persistence["service"], postgres_secret=persistence["secret"],
        postgres_user_key=persistence["userKey"], postgres_password_key=persistence["passwordKey"],
        secret_keys=secret_keys, secret_keys_text=", ".join(f"`{k}`" for k in secret_keys),
        value_rows=[tuple(md_cell(c) for c in row) for row in value_rows],
        resources=list(resources), helm_repository=helm_repository, umbrella=umbrella,
        functions=functions, events=events,
    ), keep="\n\t")


# The umbrella README's install example enables this many workflows (one line each); the
# table below it lists every workflow.
INSTALL_EXAMPLE_WORKFLOWS = 5


def umbrella_readme(*, name: str, description: str, rows, kube_version: str, operator_versions: str,
                    helm_repository: str) -> str:
    from chartgen.chart.textfiles import render_text

    return render_text("umbrella-README.md.j2", name=name, description=description.strip(),
                       shown=INSTALL_EXAMPLE_WORKFLOWS,
                       version=VERSION_TOKEN, version_badge=shield(VERSION_TOKEN), rows=rows,
                       kube_version=kube_version, operator_versions=operator_versions,
                       helm_repository=helm_repository, matrix=compat_markdown(rows))


def compat_markdown(rows) -> str:
    """The compatibility matrix as a Markdown table (charts/README.md, `chartgen compat --format markdown`)."""
    lines = ["| Chart | Version | App version | Workflow | Type | SonataFlow operator | SonataFlow API | Kubernetes |",
             "|---|---|---|---|---|---|---|---|"]
    for row in rows:
        lines.append("| " + " | ".join(md_cell(x) for x in (
            row.name, row.version, row.app_version or "-", row.workflow_id, row.workflow_type,
            f"`{row.operator_versions}`", f"`{row.sonataflow_api}`", f"`{row.kube_version}`")) + " |")
    return "\n".join(lines) + "\n"


def charts_index_readme(rows, umbrella: str) -> str:
    from chartgen.chart.textfiles import render_text

    return render_text("charts-README.md.j2", rows=rows, umbrella=umbrella, matrix=compat_markdown(rows))
