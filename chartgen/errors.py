"""One error family for everything a user can act on.

Every problem chartgen reports is a `Finding` (path, line, column, severity, message,
code). A `ChartgenError` carries one or more findings; the CLI prints each as
``path:line:col: error: message [code]`` and exits 1 (bad input) or 2 (bad usage).
Secrets registered with `register_secret` are scrubbed from every message.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Iterable

ERROR = "error"
WARNING = "warning"

# Values that must never be printed. Filled from the environment on first use and by
# code that handles credentials (git tokens, registry passwords, secret.properties).
_SECRETS: set[str] = set()
_SECRET_ENV = ("GITHUB_TOKEN", "GH_TOKEN", "CHARTGEN_TOKEN", "REGISTRY_PASSWORD",
               "CHARTGEN_REGISTRY_PASSWORD", "HELM_REPO_TOKEN", "CHARTGEN_SIGNING_KEY",
               "CHARTGEN_SIGNING_PASSPHRASE")


def register_secret(value: str | None) -> None:
    """Remember a value that must be redacted from any output."""
    if value and len(value) >= 4:
        _SECRETS.add(value)


def _current_secrets() -> list[str]:
    # The environment is read on every call: a token exported later must still be hidden.
    found = set(_SECRETS)
    for name in _SECRET_ENV:
        value = os.environ.get(name)
        if value and len(value) >= 4:
            found.add(value)
    # Findings hold their text escaped (see `printable`): a multi-line secret must match there too.
    found.update([printable(value) for value in found if _UNPRINTABLE.search(value)])
    return sorted(found, key=len, reverse=True)


# Characters that must never reach a terminal or a CI log raw: C0 and C1 controls (newlines,
# ESC of ANSI sequences, DEL), Unicode line and paragraph separators, zero-width and
# bidirectional formatting characters, the BOM, and lone surrogates (undecodable bytes of a
# file name, as Python's surrogateescape keeps them).
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff"
                          "\ud800-\udfff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_char(match: re.Match) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:   # an undecodable byte of a file name: show the byte
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """`text` on one line with every control character escaped visibly (`\\n`, `\\x1b`,
    `\\u2028`; an undecodable file-name byte as `\\xff`). Backslashes are kept as they are."""
    text = text if isinstance(text, str) else os.fspath(text) if isinstance(text, os.PathLike) else str(text)
    return _UNPRINTABLE.sub(_escape_char, text) if _UNPRINTABLE.search(text) else text


def is_printable(text: str) -> bool:
    return not _UNPRINTABLE.search(text)


def did_you_mean(word: str, candidates) -> str:
    """`did you mean 'mta'?` naming the `candidates` close to `word`, or `` when none is: the
    hint of an "unknown name" message."""
    from difflib import get_close_matches

    close = sorted(get_close_matches(word, sorted(set(candidates)), n=3))
    if not close:
        return ""
    return "did you mean " + ("" if len(close) == 1 else "one of ") + ", ".join(repr(c) for c in close) + "?"


_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s:]+(?::[^/@\s]*)?@")


_pattern_cache: dict[tuple[str, ...], re.Pattern] = {}


def _secret_pattern(secrets: list[str]) -> re.Pattern:
    key = tuple(secrets)
    pattern = _pattern_cache.get(key)
    if pattern is None:
        # Whole-token matches only: a secret value such as "default" must not blank out
        # "defaultCondition" in an unrelated message.
        alternatives = "|".join(re.escape(s) for s in secrets)
        pattern = re.compile(rf"(?<![A-Za-z0-9_])(?:{alternatives})(?![A-Za-z0-9_])")
        _pattern_cache.clear()
        _pattern_cache[key] = pattern
    return pattern


def redact(text: str) -> str:
    """Remove registered secrets and credentials embedded in URLs from `text`."""
    secrets = _current_secrets()
    if secrets:
        text = _secret_pattern(secrets).sub("***", text)
    return _URL_CREDENTIALS.sub(lambda m: m.group("scheme") + "***@", text)


@dataclass(frozen=True, order=True)
class Finding:
    """One problem at one place. line/column are 1-based; 0 means unknown."""

    path: str
    line: int = 0
    column: int = 0
    severity: str = ERROR
    message: str = ""
    code: str = "error"

    def __post_init__(self) -> None:
        # Single-line from birth: a state name or a file name with a newline (or an ANSI
        # escape, or `::error::` on a line of its own) can never start a line of output,
        # whichever way the finding is printed (text, JSON, CI annotation, build report).
        for name in ("path", "message"):
            value = getattr(self, name)
            if not isinstance(value, str) or _UNPRINTABLE.search(value):
                object.__setattr__(self, name, printable(value))

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    def format(self) -> str:
        where = redact(self.path) or "chartgen"  # no file involved (a bad option value)
        if self.line:
            where += f":{self.line}:{self.column or 1}"
        return f"{where}: {self.severity}: {redact(self.message)} [{self.code}]"

    def to_dict(self) -> dict:
        return {"path": redact(self.path), "line": self.line, "column": self.column,
                "severity": self.severity, "message": redact(self.message), "code": self.code}


class ChartgenError(Exception):
    """Bad input: carries the findings that explain it. Exit code 1."""

    exit_code = 1

    def __init__(self, message: str = "", *, path: str | os.PathLike | None = None,
                 line: int = 0, column: int = 0, code: str = "error",
                 findings: Iterable[Finding] = ()) -> None:
        found = list(findings)
        if message:
            found.insert(0, Finding(str(path or ""), line, column, ERROR, message, code))
        self.findings: tuple[Finding, ...] = tuple(found)
        super().__init__(printable(redact(message or (found[0].message if found else "chartgen error"))))

    @property
    def code(self) -> str:
        return self.findings[0].code if self.findings else "error"

    def format(self) -> str:
        return "\n".join(f.format() for f in self.findings) or f"error: {self}"


class UsageError(ChartgenError):
    """The command line or configuration is wrong. Exit code 2."""

    exit_code = 2


@dataclass
class FindingList:
    """Mutable collector used while checking; turned into a tuple at the end."""

    items: list[Finding] = field(default_factory=list)

    def add(self, path, line=0, column=0, message="", code="error", severity=ERROR) -> None:
        self.items.append(Finding(str(path), line, column, severity, message, code))

    def error(self, path, where: tuple[int, int], message: str, code: str) -> None:
        self.add(path, where[0], where[1], message, code, ERROR)

    def warning(self, path, where: tuple[int, int], message: str, code: str) -> None:
        self.add(path, where[0], where[1], message, code, WARNING)

    def extend(self, findings: Iterable[Finding]) -> None:
        self.items.extend(findings)

    @property
    def has_errors(self) -> bool:
        return any(f.is_error for f in self.items)

    def sorted(self) -> tuple[Finding, ...]:
        return tuple(sorted(set(self.items), key=lambda f: (f.path, f.line, f.column, f.code, f.message)))
