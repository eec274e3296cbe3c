"""Chart archives on disk: read and check `<name>-<version>.tgz`, and the index entry Helm
would write for one."""

from __future__ import annotations

import hashlib
import pickle
import tarfile
import zlib
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Callable, Iterable, Mapping

from chartgen.errors import ChartgenError
from chartgen.repo.tarread import members
from chartgen.repo.versions import parse_version


# Chart.yaml fields Helm copies into an index entry (chart.Metadata, all omitempty).
METADATA_FIELDS = ("name", "home", "sources", "version", "description", "keywords", "maintainers",
                   "icon", "apiVersion", "condition", "tags", "appVersion", "deprecated",
                   "annotations", "kubeVersion", "dependencies", "type")
_MAX_CHART_YAML = 1 << 20


# path -> [size, mtime (ns), inode, sha256 hex] of archives hashed by an earlier build (kept in
# its cache: `use_digest_memo`), so an index update does not read again every archive of dist/
# (the umbrella's are megabytes each) to learn that it is the one already indexed.
_DIGESTS: dict[str, list] = {}
_DIGESTS_SEEN: dict[str, list] = {}


def use_digest_memo(recorded: Mapping[str, list] | None) -> dict[str, list]:
    """Start with the archive digests a previous build recorded; returns the dict collecting
    this run's (what the build cache saves)."""
    _DIGESTS.clear()
    _DIGESTS.update(recorded or {})
    _DIGESTS_SEEN.clear()
    return _DIGESTS_SEEN


def sha256_file(path: Path) -> str:
    import os

    from chartgen.fsutil import is_settled

    key = os.fspath(path)
    try:
        info = os.stat(key)
        stamp = [info.st_size, info.st_mtime_ns, info.st_ino]
    except OSError:
        stamp = None
    known = _DIGESTS.get(key)
    if stamp is not None and known is not None and list(known[:3]) == stamp:
        _DIGESTS_SEEN[key] = known
        return str(known[3])
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    if stamp is not None and is_settled(stamp[1]):
        _DIGESTS[key] = _DIGESTS_SEEN[key] = stamp + [digest.hexdigest()]
    return digest.hexdigest()


@dataclass(frozen=True)
class ArchiveInfo:
    """A chart archive read from disk: its Chart.yaml metadata and SHA-256."""

    path: Path
    name: str
    version: str
    digest: str
    metadata: Mapping[str, Any] = field(repr=False, default_factory=dict)

    @property
    def file_name(self) -> str:
        return self.path.name


# The files of a chart version its page shows (`chartgen.repo.pages`), and how much of each.
DOC_FILES = ("README.md", "values.yaml")
DOC_LIMIT = (1 << 20) + 1


def _parts(name: str) -> tuple[str, ...]:
    """PurePosixPath(name).parts, without building a path for a plain name."""
    parts = name.split("/")
    if "" in parts or "." in parts:
        return PurePosixPath(name).parts
    return tuple(parts)


@dataclass(frozen=True)
class _Scanned:
    """What one pass over an archive's members found."""

    folder: str
    chart_yaml: bytes
    docs: Mapping[str, bytes]   # `<folder>/<file>` of DOC_FILES -> its first DOC_LIMIT bytes


def _want(name: str, is_file: bool, size: int) -> int:
    """How much of a member `_scan` reads: a Chart.yaml one level down (not a too large one:
    that is refused unread), the page's files."""
    parts = _parts(name)
    if len(parts) != 2:
        return 0
    if parts[1] == "Chart.yaml":
        return size if size <= _MAX_CHART_YAML else 0
    return DOC_LIMIT if parts[1] in DOC_FILES and name == f"{parts[0]}/{parts[1]}" else 0


