"""The objects a chart renders to (kind, namespace, name), read from Helm's output, and the
check that no two of them are the same object (the copy-without-delete bug of the old
pipeline). `chartgen lint` runs the check, and so does writing a chart with kept templates."""

from __future__ import annotations

import re
from pathlib import Path

from chartgen.errors import ERROR, Finding


def display_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


_DOC_SPLIT = re.compile(r"^---[ \t]*$", re.MULTILINE)
_TOP_KEY = re.compile(r"^(?P<key>[A-Za-z]+):[ \t]*(?P<value>.*)$", re.MULTILINE)


def unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def object_identity(document: str) -> tuple[str, str, str] | None:
    """(kind, namespace, name) of one rendered document, read without parsing the whole of it
    (workflow specs make rendered charts large); None when it holds no object."""
    import yaml

    kind = namespace = name = None
    lines = document.split("\n")
    for index, line in enumerate(lines):
        if not line or line[0] in " #-":
            continue
        match = _TOP_KEY.match(line)
        if not match:
            break  # not block style: let the YAML parser read it
        if match.group("key") == "kind":
            kind = match.group("value")
        elif match.group("key") == "metadata" and not match.group("value"):
            for inner in lines[index + 1:]:
                if inner and not inner.startswith(" "):
                    break
                if inner.startswith("  name:"):
                    name = inner[len("  name:"):].strip()
                elif inner.startswith("  namespace:"):
                    namespace = inner[len("  namespace:"):].strip()
    if kind is not None and name is not None:
        scalars = [unquote(kind), unquote(namespace or '""'), unquote(name)]
        if all(re.fullmatch(r"[A-Za-z0-9._-]*", value) for value in scalars):
            return scalars[0], scalars[1], scalars[2]
    from chartgen.yamlio import check_yaml

    check_yaml(document, "rendered chart")   # alias expansion and depth bounded, as for every YAML read
    data = yaml.load(document, Loader=yaml.CSafeLoader)
    if not isinstance(data, dict) or not data.get("kind"):
        return None
    meta = data.get("metadata") or {}
    return str(data["kind"]), str(meta.get("namespace") or ""), str(meta.get("name") or "")


def rendered_objects(chart_dir: Path, values: dict | None = None) -> list[tuple[str, str, str, str]]:
    """(template, kind, namespace, name) of every object Helm renders with `values`."""
    import helm_python

    objects = []
    with helm_python.Chart.load(str(chart_dir)) as chart:
        rendered = chart.render(values or {}, name="lint", namespace="default")
    for template, text in sorted(rendered.items()):
        if not template.endswith((".yaml", ".yml")):
            continue
        for document in _DOC_SPLIT.split(text):
            if document.strip():
                identity = object_identity(document)
                if identity is not None:
                    objects.append((template, *identity))
    return objects


def dependency_values(chart_dir: Path) -> dict:
    """Values enabling every dependency (for the umbrella: every workflow at once)."""
    from chartgen.chart.versioning import read_chart_yaml

    values = {}
    for dependency in read_chart_yaml(chart_dir).get("dependencies") or []:
        if isinstance(dependency, dict) and isinstance(dependency.get("name"), str):
            values[dependency.get("alias") or dependency["name"]] = {"enabled": True}
    return values


def check_duplicates(chart_dir: Path, objects: list | None = None) -> list[Finding]:
    """Two rendered objects of the same kind, namespace and name (`objects`: already rendered)."""
    import helm_python
    import yaml

    if objects is None:
        try:
            objects = rendered_objects(chart_dir, dependency_values(chart_dir))
        except helm_python.HelmError:
            return []  # render errors are helm lint's to report
        except yaml.YAMLError as exc:
            return [Finding(display_path(chart_dir), 0, 0, ERROR, f"rendered output is not YAML: {exc}", "render")]
    seen: dict[tuple[str, str, str], str] = {}
    findings = []
    for template, kind, namespace, name in objects:
        key = (kind, namespace, name)
        if key in seen:
            findings.append(Finding(display_path(chart_dir.parent / template), 0, 0, ERROR,
                                    f"{kind} {name!r} is also rendered by {seen[key]}; one object per kind and "
                                    "name (stale template from an earlier generation?)", "duplicate-object"))
        else:
            seen[key] = template
    return findings
