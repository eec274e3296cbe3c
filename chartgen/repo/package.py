"""Reproducible chart archives with real Helm (helm-python-sdk).

Helm 4 writes each file's modification time into the tar headers (and a fixed gzip
header: mtime 0, no file name), so the same chart content packaged from two checkouts
would still differ. We package a temporary copy whose files all carry one fixed
timestamp (`ARCHIVE_EPOCH`), which makes the archive a function of the content alone:
same content, same bytes, same SHA-256 digest, on any machine with the same Helm.

A version that is already published (in a given index, or as an archive in the output
folder) with other content is refused: published versions are immutable.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, replace
from pathlib import Path

from chartgen.errors import ChartgenError
from chartgen.fsutil import MARKER, temp_directory
from chartgen.repo.archive import read_archive, sha256_file
from chartgen.repo.index import IndexFile, immutable_error

# 1980-01-01T00:00:00Z: a fixed, obviously synthetic time (the ZIP epoch); 0 would make
# some tools treat the time as unset.
ARCHIVE_EPOCH = 315532800
# Never copied into the archive: chartgen's own marker and VCS metadata.
_SKIP_NAMES = {MARKER, ".git", ".hg", ".svn"}


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


def _copy_normalised(chart_dir: Path, dest: Path) -> None:
    shutil.copytree(chart_dir, dest, symlinks=False,
                    ignore=lambda _dir, names: [n for n in names if n in _SKIP_NAMES])
    for root, dirs, files in os.walk(dest):
        for name in files + dirs:
            path = os.path.join(root, name)
            os.chmod(path, 0o755 if os.path.isdir(path) else 0o644)
            os.utime(path, (ARCHIVE_EPOCH, ARCHIVE_EPOCH))
    os.utime(dest, (ARCHIVE_EPOCH, ARCHIVE_EPOCH))


def _vendor_local_dependencies(chart_dir: Path, staged: Path, seen: tuple[Path, ...] = ()) -> None:
    """What `helm dependency build` does for `file://` dependencies, in the staged copy:
    each referenced chart folder goes into `charts/<name>/` (Chart.yaml stays untouched,
    so the archive does not depend on where the checkout is)."""
    from chartgen.repo.versions import parse_version
    from chartgen.yamlio import load_data

    chart_yaml = chart_dir / "Chart.yaml"
    metadata = load_data(chart_yaml.read_bytes(), str(chart_yaml)) or {}
    for dependency in metadata.get("dependencies") or []:
        if not isinstance(dependency, dict):
            continue
        repository, name = str(dependency.get("repository") or ""), str(dependency.get("name") or "")
        if not repository.startswith("file://") or not name:
            continue
        existing = staged / "charts"
        if (existing / name).is_dir() or list(existing.glob(f"{name}-*.tgz")):
            continue  # already vendored in the chart folder
        source = (chart_dir / repository[len("file://"):]).resolve()
        if source in seen or not (source / "Chart.yaml").is_file():
            raise ChartgenError(f"dependency {name!r}: {repository} is not a chart folder", path=chart_yaml,
                                code="package-dependency")
        sub_name, sub_version = read_chart_identity(source)
        wanted = str(dependency.get("version") or "")
        exact = parse_version(wanted)
        if sub_name != name or (exact is not None and wanted[:1].isdigit() and exact != parse_version(sub_version)):
            raise ChartgenError(f"dependency {name} {wanted} does not match {source} ({sub_name} {sub_version})",
                                path=chart_yaml, code="package-dependency")
        _copy_normalised(source, existing / name)
        _vendor_local_dependencies(source, existing / name, seen + (chart_dir.resolve(),))


def build_archive(chart_dir: Path, work_dir: Path) -> Path:
    """Package `chart_dir` with Helm into `work_dir`; returns the archive path."""
    import helm_python

    name, _version = read_chart_identity(chart_dir)
    staged = work_dir / "src" / name
    _copy_normalised(Path(chart_dir), staged)
    _vendor_local_dependencies(Path(chart_dir), staged)
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


def package_chart(chart_dir: Path, out_dir: Path, *, force: bool = False,
                  published: IndexFile | None = None) -> PackageResult:
    """Package one chart reproducibly into `out_dir/<name>-<version>.tgz`.

    Refuses (ChartgenError `version-immutable`) when `published` or an archive already
    in `out_dir` holds this name and version with a different digest, unless `force`.
    """
    chart_dir, out_dir = Path(chart_dir), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with temp_directory(".chartgen-package-", dir=out_dir) as tmp:
        built = build_archive(chart_dir, Path(tmp))
        info = read_archive(built)
        if published is not None and not force:
            digest = published.digest_of(info.name, info.version)
            if digest and digest != info.digest:
                raise immutable_error(replace(info, path=chart_dir), digest, published.path or "the published index")
        target = out_dir / built.name
        if target.exists():
            existing = sha256_file(target)
            if existing == info.digest:
                return PackageResult(info.name, info.version, target, info.digest, True)
            if not force:
                raise immutable_error(replace(info, path=chart_dir), existing, str(target))
        os.replace(built, target)
    return PackageResult(info.name, info.version, target, info.digest)


def find_charts(root: Path) -> list[Path]:
    """Chart folders directly under `root` (those holding a Chart.yaml), sorted; hidden ones
    (temporary folders of a run in progress) are not charts."""
    root = Path(root)
    if (root / "Chart.yaml").is_file():
        return [root]
    return sorted(p.parent for p in root.glob("*/Chart.yaml") if not p.parent.name.startswith("."))
