"""Reproducible chart archives, written by chartgen itself.

`helm package` writes each file's modification time into the tar headers and stages a
whole chart in memory twice; chartgen writes the archive directly from the chart folder:
the files Helm would take (`.helmignore` honoured, `file://` dependencies vendored into
`charts/<name>/` as `helm dependency build` does), as a tar sorted by name whose members all
carry one fixed time (`ARCHIVE_EPOCH`), mode 0644 and no owner, gzip'd with a fixed header
(no time, no name). The archive is a function of the content alone: same content, same
bytes, same SHA-256 digest, on any machine (with the reference zlib, see docs/performance.md).
The chart is checked as `helm package` checks it first (Chart.yaml metadata, values.yaml,
values.schema.json, dependencies present), and Helm reads the result like any archive.

A version that is already published (in a given index, or as an archive in the output
folder) with other content is refused: published versions are immutable. An archive
written by an older chartgen (Helm's layout) with the same content is recognised as such
and kept (`_legacy_archive`).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

from chartgen.errors import ChartgenError
from chartgen.fsutil import MARKER, sweep_leftovers, temp_directory, write_atomic
from chartgen.repo.archive import ArchiveInfo, sha256_file
from chartgen.repo.helmignore import IgnoreRules
from chartgen.repo.index import IndexFile, immutable_error

# 1980-01-01T00:00:00Z: a fixed, obviously synthetic time (the ZIP epoch); 0 would make
# some tools treat the time as unset.
ARCHIVE_EPOCH = 315532800
# Never put into the archive: chartgen's own marker and VCS metadata.
_SKIP_NAMES = {MARKER, ".git", ".hg", ".svn"}
# zlib's default level: within 1% of level 9's size at half its time.
_GZIP_LEVEL = 6
# gzip header: deflate, no flags, mtime 0, no extra flags, OS "unknown" (fixed, unlike the
# OS byte zlib's own gzip wrapper writes).
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
_CHART_TYPES = ("", "application", "library")


@dataclass(frozen=True)
class PackageResult:
    name: str
    version: str
    path: Path
    digest: str  # lowercase hex SHA-256 of the archive, as in index.yaml
    unchanged: bool = False  # the same archive was already in the output folder


def read_chart_identity(chart_dir: Path) -> tuple[str, str]:
    """(name, version) from `chart_dir/Chart.yaml`, with file:line errors."""
    from chartgen.yamlio import load_document

    chart_yaml = Path(chart_dir) / "Chart.yaml"
    if not chart_yaml.is_file():
        raise ChartgenError(f"{chart_dir} is not a chart (no Chart.yaml)", path=chart_dir, code="chart-missing")
    document = load_document(chart_yaml.read_bytes(), str(chart_yaml))
    data = document.data if isinstance(document.data, dict) else {}
    name, version = data.get("name"), data.get("version")
    if not name or not isinstance(name, str):
        raise ChartgenError("Chart.yaml has no name", path=chart_yaml, line=1, code="chart-invalid")
    if not version:
        raise ChartgenError("Chart.yaml has no version", path=chart_yaml, line=1, code="chart-invalid")
    return name, str(version)


# ------------------------------------------------------------------ the files Helm would take

def _failed(message: str, path: Path | str) -> ChartgenError:
    return ChartgenError(message, path=path, code="package-failed")


def _walk(folder: str, prefix: str, rules: IgnoreRules, files: dict[str, bytes], active: frozenset) -> None:
    """Add the files under `folder` as `prefix` + relative path, in Helm's way: symbolic links
    followed, ignored folders not entered, anything but regular files and folders refused."""
    try:
        status = os.stat(folder)
        if (status.st_dev, status.st_ino) in active:
            raise _failed(f"{folder}: a symbolic link loops back to a folder above it", folder)
        active = active | {(status.st_dev, status.st_ino)}
        entries = list(os.scandir(folder))
    except OSError as exc:
        raise _failed(f"cannot read {folder}: {exc.strerror or exc}", folder) from None
    for entry in entries:
        name = entry.name
        if name in _SKIP_NAMES:
            continue
        rel = prefix + name
        try:
            rel.encode("utf-8")
        except UnicodeEncodeError:
            raise _failed(f"file name {name.encode('utf-8', 'surrogateescape')!r} is not UTF-8; "
                          "chart archives hold UTF-8 names only", entry.path) from None
        if entry.is_dir():
            if not rules.ignored(rel, True):
                _walk(entry.path, rel + "/", rules, files, active)
        elif rules.ignored(rel, False):
            continue
        elif entry.is_file():
            try:
                with open(entry.path, "rb") as handle:
                    files[rel] = handle.read()
            except OSError as exc:
                raise _failed(f"cannot read {entry.path}: {exc.strerror or exc}", entry.path) from None
        elif entry.is_symlink() and not os.path.exists(entry.path):
            raise _failed(f"{rel} is a broken symbolic link", entry.path)
        else:
            raise _failed(f"{rel} is not a regular file (a device, pipe or socket); "
                          "Helm cannot package it", entry.path)


def _local_dependencies(folder: Path, metadata: dict, seen: tuple[Path, ...]):
    """(name, source folder) of each `file://` dependency of the chart at `folder` that its
    charts/ does not hold yet, checked: a chart folder with that name and version."""
    import glob

    from chartgen.repo.versions import parse_version

    chart_yaml = folder / "Chart.yaml"
    for dependency in metadata.get("dependencies") or []:
        if not isinstance(dependency, dict):
            continue
        repository, name = str(dependency.get("repository") or ""), str(dependency.get("name") or "")
        if not repository.startswith("file://") or not name:
            continue
        existing = folder / "charts"
        if (existing / name).is_dir() or glob.glob(os.path.join(glob.escape(str(existing)), glob.escape(name) + "-*.tgz")):
            continue  # already vendored in the chart folder
        source = (folder / repository[len("file://"):]).resolve()
        if source in seen or not (source / "Chart.yaml").is_file():
            raise ChartgenError(f"dependency {name!r}: {repository} is not a chart folder", path=chart_yaml,
                                code="package-dependency")
        sub_name, sub_version = read_chart_identity(source)
        wanted = str(dependency.get("version") or "")
        exact = parse_version(wanted)
        if sub_name != name or (exact is not None and wanted[:1].isdigit() and exact != parse_version(sub_version)):
            raise ChartgenError(f"dependency {name} {wanted} does not match {source} ({sub_name} {sub_version})",
                                path=chart_yaml, code="package-dependency")
        yield name, source


def _vendor_local_dependencies(folder: Path, prefix: str, metadata: dict, rules: IgnoreRules,
                               files: dict[str, bytes], seen: tuple[Path, ...] = ()) -> None:
    """What `helm dependency build` does for `file://` dependencies: each referenced chart
    folder goes into `charts/<name>/` (Chart.yaml stays untouched, so the archive does not
    depend on where the checkout is)."""
    from chartgen.yamlio import load_data

    for name, source in _local_dependencies(folder, metadata, seen):
        where = f"{prefix}charts/{name}"
        if rules.ignored(f"{prefix}charts", True) or rules.ignored(where, True):
            continue  # .helmignore leaves it out: reported as missing below, as Helm does
        _walk(str(source), where + "/", rules, files, frozenset())
        sub_metadata = load_data(files[f"{where}/Chart.yaml"], str(source / "Chart.yaml")) or {}
        _vendor_local_dependencies(source, where + "/", sub_metadata if isinstance(sub_metadata, dict) else {},
                                   rules, files, seen + (folder.resolve(),))


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


def _chart_metadata(files: dict[str, bytes], prefix: str, where: Path) -> dict:
    """Chart.yaml of the chart at `prefix`, checked as Helm's loader checks it."""
    from chartgen.repo.versions import parse_version

    path = where / "Chart.yaml"
    raw = files.get(prefix + "Chart.yaml")
    if raw is None:
        raise ChartgenError(f"{where} is not a chart (no Chart.yaml)", path=where, code="chart-missing")
    metadata = _chart_fields(raw, path)
    if not isinstance(metadata, dict):
        raise ChartgenError("Chart.yaml is not a mapping", path=path, line=1, code="chart-invalid")
    name, version = metadata.get("name"), metadata.get("version")
    if not name or not isinstance(name, str):
        raise ChartgenError("Chart.yaml has no name", path=path, line=1, code="chart-invalid")
    if not version:
        raise ChartgenError("Chart.yaml has no version", path=path, line=1, code="chart-invalid")
    if "/" in name or "\\" in name or "\0" in name or name in (".", ".."):
        raise _failed(f"Chart.yaml: chart name {name!r} is not a valid file name", path)
    if parse_version(str(version)) is None:
        raise ChartgenError(f"Chart.yaml: chart version {version!r} is not SemVer", path=path,
                            code="archive-version")
    if not metadata.get("apiVersion"):
        raise _failed("Chart.yaml: apiVersion is required", path)
    if not isinstance(metadata.get("dependencies") or [], list):
        raise _failed("Chart.yaml: dependencies is not a list", path)
    if str(metadata.get("type") or "") not in _CHART_TYPES:
        raise _failed(f"Chart.yaml: chart type {metadata.get('type')!r} is not application or library", path)
    return metadata


