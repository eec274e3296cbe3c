"""Reading an index file (JSON or YAML, local or over HTTP) into an `IndexFile`.

Speed on large indexes (20,000 entries, ~8 MB): the text is split into per-chart blocks by a
regex scan and only the blocks asked for are parsed (`chartgen.repo.blocks`); anything
irregular (anchors, other indentation, flow style) falls back to a full parse. The price: a
syntax error inside an untouched block is not noticed.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from chartgen.errors import ChartgenError
from chartgen.repo.blocks import LazyBlocks, check_versions
from chartgen.repo.index import INDEX_NAME, IndexFile, empty_index


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
    checked = {str(name): check_versions(name, versions, path) for name, versions in entries.items()}
    return IndexFile(checked, generated, api_version, extra, path, fmt)


# A YAML index laid out as Helm (sigs.k8s.io/yaml) or PyYAML write it: top-level keys at
# column 0, chart names at two spaces under `entries:`, versions as an indentless list.
# Every pattern starts with a newline, so the regex engine jumps from line to line
# instead of trying each of the ~8 million positions of a large index.
ENTRIES_LINE = re.compile(r"(?:^|\n)entries:[ \t]*\n")
_TOP_LEVEL = re.compile(r"\n(?=[^\s#])")
_CHART_KEY = re.compile(r"\n  (?=[^\s#-])([^\n]*)")
_ODD_INDENT = re.compile(r"\n(?: [^ \n]|  [^ \n#A-Za-z0-9_.'\"-]|  -[^ \n])")
_MULTI_DOCUMENT = re.compile(r"\n(?:---|\.\.\.)(?=\s|$)")
_ANCHOR_OR_ALIAS = re.compile(r"(?:^|[ \[{,])[&*][A-Za-z0-9_.-]", re.M)
_NAME_KEY = re.compile(r"""^([A-Za-z0-9_.][^:#'"\s]*|"[^"\\]+"|'[^']+'):[ \t]*$""")


def _scan_yaml(text: str, path: str) -> IndexFile | None:
    """Index the chart blocks of a regular YAML index without parsing them; None when
    the layout is not the regular one (the caller then parses everything)."""
    match = ENTRIES_LINE.search(text)
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
    return IndexFile(LazyBlocks(text, spans, path, "yaml"), generated, api_version, extra, path, "yaml",
                     frozenset(), text, spans)


# A JSON index laid out as chartgen (or `helm repo index --json`) writes it: chart names at
# four spaces inside `"entries": {`, versions at six, the closing brace of entries at two.
_JSON_ENTRIES = re.compile(r'\n  "entries": \{')
_JSON_ENTRIES_END = re.compile(r"\n  \}")
_JSON_CHART_KEY = re.compile(r'\n    ("(?:[^"\\\n]|\\.)*"): \[')
_JSON_ODD_LINE = re.compile(r'\n(?!    "|      |    \])')
JSON_GENERATED = re.compile(r'\n  "generated": "[^"\\\n]*"')


def _scan_json(text: str, path: str) -> IndexFile | None:
    """Like `_scan_yaml`, for a JSON index with one chart version per line."""
    match = _JSON_ENTRIES.search(text)
    if match is None:
        return None
    close = _JSON_ENTRIES_END.search(text, match.end())
    if close is None or _JSON_ODD_LINE.search(text, match.end(), close.start()):
        return None
    keys = list(_JSON_CHART_KEY.finditer(text, match.end(), close.start()))
    if not keys or keys[0].start() != match.end() or not JSON_GENERATED.search(text, close.start()):
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
    return IndexFile(LazyBlocks(text, spans, path, "json"), generated, api_version, extra, path, "json",
                     frozenset(), text, spans)


def read_back(text: str, path: str, source: IndexFile, spans: dict[str, tuple[int, int]],
              new: frozenset) -> IndexFile | None:
    """What `parse_index(text)` gives for `text`, the index `source` written back with the
    blocks of the charts in `new` re-emitted (`spans`: where each chart's block now is),
    without scanning the whole text again: only the re-emitted blocks are checked as the
    scan checks them (the rest passed it when `source` was read). None when one of them is
    not as the scan wants it (then parse the text)."""
    fmt = source.source_format
    for name in new:
        start, end = spans[name]
        block = "\n" + text[start:end]
        if fmt == "yaml":
            if (not block.endswith("\n") or _ODD_INDENT.search(block) or _TOP_LEVEL.search(block, 0, len(block) - 1)
                    or _MULTI_DOCUMENT.search(block) or _ANCHOR_OR_ALIAS.search(block)):
                return None
            keys = list(_CHART_KEY.finditer(block))
            key = _NAME_KEY.match(keys[0].group(1)) if len(keys) == 1 and keys[0].start() == 0 else None
            if key is None or key.group(1).strip("'\"") != name:
                return None
        else:
            keys = list(_JSON_CHART_KEY.finditer(block))
            if (len(keys) != 1 or keys[0].start() != 0 or _JSON_ODD_LINE.search(block) or _JSON_ENTRIES_END.search(block)
                    or block.endswith("\n")):
                return None
            try:
                if json.loads(keys[0].group(1)) != name:
                    return None
            except json.JSONDecodeError:
                return None
    return IndexFile(LazyBlocks(text, spans, path, fmt), source.generated, source.api_version, dict(source.extra),
                     path, fmt, frozenset(), text, spans)
