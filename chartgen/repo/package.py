"""Reproducible chart archives, written by chartgen itself.

`helm package` writes each file's modification time into the tar headers and stages a
whole chart in memory twice; chartgen writes the archive directly from the chart folder:
the files Helm would take (`.helmignore` honoured, `file://` dependencies vendored into
`charts/<name>/` as `helm dependency build` does), as a tar sorted by name whose members all
carry one fixed time (`ARCHIVE_EPOCH`), mode 0644 and no owner, gzip'd with a fixed header
(no time, no name; `chartgen.repo.tarball`). The archive is a function of the content alone:
same content, same bytes, same SHA-256 digest, on any machine (with the reference zlib, see
docs/performance.md). The chart is checked as `helm package` checks it first (Chart.yaml
metadata, values.yaml, values.schema.json, dependencies present), and Helm reads the result
like any archive.

A large umbrella chart is written one gzip member per sub-chart (`chartgen.repo.tarball`);
given a cache folder (`chartgen.repo.packcache`, the build's `.chartgen/package/`) the
members and checks of unchanged sub-charts are kept, and their files not read again: with
one workflow changed out of a thousand, only its sub-chart is read, checked and compressed.
The bytes are the same with or without the cache.

A version that is already published (in a given index, or as an archive in the output
folder) with other content is refused: published versions are immutable. An archive
written by an older chartgen with the same content is recognised as such and kept: one
written as a single gzip member (`_single_member`), or in Helm's layout (`_legacy_archive`).
"""

from __future__ import annotations

import gc
import hashlib
import os
import shutil
import stat
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping

from chartgen.errors import ChartgenError
from chartgen.fsutil import MARKER, sweep_leftovers, temp_directory, write_atomic
from chartgen.repo.archive import ArchiveInfo, remember_written, sha256_file
from chartgen.repo.chartcheck import chart_metadata, check_chart, failed
from chartgen.repo.helmignore import IgnoreRules
from chartgen.repo.index import IndexFile, immutable_error
from chartgen.repo.tarball import (ARCHIVE_EPOCH, END_BLOCKS, gzip_bytes, is_segmented, runs,
                                   sub_chart_of, tar_bytes, tar_entry)

__all__ = ["ARCHIVE_EPOCH", "PackageResult", "archive_bytes", "chart_files", "find_charts", "gzip_bytes",
           "package_chart", "read_chart_identity", "tar_bytes"]

# Never put into the archive: chartgen's own marker and VCS metadata.
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


# ------------------------------------------------------------------ the files Helm would take

def _check_no_loop(link: str, above: tuple[str, ...]) -> None:
    """Refuse a symbolic link to a folder that leads back to one of the folders `above` it
    (only a link can: a folder is not stat'ed unless a link leads to it)."""
    try:
        target = os.stat(link)
        for folder in above:
            status = os.stat(folder)
            if (status.st_dev, status.st_ino) == (target.st_dev, target.st_ino):
                raise failed(f"{link}: a symbolic link loops back to a folder above it", link)
    except OSError as exc:
        raise failed(f"cannot read {link}: {exc.strerror or exc}", link) from None


