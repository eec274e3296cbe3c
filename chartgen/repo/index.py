"""Helm repository index (`index.yaml`): the model, and adding archives to it.

The index model follows Helm's `pkg/repo/v1/index.go`: `apiVersion: v1`, `entries`
(chart name -> versions, newest SemVer first), `generated`, optional `annotations` and
`publicKeys`. Entries are kept as plain dicts with the Chart.yaml metadata fields plus
`urls`, `created` and `digest` (SHA-256 of the archive), as Helm writes them.

Two rules make the published index trustworthy (pipelines.md §3-4):
- a (name, version) pair is never added twice and never silently changes digest:
  re-adding the same archive is a no-op that keeps `created`; different content for a
  published version is refused unless forced (published versions are immutable);
- updating the index never rewrites entries it did not touch.

Reading and writing the file: `chartgen.repo.reading`, `chartgen.repo.writing`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Mapping

from chartgen.errors import WARNING, ChartgenError, Finding
from chartgen.repo.archive import ArchiveInfo, entry_url, make_entry, sha256_file
from chartgen.repo.blocks import LazyBlocks
from chartgen.repo.versions import parse_version, same_version, sort_versions


API_VERSION = "v1"
INDEX_NAME = "index.yaml"


def now_rfc3339() -> str:
    """UTC time in Helm's RFC 3339 form (microseconds; Helm writes nanoseconds)."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class IndexFile:
    """A repository index. `entries` maps chart name -> versions (newest first).

    `source_format` is "json" or "yaml" for an index read from disk; `changed` names the
    charts whose entries differ from the source (only those are re-emitted when the
    source was read incrementally).
    """

    entries: Mapping[str, tuple[dict, ...]] = field(default_factory=dict)
    generated: str = ""
    api_version: str = API_VERSION
    extra: Mapping[str, Any] = field(default_factory=dict)  # annotations, publicKeys, ...
    path: str = ""
    source_format: str = ""
    changed: frozenset = frozenset()
    _source_text: str = field(default="", repr=False, compare=False)
    _spans: Mapping[str, tuple[int, int]] = field(default_factory=dict, repr=False, compare=False)

    def names(self) -> list[str]:
        return sorted(self.entries)

    def versions(self, name: str) -> tuple[dict, ...]:
        return tuple(self.entries[name]) if name in self.entries else ()

    def get(self, name: str, version: str) -> dict | None:
        """The entry for (name, version), by Helm's rule (exact text, then SemVer)."""
        candidates = self.versions(name)
        for entry in candidates:
            if str(entry.get("version")) == version:
                return entry
        for entry in candidates:
            if same_version(str(entry.get("version")), version):
                return entry
        return None

    def digest_of(self, name: str, version: str) -> str | None:
        entry = self.get(name, version)
        return str(entry.get("digest") or "") if entry else None

    def _blocks(self, name: str) -> "LazyBlocks | None":
        """The lazily read blocks when `name` has not been parsed or changed yet."""
        entries = self.entries
        base = entries.base if isinstance(entries, _MergedEntries) else entries
        if isinstance(base, LazyBlocks) and name not in self.changed and not _is_parsed(entries, name):
            return base
        return None

    def versions_once(self, name: str) -> tuple[dict, ...]:
        """`versions(name)`, an unparsed block parsed without keeping it (LazyBlocks.once)."""
        blocks = self._blocks(name)
        return blocks.once(name) if blocks is not None else self.versions(name)

    def count(self, name: str) -> int:
        """Number of versions of `name` (unparsed blocks are counted, not parsed)."""
        blocks = self._blocks(name)
        return blocks.count(name) if blocks is not None else len(self.versions(name))

    def head(self, name: str, count: int) -> tuple[dict, ...]:
        """The newest `count` versions of `name` (reads only those from an unparsed block)."""
        blocks = self._blocks(name)
        return blocks.head(name, count) if blocks is not None else self.versions(name)[:count]

    def pick(self, name: str, choose) -> dict | None:
        """The entry of `name` whose version `choose(list of versions)` names; of an unparsed
        block only that entry is parsed (LazyBlocks.pick)."""
        blocks = self._blocks(name)
        if blocks is not None:
            return blocks.pick(name, choose)
        versions = self.versions(name)
        wanted = choose([str(e.get("version")) for e in versions])
        return next((e for e in versions if str(e.get("version")) == wanted), None)

    def __len__(self) -> int:
        """Number of chart versions; unparsed blocks are counted, not parsed."""
        return sum(self.count(name) for name in self.entries)

    def with_versions(self, updates: Mapping[str, Iterable[dict]], generated: str) -> "IndexFile":
        """A new index where each chart in `updates` has exactly those versions (sorted)."""
        if isinstance(self.entries, _MergedEntries):  # keep the rest lazy
            entries = _MergedEntries(self.entries.base)
            entries.update(dict.items(self.entries))
        elif isinstance(self.entries, LazyBlocks):
            entries = _MergedEntries(self.entries)
        else:
            entries = dict(self.entries)
        for name, versions in updates.items():
            entries[name] = tuple(sort_versions(versions))
        return replace(self, entries=entries, generated=generated,
                       changed=self.changed | frozenset(updates))


