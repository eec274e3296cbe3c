"""What a workflow chart ships, read for review: the objects Helm renders with default values
and, from them, the workflow (its flow, application.properties, Secret keys, resource files).

The chart of the base is read out of the scratch clone (`git archive` of the base's chart
folder into a temporary folder), the regenerated one from the working tree, and both are
rendered in-process by helm-python-sdk as `chartgen lint` does. So the review needs no access
to the old workflow sources, and it works for charts chartgen did not write (the old
pipeline's charts carry the flow inline in their SonataFlow template). A chart Helm cannot
render is read from its files (`files/flow.yaml`, `files/application.properties`,
`values.yaml`), and the review says why its rendered objects are missing.

What is secret never leaves here: Secret values are replaced by HIDDEN (only their keys are
kept), and so are the values of properties whose key names a credential (the words of
Spring Boot's sanitizer: password, secret, token, credential, key, ...).
"""

from __future__ import annotations

import re
import shutil
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from chartgen.errors import ChartgenError
from chartgen.gitops.git import Git
from chartgen.gitops.model import UMBRELLA

HIDDEN = "(hidden)"
FLOW_FILE = "files/flow.yaml"
PROPERTIES_FILE = "files/application.properties"
MAX_CHART_BYTES = 32 << 20      # a base chart larger than this is not reviewed (the Files tab still shows it)
_SENSITIVE = re.compile(r"passw(or)?d|pwd|secret|token|credential|bearer|private|key$", re.IGNORECASE)
_DOC_SPLIT = re.compile(r"^---[ \t]*$", re.MULTILINE)


def is_sensitive(key: str) -> bool:
    """True for a property key whose value is likely a credential (shown as HIDDEN)."""
    return bool(_SENSITIVE.search(key))


@dataclass(frozen=True)
class ChartSnapshot:
    """One chart as shipped. `objects`: "Kind/name" -> normalised YAML (secrets hidden), empty
    when Helm could not render it (`render_error` says why)."""

    name: str
    version: str = ""
    flow: dict | None = None
    properties: dict[str, str] = field(default_factory=dict)
    secret_keys: frozenset[str] = frozenset()
    resources: dict[str, str] = field(default_factory=dict)     # workflow path -> content
    objects: dict[str, str] = field(default_factory=dict)
    render_error: str = ""


def chart_paths(charts_dir: str, name: str) -> tuple[str, str]:
    """Where chart `name` may live in the chart repository: stand-alone, then in the umbrella."""
    return f"{charts_dir}/{name}", f"{charts_dir}/{UMBRELLA}/charts/{name}"


def new_snapshot(git: Git, charts_dir: str, name: str) -> ChartSnapshot | None:
    """The regenerated chart in the working tree (None when it is not there)."""
    for rel in chart_paths(charts_dir, name):
        if (git.cwd / rel / "Chart.yaml").is_file():
            return read_chart(git.cwd / rel, name)
    return None


def base_snapshot(git: Git, base_ref: str, charts_dir: str, name: str) -> ChartSnapshot | None:
    """The chart `name` as the base has it (None when the base has no such chart)."""
    for rel in chart_paths(charts_dir, name):
        if git.run("cat-file", "-e", f"{base_ref}:{rel}/Chart.yaml", check=False).returncode != 0:
            continue
        sizes = git.run("ls-tree", "-r", "-l", base_ref, "--", rel).stdout.split("\n")
        total = sum(int(line.split()[3]) for line in sizes if len(line.split()) > 4 and line.split()[3].isdigit())
        if total > MAX_CHART_BYTES:
            return ChartSnapshot(name, render_error=f"the base's chart is larger than {MAX_CHART_BYTES >> 20} MiB")
        scratch = Path(tempfile.mkdtemp(prefix="chartgen-review-"))
        try:
            archive = scratch / "chart.tar"
            git.run("archive", "--format=tar", f"--output={archive}", base_ref, "--", rel)
            with tarfile.open(archive) as tar:
                tar.extractall(scratch / "tree", filter="data")
            return read_chart(scratch / "tree" / rel, name)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    return None