def _read(path: str, size: int) -> bytes:
    """The content of the file at `path`, `size` bytes long when it was stat'ed: one read
    when it still is (a short read of a regular file is its end), more when it grew."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        data = os.read(fd, size + 1)
        if len(data) <= size:
            return data
        chunks = [data]
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
    finally:
        os.close(fd)


class _Files(Mapping):
    """relative path -> content of the files going into the archive, each read when first
    asked for, so that a kept sub-chart's files are never read. `entries`: relative path ->
    (path on disk, os.stat_result, the sub-chart folder `charts/<name>/` holding it or None)
    as the walk found them."""

    def __init__(self) -> None:
        self.entries: dict[str, tuple[str, os.stat_result, str | None]] = {}
        self.read: dict[str, bytes] = {}
        # sub-chart folder -> (member id, bytes of its files): unchanged since the cache kept its
        # member (`PackageCache.kept_group`); its files are not in `entries`
        self.kept: dict[str, tuple[str, int]] = {}

    def __getitem__(self, rel: str) -> bytes:
        data = self.read.get(rel)
        if data is None:
            path, info, _group = self.entries[rel]
            try:
                data = self.read[rel] = _read(path, info.st_size)
            except OSError as exc:
                raise failed(f"cannot read {path}: {exc.strerror or exc}", path) from None
        return data

    def __contains__(self, rel) -> bool:
        return rel in self.entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)


def _walk(folder: str, prefix: str, rules: IgnoreRules, files: _Files, above: tuple[str, ...] = (),
          group: str | None = None, cache=None) -> None:
    """Add the files under `folder` as `prefix` + relative path, in Helm's way: symbolic links
    followed, ignored folders not entered, anything but regular files and folders refused.
    `above`: the folders walked into to get here; `group`: the sub-chart folder
    (`chartgen.repo.tarball.sub_chart_of`) `folder` lies in; `cache` (`PackageCache`): where
    the listings of sub-chart folders are kept."""
    status = None
    if cache is not None and group is not None:
        if prefix == group:
            kept = cache.kept_group(prefix)
            if kept is not None:
                files.kept[group] = kept
                return
        cache.walked.setdefault(group, []).append(prefix)
        try:
            status = os.stat(folder)
        except OSError as exc:
            raise failed(f"cannot read {folder}: {exc.strerror or exc}", folder) from None
        listing = cache.listing(prefix, status)
        if listing is not None and _walk_listed(folder, prefix, rules, files, above, group, cache, listing):
            return
    try:
        entries = list(os.scandir(folder))
    except OSError as exc:
        raise failed(f"cannot read {folder}: {exc.strerror or exc}", folder) from None
    above = above + (folder,)
    by_name = rules.by_name(prefix)       # (files, folders): whether a name is ignored here
    found = files.entries
    listed: list[str] | None = [] if status is not None else None
    for entry in entries:
        name = entry.name
        is_dir = entry.is_dir()
        if listed is not None:
            listed = None if entry.is_symlink() else listed
            if listed is not None:
                listed.append(name + "/" if is_dir else name)
        if name in _SKIP_NAMES:
            continue
        rel = prefix + name
        if not name.isascii():
            try:
                rel.encode("utf-8")
            except UnicodeEncodeError:
                raise failed(f"file name {name.encode('utf-8', 'surrogateescape')!r} is not UTF-8; "
                             "chart archives hold UTF-8 names only", entry.path) from None
        ignored = by_name[is_dir].get(name) if by_name is not None else None
        if ignored is None:
            ignored = rules.ignored(rel, is_dir)
        if ignored:
            continue
        if is_dir:
            if entry.is_symlink():
                _check_no_loop(entry.path, above)
            _walk(entry.path, rel + "/", rules, files, above, group if group is not None else sub_chart_of(rel + "/"),
                  cache)
        elif entry.is_file():
            try:
                found[rel] = (entry.path, entry.stat(), group)
            except OSError as exc:
                raise failed(f"cannot read {entry.path}: {exc.strerror or exc}", entry.path) from None
        elif entry.is_symlink() and not os.path.exists(entry.path):
            raise failed(f"{rel} is a broken symbolic link", entry.path)
        else:
            raise failed(f"{rel} is not a regular file (a device, pipe or socket); "
                         "Helm cannot package it", entry.path)
    if listed is not None:
        cache.learn_listing(prefix, status, listed)


def _walk_listed(folder: str, prefix: str, rules: IgnoreRules, files: _Files, above: tuple[str, ...],
                 group: str, cache, listing: list[str]) -> bool:
    """`_walk` of a sub-chart folder whose entries are known (`PackageCache.listing`): its
    files stat'ed by name. False, with nothing added, when one is not a regular file any more
    (the folder is listed then)."""
    by_name = rules.by_name(prefix)
    found, folders = [], []
    for token in listing:
        is_dir = token.endswith("/")
        name = token[:-1] if is_dir else token
        if name in _SKIP_NAMES:
            continue
        rel = prefix + name
        ignored = by_name[is_dir].get(name) if by_name is not None else None
        if ignored is None:
            ignored = rules.ignored(rel, is_dir)
        if ignored:
            continue
        path = f"{folder}/{name}"
        if is_dir:
            folders.append((path, rel + "/"))
            continue
        try:
            info = os.stat(path)
        except OSError:
            return False
        if not stat.S_ISREG(info.st_mode):
            return False
        found.append((rel, path, info))
    for rel, path, info in found:
        files.entries[rel] = (path, info, group)
    above = above + (folder,)
    for path, rel in folders:
        _walk(path, rel, rules, files, above, group, cache)
    return True


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
                               files: _Files, seen: tuple[Path, ...] = ()) -> None:
    """What `helm dependency build` does for `file://` dependencies: each referenced chart
    folder goes into `charts/<name>/` (Chart.yaml stays untouched, so the archive does not
    depend on where the checkout is)."""
    from chartgen.yamlio import load_data

    for name, source in _local_dependencies(folder, metadata, seen):
        where = f"{prefix}charts/{name}"
        if rules.ignored(f"{prefix}charts", True) or rules.ignored(where, True):
            continue  # .helmignore leaves it out: reported as missing below, as Helm does
        _walk(str(source), where + "/", rules, files, (), sub_chart_of(where + "/"))
        sub_metadata = load_data(files[f"{where}/Chart.yaml"], str(source / "Chart.yaml")) or {}
        _vendor_local_dependencies(source, where + "/", sub_metadata if isinstance(sub_metadata, dict) else {},
                                   rules, files, seen + (folder.resolve(),))


def _chart_walk(chart_dir: Path, cache=None) -> tuple[dict, _Files]:
    """(the fields of Chart.yaml packaging needs, the files going into the archive: not read
    yet, but Chart.yaml and those of `file://` dependencies). `cache`: see `_walk`."""
    if not (chart_dir / "Chart.yaml").is_file():
        raise ChartgenError(f"{chart_dir} is not a chart (no Chart.yaml)", path=chart_dir, code="chart-missing")
    rules = IgnoreRules.of_chart(chart_dir)
    if cache is not None:
        try:
            cache.ignore = hashlib.sha256((chart_dir / ".helmignore").read_bytes()).hexdigest()
        except OSError:
            cache.ignore = "none"
    files = _Files()
    _walk(str(chart_dir), "", rules, files, cache=cache)
    metadata = chart_metadata(files, "", chart_dir)
    _vendor_local_dependencies(chart_dir, "", metadata, rules, files)
    return metadata, files


def chart_files(chart_dir: Path) -> tuple[dict, dict[str, bytes]]:
    """(the fields of Chart.yaml packaging needs, relative path -> content) of what goes into
    the archive of the chart at `chart_dir`, checked as `helm package` checks it."""
    chart_dir = Path(chart_dir)
    metadata, files = _chart_walk(chart_dir)
    check_chart(files, "", chart_dir, metadata)
    return metadata, {rel: files[rel] for rel in files}


# ------------------------------------------------------------------ the archive

def _identify(files: _Files, cache) -> tuple[dict[str, int], dict[str, str]]:
    """(size, SHA-256) of every file; with a cache (`PackageCache`) the SHA-256 of the
    sub-charts' files (kept by size, time and inode) for their members' keys, the others
    read. Sizes are the lengths of the content the archive holds, so that whether it is cut
    into members depends on that content alone."""
    from chartgen.repo.packcache import files_key

    sizes: dict[str, int] = {}
    shas: dict[str, str] = {}
    known = cache.files if cache is not None else {}
    seen = cache.seen if cache is not None else {}
    for rel, (_path, info, group) in files.entries.items():
        if cache is None or group is None:
            sizes[rel] = len(files[rel])
            continue
        key = files_key(info)
        sha = known.get(key)
        if sha is None:
            data = files[rel]
            sha = hashlib.sha256(data).hexdigest()
            cache.learn(key, info, data, sha)
            sizes[rel] = len(data)
        else:
            seen[key] = sha
            sizes[rel] = info.st_size
        shas[rel] = sha
    return sizes, shas


def _members(top: str, chart_dir: Path, metadata: dict, files: _Files, sizes: dict[str, int],
             shas: dict[str, str], cache) -> bytes:
    """The archive as one gzip member per run (`chartgen.repo.tarball.runs`), the chart
    checked; with a cache, the members (and checks) of unchanged sub-charts are the kept ones."""
    from chartgen.repo.packcache import files_key, segment_id

    # A sub-chart kept whole is one unit, sorted where its folder sorts
    layout = runs({**{rel: entry[2] for rel, entry in files.entries.items()}, **{g: g for g in files.kept}})
    checked: dict[str, str] = {}
    kept: dict[str, tuple[str, bytes, int]] = {}     # group -> (chart name, member, uncompressed length)
    ids: dict[str, str] = {}
    if cache is not None:
        for group, rels in layout:
            if group is not None:
                ids[group] = files.kept[group][0] if group in files.kept else segment_id(top, rels, shas)
                hit = cache.member(ids[group])
                if hit is not None:
                    checked[group], kept[group] = hit[0], hit
                elif group in files.kept:
                    raise _Rewalk()
    check_chart(files, "", chart_dir, metadata, checked=checked,
                keys=[rel for rel, entry in files.entries.items() if entry[2] not in checked])
    segments = [b"".join([tar_entry(f"{top}/{rel}", files[rel]) for rel in rels])
                for group, rels in layout if group not in kept]
    made = iter(zip(_compress(segments), map(len, segments)))
    members: list[bytes] = []
    fresh: dict[str, tuple[str, bytes, int]] = {}
    for group, _rels in layout:
        if group in kept:
            members.append(kept[group][1])
            continue
        member, length = next(made)
        members.append(member)
        if group is not None:
            fresh[group] = (checked[group], member, length)
    members.append(gzip_bytes(END_BLOCKS))
    if cache is not None:
        walked: dict[str, tuple[str, list[tuple[str, str]], int]] = {}
        for rel, (_path, info, group) in files.entries.items():
            if group is not None:
                entry = walked.setdefault(group, (ids[group], [], 0))
                entry[1].append((rel, files_key(info)))
                walked[group] = (entry[0], entry[1], entry[2] + sizes[rel])
        cache.learn_groups(walked)
        cache.save({ids[g]: entry for g, entry in {**kept, **fresh}.items()}, {ids[g] for g in fresh})
    return b"".join(members)


# Compressing this many bytes or more: on several threads (zlib lets go of the interpreter lock).
_PARALLEL_FROM = 4 << 20


def _compress(segments: list[bytes]) -> list[bytes]:
    """`gzip_bytes` of each segment, in order."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    if cores < 2 or len(segments) < 2 or sum(map(len, segments)) < _PARALLEL_FROM:
        return [gzip_bytes(segment) for segment in segments]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(min(cores, 4)) as pool:
        return list(pool.map(gzip_bytes, segments))


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Python's cycle collector off for a while: packaging an umbrella allocates a few objects
    a file (an entry, its stat, its names) and makes no cycles, but every 700 allocations the
    collector runs, scanning now and then all a build holds (~15% of the umbrella's time)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def archive_bytes(chart_dir: Path, cache: Path | None = None) -> tuple[str, str, bytes]:
    """(name, version, archive bytes) of the chart at `chart_dir`; `cache`: a folder where
    the members of a large umbrella's sub-charts are kept between runs (`chartgen.repo.packcache`)."""
    name, version, data, _files, _sizes = _archive(Path(chart_dir), cache)
    return name, version, data


def _archive(chart_dir: Path, cache: Path | None) -> tuple[str, str, bytes, _Files, dict[str, int]]:
    """`archive_bytes`, with the files it holds and their sizes."""
    with _no_cycle_collection():
        return _archive_bytes(chart_dir, cache)


class _Rewalk(Exception):
    """A sub-chart kept whole (`PackageCache.kept_group`) is needed file by file after all."""


def _archive_bytes(chart_dir: Path, cache: Path | None) -> tuple[str, str, bytes, _Files, dict[str, int]]:
    shortcut = True
    while True:
        try:
            return _archive_once(chart_dir, cache, shortcut)
        except _Rewalk:
            shortcut = False


def _archive_once(chart_dir: Path, cache: Path | None, shortcut: bool) -> tuple[str, str, bytes, _Files, dict[str, int]]:
    store = None
    if cache is not None:
        from chartgen.repo.packcache import PackageCache

        store = PackageCache.open(Path(cache), chart_dir)
        store.shortcut = shortcut
    metadata, files = _chart_walk(chart_dir, store)
    name, version = str(metadata["name"]), str(metadata["version"])
    groups = ({entry[2] for entry in files.entries.values()} | set(files.kept)) - {None}
    if not groups:
        store = None
    sizes, shas = _identify(files, store)
    if not is_segmented(sum(sizes.values()) + sum(total for _id, total in files.kept.values()), groups):
        if files.kept:
            raise _Rewalk()
        check_chart(files, "", chart_dir, metadata)
        return name, version, gzip_bytes(tar_bytes(name, files)), files, sizes
    return name, version, _members(name, chart_dir, metadata, files, sizes, shas, store), files, sizes


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
                  published: IndexFile | None = None, cache: Path | None = None) -> PackageResult:
    """Package one chart reproducibly into `out_dir/<name>-<version>.tgz`.

    Refuses (ChartgenError `version-immutable`) when `published` or an archive already
    in `out_dir` holds this name and version with a different digest, unless `force`.
    An archive with the same digest is left as it is (`unchanged`), as is one an older
    chartgen wrote with the same content. `cache`: see `archive_bytes`.
    """
    chart_dir, out_dir = Path(chart_dir), Path(out_dir)
    name, version, data, files, sizes = _archive(chart_dir, cache)
    digest = hashlib.sha256(data).hexdigest()
    # Indexing it next need not read it back. Only its top folder's files: an index reads no
    # other, and every name a walk gives is safe (no empty, "." or ".." part).
    remember_written(digest, name, {rel: size for rel, size in sizes.items() if "/" not in rel}, files.__getitem__)
    info = ArchiveInfo(chart_dir, name, version, digest)
    ours = data
    makers = (lambda: _single_member(ours), lambda: _legacy_archive(chart_dir))
    layouts: list[tuple[str, bytes] | None] = []   # made in turn, only when a digest differs

    def older_layout(other: str) -> tuple[str, bytes] | None:
        """(digest, bytes) of this content as an older chartgen wrote it, if `other` is that digest."""
        for number, make in enumerate(makers):
            if len(layouts) == number:
                layouts.append(make())
            if layouts[number] is not None and layouts[number][0] == other:
                return layouts[number]
        return None

    if published is not None and not force:
        wanted = published.digest_of(name, version)
        if wanted and wanted != digest:
            older = older_layout(wanted)
            if older is None:
                raise immutable_error(info, wanted, published.path or "the published index")
            digest, data = older   # the published bytes: same content, an older layout
    out_dir.mkdir(parents=True, exist_ok=True)
    _sweep_once(out_dir)
    target = out_dir / f"{name}-{version}.tgz"
    if target.is_file():
        existing = sha256_file(target)
        if existing == digest or older_layout(existing):
            return PackageResult(name, version, target, existing, True)
        # (an archive of this content in today's layout, where the index holds an older
        # layout, is replaced by the published bytes)
        if existing != info.digest and not force:
            raise immutable_error(info, existing, str(target))
    write_atomic(target, data)
    return PackageResult(name, version, target, digest)


def _single_member(data: bytes) -> tuple[str, bytes] | None:
    """(digest, bytes) of the archive `data` (several gzip members) as one gzip member, as
    chartgen wrote every archive before it cut large umbrellas into members; None when `data`
    is one member already."""
    import gzip

    single = gzip_bytes(gzip.decompress(data))
    return None if single == data else (hashlib.sha256(single).hexdigest(), single)


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
