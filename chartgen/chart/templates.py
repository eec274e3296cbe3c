"""Helm templates built from the objects `chartgen render` produces.

Each object of `render_manifests` becomes one template. The object is dumped the way
`chartgen render` dumps it, with "holes" where values apply (namespace, image, profile,
labels, annotations, resources, replicas, persistence, the Secret's name and data).

No byte of the workflow ever reaches Helm's template parser as template syntax:
- the flow (`spec.flow`) is written to `files/flow.yaml` and inserted with
  `.Files.Get ... | nindent`, so its text comes out byte for byte;
- every ConfigMap's data is written to files under `files/` and inserted through the
  `<chart>.entries` helper, which gives each value back exactly (toYaml where Go's YAML
  reads it back unchanged, else a double-quoted string with escapes);
- the few other strings that come from the workflow (e.g. the description annotation,
  file and folder names) are either Go string literals (`go_string`) inside a template
  action or, in the surrounding text, have each `{{` written as `{{ "{{" }}`.
The placeholders the objects are rendered with (namespace, image, holes) carry a random
nonce that does not occur in the workflow, so no input can forge them.
"""

from __future__ import annotations

import copy
import itertools
import re
import secrets
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from chartgen.errors import ChartgenError

PROFILE_ANNOTATION = "sonataflow.org/profile"
FLOW_FILE = "files/flow.yaml"
BOM = "\ufeff"

_CHART_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
# A file or folder name used as is under files/: never hidden, never a glob or a .helmignore match.
_PLAIN_PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_IGNORED_SUFFIXES = (".swp", ".tmp", ".orig")
_SIMPLE_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"}


@dataclass(frozen=True)
class Markers:
    """The placeholders of one chart build: `chartgen<nonce>...` with a nonce that the
    workflow's files do not contain (see `new_markers`)."""

    nonce: str

    @property
    def prefix(self) -> str:
        return f"chartgen{self.nonce}"

    @property
    def namespace(self) -> str:
        return f"{self.prefix}namespace"

    @property
    def image(self) -> str:
        return f"{self.prefix}image"

    def hole(self, number: int) -> str:
        return f"{self.prefix}hole{number}x"


def new_markers(inputs: Iterable[str | bytes] = ()) -> Markers:
    """Markers with a random nonce found in none of `inputs` (the workflow's texts)."""
    texts = [t.encode("utf-8", "surrogatepass") if isinstance(t, str) else bytes(t) for t in inputs]
    while True:
        nonce = secrets.token_hex(8)
        if not any(nonce.encode() in text for text in texts):
            return Markers(nonce)


@dataclass(frozen=True)
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
    props_expr: str = ""                                       # Go expression of application.properties' text
    object_names: tuple[tuple[str, str], ...] = ()             # (kind, name)


def go_string(text: str) -> str:
    """`text` as a double-quoted literal that Go templates (strconv.Unquote) and YAML both
    read back as `text`: printable characters as they are, `"` `\\` and the rest escaped
    (`\\n`, `\\t`, `\\r`, `\\uXXXX`, `\\UXXXXXXXX`; both languages give these the same meaning)."""
    out = ['"']
    for char in text:
        if char in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[char])
        elif char.isprintable():
            out.append(char)
        elif 0xD800 <= ord(char) <= 0xDFFF:
            raise ChartgenError(f"text holds a lone UTF-16 surrogate (U+{ord(char):04X}), which no UTF-8 file "
                                "and no Helm template can carry", code="not-unicode")
        elif ord(char) < 0x10000:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    out.append('"')
    return "".join(out)


def escape_text(text: str) -> str:
    """Template text that Helm prints as `text`: every `{{` becomes an action printing it."""
    return text.replace("{{", '{{ "{{" }}')


def file_expr(path: str, content: str) -> str:
    """The Go expression giving `content`, stored in the chart at `path`. Helm's chart loader
    strips a leading byte order mark from every file: it is put back here."""
    expr = f".Files.Get {go_string(path)}"
    return f"(print {go_string(BOM)} ({expr}))" if content.startswith(BOM) else f"({expr})"


def _plain_path(path: str) -> bool:
    return all(_PLAIN_PART.match(part) and not part.endswith(_IGNORED_SUFFIXES) for part in path.split("/"))