def _check_values(text: bytes, path: Path) -> None:
    """values.yaml is YAML holding a mapping (or nothing), as Helm needs; composed, not
    constructed (libyaml does the work), after the alias and depth guard."""
    import yaml

    from chartgen.yamlio import _syntax_error, check_yaml

    try:
        decoded = text.decode("utf-8")
        check_yaml(decoded, str(path))
        node = yaml.compose(decoded, Loader=yaml.CSafeLoader)
    except UnicodeDecodeError as exc:
        raise _failed(f"values.yaml is not UTF-8 text (byte {exc.start})", path) from None
    except ChartgenError as exc:
        raise _failed(f"values.yaml: {exc}", path) from None
    except (yaml.YAMLError, RecursionError) as exc:
        error = _syntax_error(str(path), exc)
        raise ChartgenError(f"values.yaml: {error}", path=path, line=error.findings[0].line,
                            code="package-failed") from None
    empty = node is None or (isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null")
    if not empty and not isinstance(node, yaml.MappingNode):
        raise _failed("values.yaml is not a mapping of values", path)


def _check_chart(files: dict[str, bytes], prefix: str, where: Path, metadata: dict | None = None) -> dict:
    """What `helm package` checks before it writes anything: Chart.yaml, values.yaml (a YAML
    mapping), values.schema.json (JSON), sub-charts, and every dependency present in charts/."""
    if metadata is None:
        metadata = _chart_metadata(files, prefix, where)
    values = files.get(prefix + "values.yaml")
    if values is not None:
        _check_values(values, where / "values.yaml")
    schema = files.get(prefix + "values.schema.json")
    if schema is not None:
        try:
            json.loads(schema)
        except ValueError as exc:
            raise _failed(f"values.schema.json is not valid JSON: {exc}", where / "values.schema.json") from None
    present = set()
    groups: dict[str, bool] = {}
    start = prefix + "charts/"
    for key in files:
        if key.startswith(start):
            rest = key[len(start):]
            group, _, inner = rest.partition("/")
            if group[:1] in ("_", ".") or (not inner and not group.endswith(".tgz")):
                continue  # Helm skips these (and a plain file's .prov)
            groups[group] = bool(inner)
    for group, is_dir in sorted(groups.items()):
        if is_dir:
            present.add(str(_check_chart(files, f"{start}{group}/", where / "charts" / group)["name"]))
        else:
            present.add(_archive_chart_name(files[start + group], where / "charts" / group))
    missing = [str(d.get("name")) for d in metadata.get("dependencies") or []
               if isinstance(d, dict) and str(d.get("name")) not in present]
    if missing:
        raise _failed(f"found in Chart.yaml, but missing in charts/ directory: {', '.join(missing)}",
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
        raise _failed(f"{path.name} is not a readable chart archive: {exc}", path) from None
    raise _failed(f"{path.name} holds no Chart.yaml with a name", path)


def chart_files(chart_dir: Path) -> tuple[dict, dict[str, bytes]]:
    """(Chart.yaml's `_CHART_FIELDS`, relative path -> content) of what goes into the archive
    of the chart at `chart_dir`, checked as `helm package` checks it."""
    chart_dir = Path(chart_dir)
    if not (chart_dir / "Chart.yaml").is_file():
        raise ChartgenError(f"{chart_dir} is not a chart (no Chart.yaml)", path=chart_dir, code="chart-missing")
    rules = IgnoreRules.of_chart(chart_dir)
    files: dict[str, bytes] = {}
    _walk(str(chart_dir), "", rules, files, frozenset())
    metadata = _chart_metadata(files, "", chart_dir)
    _vendor_local_dependencies(chart_dir, "", metadata, rules, files)
    return _check_chart(files, "", chart_dir, metadata), files


# ------------------------------------------------------------------ the archive

def _tar_header(name: bytes, size: int, kind: bytes = b"0") -> bytes:
    """One ustar header: mode 0644, owner 0 with no names, ARCHIVE_EPOCH."""
    header = bytearray(512)
    header[0:len(name)] = name
    header[100:124] = b"0000644\x000000000\x000000000\x00"
    header[124:136] = b"%011o\x00" % size
    header[136:148] = b"%011o\x00" % ARCHIVE_EPOCH
    header[148:156] = b"        "
    header[156:157] = kind
    header[257:265] = b"ustar\x0000"
    header[329:345] = b"0000000\x000000000\x00"
    header[148:156] = b"%06o\x00 " % sum(header)
    return bytes(header)


def _pax_record(key: str, value: bytes) -> bytes:
    body = b" " + key.encode("ascii") + b"=" + value + b"\n"
    length = len(body) + 1
    while len(b"%d" % length) + len(body) != length:
        length += 1
    return b"%d" % length + body


def tar_bytes(top: str, files: dict[str, bytes]) -> bytes:
    """The uncompressed tar of `files` under `top/`, sorted by name; a name longer than ustar's
    100 bytes or not ASCII goes into a PAX `path` record (as Python's tarfile and Go's
    archive/tar write it)."""
    out = []
    for rel in sorted(files):
        data = files[rel]
        name = f"{top}/{rel}"
        encoded = name.encode("utf-8")
        if len(encoded) > 100 or not name.isascii():
            record = _pax_record("path", encoded)
            out.append(_tar_header(b"././@PaxHeader", len(record), b"x"))
            out.append(record + b"\x00" * (-len(record) % 512))
            encoded = name.encode("ascii", "replace")[:100]
        out.append(_tar_header(encoded, len(data)))
        out.append(data)
        out.append(b"\x00" * (-len(data) % 512))
    out.append(b"\x00" * 1024)
    return b"".join(out)


def gzip_bytes(raw: bytes) -> bytes:
    """`raw` gzip'd with a fixed header (no time, no name, OS unknown)."""
    compressor = zlib.compressobj(_GZIP_LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS, 8, zlib.Z_DEFAULT_STRATEGY)
    body = compressor.compress(raw) + compressor.flush()
    return _GZIP_HEADER + body + struct.pack("<II", zlib.crc32(raw), len(raw) & 0xFFFFFFFF)


def archive_bytes(chart_dir: Path) -> tuple[str, str, bytes]:
    """(name, version, archive bytes) of the chart at `chart_dir`."""
    metadata, files = chart_files(chart_dir)
    name = str(metadata["name"])
    return name, str(metadata["version"]), gzip_bytes(tar_bytes(name, files))


# ------------------------------------------------------------------ packaging

_swept: set[str] = set()


def _sweep_once(folder: Path) -> None:
    """Remove the leftovers of killed runs in `folder` once per process (they cannot appear
    during this run: they are other processes' names)."""
    key = os.path.realpath(folder)
    if key not in _swept:
        sweep_leftovers(folder)
        _swept.add(key)


def package_chart(chart_dir: Path, out_dir: Path, *, force: bool = False,
                  published: IndexFile | None = None) -> PackageResult:
    """Package one chart reproducibly into `out_dir/<name>-<version>.tgz`.

    Refuses (ChartgenError `version-immutable`) when `published` or an archive already
    in `out_dir` holds this name and version with a different digest, unless `force`.
    An archive with the same digest is left as it is (`unchanged`).
    """
    chart_dir, out_dir = Path(chart_dir), Path(out_dir)
    name, version, data = archive_bytes(chart_dir)
    digest = hashlib.sha256(data).hexdigest()
    info = ArchiveInfo(chart_dir, name, version, digest)
    legacy: list[tuple[str, bytes] | None] = []   # made at most once, only when a digest differs

    def older_layout(other: str) -> bool:
        """Whether `other` is the digest of this content as an older chartgen wrote it."""
        if not legacy:
            legacy.append(_legacy_archive(chart_dir))
        return legacy[0] is not None and legacy[0][0] == other

    if published is not None and not force:
        wanted = published.digest_of(name, version)
        if wanted and wanted != digest:
            if not older_layout(wanted):
                raise immutable_error(info, wanted, published.path or "the published index")
            digest, data = legacy[0]   # the published bytes: same content, the older layout
    out_dir.mkdir(parents=True, exist_ok=True)
    _sweep_once(out_dir)
    target = out_dir / f"{name}-{version}.tgz"
    if target.is_file():
        existing = sha256_file(target)
        if existing == digest or older_layout(existing):
            return PackageResult(name, version, target, existing, True)
        # (an archive of this content in today's layout, where the index holds the older
        # layout, is replaced by the published bytes)
        if existing != info.digest and not force:
            raise immutable_error(info, existing, str(target))
    write_atomic(target, data)
    return PackageResult(name, version, target, digest)


def find_charts(root: Path) -> list[Path]:
    """Chart folders directly under `root` (those holding a Chart.yaml), sorted; hidden ones
    (temporary folders of a run in progress) are not charts."""
    root = Path(root)
    if (root / "Chart.yaml").is_file():
        return [root]
    return sorted(p.parent for p in root.glob("*/Chart.yaml") if not p.parent.name.startswith("."))

# ------------------------------------------------------------------ archives of older chartgen

def _legacy_archive(chart_dir: Path) -> tuple[str, bytes] | None:
    """(digest, bytes) of the archive chartgen wrote for this chart before it wrote archives
    itself (Helm's `package` of a normalised copy), or None when Helm cannot package it. Only
    made when an archive or index holds another digest for the version: the same content in
    the older layout is the same chart, not a changed one."""
    try:
        with temp_directory(".chartgen-package-") as tmp:
            data = _helm_archive(chart_dir, Path(tmp)).read_bytes()
    except (ChartgenError, OSError):
        return None
    return hashlib.sha256(data).hexdigest(), data


def _copy_normalised(chart_dir: Path, dest: Path) -> None:
    shutil.copytree(chart_dir, dest, symlinks=False,
                    ignore=lambda _dir, names: [n for n in names if n in _SKIP_NAMES])
    for root, dirs, files in os.walk(dest):
        for name in files + dirs:
            path = os.path.join(root, name)
            os.chmod(path, 0o755 if os.path.isdir(path) else 0o644)
            os.utime(path, (ARCHIVE_EPOCH, ARCHIVE_EPOCH))
    os.utime(dest, (ARCHIVE_EPOCH, ARCHIVE_EPOCH))


def _legacy_vendor(chart_dir: Path, staged: Path, seen: tuple[Path, ...] = ()) -> None:
    from chartgen.yamlio import load_data

    metadata = load_data((chart_dir / "Chart.yaml").read_bytes(), str(chart_dir / "Chart.yaml")) or {}
    for name, source in _local_dependencies(chart_dir, metadata if isinstance(metadata, dict) else {}, seen):
        _copy_normalised(source, staged / "charts" / name)
        _legacy_vendor(source, staged / "charts" / name, seen + (chart_dir.resolve(),))


def _helm_archive(chart_dir: Path, work_dir: Path) -> Path:
    """The archive as chartgen wrote it before it wrote its own (Helm's `package` of a
    normalised copy, members sorted): only to recognise such an archive, see `_legacy_archive`."""
    import helm_python

    name, _version = read_chart_identity(chart_dir)
    staged = work_dir / "src" / name
    _copy_normalised(Path(chart_dir), staged)
    _legacy_vendor(Path(chart_dir), staged)
    try:
        archive = Path(helm_python.package(staged, destination=work_dir / "out"))
    except helm_python.HelmError as exc:
        raise ChartgenError(f"helm could not package the chart: {exc}", path=chart_dir,
                            code="package-failed") from None
    _canonical_order(archive)
    return archive


def _canonical_order(archive: Path) -> None:
    """Rewrite the archive with its members sorted by name.

    Helm writes embedded sub-charts in map order, which varies from run to run, so an
    umbrella chart's archive (and digest) would change although its content did not.
    """
    import gzip
    import io
    import tarfile

    with tarfile.open(archive, "r:gz") as source:
        members = [(member, source.extractfile(member).read() if member.isfile() else None)
                   for member in source.getmembers()]
    if [m.name for m, _ in members] == sorted(m.name for m, _ in members):
        return  # already canonical: keep Helm's own bytes
    members.sort(key=lambda item: item[0].name)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as target:
        for member, data in members:
            target.addfile(member, io.BytesIO(data) if data is not None else None)
    archive.write_bytes(gzip.compress(buffer.getvalue(), compresslevel=9, mtime=0))
