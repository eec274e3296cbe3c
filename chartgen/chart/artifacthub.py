"""Artifact Hub annotations of Chart.yaml (https://artifacthub.io/docs/topics/annotations/helm/).

Two kinds:
- content (hashed with the chart, `content_annotations`): `artifacthub.io/images` (the image
  a workflow chart deploys by default), `license`, `links` (the workflow's source folder, the
  chart.links setting), `signKey` (chart.sign_key);
- per version (left out of the content hash, `version_annotations`): `prerelease` (from the
  version) and `changes` (what changed since the chart it replaces, `describe_changes`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable, Mapping

PREFIX = "artifacthub.io/"
AH_CHANGES = PREFIX + "changes"
AH_IMAGES = PREFIX + "images"
AH_LICENSE = PREFIX + "license"
AH_LINKS = PREFIX + "links"
AH_PRERELEASE = PREFIX + "prerelease"
AH_SIGN_KEY = PREFIX + "signKey"
# Set per version by write_chart (and `chartgen version`): not part of the content hash.
VERSION_ANNOTATIONS = (AH_CHANGES, AH_PRERELEASE)

MAX_CHANGES = 12
_MAX_TEXT = 160
_FILES = "files/"


def _yaml(data: Any) -> str:
    from chartgen.yamlio import dump_yaml

    return dump_yaml(data, sort_keys=False)


def is_prerelease(version: str) -> bool:
    """SemVer: a `-` before any `+build` part marks a pre-release (1.2.0-rc.1)."""
    return "-" in version.split("+", 1)[0]


def prerelease_value(version: str) -> str:
    return "true" if is_prerelease(version) else "false"


def source_url(repository: str, path: str) -> str:
    """The workflow folder on the forge when the repository is on GitHub or GitLab, else the
    repository itself."""
    base = repository.rstrip("/").removesuffix(".git")
    if not path or not re.match(r"^https://(github\.com|gitlab\.com)/[^/]+/[^/]", base):
        return repository
    tree = "/tree/HEAD/" if base.startswith("https://github.com/") else "/-/tree/HEAD/"
    return base + tree + path.strip("/")


def content_annotations(settings, *, images: list[tuple[str, str]], source_path: str = "") -> dict[str, str]:
    """The Artifact Hub annotations that belong to the chart's content (chart.artifacthub off: none).

    `images`: (name, reference) of each image the chart deploys by default."""
    if not settings.artifacthub:
        return {}
    annotations: dict[str, str] = {}
    if images:
        annotations[AH_IMAGES] = _yaml([{"name": name, "image": ref} for name, ref in images])
    if settings.license:
        annotations[AH_LICENSE] = settings.license
    links = []
    if settings.source_repository:
        links.append({"name": "Workflow source" if source_path else "Source", "url": source_url(settings.source_repository, source_path)})
    links += [{"name": name, "url": url} for name, url in settings.link_list()]
    if links:
        annotations[AH_LINKS] = _yaml(links)
    if settings.sign_key_fingerprint:
        key = {"fingerprint": settings.sign_key_fingerprint}
        if settings.sign_key_url:
            key["url"] = settings.sign_key_url
        annotations[AH_SIGN_KEY] = _yaml(key)
    return annotations


def umbrella_annotations(settings) -> dict[str, str]:
    """content_annotations of the umbrella chart: no images (it installs no workflow by default,
    and a list of every workflow's image would make each of its index entries grow with the
    repository; each workflow chart lists its own)."""
    return content_annotations(settings, images=[])


def version_annotations(version: str, changes: list[dict] | None, previous: Mapping[str, Any]) -> dict[str, str]:
    """`prerelease` and `changes` of a chart version. `changes` None: the content did not change,
    and the changes recorded with the version stay."""
    annotations = {AH_PRERELEASE: prerelease_value(version)}
    if changes is None:
        if isinstance(previous.get(AH_CHANGES), str):
            annotations[AH_CHANGES] = previous[AH_CHANGES]
    elif changes:
        annotations[AH_CHANGES] = _yaml(changes)
    return annotations


# -- what changed -----------------------------------------------------------------------------

def _one_line(text: Any) -> str:
    from chartgen.chart.textfiles import visible

    line = " ".join(visible(str(text), keep="").split())
    return line if len(line) <= _MAX_TEXT else line[: _MAX_TEXT - 1] + "…"


def _load(data: bytes | str | None, name: str) -> Any:
    from chartgen.errors import ChartgenError
    from chartgen.yamlio import load_data

    if data is None:
        return None
    try:
        return load_data(data.encode("utf-8") if isinstance(data, str) else data, name)
    except ChartgenError:
        return None


def _named(items: Any) -> dict[str, Any]:
    return {str(i["name"]): i for i in items if isinstance(i, dict) and "name" in i} if isinstance(items, list) else {}


def _flow_changes(old: bytes | str, new: bytes | str) -> list[tuple[str, str]]:
    """States and functions added, removed or changed; else one line for the flow."""
    before, after = _load(old, "files/flow.yaml"), _load(new, "files/flow.yaml")
    if not isinstance(before, dict) or not isinstance(after, dict):
        return [("changed", "Workflow definition changed")]
    found: list[tuple[str, str]] = []
    for key, noun in (("states", "state"), ("functions", "function")):
        old_items, new_items = _named(before.get(key)), _named(after.get(key))
        for name in new_items.keys() - old_items.keys():
            found.append(("added", f"Workflow {noun} {name} added"))
        for name in old_items.keys() - new_items.keys():
            found.append(("removed", f"Workflow {noun} {name} removed"))
        for name in sorted(old_items.keys() & new_items.keys()):
            if old_items[name] != new_items[name]:
                found.append(("changed", f"Workflow {noun} {name} changed"))
    rest = {k: v for k, v in before.items() if k not in ("states", "functions")} != \
        {k: v for k, v in after.items() if k not in ("states", "functions")}
    if rest or not found:
        found.append(("changed", "Workflow definition changed"))
    return sorted(found, key=lambda item: (item[0] != "added", item[0] != "removed", item[1]))


def _property_keys(data: bytes | str | None) -> dict[str, str]:
    import javaproperties

    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else (data or "")
    try:
        return dict(javaproperties.loads(text))
    except (ValueError, TypeError):
        return {}


def _properties_changes(old, new) -> list[tuple[str, str]]:
    """Keys of application.properties added, removed or changed (values never shown)."""
    before, after = _property_keys(old), _property_keys(new)
    parts = []
    for verb, keys in (("added", after.keys() - before.keys()), ("removed", before.keys() - after.keys()),
                       ("changed", {k for k in before.keys() & after.keys() if before[k] != after[k]})):
        if keys:
            parts.append(f"{verb} {', '.join(sorted(keys))}")
    return [("changed", "application.properties: " + ("; ".join(parts) if parts else "reformatted"))]


def _leaves(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict) and data:
        found: dict[str, Any] = {}
        for key, value in data.items():
            found.update(_leaves(value, f"{prefix}.{key}" if prefix else str(key)))
        return found
    return {prefix: data} if prefix else {}


def _values_changes(old, new) -> list[tuple[str, str]]:
    """Default values added, removed or changed."""
    import json

    before, after = _leaves(_load(old, "values.yaml")), _leaves(_load(new, "values.yaml"))
    found = [("added", f"Value {key} added") for key in sorted(after.keys() - before.keys())]
    found += [("removed", f"Value {key} removed") for key in sorted(before.keys() - after.keys())]
    for key in sorted(before.keys() & after.keys()):
        if before[key] != after[key]:
            found.append(("changed", f"Default of {key}: {json.dumps(before[key])} -> {json.dumps(after[key])}"))
    return found


def _subchart_changes(path: str, old, new) -> list[tuple[str, str]]:
    name = path.split("/")[1]
    before, after = _load(old, path) or {}, _load(new, path) or {}
    if not old:
        return [("added", f"Chart {name} {after.get('version', '')} added".rstrip())]
    if not new:
        return [("removed", f"Chart {name} removed")]
    if before.get("version") != after.get("version"):
        return [("changed", f"Chart {name} {before.get('version')} -> {after.get('version')}")]
    return []


_METADATA = (("appVersion", "App version"), ("description", "Description"), ("kubeVersion", "kubeVersion"))


def _metadata_changes(old_meta: Mapping[str, Any], new_meta: Mapping[str, Any]) -> list[tuple[str, str]]:
    from chartgen.chart.settings import A_CONTENT_HASH, A_OPERATOR, A_SOURCE_COMMIT

    found = []
    for key, label in _METADATA:
        if str(old_meta.get(key) or "") != str(new_meta.get(key) or ""):
            found.append(("changed", f"{label}: {old_meta.get(key) or '-'} -> {new_meta.get(key) or '-'}"
                          if key != "description" else "Description changed"))
    old_annotations = old_meta.get("annotations") if isinstance(old_meta.get("annotations"), dict) else {}
    new_annotations = new_meta.get("annotations") if isinstance(new_meta.get("annotations"), dict) else {}
    if str(old_annotations.get(A_OPERATOR, "")) != str(new_annotations.get(A_OPERATOR, "")):
        found.append(("changed", f"Supported operator versions: {old_annotations.get(A_OPERATOR) or '-'} -> "
                                 f"{new_annotations.get(A_OPERATOR) or '-'}"))
    skip = {"version", "annotations", "dependencies", *(key for key, _ in _METADATA)}

    def differ(old: Mapping[str, Any], new: Mapping[str, Any], key: str) -> bool:
        # An empty field is left out of Chart.yaml: the same as none
        return (old.get(key) or None) != (new.get(key) or None)

    fields = sorted(k for k in set(old_meta) | set(new_meta) if k not in skip and differ(old_meta, new_meta, k))
    skip_annotations = {A_OPERATOR, A_CONTENT_HASH, A_SOURCE_COMMIT, *VERSION_ANNOTATIONS}
    fields += sorted(k for k in set(old_annotations) | set(new_annotations)
                     if k not in skip_annotations and differ(old_annotations, new_annotations, k))
    if fields:
        found.append(("changed", "Chart metadata changed: " + ", ".join(fields)))
    return found


def describe_changes(old: Callable[[str], bytes | None], old_paths: set[str], new: Mapping[str, str | bytes],
                     old_meta: Mapping[str, Any], new_meta: Mapping[str, Any]) -> list[dict]:
    """Artifact Hub `changes` entries (kind, description) from the chart being replaced
    (`old(path)` reads one of its files, `old_paths` lists them) to the new files.

    Workflow files are named (states, functions, application.properties keys, files under
    `files/`), default values with their old and new value, Chart.yaml fields by name;
    changes of chartgen's own templates are one line. At most MAX_CHANGES entries."""
    found: list[tuple[str, str]] = []
    templates = False
    for path in sorted(old_paths | set(new)):
        if path in ("Chart.yaml", "README.md", "values.schema.json"):
            continue            # Chart.yaml below; the README and the schema follow the values and the flow
        before = old(path) if path in old_paths else None
        after = new.get(path)
        after_bytes = after.encode("utf-8") if isinstance(after, str) else after
        if before == after_bytes:
            continue
        if path == "files/flow.yaml" and before is not None and after is not None:
            found += _flow_changes(before, after)
        elif path == "files/application.properties":
            found += _properties_changes(before, after)
        elif path.startswith(_FILES):
            verb = "added" if before is None else "removed" if after is None else "changed"
            found.append((verb, f"{path[len(_FILES):]} {verb}"))
        elif path == "values.yaml":
            found += _values_changes(before, after)
        elif re.fullmatch(r"charts/[^/]+/Chart\.yaml", path):
            found += _subchart_changes(path, before, after)
        else:
            templates = True
    found += _metadata_changes(old_meta, new_meta)
    if templates:
        found.append(("changed", "Chart templates regenerated by chartgen" +
                      ("" if found else " (the workflow is unchanged)")))
    if not found:
        found.append(("changed", "Chart README or values schema changed"))
    entries = [{"kind": kind, "description": _one_line(text)} for kind, text in found]
    if len(entries) > MAX_CHANGES:
        rest = len(entries) - MAX_CHANGES + 1
        entries = entries[: MAX_CHANGES - 1] + [{"kind": "changed", "description": f"... and {rest} more changes"}]
    return entries


def changes_since(target: Path, previous: Mapping[str, Any], new_files: Mapping[str, str | bytes],
                  new_meta: Mapping[str, Any], *, first: str, known: Mapping[str, bytes] = {}) -> list[dict]:
    """`describe_changes` against the chart folder `target` being replaced; `first` is the
    entry of a chart that had no earlier version; without its files on disk (the chart came
    from git HEAD only), one line. `known`: files of `target` already read (not read again)."""

    if not previous:
        return [{"kind": "added", "description": _one_line(first)}]
    if not (target / "Chart.yaml").is_file():
        return [{"kind": "changed", "description": f"Regenerated after version {previous.get('version', '')}"}]
    from chartgen.chart.tree import chart_file_names

    old_paths = {rel for rel in chart_file_names(target, umbrella=True) if not (target / rel).is_symlink()}

    def read(rel: str) -> bytes | None:
        if rel in known:
            return known[rel]
        try:
            return (target / rel).read_bytes()
        except OSError:
            return None
    wanted = {rel: data for rel, data in new_files.items()
              if not rel.startswith("charts/") or re.fullmatch(r"charts/[^/]+/Chart\.yaml", rel)}
    return describe_changes(read, old_paths, wanted, previous, new_meta)