def _go_value(value: Any, markers: Markers, chart: str) -> str:
    if value == markers.namespace:
        return ".Release.Namespace"
    if value == markers.image:
        return f'(include "{chart}.image" .)'
    if isinstance(value, str):
        return go_string(value)
    raise ChartgenError(f"cannot template a {type(value).__name__} label or annotation value", code="chart-internal")


def _go_dict(mapping: dict, markers: Markers, chart: str) -> str:
    if not mapping:
        return "dict"
    parts = " ".join(f"{go_string(k)} {_go_value(v, markers, chart)}" for k, v in sorted(mapping.items()))
    return f"(dict {parts})"


class _Builder:
    def __init__(self, chart: str, markers: Markers) -> None:
        self.chart = chart
        self.markers = markers
        self.holes: dict[int, _Hole] = {}
        number = r"(?P<n>\d+)"
        marker = re.escape(markers.prefix) + "hole" + number + "x"
        self.value_hole = re.compile(rf"^(?P<indent> *)(?P<prefix>(?:- )*)(?P<key>\S.*?): {marker}$")
        self.key_hole = re.compile(rf"^(?P<indent> *){marker}: null$")

    def hole(self, hole: _Hole) -> str:
        number = len(self.holes)
        self.holes[number] = hole
        return self.markers.hole(number)

    def add_key_hole(self, mapping: dict, hole: _Hole) -> None:
        mapping[self.hole(hole)] = None

    def replace_sentinels(self, node: Any) -> Any:
        if isinstance(node, dict):
            return {k: self.replace_sentinels(v) for k, v in node.items()}
        if isinstance(node, list):
            return [self.replace_sentinels(v) for v in node]
        if node == self.markers.namespace:
            return self.hole(_Hole(inline="{{ .Release.Namespace | quote }}"))
        if node == self.markers.image:
            return self.hole(_Hole(inline=f'{{{{ include "{self.chart}.image" . | quote }}}}'))
        return node

    def render(self, skeleton: dict, wrap: tuple[str, str] = ("", "")) -> str:
        from chartgen.yamlio import dump_yaml

        text = escape_text(dump_yaml(self.replace_sentinels(skeleton)))
        lines = []
        for line in text.split("\n"):
            match = self.value_hole.match(line)
            if match:
                hole = self.holes[int(match.group("n"))]
                column = len(match.group("indent")) + len(match.group("prefix"))
                head = f"{match.group('indent')}{match.group('prefix')}{match.group('key')}:"
                lines.append(f"{head} {hole.inline}" if hole.inline is not None else head + hole.block(column))
                continue
            match = self.key_hole.match(line)
            if match:
                hole = self.holes[int(match.group("n"))]
                lines.append(hole.block(len(match.group("indent"))))
                continue
            lines.append(line)
        result = "\n".join(lines)
        if self.markers.prefix in result:
            raise ChartgenError("internal: a template value was not placed", code="chart-internal")
        head, tail = wrap
        return head + result + tail


def _entries_block(chart: str, maps: str) -> Callable[[int], str]:
    """`key:` + the maps of `maps` (a Go list expression) merged, as YAML with exact values."""
    return lambda col: f' {{{{- include "{chart}.entries" {maps} | nindent {col + 2} }}}}'


def _merged_block(chart: str, base: str, values_key: str) -> Callable[[int], str]:
    return _entries_block(chart, f"(list {base} .Values.{values_key})")


def _optional_map_block(chart: str, values_key: str, key: str) -> Callable[[int], str]:
    def block(col: int) -> str:
        pad = " " * col
        return (f"{{{{- with .Values.{values_key} }}}}\n{pad}{key}:"
                f'\n{pad}  {{{{- include "{chart}.entries" (list .) | nindent {col + 2} }}}}\n{{{{- end }}}}')
    return block


