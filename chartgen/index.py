"""Helm repository index (`index.yaml`): read, add charts, write.

The index model follows Helm's `pkg/repo/v1/index.go`: `apiVersion: v1`, `entries`
(chart name -> versions, newest SemVer first), `generated`, optional `annotations` and
`publicKeys`. Entries are kept as plain dicts with the Chart.yaml metadata fields plus
`urls`, `created` and `digest` (SHA-256 of the archive), as Helm writes them.

Two rules make the published index trustworthy (pipelines.md §3-4):
- a (name, version) pair is never added twice and never silently changes digest:
  re-adding the same archive is a no-op that keeps `created`; different content for a
  published version is refused unless forced (published versions are immutable);
- updating the index never rewrites entries it did not touch.

Speed on large indexes (20,000 entries, ~8 MB): chartgen writes `index.yaml` *as JSON*
(Helm >= 3.13 detects and reads JSON directly; JSON is valid YAML for older readers),
one chart version per line so git diffs stay small. Either format is updated in place
without parsing the whole file: the text is split into per-chart blocks by a regex scan,
only the blocks of the charts being added are parsed and re-emitted, and every other
byte is kept. Anything irregular (anchors, other indentation, flow style) falls back to
a full parse. The price: a syntax error inside an untouched block is not noticed.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import re
import tarfile
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Any, Iterable, Iterator, Mapping

from chartgen.errors import WARNING, ChartgenError, Finding, UsageError
from chartgen.settings import PublishSettings

API_VERSION = "v1"
INDEX_NAME = "index.yaml"
FORMATS = ("auto", "json", "yaml")

# Chart.yaml fields Helm copies into an index entry (chart.Metadata, all omitempty).
METADATA_FIELDS = ("name", "home", "sources", "version", "description", "keywords", "maintainers",
                   "icon", "apiVersion", "condition", "tags", "appVersion", "deprecated",
                   "annotations", "kubeVersion", "dependencies", "type")
_MAX_CHART_YAML = 1 << 20


def now_rfc3339() -> str:
    """UTC time in Helm's RFC 3339 form (microseconds; Helm writes nanoseconds)."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ---------------------------------------------------------------------------------------
# Versions


@functools.lru_cache(maxsize=65536)
def parse_version(version: str):
    """SemVer of a chart version as Helm (Masterminds) reads it: optional `v`, optional
    minor/patch. None when it is not a version."""
    import semver

    text = str(version).strip()
    if text[:1] in ("v", "V"):
        text = text[1:]
    try:
        return semver.Version.parse(text, optional_minor_and_patch=True)
    except (ValueError, TypeError):
        return None


def _compare_newest_first(a: dict, b: dict) -> int:
    va, vb = str(a.get("version", "")), str(b.get("version", ""))
    pa, pb = parse_version(va), parse_version(vb)
    if pa is not None and pb is not None:
        order = pb.compare(pa)
        if order:
            return order
    elif pa is not None:
        return -1
    elif pb is not None:
        return 1
    # equal precedence (build metadata) or both unparsable: a fixed order by text
    return (va < vb) - (va > vb)


def sort_versions(entries: Iterable[dict]) -> list[dict]:
    """Newest SemVer first, unparsable versions last; deterministic for ties."""
    return sorted(entries, key=functools.cmp_to_key(_compare_newest_first))


def same_version(a: str, b: str) -> bool:
    """Helm's `IndexFile.Has`: exact text, or the same SemVer (`v1.2.3` == `1.2.3`)."""
    if a == b:
        return True
    pa, pb = parse_version(a), parse_version(b)
    return pa is not None and pb is not None and pa.compare(pb) == 0 and pa.build == pb.build


# ---------------------------------------------------------------------------------------
# Chart archives


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


def make_entry(info: ArchiveInfo, url: str, created: str) -> dict:
    """The index entry Helm would write for this archive."""
    entry = dict(info.metadata)
    entry.update(urls=[url], created=created, digest=info.digest)
    return dict(sorted(entry.items()))


def entry_url(base_url: str | None, file_name: str) -> str:
    if not base_url:
        return file_name
    return base_url.rstrip("/") + "/" + file_name