class _MergedEntries(dict):
    """Updated charts on top of lazily parsed blocks (a dict so it can be assigned)."""

    def values(self):
        return [self[name] for name in self]

    def __init__(self, base: LazyBlocks) -> None:
        super().__init__()
        self.base = base

    def __missing__(self, name):
        return self.base[name]

    def __contains__(self, name) -> bool:
        return dict.__contains__(self, name) or name in self.base

    def __iter__(self):
        seen = set(dict.keys(self))
        yield from dict.__iter__(self)
        yield from (name for name in self.base if name not in seen)

    def keys(self):
        return list(iter(self))

    def __len__(self) -> int:
        return len(set(dict.keys(self)) | set(self.base))

    def get(self, name, default=None):
        return self[name] if name in self else default

    def items(self):
        return [(name, self[name]) for name in self]


def _is_parsed(entries: Mapping, name: str) -> bool:
    if isinstance(entries, _MergedEntries):
        return dict.__contains__(entries, name) or name in entries.base._parsed
    if isinstance(entries, LazyBlocks):
        return name in entries._parsed
    return True


def empty_index() -> IndexFile:
    return IndexFile(entries={}, generated="", source_format="")


@dataclass(frozen=True)
class Addition:
    """What adding archives did: new entries, archives already present (same digest)."""

    index: IndexFile
    added: tuple[tuple[str, str], ...]
    unchanged: tuple[tuple[str, str], ...]
    replaced: tuple[tuple[str, str], ...]
    # (name, version, count) of versions listed more than once in the charts touched
    # (left by older tools such as chart-releaser; reported, never added by chartgen)
    duplicates: tuple[tuple[str, str, int], ...] = ()


def duplicate_versions(name: str, versions: Iterable[dict]) -> list[tuple[str, str, int]]:
    counts: dict[str, int] = {}
    for entry in versions:
        version = str(entry.get("version"))
        counts[version] = counts.get(version, 0) + 1
    return [(name, version, count) for version, count in sorted(counts.items()) if count > 1]


def duplicate_warnings(where: str, duplicates: Iterable[tuple[str, str, int]]) -> tuple[Finding, ...]:
    """One warning per version an older tool listed several times in the index at `where`."""
    return tuple(Finding(str(where), 0, 0, WARNING, f"{name} {version} is listed {count} times in the index "
                         "(left by an older tool); clients may pick any of them", "index-duplicate")
                 for name, version, count in duplicates)


def immutable_error(info: ArchiveInfo, published_digest: str, where: str) -> ChartgenError:
    return ChartgenError(
        f"{info.name} {info.version} is already published in {where} with digest "
        f"{published_digest[:19]}..., this archive has {info.digest[:19]}...; published versions are "
        "immutable: bump the chart version (or pass --force to replace it deliberately)",
        path=info.path, code="version-immutable")