def _metadata_holes(builder: _Builder, meta: dict, kind: str) -> None:
    """Labels and annotations of every object: what `render` gives it (the SonataFlow, props
    ConfigMap and Secret carry the operator's labels; resource ConfigMaps none), then the
    chart's standard labels (`<chart>.labels`; `<chart>.workflowLabels` on the SonataFlow,
    see _helpers.tpl), then `.Values.labels` / `.Values.annotations`."""
    chart, markers = builder.chart, builder.markers
    labels = meta.get("labels")
    base = _go_dict(labels, markers, chart) + " " if isinstance(labels, dict) and labels else ""
    standard = f'(include "{chart}.{"workflowLabels" if kind == "SonataFlow" else "labels"}" . | fromYaml)'
    meta["labels"] = builder.hole(_Hole(block=_entries_block(chart, f"(list {base}{standard} .Values.labels)")))
    annotations = meta.pop("annotations", None)
    if annotations:
        base = {k: v for k, v in annotations.items() if k != PROFILE_ANNOTATION}
        base_expr = _go_dict(base, markers, chart)
        if PROFILE_ANNOTATION in annotations:
            base_expr = f"(set {base_expr} {go_string(PROFILE_ANNOTATION)} .Values.profile)"
        meta["annotations"] = builder.hole(_Hole(block=_merged_block(chart, base_expr, "annotations")))
    else:
        builder.add_key_hole(meta, _Hole(block=_optional_map_block(chart, "annotations", "annotations")))


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
        flow = dump_yaml(spec["flow"])
        # A document end marker (after a last `|+` scalar) cannot stand inside the SonataFlow; the
        # lines that follow the flow in the template end that scalar instead.
        files[FLOW_FILE] = flow[:-4] if flow.endswith("\n...\n") else flow
        spec["flow"] = builder.hole(_Hole(block=lambda col: (
            f' {{{{- .Files.Get "{FLOW_FILE}" | trimSuffix "\\n" | nindent {col + 2} }}}}')))
    pod = spec.setdefault("podTemplate", {})
    container = pod.setdefault("container", {})
    if secret_name:
        _secret_refs(builder, pod, secret_name)
    container["resources"] = builder.hole(_Hole(block=lambda col: f" {{{{- toYaml .Values.resources | nindent {col + 2} }}}}"))
    builder.add_key_hole(container, _Hole(block=lambda col: (
        f"{{{{- with .Values.image.pullPolicy }}}}\n{' ' * col}imagePullPolicy: {{{{ . | quote }}}}\n{{{{- end }}}}")))
    builder.add_key_hole(pod, _Hole(block=lambda col: (
        f'{{{{- if not (kindIs "invalid" .Values.replicas) }}}}\n{" " * col}replicas: {{{{ .Values.replicas }}}}'
        "\n{{- end }}")))
    if "persistence" in spec:
        raise ChartgenError("internal: render the chart's objects without persistence", code="chart-internal")
    builder.add_key_hole(spec, _Hole(block=lambda col: (
        f'{{{{- if .Values.persistence.enabled }}}}\n{" " * col}persistence:'
        f'\n{" " * col}  {{{{- include "{chart}.persistence" . | nindent {col + 2} }}}}\n{{{{- end }}}}')))


def _configmap_dirs(manifests) -> dict[str, str]:
    """ConfigMap name -> folder under files/ (its workflowPath in the SonataFlow, when that is a
    plain path; other ConfigMaps get `configmaps/<name>`)."""
    dirs: dict[str, str] = {}
    for manifest in manifests:
        if manifest.kind != "SonataFlow":
            continue
        spec = manifest.obj.get("spec")
        resources = spec.get("resources") if isinstance(spec, dict) else None
        entries = resources.get("configMaps") if isinstance(resources, dict) else None
        for entry in entries if isinstance(entries, list) else []:
            if not isinstance(entry, dict) or not isinstance(entry.get("configMap"), dict):
                continue
            name = entry["configMap"].get("name")
            path = entry.get("workflowPath")
            if isinstance(name, str) and isinstance(path, str) and _plain_path(path.strip("/")):
                dirs[name] = path.strip("/")
    return dirs


def _files_dir(name: str, dirs: dict[str, str], used: set[str]) -> str:
    """The folder under files/ of ConfigMap `name` (unique, plain)."""
    candidates = itertools.chain((dirs.get(name), f"configmaps/{name}"),
                                 (f"configmaps/{n}" for n in itertools.count()))
    folder = next(f for f in candidates if f and _plain_path(f) and f not in used
                  and f.split("/")[0] not in ("application.properties", "flow.yaml"))
    used.add(folder)
    return folder


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