# ---------------------------------------------------------------------------------------
# The index model


class _LazyBlocks(Mapping):
    """Chart name -> versions, parsing a chart's block of the index text only when it is
    asked for. `fmt` is "yaml" (Helm's layout) or "json" (one version per line)."""

    def __init__(self, text: str, spans: dict[str, tuple[int, int]], path: str, fmt: str) -> None:
        self._text, self._spans, self._path, self.fmt = text, spans, path, fmt
        self._marker = "\n  - " if fmt == "yaml" else "\n      {"  # start of each version
        self._parsed: dict[str, tuple[dict, ...]] = {}

    def _parse(self, name: str, start: int, end: int, truncated: bool = False) -> tuple[dict, ...]:
        if self.fmt == "yaml":
            return _parse_yaml_block(self._text, start, end, name, self._path)
        return _parse_json_block(self._text, start, end, name, self._path, truncated)

    def __getitem__(self, name: str) -> tuple[dict, ...]:
        if name not in self._parsed:
            start, end = self._spans[name]  # KeyError for unknown names, as a Mapping should
            self._parsed[name] = self._parse(name, start, end)
        return self._parsed[name]

    def head(self, name: str, count: int) -> tuple[dict, ...]:
        """The first `count` versions, parsing only their part of the block."""
        if name in self._parsed:
            return self._parsed[name][:count]
        start, end = self._spans[name]
        cut = start
        for _ in range(count + 1):
            cut = self._text.find(self._marker, cut + 1, end)
            if cut < 0:
                return self[name][:count]
        return self._parse(name, start, cut + 1, truncated=True)[:count]

    def count(self, name: str) -> int:
        if name in self._parsed:
            return len(self._parsed[name])
        start, end = self._spans[name]
        return self._text.count(self._marker, start, end)

    def __iter__(self) -> Iterator[str]:
        return iter(self._spans)

    def __len__(self) -> int:
        return len(self._spans)

    def __contains__(self, name) -> bool:
        return name in self._spans


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

    def _blocks(self, name: str) -> "_LazyBlocks | None":
        """The lazily read blocks when `name` has not been parsed or changed yet."""
        entries = self.entries
        base = entries.base if isinstance(entries, _MergedEntries) else entries
        if isinstance(base, _LazyBlocks) and name not in self.changed and not _is_parsed(entries, name):
            return base
        return None

    def count(self, name: str) -> int:
        """Number of versions of `name` (unparsed blocks are counted, not parsed)."""
        blocks = self._blocks(name)
        return blocks.count(name) if blocks is not None else len(self.versions(name))

    def head(self, name: str, count: int) -> tuple[dict, ...]:
        """The newest `count` versions of `name` (reads only those from an unparsed block)."""
        blocks = self._blocks(name)
        return blocks.head(name, count) if blocks is not None else self.versions(name)[:count]

    def __len__(self) -> int:
        """Number of chart versions; unparsed blocks are counted, not parsed."""
        return sum(self.count(name) for name in self.entries)

    def with_versions(self, updates: Mapping[str, Iterable[dict]], generated: str) -> "IndexFile":
        """A new index where each chart in `updates` has exactly those versions (sorted)."""
        if isinstance(self.entries, _MergedEntries):  # keep the rest lazy
            entries = _MergedEntries(self.entries.base)
            entries.update(dict.items(self.entries))
        elif isinstance(self.entries, _LazyBlocks):
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

    def __init__(self, base: _LazyBlocks) -> None:
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
    if isinstance(entries, _LazyBlocks):
        return name in entries._parsed
    return True


def empty_index() -> IndexFile:
    return IndexFile(entries={}, generated="", source_format="")


# ---------------------------------------------------------------------------------------
# Reading


def load_index(path: Path | str) -> IndexFile:
    """Read an index file (JSON or YAML), or fetch one from an http(s) URL (a repository
    URL gets `/index.yaml` appended). A missing file is a ChartgenError."""
    if str(path).startswith(("http://", "https://")):
        return fetch_index(str(path))
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ChartgenError(f"cannot read index: {exc.strerror or exc}", path=path, code="index-unreadable") from None
    return parse_index(raw, str(path))


