"""Chart archives on disk: read and check `<name>-<version>.tgz`, and the index entry Helm
would write for one."""

from __future__ import annotations

import hashlib
import tarfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Mapping

from chartgen.errors import ChartgenError
from chartgen.repo.versions import parse_version


# Chart.yaml fields Helm copies into an index entry (chart.Metadata, all omitempty).
METADATA_FIELDS = ("name", "home", "sources", "version", "description", "keywords", "maintainers",
                   "icon", "apiVersion", "condition", "tags", "appVersion", "deprecated",
                   "annotations", "kubeVersion", "dependencies", "type")
_MAX_CHART_YAML = 1 << 20


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
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


def read_archive(path: Path) -> ArchiveInfo:
    """Read and check a chart archive: a gzip tar with one top folder `<name>/` holding
    `Chart.yaml`, named `<name>-<version>.tgz`. Every problem is a ChartgenError."""
    from chartgen.yamlio import load_data

    path = Path(path)
    chart_yaml = None
    top_dirs: set[str] = set()
    try:
        with tarfile.open(path, "r:gz") as tar:
            for member in tar:
                parts = PurePosixPath(member.name).parts
                if not parts or parts[0] in ("..", "/") or ".." in parts:
                    raise ChartgenError(f"unsafe path {member.name!r} in chart archive", path=path,
                                        code="archive-unsafe-path")
                top_dirs.add(parts[0])
                if len(parts) == 2 and parts[1] == "Chart.yaml" and member.isfile():
                    if member.size > _MAX_CHART_YAML:
                        raise ChartgenError("Chart.yaml in archive is too large", path=path, code="archive-invalid")
                    chart_yaml = (parts[0], tar.extractfile(member).read())
    except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
        raise ChartgenError(f"not a readable chart archive (gzip tar): {exc}", path=path,
                            code="archive-corrupt") from None
    if chart_yaml is None:
        raise ChartgenError("chart archive has no <name>/Chart.yaml", path=path, code="archive-invalid")
    if len(top_dirs) != 1:
        raise ChartgenError(f"chart archive must hold exactly one top folder, found {sorted(top_dirs)}",
                            path=path, code="archive-invalid")
    folder, text = chart_yaml
    metadata = load_data(text, f"{path}!{folder}/Chart.yaml")
    if not isinstance(metadata, dict):
        raise ChartgenError("Chart.yaml in archive is not a mapping", path=path, code="archive-invalid")
    name, version = str(metadata.get("name") or ""), str(metadata.get("version") or "")
    if not name or not version:
        raise ChartgenError("Chart.yaml in archive lacks name or version", path=path, code="archive-invalid")
    if parse_version(version) is None:
        raise ChartgenError(f"chart version {version!r} is not SemVer", path=path, code="archive-version")
    if folder != name:
        raise ChartgenError(f"archive folder {folder!r} does not match chart name {name!r}", path=path,
                            code="archive-name-mismatch")
    expected = f"{name}-{version}.tgz"
    if path.name != expected:
        raise ChartgenError(f"archive file name {path.name!r} does not match its chart "
                            f"{name!r} version {version!r} (expected {expected!r})", path=path,
                            code="archive-name-mismatch")
    kept = {k: metadata[k] for k in METADATA_FIELDS if metadata.get(k) not in (None, "", [], {}, False)}
    kept.setdefault("apiVersion", "v1")
    return ArchiveInfo(path, name, version, sha256_file(path), kept)


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
