""".helmignore as `helm package` reads it (Helm's pkg/ignore), so that chartgen's own
archive writer leaves out exactly the files Helm would.

A rule is a Go `filepath.Match` pattern (`*` and `?` never cross `/`, classes are `[...]`
or `[^...]`, `\\` escapes), one a line; blank lines and `#` comments are skipped, `**` is
refused. `/x` matches from the chart root, a pattern with a `/` matches the whole relative
path, one without matches the base name only; a trailing `/` restricts it to folders.
Rules are tried in order and the first match ignores; a `!` rule is Helm's quirk kept as is:
a path it does *not* match is ignored, one it matches goes on to the next rule.
Helm always adds `templates/.?*` (hidden files directly under templates/).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

from chartgen.errors import ChartgenError

HELMIGNORE = ".helmignore"
DEFAULT_RULES = ("templates/.?*",)
_MAX_REMEMBERED = 1 << 16


@dataclass(frozen=True)
class _Rule:
    pattern: str       # the Go pattern, without `!`, a leading or trailing `/`
    regex: re.Pattern
    negate: bool
    must_dir: bool
    base_only: bool


def _go_pattern(pattern: str) -> str:
    """A regular expression matching what Go's filepath.Match(pattern, name) matches; raises
    ValueError for a pattern Go calls malformed (ErrBadPattern)."""
    out, i, n = [], 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "\\":
            if i + 1 >= n:
                raise ValueError("trailing backslash")
            i += 1
            out.append(re.escape(pattern[i]))
        elif c == "[":
            i += 1
            negated = i < n and pattern[i] == "^"
            if negated:
                i += 1
            ranges = []
            first = True
            while True:
                if i >= n:
                    raise ValueError("unclosed character class")
                if pattern[i] == "]" and not first:
                    break
                first = False
                lo, i = _class_char(pattern, i)
                hi = lo
                if i < n and pattern[i] == "-":
                    hi, i = _class_char(pattern, i + 1)
                    if hi < lo:
                        raise ValueError("bad range")
                ranges.append(re.escape(lo) if lo == hi else f"{re.escape(lo)}-{re.escape(hi)}")
            out.append(("[^" if negated else "[") + "".join(ranges) + "]")
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


def _class_char(pattern: str, i: int) -> tuple[str, int]:
    if i >= len(pattern) or pattern[i] in "-]":
        raise ValueError("bad character class")
    if pattern[i] == "\\":
        i += 1
        if i >= len(pattern):
            raise ValueError("trailing backslash")
    return pattern[i], i + 1


class IgnoreRules:
    """The rules of one chart's .helmignore (plus Helm's default)."""

    def __init__(self, lines: list[str] | tuple[str, ...] = (), *, source: str = HELMIGNORE) -> None:
        self.rules: list[_Rule] = []
        for number, line in enumerate(list(lines) + list(DEFAULT_RULES), start=1):
            try:
                self._add(line)
            except ValueError as exc:
                raise ChartgenError(f"{source}: rule {line.strip()!r}: {exc}", path=source,
                                    line=number if number <= len(lines) else 0, code="package-failed") from None
        self.combined = self._combined()
        # Without `!` rules: the base-name rules' answer depends on the base name and whether
        # it is a folder alone, remembered (an umbrella repeats its sub-charts' file names a
        # thousand times); the path rules, each with the literal start a path needs to match.
        self._by_base: tuple[dict[str, bool], dict[str, bool]] = ({}, {})
        self._base = (_base_matcher(self.rules, False), _base_matcher(self.rules, True))
        self._path_rules = [(re.split(r"[*?\[\\]", rule.pattern, maxsplit=1)[0], rule.regex, rule.must_dir)
                            for rule in self.rules if not rule.base_only]

    @classmethod
    def of_chart(cls, chart_dir: Path) -> "IgnoreRules":
        path = Path(chart_dir) / HELMIGNORE
        try:
            text = path.read_bytes()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            text = b""
        try:
            return _parsed(text)
        except ChartgenError:
            return cls(text.decode("utf-8", errors="surrogateescape").splitlines(), source=str(path))

    def _add(self, rule: str) -> None:
        rule = rule.strip()
        if not rule or rule.startswith("#"):
            return
        if "**" in rule:
            raise ValueError("double-star (**) syntax is not supported")
        _go_pattern(rule)   # Helm checks the whole rule, `!` and `/` included
        negate = rule.startswith("!")
        if negate:
            rule = rule[1:]
        must_dir = rule.endswith("/")
        if must_dir:
            rule = rule[:-1]
        base_only = False
        if rule.startswith("/"):
            rule = rule[1:]
        elif "/" not in rule:
            base_only = True
        self.rules.append(_Rule(rule, re.compile(_go_pattern(rule) + r"\Z", re.S), negate, must_dir, base_only))

    def _combined(self) -> list[tuple[re.Pattern, bool, bool]] | None:
        """Without `!` rules the order does not matter: one regular expression per kind of
        rule (base name or path, folders only or not), tried at once. None with `!` rules."""
        if any(rule.negate for rule in self.rules):
            return None
        groups: dict[tuple[bool, bool], list[str]] = {}
        for rule in self.rules:
            groups.setdefault((rule.base_only, rule.must_dir), []).append(f"(?:{rule.regex.pattern})")
        return [(re.compile("|".join(patterns), re.S), base_only, must_dir)
                for (base_only, must_dir), patterns in groups.items()]

    def by_name(self, folder: str) -> tuple[dict[str, bool], dict[str, bool]] | None:
        """For the entries of `folder` (a relative path ending in `/`, or "" for the chart's
        own), when their base names alone decide (no `!` rule, no path rule that can match
        under `folder`): the answers remembered by base name, (files, folders). A name not
        in them yet is asked of `ignored`, which adds it. None when the path decides."""
        if self.combined is None:
            return None
        for start, _regex, _must_dir in self._path_rules:
            if start.startswith(folder) or folder.startswith(start):
                return None
        return self._by_base[False], self._by_base[True]

    def ignored(self, path: str, is_dir: bool) -> bool:
        """Whether Helm leaves out `path` (relative to the chart root, `/`-separated)."""
        if path in ("", ".", "./"):
            return False
        base = path[path.rfind("/") + 1:]
        if self.combined is not None:
            remembered = self._by_base[is_dir]
            known = remembered.get(base)
            if known is None:
                if len(remembered) > _MAX_REMEMBERED:
                    remembered.clear()
                exact, suffixes, others = self._base[is_dir]
                known = remembered[base] = base in exact or base.endswith(suffixes) or any(
                    regex.match(base) for regex in others)
            if known:
                return True
            for start, regex, must_dir in self._path_rules:
                if path.startswith(start) and (is_dir or not must_dir) and regex.match(path):
                    return True
            return False
        for rule in self.rules:
            subject = base if rule.base_only else path
            if rule.negate:
                if rule.must_dir and not is_dir:
                    return True
                if not rule.regex.match(subject):
                    return True
                continue
            if rule.must_dir and not is_dir:
                continue
            if rule.regex.match(subject):
                return True
        return False


_WILD = re.compile(r"[*?\[\\]")


def _base_matcher(rules: list[_Rule], is_dir: bool) -> tuple[frozenset[str], tuple[str, ...], tuple[re.Pattern, ...]]:
    """The base-name rules (without `!`) that apply to a folder (`is_dir`) or a file, as
    (names matched exactly, `*`-prefixed literal endings, the other rules' expressions): most
    rules are one of the first two kinds (`.git`, `*.swp`), tried without a regular expression."""
    exact, endings, others = set(), [], []
    for rule in rules:
        if not rule.base_only or rule.negate or (rule.must_dir and not is_dir):
            continue
        if not _WILD.search(rule.pattern):
            exact.add(rule.pattern)
        elif rule.pattern.startswith("*") and not _WILD.search(rule.pattern[1:]):
            endings.append(rule.pattern[1:])
        else:
            others.append(rule.regex)
    return frozenset(exact), tuple(endings), tuple(others)


@functools.lru_cache(maxsize=64)
def _parsed(text: bytes) -> IgnoreRules:
    """Charts written by chartgen share one .helmignore: each text is parsed once (a wrong one
    is parsed again by the caller, for an error naming its file)."""
    return IgnoreRules(text.decode("utf-8", errors="surrogateescape").splitlines())