def fetch_index(url: str, *, timeout: float = 60.0) -> IndexFile:
    """The published index of a repository served over HTTP(S)."""
    import urllib.error
    import urllib.request

    from chartgen.errors import redact

    if not url.endswith((".yaml", ".yml", ".json")):
        url = url.rstrip("/") + "/" + INDEX_NAME
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            raw = response.read()
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return replace(empty_index(), path=redact(url))  # nothing published yet
        raise ChartgenError(f"cannot fetch the index: HTTP {exc.code}", path=redact(url),
                            code="index-unreadable") from None
    except (urllib.error.URLError, OSError) as exc:
        raise ChartgenError(f"cannot fetch the index: {getattr(exc, 'reason', exc)}", path=redact(url),
                            code="index-unreadable") from None
    return parse_index(raw, redact(url))


def parse_index(raw: bytes | str, path: str = INDEX_NAME) -> IndexFile:
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ChartgenError(f"index is not UTF-8 text (byte {exc.start}); is it really an index.yaml?",
                                path=path, code="index-syntax") from None
    else:
        text = raw
    text = text.lstrip("\ufeff")
    if text.lstrip()[:1] == "{":
        fast = _scan_json(text, path)
        if fast is not None:
            return fast
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            data = None  # `{...}` YAML flow mapping: let the YAML reader report it
        if data is not None:
            return _from_data(data, path, "json")
    fast = _scan_yaml(text, path)
    if fast is not None:
        return fast
    from chartgen.yamlio import load_data

    return _from_data(load_data(text, path), path, "yaml")


def _check_versions(name: Any, versions: Any, path: str) -> tuple[dict, ...]:
    if not isinstance(versions, list):
        raise ChartgenError(f"index entry {name!r} must be a list of chart versions", path=path,
                            code="index-invalid")
    checked = []
    for entry in versions:
        if not isinstance(entry, dict) or not entry.get("name") or not entry.get("version"):
            raise ChartgenError(f"index entry {name!r} holds a version without name/version: {entry!r:.80}",
                                path=path, code="index-invalid")
        checked.append(entry)
    return tuple(checked)


def _header(data: Any, path: str) -> tuple[str, str, dict]:
    if not isinstance(data, dict):
        raise ChartgenError("index is not a mapping (expected apiVersion, entries, generated)", path=path,
                            code="index-invalid")
    api_version = data.get("apiVersion")
    if not api_version:
        raise ChartgenError("index has no apiVersion (Helm refuses such an index)", path=path,
                            code="index-invalid")
    extra = {k: v for k, v in data.items() if k not in ("apiVersion", "entries", "generated") and v not in (None, {}, [])}
    return str(api_version), str(data.get("generated") or ""), extra


def _from_data(data: Any, path: str, fmt: str) -> IndexFile:
    api_version, generated, extra = _header(data, path)
    entries = data.get("entries")
    entries = {} if entries is None else entries
    if not isinstance(entries, dict):
        raise ChartgenError("index 'entries' must be a mapping of chart name to versions", path=path,
                            code="index-invalid")
    checked = {str(name): _check_versions(name, versions, path) for name, versions in entries.items()}
    return IndexFile(checked, generated, api_version, extra, path, fmt)


# A YAML index laid out as Helm (sigs.k8s.io/yaml) or PyYAML write it: top-level keys at
# column 0, chart names at two spaces under `entries:`, versions as an indentless list.
# Every pattern starts with a newline, so the regex engine jumps from line to line
# instead of trying each of the ~8 million positions of a large index.
_ENTRIES_LINE = re.compile(r"(?:^|\n)entries:[ \t]*\n")
_TOP_LEVEL = re.compile(r"\n(?=[^\s#])")
_CHART_KEY = re.compile(r"\n  (?=[^\s#-])([^\n]*)")
_ODD_INDENT = re.compile(r"\n(?: [^ \n]|  [^ \n#A-Za-z0-9_.'\"-]|  -[^ \n])")
_MULTI_DOCUMENT = re.compile(r"\n(?:---|\.\.\.)(?=\s|$)")
_ANCHOR_OR_ALIAS = re.compile(r"(?:^|[ \[{,])[&*][A-Za-z0-9_.-]", re.M)
_NAME_KEY = re.compile(r"""^([A-Za-z0-9_.][^:#'"\s]*|"[^"\\]+"|'[^']+'):[ \t]*$""")


