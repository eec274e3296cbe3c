"""The bytes of a chart archive: a tar of the chart's files sorted by name, gzip'd.

Every member carries one fixed time (`ARCHIVE_EPOCH`), mode 0644 and no owner; the gzip header
is fixed too (no time, no name, OS unknown), so the archive is a function of the content alone.

A large chart with embedded sub-charts (an umbrella of hundreds of workflows) is written as a
multi-member gzip (RFC 1952 2.2: members concatenated; Go's compress/gzip, which Helm uses,
Python's gzip and tarfile, and GNU gzip read them as one stream): the sorted tar is cut into
runs, each run of files of one sub-chart folder `charts/<name>/` one member, each run of other
files one member, and the two end-of-archive blocks a member of their own. Each member depends
only on its own files, so a sub-chart that did not change keeps its compressed bytes
(`chartgen.repo.packcache`) and only the changed one is compressed again. Whether a chart is
cut (`SEGMENTED_FROM`) is a function of its content too: same content, same bytes.
"""

from __future__ import annotations

import struct
import zlib
from typing import Iterable, Mapping

# 1980-01-01T00:00:00Z: a fixed, obviously synthetic time (the ZIP epoch); 0 would make
# some tools treat the time as unset.
ARCHIVE_EPOCH = 315532800
# zlib's default level: within 1% of level 9's size at half its time.
GZIP_LEVEL = 6
# gzip header: deflate, no flags, mtime 0, no extra flags, OS "unknown" (fixed, unlike the
# OS byte zlib's own gzip wrapper writes).
GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
END_BLOCKS = b"\x00" * 1024
# A chart whose files hold this many bytes or more, and that embeds sub-chart folders, is
# written one gzip member per run (see the module's text); below, one member as always (its
# compression takes a few milliseconds: nothing to keep). Charts without sub-chart folders
# (every workflow chart) are never cut.
SEGMENTED_FROM = 1 << 20


def _header_template() -> tuple[bytes, int]:
    """A ustar header with every field but the name, size, kind and checksum filled in (mode
    0644, owner 0 with no names, ARCHIVE_EPOCH), and the sum of its bytes with the checksum
    field as spaces."""
    header = bytearray(512)
    header[100:124] = b"0000644\x000000000\x000000000\x00"
    header[136:148] = b"%011o\x00" % ARCHIVE_EPOCH
    header[148:156] = b"        "
    header[257:265] = b"ustar\x0000"
    header[329:345] = b"0000000\x000000000\x00"
    return bytes(header), sum(header)


_TEMPLATE, _TEMPLATE_SUM = _header_template()


def _tar_header(name: bytes, size: int, kind: bytes = b"0") -> bytes:
    """One ustar header: mode 0644, owner 0 with no names, ARCHIVE_EPOCH."""
    header = bytearray(_TEMPLATE)
    header[0:len(name)] = name
    size_field = b"%011o\x00" % size
    header[124:136] = size_field
    header[156:157] = kind
    header[148:156] = b"%06o\x00 " % (_TEMPLATE_SUM + sum(name) + sum(size_field) + kind[0])
    return bytes(header)


def _pax_record(key: str, value: bytes) -> bytes:
    body = b" " + key.encode("ascii") + b"=" + value + b"\n"
    length = len(body) + 1
    while len(b"%d" % length) + len(body) != length:
        length += 1
    return b"%d" % length + body


def _needs_pax(name: str, encoded: bytes) -> bool:
    return len(encoded) > 100 or not name.isascii()


def tar_entry(name: str, data: bytes) -> bytes:
    """One file's part of the tar: header (after a PAX `path` record when the name is longer
    than ustar's 100 bytes or not ASCII, as Python's tarfile and Go's archive/tar write it),
    content, padding to whole 512-byte blocks."""
    encoded = name.encode("utf-8")
    out = []
    if _needs_pax(name, encoded):
        record = _pax_record("path", encoded)
        out.append(_tar_header(b"././@PaxHeader", len(record), b"x"))
        out.append(record + b"\x00" * (-len(record) % 512))
        encoded = name.encode("ascii", "replace")[:100]
    out.append(_tar_header(encoded, len(data)))
    out.append(data)
    out.append(b"\x00" * (-len(data) % 512))
    return b"".join(out)


def tar_bytes(top: str, files: Mapping[str, bytes]) -> bytes:
    """The uncompressed tar of `files` under `top/`, sorted by name."""
    return b"".join([tar_entry(f"{top}/{rel}", files[rel]) for rel in sorted(files)] + [END_BLOCKS])


def gzip_bytes(raw: bytes) -> bytes:
    """`raw` gzip'd (one member) with a fixed header (no time, no name, OS unknown)."""
    compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS, 8, zlib.Z_DEFAULT_STRATEGY)
    body = compressor.compress(raw) + compressor.flush()
    return GZIP_HEADER + body + struct.pack("<II", zlib.crc32(raw), len(raw) & 0xFFFFFFFF)


def looks_like_member(data: bytes, length: int) -> bool:
    """Whether `data` can be chartgen's gzip member of `length` uncompressed bytes (a kept
    member is checked before use: its header and the length in its trailer)."""
    return (len(data) >= 18 and data.startswith(GZIP_HEADER)
            and int.from_bytes(data[-4:], "little") == length & 0xFFFFFFFF)


# ------------------------------------------------------------------ members

def sub_chart_of(rel: str) -> str | None:
    """`charts/<name>/` when `rel` (a path in the chart) lies in an embedded sub-chart folder
    (one `helm package` checks as a chart: not hidden, not `_`-prefixed), else None."""
    if not rel.startswith("charts/"):
        return None
    name, slash, _ = rel[7:].partition("/")
    if not slash or name[:1] in ("_", "."):
        return None
    return f"charts/{name}/"


def runs(groups: Mapping[str, str | None]) -> list[tuple[str | None, list[str]]]:
    """The paths of `groups` (path -> its `sub_chart_of`) sorted, cut into runs: (sub-chart
    folder, its files) or (None, other files that sort between). Each sub-chart's files sort
    together, where its folder sorts among the other paths (all start with the folder: a path
    that does not sorts before all of them or after all of them), so the folders and other
    paths are sorted, then each folder's files."""
    units: dict[str, list[str] | None] = {}
    for rel, group in groups.items():
        if group is None:
            units[rel] = None
        else:
            units.setdefault(group, []).append(rel)
    out: list[tuple[str | None, list[str]]] = []
    for key in sorted(units):
        inside = units[key]
        if inside is not None:
            out.append((key, sorted(inside)))
        elif out and out[-1][0] is None:
            out[-1][1].append(key)
        else:
            out.append((None, [key]))
    return out


def is_segmented(total: int, groups: Iterable[str | None]) -> bool:
    """Whether a chart whose files hold `total` bytes, in these sub-chart folders (or None),
    is written one member per run."""
    return total >= SEGMENTED_FROM and any(group is not None for group in groups)
