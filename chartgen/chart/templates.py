"""Helm templates built from the objects `chartgen render` produces.

Each object of `render_manifests` becomes one template. The object is dumped the way
`chartgen render` dumps it, with "holes" where values apply (namespace, image, profile,
labels, annotations, resources, replicas, persistence, the Secret's name and data).

Workflow content never passes through Helm's template parser:
- the flow (`spec.flow`) is written to `files/flow.yaml` and inserted with
  `.Files.Get ... | nindent`, so its text comes out byte for byte;
- every ConfigMap's data is written to `files/<workflowPath>/<key>` and inserted with
  `(.Files.Glob ...).AsConfig`;
- the few other strings that come from the workflow (e.g. the description annotation) are
  either inside Go string literals of a template action or, in the surrounding text, have
  each `{{` written as `{{ "{{" }}`.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from chartgen.errors import ChartgenError

NS_SENTINEL = "chartgensentinelnamespace"
IMAGE_SENTINEL = "chartgensentinelimage"
PROFILE_ANNOTATION = "sonataflow.org/profile"
FLOW_FILE = "files/flow.yaml"

_VALUE_HOLE = re.compile(r"^(?P<indent> *)(?P<prefix>(?:- )*)(?P<key>\S.*?): chartgenhole(?P<n>\d+)x$")
_KEY_HOLE = re.compile(r"^(?P<indent> *)chartgenhole(?P<n>\d+)x: null$")
_ANY_HOLE = re.compile(r"chartgenhole\d+x|chartgensentinel[a-z]+")


@dataclass
class _Hole:
    inline: str | None = None                        # `key: <inline>`
    block: Callable[[int], str] | None = None        # text after `key:` / in place of the line; arg: column


@dataclass
class ChartTemplates:
    """Everything the templates of a chart need, ready to write."""

    templates: dict[str, str] = field(default_factory=dict)   # templates/<file> -> text
    files: dict[str, str] = field(default_factory=dict)       # files/... -> content
    secret_name: str = ""
    secret_keys: tuple[str, ...] = ()
    props_configmap: str = ""
    object_names: tuple[tuple[str, str], ...] = ()             # (kind, name)


def go_string(text: str) -> str:
    """A Go template string literal (JSON escapes are a subset of Go's)."""
    return json.dumps(text, ensure_ascii=False)


def go_value(value: Any, chart: str) -> str:
    if value == NS_SENTINEL:
        return ".Release.Namespace"
    if value == IMAGE_SENTINEL:
        return f'(include "{chart}.image" .)'
    if isinstance(value, str):
        return go_string(value)
    raise ChartgenError(f"cannot template a {type(value).__name__} label or annotation value", code="chart-internal")


def go_dict(mapping: dict, chart: str) -> str:
    if not mapping:
        return "dict"
    parts = " ".join(f"{go_string(k)} {go_value(v, chart)}" for k, v in sorted(mapping.items()))
    return f"(dict {parts})"


def escape_text(text: str) -> str:
    """Template text that Helm prints as `text`: every `{{` becomes an action printing it."""
    return text.replace("{{", '{{ "{{" }}')


class _Builder:
    def __init__(self, chart: str) -> None:
        self.chart = chart
        self.holes: dict[int, _Hole] = {}

    def hole(self, hole: _Hole) -> str:
        number = len(self.holes)
        self.holes[number] = hole
        return f"chartgenhole{number}x"

    def key_hole(self, mapping: dict, hole: _Hole) -> None:
        mapping[self.hole(hole)] = None

    def replace_sentinels(self, node: Any) -> Any:
        if isinstance(node, dict):
            return {k: self.replace_sentinels(v) for k, v in node.items()}
        if isinstance(node, list):
            return [self.replace_sentinels(v) for v in node]
        if node == NS_SENTINEL:
            return self.hole(_Hole(inline="{{ .Release.Namespace | quote }}"))
        if node == IMAGE_SENTINEL:
            return self.hole(_Hole(inline=f'{{{{ include "{self.chart}.image" . | quote }}}}'))
        return node

    def render(self, skeleton: dict, wrap: tuple[str, str] = ("", "")) -> str:
        from chartgen.yamlio import dump_yaml

        text = escape_text(dump_yaml(self.replace_sentinels(skeleton)))
        lines = []
        for line in text.split("\n"):
            match = _VALUE_HOLE.match(line)
            if match:
                hole = self.holes[int(match.group("n"))]
                column = len(match.group("indent")) + len(match.group("prefix"))
                head = f"{match.group('indent')}{match.group('prefix')}{match.group('key')}:"
                lines.append(f"{head} {hole.inline}" if hole.inline is not None else head + hole.block(column))
                continue
            match = _KEY_HOLE.match(line)
            if match:
                hole = self.holes[int(match.group("n"))]
                lines.append(hole.block(len(match.group("indent"))))
                continue
            lines.append(line)
        result = "\n".join(lines)
        leftover = _ANY_HOLE.search(result)
        if leftover:
            raise ChartgenError(f"internal: unplaced template value {leftover.group(0)} (a value equal to a "
                                "chartgen sentinel inside workflow content?)", code="chart-internal")
        head, tail = wrap
        return head + result + tail


def _merged_block(chart: str, base: dict, values_key: str) -> Callable[[int], str]:
    return lambda col: (f' {{{{- include "{chart}.merged" (list {go_dict(base, chart)} .Values.{values_key})'
                        f" | nindent {col + 2} }}}}")


def _optional_map_block(values_key: str, key: str) -> Callable[[int], str]:
    def block(col: int) -> str:
        pad = " " * col
        return (f"{{{{- with .Values.{values_key} }}}}\n{pad}{key}:\n{pad}  {{{{- toYaml . | nindent {col + 2} }}}}"
                "\n{{- end }}")
    return block


def _metadata_holes(builder: _Builder, meta: dict) -> None:
    """Labels and annotations of the objects `render` labels (SonataFlow, props ConfigMap, Secret)."""
    chart = builder.chart
    labels = meta.get("labels")
    if not isinstance(labels, dict):
        return
    meta["labels"] = builder.hole(_Hole(block=_merged_block(chart, labels, "labels")))
    annotations = meta.pop("annotations", None)
    if annotations:
        base = {k: v for k, v in annotations.items() if k != PROFILE_ANNOTATION}
        profile = PROFILE_ANNOTATION in annotations
        base_expr = go_dict(base, chart)
        if profile:
            base_expr = f"(set {base_expr} {go_string(PROFILE_ANNOTATION)} .Values.profile)"
        meta["annotations"] = builder.hole(_Hole(block=lambda col: (
            f' {{{{- include "{chart}.merged" (list {base_expr} .Values.annotations) | nindent {col + 2} }}}}')))
    else:
        builder.key_hole(meta, _Hole(block=_optional_map_block("annotations", "annotations")))


def _secret_refs(builder: _Builder, node: Any, secret_name: str) -> None:
    """env[].valueFrom.secretKeyRef / envFrom[].secretRef naming the chart's Secret."""
    if isinstance(node, dict):
        for key in ("secretKeyRef", "secretRef"):
            ref = node.get(key)
            if isinstance(ref, dict) and ref.get("name") == secret_name:
                ref["name"] = builder.hole(_Hole(inline=f'{{{{ include "{builder.chart}.secretName" . | quote }}}}'))
        for value in node.values():
            _secret_refs(builder, value, secret_name)
    elif isinstance(node, list):
        for value in node:
            _secret_refs(builder, value, secret_name)


def _sonataflow(builder: _Builder, obj: dict, secret_name: str, files: dict[str, str]) -> None:
    from chartgen.yamlio import dump_yaml

    chart = builder.chart
    spec = obj.setdefault("spec", {})
    if "flow" in spec:
        files[FLOW_FILE] = dump_yaml(spec["flow"])
        spec["flow"] = builder.hole(_Hole(block=lambda col: (
            f' {{{{- .Files.Get "{FLOW_FILE}" | trimSuffix "\\n" | nindent {col + 2} }}}}')))
    pod = spec.setdefault("podTemplate", {})
    container = pod.setdefault("container", {})
    if secret_name:
        _secret_refs(builder, pod, secret_name)
    container["resources"] = builder.hole(_Hole(block=lambda col: f" {{{{- toYaml .Values.resources | nindent {col + 2} }}}}"))
    builder.key_hole(container, _Hole(block=lambda col: (
        f"{{{{- with .Values.image.pullPolicy }}}}\n{' ' * col}imagePullPolicy: {{{{ . | quote }}}}\n{{{{- end }}}}")))
    builder.key_hole(pod, _Hole(block=lambda col: (
        f'{{{{- if not (kindIs "invalid" .Values.replicas) }}}}\n{" " * col}replicas: {{{{ .Values.replicas }}}}'
        "\n{{- end }}")))
    if "persistence" in spec:
        raise ChartgenError("internal: render the chart's objects without persistence", code="chart-internal")
    builder.key_hole(spec, _Hole(block=lambda col: (
        f'{{{{- if .Values.persistence.enabled }}}}\n{" " * col}persistence:'
        f'\n{" " * col}  {{{{- include "{chart}.persistence" . | nindent {col + 2} }}}}\n{{{{- end }}}}')))


def _configmap_dirs(manifests) -> dict[str, str]:
    """ConfigMap name -> folder under files/ (its workflowPath in the SonataFlow)."""
    dirs: dict[str, str] = {}
    for manifest in manifests:
        if manifest.kind != "SonataFlow":
            continue
        for entry in ((manifest.obj.get("spec") or {}).get("resources") or {}).get("configMaps") or []:
            name = (entry.get("configMap") or {}).get("name")
            path = entry.get("workflowPath")
            if isinstance(name, str) and isinstance(path, str) and path and ".." not in path.split("/"):
                dirs[name] = path.strip("/")
    return dirs


def _working_copy(obj: dict) -> dict:
    """A copy safe to change, sharing the parts only read (the flow, ConfigMap data)."""
    spec = obj.get("spec")
    flow = spec.get("flow") if isinstance(spec, dict) else None
    shallow = {k: v for k, v in obj.items() if k not in ("spec", "data", "stringData")}
    result = copy.deepcopy(shallow)
    for key in ("data", "stringData"):
        if key in obj:
            result[key] = dict(obj[key]) if isinstance(obj[key], dict) else obj[key]
    if isinstance(spec, dict):
        result["spec"] = copy.deepcopy({k: v for k, v in spec.items() if k != "flow"})
        if "flow" in spec:
            result["spec"]["flow"] = flow
    elif spec is not None:
        result["spec"] = copy.deepcopy(spec)
    return result


def build_templates(manifests, chart: str) -> ChartTemplates:
    """Templates and files of a chart from the objects of `render_manifests`.

    `manifests` must be rendered with namespace=NS_SENTINEL, image=IMAGE_SENTINEL, no
    persistence and no extra labels: those become values.
    """
    result = ChartTemplates()
    seen: dict[tuple[str, str], str] = {}
    for manifest in manifests:
        key = (manifest.kind, manifest.name)
        if key in seen:
            raise ChartgenError(f"two objects {manifest.kind}/{manifest.name} in one chart ({seen[key]} and "
                                f"{manifest.filename})", path=manifest.filename, code="duplicate-object")
        seen[key] = manifest.filename
    result.object_names = tuple(seen)
    secrets = [m for m in manifests if m.kind == "Secret"]
    if len(secrets) > 1:
        raise ChartgenError("a workflow chart holds at most one Secret", code="chart-internal")
    if secrets:
        result.secret_name = secrets[0].name
        result.secret_keys = tuple((secrets[0].obj.get("stringData") or {}).keys())
    dirs = _configmap_dirs(manifests)
    used_dirs: set[str] = set()

    for manifest in manifests:
        builder = _Builder(chart)
        obj = _working_copy(manifest.obj)
        meta = obj.setdefault("metadata", {})
        wrap = ("", "")
        if manifest.kind == "ConfigMap":
            data = obj.get("data") or {}
            labelled = isinstance(meta.get("labels"), dict)
            if labelled and list(data) == ["application.properties"] and manifest.name.endswith("-props"):
                result.props_configmap = manifest.name
                result.files["files/application.properties"] = data["application.properties"]
                obj["data"] = builder.hole(_Hole(block=lambda col: (
                    f' {{{{- include "{chart}.applicationProperties" . | nindent {col + 2} }}}}')))
            elif data:
                folder = dirs.get(manifest.name) or f"configmaps/{manifest.name}"
                if folder in used_dirs or folder in ("application.properties", "flow.yaml"):
                    folder = f"configmaps/{manifest.name}"
                used_dirs.add(folder)
                for name, content in data.items():
                    if not isinstance(content, str):
                        raise ChartgenError(f"ConfigMap {manifest.name}: value of {name} is not text",
                                            code="chart-internal")
                    result.files[f"files/{folder}/{name}"] = content
                obj["data"] = builder.hole(_Hole(block=lambda col, folder=folder: (
                    f' {{{{- (.Files.Glob "files/{folder}/*").AsConfig | nindent {col + 2} }}}}')))
        elif manifest.kind == "Secret" and manifest.name == result.secret_name:
            obj.pop("data", None)
            obj["stringData"] = builder.hole(_Hole(block=lambda col: (
                f' {{{{- include "{chart}.secretData" . | nindent {col + 2} }}}}')))
            wrap = ("{{- if not .Values.secrets.existingSecret }}\n", "{{- end }}\n")
        elif manifest.kind == "SonataFlow":
            _sonataflow(builder, obj, result.secret_name, result.files)
        _metadata_holes(builder, meta)
        result.templates[f"templates/{manifest.filename}"] = builder.render(obj, wrap)
    return result