def _scan_yaml(text: str, path: str) -> IndexFile | None:
    """Index the chart blocks of a regular YAML index without parsing them; None when
    the layout is not the regular one (the caller then parses everything)."""
    match = _ENTRIES_LINE.search(text)
    if match is None or _MULTI_DOCUMENT.search(text):
        return None
    if ("&" in text or "*" in text) and _ANCHOR_OR_ALIAS.search(text):
        return None  # anchors may tie blocks together: parse the whole file
    start = match.end() - 1  # at the newline that ends `entries:`
    end_match = _TOP_LEVEL.search(text, start)
    end = end_match.start() + 1 if end_match else len(text)
    if _ODD_INDENT.search(text, start, end - 1 if end < len(text) else end):
        return None
    spans: dict[str, tuple[int, int]] = {}
    keys = list(_CHART_KEY.finditer(text, start, end))
    before_first = text[start:keys[0].start()] if keys else text[start:end]
    if before_first.strip() and not all(line.strip().startswith("#") or not line.strip()
                                        for line in before_first.splitlines()):
        return None
    for i, key in enumerate(keys):
        name_match = _NAME_KEY.match(key.group(1))
        if name_match is None:
            return None
        name = name_match.group(1).strip("'\"")
        if name in spans:
            return None  # duplicate chart key: let the full parser decide
        block_end = keys[i + 1].start() + 1 if i + 1 < len(keys) else end
        spans[name] = (key.start() + 1, block_end)
    from chartgen.yamlio import load_data

    header = load_data(text[:match.start()] + "\n" + text[end:], path)
    if header is not None and "entries" in header:
        return None
    api_version, generated, extra = _header(header if header is not None else {}, path)
    return IndexFile(_LazyBlocks(text, spans, path, "yaml"), generated, api_version, extra, path, "yaml",
                     frozenset(), text, spans)


# A JSON index laid out as chartgen (or `helm repo index --json`) writes it: chart names at
# four spaces inside `"entries": {`, versions at six, the closing brace of entries at two.
_JSON_ENTRIES = re.compile(r'\n  "entries": \{')
_JSON_ENTRIES_END = re.compile(r"\n  \}")
_JSON_CHART_KEY = re.compile(r'\n    ("(?:[^"\\\n]|\\.)*"): \[')
_JSON_ODD_LINE = re.compile(r'\n(?!    "|      |    \])')
_JSON_GENERATED = re.compile(r'\n  "generated": "[^"\\\n]*"')


def _scan_json(text: str, path: str) -> IndexFile | None:
    """Like `_scan_yaml`, for a JSON index with one chart version per line."""
    match = _JSON_ENTRIES.search(text)
    if match is None:
        return None
    close = _JSON_ENTRIES_END.search(text, match.end())
    if close is None or _JSON_ODD_LINE.search(text, match.end(), close.start()):
        return None
    keys = list(_JSON_CHART_KEY.finditer(text, match.end(), close.start()))
    if not keys or keys[0].start() != match.end() or not _JSON_GENERATED.search(text, close.start()):
        return None
    try:
        header = json.loads(text[:match.end()] + text[close.start():])
        names = [json.loads(key.group(1)) for key in keys]
    except json.JSONDecodeError:
        return None
    spans: dict[str, tuple[int, int]] = {}
    for i, (key, name) in enumerate(zip(keys, names)):
        if name in spans:
            return None
        spans[name] = (key.start() + 1, keys[i + 1].start() if i + 1 < len(keys) else close.start())
    api_version, generated, extra = _header(header, path)
    return IndexFile(_LazyBlocks(text, spans, path, "json"), generated, api_version, extra, path, "json",
                     frozenset(), text, spans)