def read_chart(chart_dir: Path, name: str) -> ChartSnapshot:
    """Render the chart with its default values and read the workflow from the objects;
    from the chart's files when Helm cannot render it."""
    version = _chart_version(chart_dir)
    try:
        documents = _render(chart_dir, name)
    except ChartgenError as exc:
        return _from_files(chart_dir, name, version, exc.findings[0].message if exc.findings else str(exc))
    objects: dict[str, str] = {}
    flow, properties, secret_keys, config_maps, mounts = None, {}, set(), {}, []
    for data in documents:
        kind, meta = str(data.get("kind")), data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
        obj_name = str(meta.get("name", ""))
        if kind == "Secret":
            for key in ("data", "stringData"):
                if isinstance(data.get(key), dict):
                    secret_keys.update(map(str, data[key]))
                    data[key] = {k: HIDDEN for k in data[key]}
        elif kind == "ConfigMap" and isinstance(data.get("data"), dict):
            config_maps[obj_name] = data["data"]
            for key, value in list(data["data"].items()):
                if str(key).endswith(".properties") and isinstance(value, str):
                    if key == "application.properties":
                        properties = _properties(value)
                    data["data"][key] = hide_properties(value)
        elif kind == "SonataFlow" and isinstance(data.get("spec"), dict):
            spec = data["spec"]
            flow = spec.get("flow") if isinstance(spec.get("flow"), dict) else flow
            resources = spec.get("resources") if isinstance(spec.get("resources"), dict) else {}
            for entry in resources.get("configMaps") or []:
                if isinstance(entry, dict) and isinstance(entry.get("configMap"), dict):
                    mounts.append((str(entry["configMap"].get("name", "")), str(entry.get("workflowPath") or "")))
        objects[_unique(objects, f"{kind}/{obj_name}")] = _dump(data)
    resources = {}
    for cm_name, path in mounts:
        for key, value in (config_maps.get(cm_name) or {}).items():
            resources["/".join(p for p in (path.strip("/"), str(key)) if p)] = str(value)
    if flow is None:    # a chart that renders no SonataFlow: read what its files say
        files = _from_files(chart_dir, name, version, "")
        flow, properties = files.flow, properties or files.properties
    return ChartSnapshot(name, version, flow, properties, frozenset(secret_keys), resources, objects)


def hide_properties(text: str) -> str:
    """application.properties text with the values of credential-like keys replaced by HIDDEN."""
    import javaproperties

    out = []
    try:
        for element in javaproperties.parse(text):
            if isinstance(element, javaproperties.KeyValue) and is_sensitive(element.key):
                out.append(f"{element.key}={HIDDEN}\n")
            else:
                out.append(element.source)
    except (ValueError, javaproperties.InvalidUEscapeError):
        return HIDDEN
    return "".join(out)


def _properties(text: str) -> dict[str, str]:
    import javaproperties

    try:
        return {k: v for k, v in javaproperties.loads(text).items()}
    except (ValueError, javaproperties.InvalidUEscapeError):
        return {}


def _render(chart_dir: Path, name: str) -> list[dict]:
    import helm_python
    import yaml

    from chartgen.yamlio import check_yaml

    try:
        with helm_python.Chart.load(str(chart_dir)) as chart:
            rendered = chart.render({}, name=name, namespace="default")
    except helm_python.HelmError as exc:
        raise ChartgenError(f"helm cannot render it: {exc}", code="pr-review-render") from None
    documents = []
    for template, text in sorted(rendered.items()):
        if not template.endswith((".yaml", ".yml")):
            continue
        for document in _DOC_SPLIT.split(text):
            if not document.strip():
                continue
            check_yaml(document, template)
            try:
                data = yaml.load(document, Loader=yaml.CSafeLoader)
            except yaml.YAMLError as exc:
                raise ChartgenError(f"{template} renders no YAML: {exc}", code="pr-review-render") from None
            if isinstance(data, dict) and data.get("kind"):
                documents.append(data)
    return documents


def _dump(data: dict) -> str:
    from chartgen.yamlio import dump_yaml

    return dump_yaml(data)


def _unique(objects: dict, key: str) -> str:
    number, candidate = 2, key
    while candidate in objects:
        candidate, number = f"{key} ({number})", number + 1
    return candidate


def _chart_version(chart_dir: Path) -> str:
    from chartgen.yamlio import load_data

    try:
        data = load_data((chart_dir / "Chart.yaml").read_bytes(), "Chart.yaml")
    except (OSError, ChartgenError):
        return ""
    return str(data.get("version", "")) if isinstance(data, dict) else ""


def _from_files(chart_dir: Path, name: str, version: str, error: str) -> ChartSnapshot:
    from chartgen.yamlio import load_data

    def read(rel: str) -> str | None:
        path = chart_dir / rel
        if not path.is_file() or path.is_symlink() or path.stat().st_size > MAX_CHART_BYTES:
            return None
        return path.read_text(encoding="utf-8", errors="replace")

    flow = values = None
    try:
        text = read(FLOW_FILE)
        flow = load_data(text, FLOW_FILE) if text is not None else None
        text = read("values.yaml")
        values = load_data(text, "values.yaml") if text is not None else None
    except ChartgenError:
        pass
    secrets = values.get("secrets") if isinstance(values, dict) else None
    keys = secrets.get("values") if isinstance(secrets, dict) else None
    properties = read(PROPERTIES_FILE)
    return ChartSnapshot(name, version, flow if isinstance(flow, dict) else None,
                         _properties(properties) if properties else {},
                         frozenset(map(str, keys)) if isinstance(keys, dict) else frozenset(),
                         render_error=error)
