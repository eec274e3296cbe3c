"""The members of a gzip'd tar archive, in order, as Python's `tarfile` reads them.

`tarfile` spends ~30 µs on each header: an umbrella chart of 1,000 workflows (23,000
members) takes 0.8 s to list. Archives as chartgen and Helm write them are plain: ustar
headers, regular files, folders and PAX `path` records. `members` reads those itself
(inflating in large chunks, checking each header as tarfile does) and hands anything else
to tarfile: the first header, record or byte it does not read exactly as tarfile would
(another member type, a GNU or global header, a base-256 number, a bad checksum, a name
that is not ASCII, a truncated or corrupt stream, ...) makes it start again with tarfile,
so every archive gives what tarfile gives, errors included.
"""

from __future__ import annotations

import re
import tarfile
import zlib
from pathlib import Path
from typing import Callable, Iterator

# (member name, is a regular file, size, the first bytes of its data that `want` asked for)
Member = tuple[str, bool, int, bytes]
# want(name, True, size): how many bytes of a regular file's data to read (0: none)
Want = Callable[[str, bool, int], int]

_BLOCK = 512
_ZERO = bytes(_BLOCK)
_CHUNK = 1 << 20
# A number field as tarfile reads it when it is plain octal (tarfile: cut at the first
# NUL, strip, int(..., 8)); spaces only around the digits.
_OCTAL = re.compile(rb" *([0-7]*) *")
_PAX_PATH = re.compile(rb"([0-9]{1,20}) path=")


class _Unusual(Exception):
    """Something the fast reader does not read itself: tarfile reads the archive."""


def members(path: Path, want: Want) -> Iterator[Member]:
    """The members of the gzip'd tar at `path` as tarfile lists them (its `name`, `isfile()`,
    `size`, and `extractfile(member).read(want(...))`), up to the end of the archive.
    Errors are tarfile's (TarError, EOFError, OSError, ValueError, zlib.error)."""
    done = 0
    try:
        for member in _plain_members(Path(path), want):
            yield member
            done += 1
    except _Unusual:
        yield from _tarfile_members(Path(path), want, skip=done)


def _tarfile_members(path: Path, want: Want, skip: int = 0) -> Iterator[Member]:
    with tarfile.open(path, "r:gz") as tar:
        for number, member in enumerate(tar):
            if number < skip:
                continue
            is_file = member.isfile()
            count = want(member.name, is_file, member.size) if is_file else 0
            yield member.name, is_file, member.size, tar.extractfile(member).read(count) if count else b""


class _Inflated:
    """The decompressed bytes of a gzip file, read forwards; `_Unusual` at any problem."""

    def __init__(self, handle) -> None:
        self._handle = handle
        self._inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)  # a gzip member, header checked
        self._buffer = b""
        self._pos = 0

    def _more(self) -> bytes:
        while True:
            inflater = self._inflater
            if inflater.eof:    # the next gzip member (chartgen cuts a large umbrella into members)
                rest = inflater.unused_data
                if len(rest) < 3:
                    rest += self._handle.read(_CHUNK)
                if rest[:3] != b"\x1f\x8b\x08":
                    raise _Unusual   # the end, padding or garbage: tarfile's gzip reader decides
                self._inflater = inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
                data = rest
            else:
                data = inflater.unconsumed_tail or self._handle.read(_CHUNK)
            if not data:
                raise _Unusual  # truncated
            try:
                out = inflater.decompress(data, _CHUNK)
            except zlib.error:
                raise _Unusual from None
            if out:
                return out

    def read(self, count: int) -> bytes:
        end = self._pos + count
        if end <= len(self._buffer):
            data = self._buffer[self._pos:end]
            self._pos = end
            return data
        parts = [self._buffer[self._pos:]]
        have = len(parts[0])
        while have < count:
            chunk = self._more()
            parts.append(chunk)
            have += len(chunk)
        joined = b"".join(parts)
        self._buffer, self._pos = joined, count
        return joined[:count]

    def skip(self, count: int) -> None:
        self._pos += count
        while self._pos > len(self._buffer):
            self._pos -= len(self._buffer)
            self._buffer = self._more()