def newest_version(versions: Iterable[dict]) -> str | None:
    """The highest SemVer version among index entries (unparsable ones left out), or None."""
    best = None
    for entry in versions:
        version = str(entry.get("version"))
        parsed = parse_version(version)
        if parsed is not None and (best is None or parsed.compare(best[0]) > 0):
            best = (parsed, version)
    return best[1] if best else None


def older_error(info: ArchiveInfo, newest: str, where: str) -> ChartgenError:
    return ChartgenError(
        f"{info.name} {info.version} is below {newest}, the newest version of {info.name} published in {where}: "
        "Helm installs and upgrades to the newest version, so nobody would get this one. Bump the chart "
        "version above it, or pass --allow-older to publish a maintenance release on purpose",
        path=info.path, code="version-older")


def add_archives(index: IndexFile, archives: Iterable[ArchiveInfo], base_url: str | None, *,
                 force: bool = False, now: str | None = None, where: str = "the index",
                 refuse_older: bool = False) -> Addition:
    """Add archives to an index, Helm-style, without duplicates.

    An archive whose (name, version) is present with the same digest keeps its entry
    (and `created`). A different digest is refused unless `force`, which replaces the
    entry. With `refuse_older` (publishing), a new version below the newest one already
    in the index is refused. Nothing is changed when any archive is refused.
    """
    now = now or now_rfc3339()
    added, unchanged, replaced = [], [], []
    updates: dict[str, list[dict]] = {}
    seen: dict[tuple[str, str], ArchiveInfo] = {}
    for info in sorted(archives, key=lambda a: (a.name, a.version, a.path.name)):
        key = (info.name, info.version)
        if key in seen:
            if seen[key].digest != info.digest:
                raise ChartgenError(f"two different archives for {info.name} {info.version}: "
                                    f"{seen[key].path} and {info.path}", path=info.path, code="version-duplicate")
            continue
        seen[key] = info
        versions = updates.get(info.name)
        if versions is None:
            versions = list(index.versions(info.name))
        existing = next((e for e in versions if str(e.get("version")) == info.version), None) or next(
            (e for e in versions if same_version(str(e.get("version")), info.version)), None)
        if existing is not None and existing.get("digest") == info.digest:
            unchanged.append(key)
            continue
        if existing is not None and not force:
            raise immutable_error(info, str(existing.get("digest") or "?"), where)
        if existing is None and refuse_older:
            newest = newest_version(index.versions(info.name))
            mine = parse_version(info.version)
            if newest is not None and mine is not None and parse_version(newest).compare(mine) > 0:
                raise older_error(info, newest, where)
        url = entry_url(base_url, info.file_name)
        entry = make_entry(info, url, now)
        if existing is not None:
            versions = [e for e in versions if e is not existing]
            replaced.append(key)
        else:
            added.append(key)
        versions.append(entry)
        updates[info.name] = versions
    if updates:
        index = index.with_versions(updates, now)
    touched = sorted({name for name, _ in added + unchanged + replaced})
    duplicates = [d for name in touched for d in duplicate_versions(name, index.versions(name))]
    return Addition(index, tuple(added), tuple(unchanged), tuple(replaced), tuple(duplicates))


def archive_name_candidates(file_name: str) -> list[str]:
    """Chart names a `<name>-<version>.tgz` file name can stand for (split at each `-`)."""
    stem = file_name[:-4] if file_name.endswith(".tgz") else file_name
    return [stem[:i] for i, char in enumerate(stem) if char == "-" and i > 0]


def is_known_archive(index: IndexFile, path: Path) -> bool:
    """True when `path` is already indexed under its file name with the same digest:
    then it need not be opened. Only the blocks of candidate chart names are read."""
    file_name = path.name
    digest = None
    for name in archive_name_candidates(file_name):
        if name not in index.entries:
            continue
        quick = getattr(index.entries, "digests_of", None)
        listed = quick(name, file_name) if quick is not None else None
        if listed is not None:
            if listed and sha256_file(path) in listed:
                return True
            continue
        for entry in index.entries[name]:
            urls = entry.get("urls") or []
            if any(str(url).rsplit("/", 1)[-1] == file_name for url in urls):
                digest = digest or sha256_file(path)
                if entry.get("digest") == digest:
                    return True
    return False
