"""The entries of a large index read lazily: one chart's block of the index text is parsed
only when that chart is asked for (see `chartgen.repo.reading` for how blocks are found)."""

from __future__ import annotations

import json
import re
from typing import Any, Callable, Iterator, Mapping

from chartgen.errors import ChartgenError


class LazyBlocks(Mapping):
    """Chart name -> versions, parsing a chart's block of the index text only when it is
    asked for. `fmt` is "yaml" (Helm's layout) or "json" (one version per line)."""

    def __init__(self, text: str, spans: dict[str, tuple[int, int]], path: str, fmt: str) -> None:
        self._text, self._spans, self._path, self.fmt = text, spans, path, fmt
        self._marker = "\n  - " if fmt == "yaml" else "\n      {"  # start of each version
        self._parsed: dict[str, tuple[dict, ...]] = {}
        self._digests: dict[str, dict[str, list[str]] | None] = {}   # see `digests_of`

    def _parse(self, name: str, start: int, end: int, truncated: bool = False) -> tuple[dict, ...]:
        if self.fmt == "yaml":
            return parse_yaml_block(self._text, start, end, name, self._path)
        return parse_json_block(self._text, start, end, name, self._path, truncated)

    def __getitem__(self, name: str) -> tuple[dict, ...]:
        if name not in self._parsed:
            start, end = self._spans[name]  # KeyError for unknown names, as a Mapping should
            self._parsed[name] = self._parse(name, start, end)
        return self._parsed[name]

    def once(self, name: str) -> tuple[dict, ...]:
        """The versions of `name`, not kept parsed (for a caller that reads each chart once:
        20,000 parsed entries kept alive make every garbage collection walk them)."""
        if name in self._parsed:
            return self._parsed[name]
        start, end = self._spans[name]
        return self._parse(name, start, end)

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

    def pick(self, name: str, choose: Callable[[list[str]], str | None]) -> dict | None:
        """The entry of `name` whose version `choose(versions)` names. A YAML block is not
        parsed for it: the versions are read off the entries' `version:` lines (Helm's layout
        puts every key of an entry at one indentation) and only the chosen entry is parsed."""
        if name in self._parsed or self.fmt != "yaml":
            return _chosen(self[name], choose)
        start, end = self._spans[name]
        cuts = [m.start() for m in _ENTRY.finditer(self._text, start, end)] + [end]
        found: dict[str, tuple[int, int]] = {}
        for first, last in zip(cuts, cuts[1:]):
            match = _VERSION_LINE.search(self._text, first, last)
            if match is None:                       # laid out otherwise: read the whole block
                return _chosen(self[name], choose)
            found.setdefault(match.group(1).strip("'\""), (first, last))
        chosen = choose(list(found))
        if chosen is None:
            return None
        first, last = found[chosen]
        text = f"\n  {json.dumps(name)}:{self._text[first:last]}"
        return parse_yaml_block(text, 0, len(text), name, self._path)[0]

    def digests_of(self, name: str, file_name: str) -> list[str] | None:
        """The digests of the versions of `name` with a URL ending in `/file_name` (or being
        it), read off their lines without parsing them (a JSON block holds one version a line,
        and an umbrella's lines are long: its dependencies); None when the block is not laid
        out so plainly (then ask for the versions)."""
        if name in self._parsed or self.fmt != "json" or '"' in file_name or "\\" in file_name:
            return None
        if name not in self._digests:
            self._digests[name] = self._digest_map(name)
        found = self._digests[name]
        return None if found is None else found.get(file_name, [])

    def _digest_map(self, name: str) -> dict[str, list[str]] | None:
        """Archive file name -> digests, over the lines of the block of `name` in one pass
        (an index of hundreds of umbrella versions is asked once per archive)."""
        start, end = self._spans[name]
        found: dict[str, list[str]] = {}
        versions = 0
        decoder = json.JSONDecoder()
        for line in self._text[start:end].split("\n"):
            if not line.lstrip().startswith("{"):
                continue
            versions += 1
            digests, urls = _DIGEST.findall(line), [m.end() for m in _URLS.finditer(line)]
            if len(digests) != 1 or len(urls) != 1:
                return None
            try:
                listed, _ = decoder.raw_decode(line, urls[0] - 1)
            except ValueError:
                return None
            if not isinstance(listed, list):
                return None
            for url in listed:
                if isinstance(url, str):
                    found.setdefault(url.rsplit("/", 1)[-1], []).append(digests[0])
        return found if versions == self.count(name) else None

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


_ENTRY = re.compile(r"\n  - ")
# A JSON string cannot hold an unescaped quote, so these are keys, not text inside a value.
_DIGEST = re.compile(r'"digest": "([0-9a-f]{64})"')
_URLS = re.compile(r'"urls": \[')
_VERSION_LINE = re.compile(r"\n  (?:- |  )version:[ \t]*([^\n#]*?)[ \t]*(?=\n|$)")


def _chosen(versions: tuple[dict, ...], choose) -> dict | None:
    wanted = choose([str(e.get("version")) for e in versions])
    return next((e for e in versions if str(e.get("version")) == wanted), None)


def check_versions(name: Any, versions: Any, path: str) -> tuple[dict, ...]:
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


def parse_json_block(text: str, start: int, end: int, name: str, path: str,
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
    return check_versions(name, data[name], path)


def parse_yaml_block(text: str, start: int, end: int, name: str, path: str) -> tuple[dict, ...]:
    import yaml

    from chartgen.yamlio import check_yaml

    try:
        check_yaml(text[start:end], path)
    except ChartgenError:  # again with the block's place in the file (counted only now: O(file) per block)
        check_yaml(text[start:end], path, line_offset=text.count("\n", 0, start))
        raise
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
    return check_versions(name, data[name], path)
