"""What a workflow chart ships, read for review: the objects Helm renders with default values
and, from them, the workflow (its flow, application.properties, Secret keys, resource files).

The charts of the base are read out of the scratch clone (one `git archive` of their folders,
read in memory, each chart handed to Helm as an archive), the regenerated ones from the working
tree, and both are rendered in-process by helm-python-sdk as `chartgen lint` does. So the review needs no access
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
from functools import partial
from pathlib import Path
from typing import Callable

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


def base_snapshots(git: Git, base_ref: str, charts_dir: str,
                   names: list[str]) -> dict[str, Callable[[], ChartSnapshot | None]]:
    """The charts `names` as the base has them, each rendered when its function is called
    (None for a chart the base does not have). Their files are read at once, with one
    `git ls-tree` and one `git archive` for all (per call git reads the whole tree, so one
    call per chart made the review of a 1,000-workflow run take minutes)."""
    candidates = {path: name for name in names for path in chart_paths(charts_dir, name)}
    found: dict[str, set[str]] = {}
    sizes: dict[str, int] = {}
    for batch in _batches(list(candidates)):
        listing = git.run("ls-tree", "-r", "-l", "--full-tree", base_ref, "--", *batch).stdout
        for line in listing.splitlines():
            meta, _, path = line.partition("\t")
            chart = _chart_of(path, charts_dir, candidates)
            if chart is None:
                continue
            found.setdefault(chart, set()).add(path[len(chart) + 1:])
            size = meta.split()[3] if len(meta.split()) > 3 else "0"
            sizes[chart] = sizes.get(chart, 0) + (int(size) if size.isdigit() else 0)
    chosen: dict[str, str] = {}
    out: dict[str, Callable[[], ChartSnapshot | None]] = {name: lambda: None for name in names}
    for name in names:
        path = next((p for p in chart_paths(charts_dir, name) if "Chart.yaml" in found.get(p, ())), None)
        if path is None:
            continue
        if sizes[path] > MAX_CHART_BYTES:
            too_large = ChartSnapshot(name, render_error=f"the base's chart is larger than {MAX_CHART_BYTES >> 20} MiB")
            out[name] = lambda snapshot=too_large: snapshot
        else:
            chosen[name] = path
    files = _base_files(git, base_ref, {path: name for name, path in chosen.items()}) if chosen else {}
    for name, path in chosen.items():
        out[name] = partial(read_files, files.get(path, {}), name)
    return out


def _base_files(git: Git, base_ref: str, charts: dict[str, str]) -> dict[str, dict[str, bytes]]:
    """chart folder -> {path in the chart: content} of the regular files of `charts` at
    `base_ref`, read from `git archive` in memory (nothing of the base lands on disk but
    the archive itself)."""
    out: dict[str, dict[str, bytes]] = {}
    scratch = Path(tempfile.mkdtemp(prefix="chartgen-review-"))
    try:
        for number, batch in enumerate(_batches(list(charts))):
            archive = scratch / f"charts-{number}.tar"
            git.run("archive", "--format=tar", f"--output={archive}", base_ref, "--", *batch)
            with tarfile.open(archive) as tar:
                for member in tar:
                    chart = next((c for c in _parents(member.name) if c in charts), None)
                    if chart is None or not member.isfile():
                        continue     # links and folders: a chart's files are regular files
                    handle = tar.extractfile(member)
                    out.setdefault(chart, {})[member.name[len(chart) + 1:]] = handle.read() if handle else b""
            archive.unlink()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return out


def _parents(path: str) -> list[str]:
    parts = path.split("/")
    return ["/".join(parts[:i]) for i in range(len(parts) - 1, 0, -1)]


def _batches(paths: list[str], size: int = 400) -> list[list[str]]:
    """Path arguments in batches that keep a command line short."""
    return [paths[i:i + size] for i in range(0, len(paths), size)]


def _chart_of(path: str, charts_dir: str, candidates: dict[str, str]) -> str | None:
    """The candidate chart folder `path` lies in (stand-alone or in the umbrella), if any."""
    parts = path[len(charts_dir) + 1:].split("/") if path.startswith(charts_dir + "/") else []
    if len(parts) > 3 and parts[0] == UMBRELLA and parts[1] == "charts":
        nested = f"{charts_dir}/{UMBRELLA}/charts/{parts[2]}"
        if nested in candidates:
            return nested
    if len(parts) > 1 and f"{charts_dir}/{parts[0]}" in candidates:
        return f"{charts_dir}/{parts[0]}"
    return None


def read_chart(chart_dir: Path, name: str) -> ChartSnapshot:
    """The chart in `chart_dir`, rendered with its default values."""
    def load():
        import helm_python

        return helm_python.Chart.load(str(chart_dir))

    def read(rel: str) -> bytes | None:
        path = chart_dir / rel
        if not path.is_file() or path.is_symlink() or path.stat().st_size > MAX_CHART_BYTES:
            return None
        return path.read_bytes()

    return _snapshot(name, load, read)


def read_files(files: dict[str, bytes], name: str) -> ChartSnapshot:
    """The chart made of `files` (path in the chart -> content), rendered with its default values."""
    def load():
        import helm_python

        return helm_python.Chart.load_archive(_archive(files, name))

    return _snapshot(name, load, files.get)


def _archive(files: dict[str, bytes], name: str) -> bytes:
    """A chart archive (.tgz, as `helm package` writes it: one top folder) of `files`."""
    import io

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=1) as tar:
        for rel, content in sorted(files.items()):
            info = tarfile.TarInfo(f"{name}/{rel}")
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def _snapshot(name: str, load, read) -> ChartSnapshot:
    """Render the chart (`load()` gives it to Helm) and read the workflow from its objects;
    from its files (`read(path)`) when Helm cannot render it."""
    version = _chart_version(read("Chart.yaml"))
    try:
        documents = _render(load, name)
    except ChartgenError as exc:
        return _from_files(read, name, version, exc.findings[0].message if exc.findings else str(exc))
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
        _drop_chart_version_label(data)
        objects[_unique(objects, f"{kind}/{obj_name}")] = _dump(data)
    resources = {}
    for cm_name, path in mounts:
        for key, value in (config_maps.get(cm_name) or {}).items():
            resources["/".join(p for p in (path.strip("/"), str(key)) if p)] = str(value)
    if flow is None:    # a chart that renders no SonataFlow: read what its files say
        files = _from_files(read, name, version, "")
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


def _render(load, name: str) -> list[dict]:
    import helm_python
    import yaml

    from chartgen.yamlio import check_yaml

    try:
        with load() as chart:
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


# Helm's chart label (`<chart>-<version>`) changes on every object with every version: it would
# make every object of every new version look changed, hiding the changes that matter.
CHART_LABEL = "helm.sh/chart"


def _drop_chart_version_label(data: dict) -> None:
    for meta in (data.get("metadata"), ((data.get("spec") or {}).get("podTemplate") or {}).get("metadata")
                 if isinstance(data.get("spec"), dict) else None):
        if isinstance(meta, dict) and isinstance(meta.get("labels"), dict):
            meta["labels"].pop(CHART_LABEL, None)


def _dump(data: dict) -> str:
    from chartgen.yamlio import dump_yaml

    return dump_yaml(data)


def _unique(objects: dict, key: str) -> str:
    number, candidate = 2, key
    while candidate in objects:
        candidate, number = f"{key} ({number})", number + 1
    return candidate


def _chart_version(text: bytes | None) -> str:
    from chartgen.yamlio import load_data

    try:
        data = load_data(text, "Chart.yaml") if text is not None else None
    except ChartgenError:
        return ""
    return str(data.get("version", "")) if isinstance(data, dict) else ""


def _from_files(read, name: str, version: str, error: str) -> ChartSnapshot:
    """What the chart's files say of the workflow: files/flow.yaml, files/application.properties
    and the Secret keys of values.yaml."""
    from chartgen.yamlio import load_data

    def text(rel: str) -> str | None:
        content = read(rel)
        return content.decode("utf-8", errors="replace") if content is not None else None

    flow = values = None
    try:
        content = text(FLOW_FILE)
        flow = load_data(content, FLOW_FILE) if content is not None else None
        content = text("values.yaml")
        values = load_data(content, "values.yaml") if content is not None else None
    except ChartgenError:
        pass
    secrets = values.get("secrets") if isinstance(values, dict) else None
    keys = secrets.get("values") if isinstance(secrets, dict) else None
    properties = text(PROPERTIES_FILE)
    return ChartSnapshot(name, version, flow if isinstance(flow, dict) else None,
                         _properties(properties) if properties else {},
                         frozenset(map(str, keys)) if isinstance(keys, dict) else frozenset(),
                         render_error=error)
