"""The checks `helm package` makes before it writes an archive, on the files going into it
(relative path -> content): Chart.yaml's metadata, values.yaml (a YAML mapping),
values.schema.json (JSON), each embedded sub-chart in turn, and every dependency present in
charts/. Linear in the number of files: each level sorts its paths into sub-charts once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping

from chartgen.errors import ChartgenError

_CHART_TYPES = ("", "application", "library")


def failed(message: str, path: Path | str) -> ChartgenError:
    return ChartgenError(message, path=path, code="package-failed")


_CHART_FIELDS = ("apiVersion", "name", "version", "type", "dependencies")


def _chart_fields(raw: bytes, path: Path):
    """The fields of Chart.yaml that packaging needs (`_CHART_FIELDS`); the rest (annotations,
    maintainers, ...) is only parsed, not turned into Python values. A document that is not a
    simple YAML mapping is read whole."""
    import yaml

    from chartgen.yamlio import check_yaml, load_data, looks_like_json

    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return load_data(raw, str(path))
    if looks_like_json(text):
        return load_data(text, str(path))
    check_yaml(text, str(path))
    loader = yaml.CSafeLoader(text)
    try:
        node = loader.get_single_node()
        if not isinstance(node, yaml.MappingNode):
            return load_data(text, str(path))
        fields = {}
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == "<<":
                return load_data(text, str(path))       # a merge key: as the whole document reads
            if isinstance(key, yaml.ScalarNode) and key.value in _CHART_FIELDS:
                if key.value in fields:
                    return load_data(text, str(path))   # duplicate keys: as the whole document reads
                fields[key.value] = loader.construct_object(value, deep=True)
        return fields
    except (yaml.YAMLError, RecursionError):
        return load_data(text, str(path))   # the full reader reports the error with its place
    finally:
        loader.dispose()


def _known_fields(raw: bytes) -> dict | None:
    """`_chart_fields` of a Chart.yaml chartgen wrote or read in this build or the last (the
    umbrella's: thousands of lines), from what it kept of it; None for others."""
    from chartgen.chart.versioning import known_chart_yaml

    if len(raw) < _KNOWN_FROM:
        return None         # parsed in no time
    data = known_chart_yaml(raw)
    return None if data is None else {key: data[key] for key in _CHART_FIELDS if key in data}


_KNOWN_FROM = 16 << 10


def chart_metadata(files: Mapping[str, bytes], prefix: str, where: Path) -> dict:
    """Chart.yaml of the chart at `prefix`, checked as Helm's loader checks it."""
    from chartgen.repo.versions import parse_version

    path = where / "Chart.yaml"
    raw = files.get(prefix + "Chart.yaml")
    if raw is None:
        raise ChartgenError(f"{where} is not a chart (no Chart.yaml)", path=where, code="chart-missing")
    metadata = _known_fields(raw)
    if metadata is None:
        metadata = _chart_fields(raw, path)
    if not isinstance(metadata, dict):
        raise ChartgenError("Chart.yaml is not a mapping", path=path, line=1, code="chart-invalid")
    name, version = metadata.get("name"), metadata.get("version")
    if not name or not isinstance(name, str):
        raise ChartgenError("Chart.yaml has no name", path=path, line=1, code="chart-invalid")
    if not version:
        raise ChartgenError("Chart.yaml has no version", path=path, line=1, code="chart-invalid")
    if "/" in name or "\\" in name or "\0" in name or name in (".", ".."):
        raise failed(f"Chart.yaml: chart name {name!r} is not a valid file name", path)
    if parse_version(str(version)) is None:
        raise ChartgenError(f"Chart.yaml: chart version {version!r} is not SemVer", path=path,
                            code="archive-version")
    if not metadata.get("apiVersion"):
        raise failed("Chart.yaml: apiVersion is required", path)
    if not isinstance(metadata.get("dependencies") or [], list):
        raise failed("Chart.yaml: dependencies is not a list", path)
    if str(metadata.get("type") or "") not in _CHART_TYPES:
        raise failed(f"Chart.yaml: chart type {metadata.get('type')!r} is not application or library", path)
    return metadata


def _mapping_or_nothing(decoded: str) -> bool:
    """True when `decoded` (guarded already) is one YAML document holding a mapping, or no
    document: read as libyaml's events, each checked by the parser, without building nodes.
    False when in doubt (anchors or aliases, another root, a second document): `yaml.compose`
    decides then, and reports what it finds wrong as it always did."""
    import yaml

    if "&" in decoded or "*" in decoded:
        return False
    root = None
    for event in yaml.parse(decoded, Loader=yaml.CSafeLoader):
        if isinstance(event, yaml.DocumentStartEvent) and root is not None:
            return False
        if root is None and isinstance(event, yaml.NodeEvent):
            root = event
    return root is None or isinstance(root, yaml.MappingStartEvent)


def _check_values(text: bytes, path: Path) -> None:
    """values.yaml is YAML holding a mapping (or nothing), as Helm needs; parsed, not
    constructed (libyaml does the work), after the alias and depth guard."""
    import yaml

    from chartgen.yamlio import _syntax_error, check_yaml

    try:
        decoded = text.decode("utf-8")
        check_yaml(decoded, str(path))
        if _mapping_or_nothing(decoded):
            return
        node = yaml.compose(decoded, Loader=yaml.CSafeLoader)
    except UnicodeDecodeError as exc:
        raise failed(f"values.yaml is not UTF-8 text (byte {exc.start})", path) from None
    except ChartgenError as exc:
        raise failed(f"values.yaml: {exc}", path) from None
    except (yaml.YAMLError, RecursionError) as exc:
        error = _syntax_error(str(path), exc)
        raise ChartgenError(f"values.yaml: {error}", path=path, line=error.findings[0].line,
                            code="package-failed") from None
    empty = node is None or (isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null")
    if not empty and not isinstance(node, yaml.MappingNode):
        raise failed("values.yaml is not a mapping of values", path)


def check_chart(files: Mapping[str, bytes], prefix: str, where: Path, metadata: dict | None = None, *,
                 keys=None, checked: dict[str, str] | None = None) -> dict:
    """What `helm package` checks before it writes anything: Chart.yaml, values.yaml (a YAML
    mapping), values.schema.json (JSON), sub-charts, and every dependency present in charts/.
    `keys`: the paths under `prefix` (default: all of `files`); each level sorts them into its
    sub-charts once, so the whole check is linear in the number of files. `checked`: prefix
    (`charts/<name>/`) -> chart name of sub-charts known to pass (kept from an earlier run;
    `keys` need not hold their files); those checked here are added."""
    if metadata is None:
        metadata = chart_metadata(files, prefix, where)
    values = files.get(prefix + "values.yaml")
    if values is not None:
        _check_values(values, where / "values.yaml")
    schema = files.get(prefix + "values.schema.json")
    if schema is not None:
        try:
            json.loads(schema)
        except ValueError as exc:
            raise failed(f"values.schema.json is not valid JSON: {exc}", where / "values.schema.json") from None
    present = set()
    groups: dict[str, bool] = {}
    inside: dict[str, list[str]] = {}
    start = prefix + "charts/"
    cut = len(start)
    for key in files if keys is None else keys:
        if key.startswith(start):
            group, _, inner = key[cut:].partition("/")
            if group[:1] in ("_", ".") or (not inner and not group.endswith(".tgz")):
                continue  # Helm skips these (and a plain file's .prov)
            groups[group] = bool(inner)
            if inner:
                inside.setdefault(group, []).append(key)
    for known in checked or ():
        if known.startswith(start) and "/" not in known[cut:-1]:
            groups.setdefault(known[cut:-1], True)   # its files may be left out of `keys`
    for group, is_dir in sorted(groups.items()):
        where_sub = where / "charts" / group
        if not is_dir:
            present.add(_archive_chart_name(files[start + group], where_sub))
        elif checked is not None and f"{start}{group}/" in checked:
            present.add(checked[f"{start}{group}/"])
        else:
            name = str(check_chart(files, f"{start}{group}/", where_sub, keys=inside[group])["name"])
            if checked is not None:
                checked[f"{start}{group}/"] = name
            present.add(name)
    missing = [str(d.get("name")) for d in metadata.get("dependencies") or []
               if isinstance(d, dict) and str(d.get("name")) not in present]
    if missing:
        raise failed(f"found in Chart.yaml, but missing in charts/ directory: {', '.join(missing)}",
                      where / "Chart.yaml")
    return metadata


def _archive_chart_name(data: bytes, path: Path) -> str:
    """The chart name inside a vendored sub-chart archive (charts/<x>.tgz)."""
    import io
    import tarfile

    from chartgen.yamlio import load_data

    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            for member in tar:
                parts = member.name.split("/")
                if len(parts) == 2 and parts[1] == "Chart.yaml" and member.isfile():
                    metadata = load_data(tar.extractfile(member).read(), f"{path}!{member.name}")
                    if isinstance(metadata, dict) and metadata.get("name"):
                        return str(metadata["name"])
    except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
        raise failed(f"{path.name} is not a readable chart archive: {exc}", path) from None
    raise failed(f"{path.name} holds no Chart.yaml with a name", path)
