"""Bounds on what chartgen reads, and the one function that reads input files within them.

Hostile input is ordinary input: a workflow folder may hold a FIFO, a symlink to
/dev/zero, a 5 GB file or a 600-byte YAML alias bomb. Every read of workflow content
goes through `read_file` (regular files only, at most `max_file_size` bytes, read with a
limit rather than trusting a size seen earlier), and every YAML document through
`chartgen.yamlio`, which bounds alias expansion with `max_yaml_alias_nodes` and
`max_yaml_alias_size`.

The limits come from chartgen.yaml `limits:` (see docs/limits.md). They are process-wide:
the CLI calls `configure(config)` once after loading the configuration; a library caller
that wants other values calls `configure(Limits(...))`.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from chartgen.errors import ChartgenError

KiB = 1024
MiB = 1024 * KiB

_SIZE = re.compile(r"^\s*([0-9]+)\s*(B|KB|KiB|MB|MiB|GB|GiB|)\s*$")
_UNITS = {"": 1, "B": 1, "KB": 1000, "KiB": KiB, "MB": 1000 ** 2, "MiB": MiB, "GB": 1000 ** 3, "GiB": 1024 ** 3}


def parse_size(value) -> int:
    """`10MiB`, `512 KiB`, `1MB`, `1048576` (or an int) -> bytes. Raises ValueError."""
    if isinstance(value, bool):
        raise ValueError(f"not a size: {value!r}")
    if isinstance(value, int):
        return value
    match = _SIZE.match(str(value))
    if not match:
        raise ValueError(f"not a size: {value!r} (use e.g. 10MiB, 512KiB or a number of bytes)")
    return int(match.group(1)) * _UNITS[match.group(2)]


@dataclass(frozen=True)
class Limits:
    """chartgen.yaml `limits:` (a section of chartgen.settings.Settings)."""

    # Bytes of one input file. The 1 MiB ConfigMap limit already bounds what can deploy;
    # this bounds what chartgen reads while finding that out (and the files it hashes).
    max_file_size: int = field(default=10 * MiB, metadata={"key": "maxFileSize", "convert": parse_size})
    # Nodes that YAML aliases add to a document when expanded (nested aliases counted each
    # time they are reached). Every alias adds at least one node, so this also bounds their count.
    max_yaml_alias_nodes: int = field(default=100_000, metadata={"key": "maxYamlAliasNodes"})
    # Characters of scalar text that YAML aliases add to a document when expanded.
    max_yaml_alias_size: int = field(default=1 * MiB, metadata={"key": "maxYamlAliasSize", "convert": parse_size})


DEFAULT = Limits()
_current = DEFAULT


def configure(value=None) -> Limits:
    """Make `value` (Limits, a Config, or None for the defaults) the process-wide limits."""
    global _current
    _current = value if isinstance(value, Limits) else (value.settings.limits if value is not None else DEFAULT)
    return _current


def current() -> Limits:
    return _current


def human_size(size: int) -> str:
    for unit, factor in (("GiB", 1024 ** 3), ("MiB", MiB), ("KiB", KiB)):
        if size >= factor and size % factor == 0:
            return f"{size // factor} {unit}"
    return f"{size:,} bytes"


# ----------------------------------------------------------------------------- reading

_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def _os_error(path, exc: OSError) -> ChartgenError:
    if exc.errno == errno.ELOOP:
        return ChartgenError("symlink loop (the symlink leads back to itself); remove or fix it",
                             path=path, code="symlink-loop")
    return ChartgenError(f"cannot read file: {exc.strerror or exc}", path=path, code="unreadable")


def _too_large(path, limit: int) -> ChartgenError:
    return ChartgenError(f"file is larger than {human_size(limit)} (chartgen.yaml limits.maxFileSize); "
                         "nothing that big can deploy (a ConfigMap holds at most 1 MiB): remove or shrink it",
                         path=path, code="file-too-large")


def read_file(path, *, limit: int | None = None, within: Path | str | None = None) -> bytes:
    """The bytes of a regular file, at most `limit` (default: limits.maxFileSize) of them.

    Raises ChartgenError with the path: `not-a-regular-file` (FIFO, device, socket,
    directory: never opened for reading, so nothing blocks), `file-too-large`,
    `symlink-loop`, `unreadable`, and with `within` `path-escape` when the path resolves
    outside that folder. The file is opened without following a symlink swapped in after
    the check (O_NOFOLLOW on the resolved path), and its type is checked again on the
    open descriptor.
    """
    limit = current().max_file_size if limit is None else limit
    target = os.fspath(path)
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)
    if within is not None:
        from chartgen.fsutil import is_inside

        if not is_inside(target, within):
            raise ChartgenError(f"symlink points outside {within}; refusing to read it", path=path,
                                code="path-escape")
        target, flags = os.path.realpath(target), flags | getattr(os, "O_NOFOLLOW", 0)
    try:
        info = os.stat(target)
        if not stat.S_ISREG(info.st_mode):
            raise ChartgenError(f"{_kind(info.st_mode)}, not a regular file; chartgen reads only regular files",
                                path=path, code="not-a-regular-file")
        if info.st_size > limit:
            raise _too_large(path, limit)
        fd = os.open(target, flags)
    except OSError as exc:
        raise _os_error(path, exc) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):  # swapped between the stat and the open
            raise ChartgenError(f"{_kind(info.st_mode)}, not a regular file; chartgen reads only regular files",
                                path=path, code="not-a-regular-file")
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(limit + 1 - size, 4 * MiB))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:  # grew since the stat
            raise _too_large(path, limit)
        return b"".join(chunks)
    except OSError as exc:
        raise _os_error(path, exc) from None
    finally:
        os.close(fd)