def _scan(members: Iterable[tuple[str, bool, int, bytes]], path: Path) -> _Scanned:
    """Check the members of a chart archive (the folder, safe names) and pick out its
    Chart.yaml and the page's files (the last of a name, as tarfile lists them)."""
    chart_yaml = None
    top_dirs: set[str] = set()
    docs: dict[str, bytes] = {}
    for name, is_file, size, data in members:
        parts = _parts(name)
        if not parts or parts[0] in ("..", "/") or ".." in parts:
            raise ChartgenError(f"unsafe path {name!r} in chart archive", path=path, code="archive-unsafe-path")
        top_dirs.add(parts[0])
        if len(parts) == 2 and is_file:
            if parts[1] == "Chart.yaml":
                if size > _MAX_CHART_YAML:
                    raise ChartgenError("Chart.yaml in archive is too large", path=path, code="archive-invalid")
                chart_yaml = (parts[0], data)
            elif parts[1] in DOC_FILES and name == f"{parts[0]}/{parts[1]}":
                docs[name] = data
    if chart_yaml is None:
        raise ChartgenError("chart archive has no <name>/Chart.yaml", path=path, code="archive-invalid")
    if len(top_dirs) != 1:
        raise ChartgenError(f"chart archive must hold exactly one top folder, found {sorted(top_dirs)}",
                            path=path, code="archive-invalid")
    return _Scanned(chart_yaml[0], chart_yaml[1], docs)


def _metadata(scanned: _Scanned, path: Path) -> tuple[str, str, dict]:
    """(name, version, the Chart.yaml fields of an index entry) of a scanned archive."""
    from chartgen.chart.versioning import known_chart_yaml
    from chartgen.yamlio import load_data

    # The Chart.yaml of an archive this build just packaged was written (or parsed) already:
    # an umbrella's is thousands of lines.
    metadata = known_chart_yaml(scanned.chart_yaml)
    if metadata is None:
        metadata = load_data(scanned.chart_yaml, f"{path}!{scanned.folder}/Chart.yaml")
    if not isinstance(metadata, dict):
        raise ChartgenError("Chart.yaml in archive is not a mapping", path=path, code="archive-invalid")
    name, version = str(metadata.get("name") or ""), str(metadata.get("version") or "")
    if not name or not version:
        raise ChartgenError("Chart.yaml in archive lacks name or version", path=path, code="archive-invalid")
    if parse_version(version) is None:
        raise ChartgenError(f"chart version {version!r} is not SemVer", path=path, code="archive-version")
    if scanned.folder != name:
        raise ChartgenError(f"archive folder {scanned.folder!r} does not match chart name {name!r}", path=path,
                            code="archive-name-mismatch")
    kept = {k: metadata[k] for k in METADATA_FIELDS if metadata.get(k) not in (None, "", [], {}, False)}
    kept.setdefault("apiVersion", "v1")
    return name, version, kept


# ---------------------------------------------------------------------------------------
# Archives read (or written) in this process, by digest: the same bytes are not read again.

class _Known:
    """An archive's scan, and the metadata of its Chart.yaml once read (pickled: each
    ArchiveInfo gets its own copy)."""

    def __init__(self, scanned: _Scanned) -> None:
        self.scanned = scanned
        self.parsed: tuple[str, str, bytes] | None = None

    def size(self) -> int:
        """About the bytes kept (the metadata taken as twice its Chart.yaml)."""
        return 3 * len(self.scanned.chart_yaml) + sum(len(data) for data in self.scanned.docs.values())

    def metadata(self, path: Path) -> tuple[str, str, dict]:
        if self.parsed is None:
            name, version, kept = _metadata(self.scanned, path)
            self.parsed = (name, version, pickle.dumps(kept, pickle.HIGHEST_PROTOCOL))
            return name, version, kept
        name, version, kept = self.parsed
        return name, version, pickle.loads(kept)


_KNOWN: "OrderedDict[str, _Known]" = OrderedDict()
_KNOWN_BUDGET = 64 << 20   # bytes kept (Chart.yaml, page files, metadata); the oldest go first
_known_size = [0]


def _remember(digest: str, scanned: _Scanned) -> _Known:
    known = _Known(scanned)
    if digest not in _KNOWN and known.size() <= _KNOWN_BUDGET // 8:
        _KNOWN[digest] = known
        _known_size[0] += known.size()
        while _known_size[0] > _KNOWN_BUDGET:
            _known_size[0] -= _KNOWN.popitem(last=False)[1].size()
    return known


def remember_written(digest: str, top: str, sizes: Mapping[str, int], read: Callable[[str], bytes]) -> None:
    """Note the archive chartgen just wrote (`digest`: of the bytes `chartgen.repo.package`
    made of the files `sizes` names, `read(path)` their content) as if read: its members are
    `<top>/<path>`, regular files in name order, so reading it would give what `_scan` gives
    for them (only the files a scan reads are asked for; Chart.yaml is parsed when the
    archive is first read)."""
    def stream():
        for rel in sorted(sizes):
            name, size = f"{top}/{rel}", sizes[rel]
            wanted = _want(name, True, size)
            yield name, True, size, read(rel)[:wanted] if wanted else b""

    try:
        scanned = _scan(stream(), Path(f"{top}.tgz"))
    except ChartgenError:
        return   # read_archive reports it
    _remember(digest, scanned)