def _text_data(manifest) -> dict[str, str]:
    data = manifest.obj.get("data") or {}
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        raise ChartgenError(f"ConfigMap {manifest.name}: data must map names to text", code="chart-internal")
    return data


def _configmap_data(chart: str, folder: str, data: dict[str, str], files: dict[str, str]) -> Callable[[int], str]:
    """Each value of `data` stored as a file under files/<folder>/ and read back in the template."""
    args = []
    for index, (key, content) in enumerate(sorted(data.items())):
        # The file is named like the key where that name is safe in a chart (keys are already
        # ConfigMap keys; `.swp`/`.tmp`/`.orig` files would be dropped by .helmignore).
        name = key if _plain_path(key) and "/" not in key else f"entry@{index}"
        path = f"files/{folder}/{name}"
        files[path] = content
        args.append((key, file_expr(path, content)))

    def block(col: int) -> str:
        pad = " " * (col + 4)
        items = "".join(f"\n{pad}{go_string(key)} {expr}" for key, expr in args)
        return f' {{{{- include "{chart}.entries" (list (dict{items})) | nindent {col + 2} }}}}'
    return block


def build_templates(manifests, chart: str, markers: Markers | None = None) -> ChartTemplates:
    """Templates and files of a chart from the objects of `render_manifests`.

    `manifests` must be rendered with namespace=markers.namespace, image=markers.image, no
    persistence and no extra labels: those become values.
    """
    if not _CHART_NAME.match(chart):
        raise ChartgenError(f"internal: {chart!r} is not a chart name", code="chart-internal")
    markers = markers or new_markers()
    result = ChartTemplates()
    seen: dict[tuple[str, str], str] = {}
    for manifest in manifests:
        key = (manifest.kind, manifest.name)
        if key in seen:
            raise ChartgenError(f"two objects {manifest.kind}/{manifest.name} in one chart ({seen[key]} and "
                                f"{manifest.filename})", path=manifest.filename, code="duplicate-object")
        seen[key] = manifest.filename
    result.object_names = tuple(seen)
    secret_objects = [m for m in manifests if m.kind == "Secret"]
    if len(secret_objects) > 1:
        raise ChartgenError("a workflow chart holds at most one Secret", code="chart-internal")
    if secret_objects:
        result.secret_name = secret_objects[0].name
        result.secret_keys = tuple((secret_objects[0].obj.get("stringData") or {}).keys())
    dirs = _configmap_dirs(manifests)
    used_dirs: set[str] = set()

    for manifest in manifests:
        builder = _Builder(chart, markers)
        obj = _working_copy(manifest.obj)
        meta = obj.setdefault("metadata", {})
        wrap = ("", "")
        if manifest.kind == "ConfigMap":
            data = _text_data(manifest)
            labelled = isinstance(meta.get("labels"), dict)
            if labelled and list(data) == ["application.properties"] and manifest.name.endswith("-props"):
                result.props_configmap = manifest.name
                content = data["application.properties"]
                result.files["files/application.properties"] = content
                result.props_expr = file_expr("files/application.properties", content)
                obj["data"] = builder.hole(_Hole(block=lambda col: (
                    f' {{{{- include "{chart}.applicationProperties" . | nindent {col + 2} }}}}')))
            elif data:
                folder = _files_dir(manifest.name, dirs, used_dirs)
                obj["data"] = builder.hole(_Hole(block=_configmap_data(chart, folder, data, result.files)))
        elif manifest.kind == "Secret" and manifest.name == result.secret_name:
            obj.pop("data", None)
            obj["stringData"] = builder.hole(_Hole(block=lambda col: (
                f' {{{{- include "{chart}.secretData" . | nindent {col + 2} }}}}')))
            wrap = ("{{- if not .Values.secrets.existingSecret }}\n", "{{- end }}\n")
        elif manifest.kind == "SonataFlow":
            _sonataflow(builder, obj, result.secret_name, result.files)
        _metadata_holes(builder, meta, manifest.kind)
        result.templates[f"templates/{manifest.filename}"] = builder.render(obj, wrap)
    return result