def _parse_json_block(text: str, start: int, end: int, name: str, path: str,
                      truncated: bool = False) -> tuple[dict, ...]:
    chunk = text[start:end].rstrip().rstrip(",")
    try:
        data = json.loads("{" + chunk + ("]" if truncated else "") + "}")
    except json.JSONDecodeError as exc:
        line = text.count("\n", 0, start) + exc.lineno
        raise ChartgenError(f"JSON syntax error in the entries of {name!r}: {exc.msg}", path=path,
                            line=line, code="index-syntax") from None
    if not isinstance(data, dict) or list(data) != [name]:
        raise ChartgenError(f"cannot read the entries of {name!r}", path=path,
                            line=text.count("\n", 0, start) + 1, code="index-invalid")
    return _check_versions(name, data[name], path)


def _parse_yaml_block(text: str, start: int, end: int, name: str, path: str) -> tuple[dict, ...]:
    import yaml

    try:
        data = yaml.load(text[start:end], Loader=yaml.CSafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = text.count("\n", 0, start) + (mark.line + 1 if mark else 1)
        raise ChartgenError(f"YAML syntax error in the entries of {name!r}: {getattr(exc, 'problem', exc)}",
                            path=path, line=line, code="index-syntax") from None
    if not isinstance(data, dict) or list(data) != [name]:
        raise ChartgenError(f"cannot read the entries of {name!r}", path=path,
                            line=text.count("\n", 0, start) + 1, code="index-invalid")
    return _check_versions(name, data[name], path)


# ---------------------------------------------------------------------------------------
# Writing


def _dump_entry(entry: dict) -> str:
    return json.dumps(entry, sort_keys=True, ensure_ascii=False, separators=(", ", ": "))


def _json_block(name: str, versions: Iterable[dict]) -> str:
    lines = ",".join("\n      " + _dump_entry(entry) for entry in versions)
    return "    " + json.dumps(name, ensure_ascii=False) + ": [" + (lines + "\n    ]" if lines else "]")


def _splice_json(index: IndexFile) -> str:
    """Re-emit only the changed chart blocks of a JSON index; new charts in name order."""
    text, spans = index._source_text, index._spans
    new_names = sorted(set(index.changed) - set(spans))
    region_start = min(start for start, _ in spans.values())
    region_end = max(end for _, end in spans.values())
    pieces: list[str] = []
    for name, (start, end) in spans.items():
        while new_names and new_names[0] < name:
            added = new_names.pop(0)
            pieces.append(_json_block(added, index.entries[added]))
        pieces.append(_json_block(name, index.entries[name]) if name in index.changed
                      else text[start:end].rstrip().rstrip(","))
    pieces.extend(_json_block(added, index.entries[added]) for added in new_names)
    tail = text[region_end:]
    if index.changed:
        generated = '\n  "generated": ' + json.dumps(index.generated)
        tail = _JSON_GENERATED.sub(lambda _: generated, tail, count=1)
    return text[:region_start] + ",\n".join(pieces) + tail


def dump_json_index(index: IndexFile) -> str:
    """The index as JSON, one chart version per line (sorted keys; stable bytes).
    An index read from such JSON keeps every untouched byte."""
    if index.source_format == "json" and index._spans:
        return _splice_json(index)
    out = io.StringIO()
    out.write('{\n  "apiVersion": ' + json.dumps(index.api_version) + ',\n  "entries": {')
    names = sorted(index.entries)
    for i, name in enumerate(names):
        out.write(("," if i else "") + "\n    " + json.dumps(name, ensure_ascii=False) + ": [")
        versions = index.entries[name]
        out.write(",".join("\n      " + _dump_entry(entry) for entry in versions))
        out.write("\n    ]" if versions else "]")
    out.write("\n  }" if names else "}")
    out.write(',\n  "generated": ' + json.dumps(index.generated))
    for key in sorted(index.extra):
        out.write(",\n  " + json.dumps(key) + ": " + json.dumps(index.extra[key], sort_keys=True, ensure_ascii=False))
    out.write("\n}\n")
    return out.getvalue()


def _yaml_block(name: str, versions: Iterable[dict]) -> str:
    from chartgen.yamlio import dump_yaml

    text = dump_yaml({"entries": {name: list(versions)}})
    return text.split("\n", 1)[1]  # drop "entries:"; the block is indented by two spaces


def dump_yaml_index(index: IndexFile) -> str:
    """The index as YAML. An index read from regular YAML keeps every untouched byte."""
    if index.source_format == "yaml" and index._spans:
        return _splice_yaml(index)
    from chartgen.yamlio import dump_yaml

    data: dict = {"apiVersion": index.api_version,
                  "entries": {name: list(index.entries[name]) for name in sorted(index.entries)},
                  "generated": index.generated}
    data.update(index.extra)
    return dump_yaml(data)


_GENERATED_LINE = re.compile(r"^generated:.*$", re.M)


def _splice_yaml(index: IndexFile) -> str:
    """Re-emit only the changed chart blocks; new charts go in name order."""
    text, spans = index._source_text, index._spans
    new_names = sorted(set(index.changed) - set(spans))
    if spans:
        region_start = min(start for start, _ in spans.values())
        region_end = max(end for _, end in spans.values())
    else:  # `entries:` with no charts yet
        region_start = region_end = _ENTRIES_LINE.search(text).end()  # charts go right after `entries:`
    pieces: list[str] = []
    for name, (start, end) in spans.items():
        while new_names and new_names[0] < name:
            added = new_names.pop(0)
            pieces.append(_yaml_block(added, index.entries[added]))
        pieces.append(_yaml_block(name, index.entries[name]) if name in index.changed else text[start:end])
    pieces.extend(_yaml_block(added, index.entries[added]) for added in new_names)
    head, tail = text[:region_start], text[region_end:]
    generated = "generated: " + json.dumps(index.generated)
    if not index.changed:
        pass  # untouched: keep the bytes, `generated` included
    elif _GENERATED_LINE.search(tail):
        tail = _GENERATED_LINE.sub(lambda _: generated, tail, count=1)
    elif _GENERATED_LINE.search(head):
        head = _GENERATED_LINE.sub(lambda _: generated, head, count=1)
    else:
        tail = tail + ("" if tail.endswith("\n") or not tail else "\n") + generated + "\n"
    return head + "".join(pieces) + tail


def resolve_format(index: IndexFile, fmt: str = "auto") -> str:
    """`auto` keeps the format the index was read in; a new index is JSON."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown index format {fmt!r} (choose from {', '.join(FORMATS)})", code="usage")
    if fmt == "auto":
        return index.source_format or "json"
    return fmt


def dump_index(index: IndexFile, fmt: str = "auto") -> str:
    return dump_json_index(index) if resolve_format(index, fmt) == "json" else dump_yaml_index(index)


# ---------------------------------------------------------------------------------------
# Adding archives


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


def add_archives(index: IndexFile, archives: Iterable[ArchiveInfo], base_url: str | None, *,
                 force: bool = False, now: str | None = None, where: str = "the index") -> Addition:
    """Add archives to an index, Helm-style, without duplicates.

    An archive whose (name, version) is present with the same digest keeps its entry
    (and `created`). A different digest is refused unless `force`, which replaces the
    entry. Nothing is changed when any archive is refused.
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
        for entry in index.entries[name]:
            urls = entry.get("urls") or []
            if any(str(url).rsplit("/", 1)[-1] == file_name for url in urls):
                digest = digest or sha256_file(path)
                if entry.get("digest") == digest:
                    return True
    return False


def write_repository_files(index: IndexFile, folder: Path, *, fmt: str = "auto", html: bool = True,
                           title: str = "Helm charts", base_url: str | None = None) -> list[Path]:
    """Write index.yaml (and index.html) into `folder` atomically; returns the paths."""
    from chartgen.fsutil import write_atomic

    written = []
    target = folder / INDEX_NAME
    write_atomic(target, dump_index(index, fmt))
    written.append(target)
    if html:
        page = folder / "index.html"
        write_atomic(page, render_html(index, title=title, base_url=base_url))
        written.append(page)
    return written


def render_html(index: IndexFile, *, title: str = "Helm charts", base_url: str | None = None,
                max_versions: int = 10) -> str:
    """A small static page: charts, versions, compatibility annotations, install commands."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("chartgen", "templates"),
                             autoescape=True, keep_trailing_newline=True)
    charts = []
    for name in sorted(index.entries):
        versions = list(index.head(name, max_versions))
        if not versions:
            continue
        latest = versions[0]
        charts.append({
            "name": name,
            "latest": latest,
            "versions": versions,
            "more": max(0, index.count(name) - max_versions),
            "annotations": dict(sorted((latest.get("annotations") or {}).items())),
        })
    return env.get_template("index.html.j2").render(
        title=title, charts=charts, base_url=base_url or "", generated=index.generated,
        repo_alias=_repo_alias(base_url))


def _repo_alias(base_url: str | None) -> str:
    if not base_url:
        return "charts"
    tail = base_url.rstrip("/").rsplit("/", 1)[-1]
    alias = re.sub(r"[^a-z0-9-]+", "-", tail.lower()).strip("-")
    return alias or "charts"


# ---------------------------------------------------------------------------------------
# `chartgen index DIR`


@dataclass(frozen=True)
class IndexResult:
    path: Path
    added: tuple[tuple[str, str], ...]
    unchanged: tuple[tuple[str, str], ...]
    replaced: tuple[tuple[str, str], ...]
    total: int
    format: str
    html: Path | None = None
    known: int = 0  # archives skipped because already indexed with the same digest
    duplicates: tuple[tuple[str, str, int], ...] = ()



def index_settings(settings: PublishSettings, *, fmt: str | None = None, html: bool | None = None) -> dict:
    """How the index is written, from chartgen.yaml `publish:` (`config.publish`) with
    command-line values on top: the keyword arguments of `update_index` (fmt, html, title).
    One place for every caller."""
    return {"fmt": fmt or settings.index_format,
            "html": settings.html if html is None else html,
            "title": settings.title}


def update_index(dist_dir: Path, base_url: str, *, merge: Path | None = None, force: bool = False,
                 fmt: str = "auto", html: bool = True, title: str = "Helm charts",
                 now: str | None = None) -> IndexResult:
    """Index the `*.tgz` archives of `dist_dir` into `dist_dir/index.yaml`.

    The existing index is `merge` if given, else `dist_dir/index.yaml` if present.
    Archives already indexed under their file name with the same digest are not
    opened; only new archives are read. Existing entries keep `created`.
    """
    dist_dir = Path(dist_dir)
    if not dist_dir.is_dir():
        raise UsageError(f"{dist_dir} is not a directory", path=dist_dir, code="usage")
    source = Path(merge) if merge else dist_dir / INDEX_NAME
    if merge and not source.is_file():
        raise UsageError(f"index to merge {source} does not exist", path=source, code="usage")
    index = load_index(source) if source.is_file() else empty_index()
    archives = sorted(p for p in dist_dir.glob("*.tgz") if p.is_file())
    fresh = [read_archive(p) for p in archives if not is_known_archive(index, p)]
    known = len(archives) - len(fresh)
    addition = add_archives(index, fresh, base_url, force=force, now=now, where=str(source))
    changed = bool(addition.added or addition.replaced)
    result = addition.index if changed else index  # nothing new: keep `generated` (a no-op)
    target = dist_dir / INDEX_NAME
    same_file = source.resolve() == target.resolve()
    if changed or not same_file or resolve_format(index, fmt) != (index.source_format or "json"):
        write_repository_files(result, dist_dir, fmt=fmt, html=html, title=title, base_url=base_url)
    elif html and not (dist_dir / "index.html").exists():
        from chartgen.fsutil import write_atomic

        write_atomic(dist_dir / "index.html", render_html(result, title=title, base_url=base_url))
    page = dist_dir / "index.html" if html else None
    return IndexResult(target, addition.added, addition.unchanged, addition.replaced, len(result),
                       resolve_format(result, fmt), page, known, addition.duplicates)