def archive_docs(info: ArchiveInfo) -> dict[str, bytes]:
    """`<name>/<file>` -> the first DOC_LIMIT bytes of each of DOC_FILES an archive holds
    ({} when it cannot be read: read_archive reports that)."""
    known = _KNOWN.get(info.digest)
    if known is not None:
        return dict(known.scanned.docs)
    try:
        return dict(_scan(members(info.path, _want), info.path).docs)
    except (ChartgenError, tarfile.TarError, EOFError, OSError, ValueError, zlib.error):
        return {}


def read_archive(path: Path) -> ArchiveInfo:
    """Read and check a chart archive: a gzip tar with one top folder `<name>/` holding
    `Chart.yaml`, named `<name>-<version>.tgz`. Every problem is a ChartgenError. An archive
    with the bytes of one read (or written) before in this process is not read again."""
    path = Path(path)
    try:
        digest = sha256_file(path)
    except OSError as exc:
        raise ChartgenError(f"not a readable chart archive (gzip tar): {exc}", path=path,
                            code="archive-corrupt") from None
    known = _KNOWN.get(digest)
    if known is None:
        try:
            scanned = _scan(members(path, _want), path)
        except (tarfile.TarError, EOFError, OSError, ValueError, zlib.error) as exc:
            raise ChartgenError(f"not a readable chart archive (gzip tar): {exc}", path=path,
                                code="archive-corrupt") from None
        known = _remember(digest, scanned)
    name, version, kept = known.metadata(path)
    expected = f"{name}-{version}.tgz"
    if path.name != expected:
        raise ChartgenError(f"archive file name {path.name!r} does not match its chart "
                            f"{name!r} version {version!r} (expected {expected!r})", path=path,
                            code="archive-name-mismatch")
    return ArchiveInfo(path, name, version, digest, kept)


_MAX_COMPARED = 100 << 20   # Helm's own limit on a chart's decompressed size


def _contents(path: Path) -> dict[str, bytes] | None:
    """name -> content of the regular files of an archive, a UTF-8 BOM removed as Helm's
    loader removes it; None when it is unreadable, holds links or is larger than Helm reads."""
    contents, total = {}, 0
    try:
        with tarfile.open(path, "r:gz") as tar:
            for member in tar:
                if member.isdir():
                    continue
                total += member.size
                if not member.isfile() or total > _MAX_COMPARED or member.name in contents:
                    return None
                contents[member.name] = tar.extractfile(member).read().removeprefix(b"\xef\xbb\xbf")
    except (tarfile.TarError, EOFError, OSError, ValueError):
        return None
    return contents


def same_chart_content(a: Path, b: Path) -> bool:
    """Whether two archives hold the same chart although their bytes differ: the same files
    with the same content, each chart's Chart.yaml compared as data (`helm package` rewrites
    Chart.yaml, chartgen keeps it as written). This is how an archive of an older chartgen
    (Helm's layout) is told from a changed chart. False when in doubt."""
    from chartgen.yamlio import load_data

    first, second = _contents(Path(a)), _contents(Path(b))
    if first is None or second is None or first.keys() != second.keys():
        return False
    for name, data in first.items():
        if data == second[name]:
            continue
        parts = name.split("/")
        is_chart_yaml = parts[-1] == "Chart.yaml" and (len(parts) == 2 or (len(parts) > 3 and parts[-3] == "charts"))
        try:
            if not is_chart_yaml or load_data(data, f"{a}!{name}") != load_data(second[name], f"{b}!{name}"):
                return False
        except ChartgenError:
            return False
    return True


def make_entry(info: ArchiveInfo, url: str, created: str) -> dict:
    """The index entry Helm would write for this archive."""
    entry = dict(info.metadata)
    entry.update(urls=[url], created=created, digest=info.digest)
    return dict(sorted(entry.items()))


def entry_url(base_url: str | None, file_name: str) -> str:
    if not base_url:
        return file_name
    return base_url.rstrip("/") + "/" + file_name