def _number(field: bytes) -> int:
    match = _OCTAL.fullmatch(field.split(b"\0", 1)[0])
    if match is None:
        raise _Unusual  # base-256, or text tarfile reads its own way (or refuses)
    return int(match.group(1) or b"0", 8)


def _checksum(block: bytes) -> int:
    """The unsigned sum of a header's bytes with the checksum field as spaces. adler32's low
    half is 1 + the byte sum modulo 65521: exact for 256 bytes (at most 65,280)."""
    total = (zlib.adler32(block[:256]) & 0xFFFF) + (zlib.adler32(block[256:]) & 0xFFFF) - 2
    return total - sum(block[148:156]) + 8 * 32


_OTHER_NUMBERS = ((100, 108), (108, 116), (116, 124), (136, 148), (329, 337), (337, 345))  # mode uid gid mtime dev


def _header(block: bytes, checked: set) -> tuple[str, bytes, int]:
    """(name, type, size) of a header block, read as tarfile's TarInfo.frombuf reads it."""
    if _number(block[148:156]) != _checksum(block):
        raise _Unusual  # tarfile also accepts a signed sum; or it is corrupt
    numbers = block[100:124] + block[136:148] + block[329:345]  # tarfile refuses a header whose
    if numbers not in checked:           # numbers are not numbers; mostly the same in an archive
        for start, end in _OTHER_NUMBERS:
            _number(block[start:end])
        checked.add(numbers)
    raw_name, raw_prefix = block[:100].split(b"\0", 1)[0], block[345:500].split(b"\0", 1)[0]
    if not raw_name.isascii() or not raw_prefix.isascii():
        raise _Unusual
    kind = block[156:157]
    name = raw_name.decode("ascii")
    if kind == b"5":
        name = name.rstrip("/")
    elif kind not in (b"0", b"x") or name.endswith("/"):
        raise _Unusual  # links, devices, GNU and global headers, `\0` type, old-style folders
    if raw_prefix:
        if block[257:263] != b"ustar\x00":
            raise _Unusual  # GNU headers keep times there
        name = raw_prefix.decode("ascii") + "/" + name
    return name, kind, _number(block[124:136])


def _pax_path(data: bytes, size: int) -> str:
    """The path of a PAX extended header that holds exactly one `path` record."""
    match = _PAX_PATH.match(data)
    if match is None or int(match.group(1)) != size or data[size - 1:size] != b"\n" or b"hdrcharset" in data:
        raise _Unusual
    if any(data[size:]):
        raise _Unusual
    try:
        return data[match.end():size - 1].decode("utf-8").rstrip("/")
    except UnicodeDecodeError:
        raise _Unusual from None


def _blocks(size: int) -> int:
    return -(-size // _BLOCK) * _BLOCK


def _plain_members(path: Path, want: Want) -> Iterator[Member]:
    checked: set = set()
    with open(path, "rb") as handle:
        stream = _Inflated(handle)
        first = True
        while True:
            block = stream.read(_BLOCK)
            if block == _ZERO:
                if first:
                    raise _Unusual  # tarfile's view of an empty archive
                return
            name, kind, size = _header(block, checked)
            if kind == b"x":
                data = stream.read(_blocks(size))
                name = _pax_path(data, size)
                block = stream.read(_BLOCK)
                if block == _ZERO:
                    raise _Unusual
                _, kind, size = _header(block, checked)
                if kind == b"x":
                    raise _Unusual
            first = False
            is_file = kind == b"0"
            count = min(want(name, is_file, size), size) if is_file else 0
            data = stream.read(count) if count else b""
            if is_file:   # tarfile skips no data after a folder
                stream.skip(_blocks(size) - count)
            yield name, is_file, size, data
