"""What packaging a large umbrella chart keeps between runs (the build's `.chartgen/package/`).

The umbrella's archive is one gzip member per embedded sub-chart (`chartgen.repo.tarball`).
Kept here, per chart folder:
- the members, by a key (`segment_id`) hashing everything a member and the checks of its
  sub-chart depend on: the archive names and SHA-256 of its files, chartgen's version, zlib's
  version and level. A member is kept only after its sub-chart passed `helm package`'s checks,
  with the chart name found, so a kept one is neither compressed nor checked again;
- the SHA-256 of each sub-chart file by (device, inode, size, modification time), so an unchanged
  file is not read again: the umbrella's sub-chart files are hard links to the workflow charts
  and keep all three while unchanged. A file modified in the last seconds is read every time
  (its time could still be shared by an edit to come: the "racy" case git knows);
- the listing of each sub-chart folder by its (inode, modification time), which change when an
  entry is made, removed or renamed in it: an unchanged sub-chart copy (moved into the new
  umbrella as it is) has its files stat'ed by name, not listed again. A folder holding a
  symbolic link is listed every time (where a link leads can change without its folder);
- per sub-chart folder `charts/<name>/`, its member's key with the (inode, time) of each of its
  folders and the (device, inode, size, time) of each file it puts into the archive, under the
  same `.helmignore`: while all are the same, the sub-chart is its kept member, its files
  stat'ed but neither read, listed nor hashed again (`kept_group`). The lines above are then
  not needed for it: they are kept only for the sub-charts that changed.

Members live in packs, `pack-<random>.gz`: the members one run compressed, concatenated, written
once and never changed (a first run writes one pack, a run with one sub-chart changed a pack of
one member). When a chart's members are spread over more than `MAX_PACKS` packs, or its packs
hold as many bytes of members no longer used as of used ones, its members are written into
one new pack. `files-<chart>.memo` names, per member, its pack, place and chart name, and holds
the folder listings and file hashes (text, one line each).

Every write is atomic (a killed run leaves at most a temporary name, swept by the next run);
a member is checked before use (gzip header, length in its trailer) and a memo line that does
not read is ignored: a broken cache only costs time. After a run, packs no memo names are
removed (unless written in the last hour: a concurrent run may not have recorded its own
yet), and memos not used for 30 days: the folder holds about one archive's worth per chart.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

from chartgen.fsutil import is_settled, sweep_leftovers, write_atomic

CACHE_FORMAT = "4"
MAX_PACKS = 16
_MEMO_DAYS = 30
_UNNAMED_GRACE = 3600.0
_MEMO_HEAD = "chartgen package memo " + CACHE_FORMAT
_UNSAFE = ("\t", "\n", "\r")


def segment_id(top: str, rels: list[str], shas: dict[str, str]) -> str:
    """The key of the member holding files `rels` (their SHA-256 `shas`) under `top/`."""
    import zlib

    from chartgen import __version__
    from chartgen.repo.tarball import GZIP_LEVEL

    digest = hashlib.sha256(f"{CACHE_FORMAT}\0{__version__}\0{zlib.ZLIB_RUNTIME_VERSION}\0{GZIP_LEVEL}\0{top}\0"
                            .encode())
    digest.update("\0".join(rels).encode())      # names hold no NUL; each SHA-256 is 64 characters
    digest.update("".join([shas[rel] for rel in rels]).encode())
    return digest.hexdigest()


def files_key(info: os.stat_result) -> str:
    """The key of a file in `PackageCache.files` and of a kept sub-chart's files: device,
    inode, size and modification time, as one string."""
    return f"{info.st_dev}:{info.st_ino}:{info.st_size}:{info.st_mtime_ns}"


@dataclass
class PackageCache:
    """The cache folder, opened for one chart folder."""

    folder: Path
    chart_dir: Path
    # "device:inode:size:mtime_ns" of a file -> SHA-256 of its content, as the last run saw them
    # (hard links share one: the umbrella's copies are links to the workflow charts' files)
    files: dict[str, str] = field(default_factory=dict)
    # member id -> (pack, offset, length, uncompressed length, chart name)
    members: dict[str, tuple[str, int, int, int, str]] = field(default_factory=dict)
    seen: dict[str, str] = field(default_factory=dict)       # this run's `files` (those used, those learnt)
    # "charts/<name>/..../" -> (inode, mtime_ns, its entries "\0"-joined, a folder's ending in "/"):
    # the listing of a sub-chart's folder, good while the folder's inode and time are the same
    folders: dict[str, tuple[int, int, str]] = field(default_factory=dict)
    folders_seen: dict[str, tuple[int, int, str]] = field(default_factory=dict)
    packs: dict[str, bytes | None] = field(default_factory=dict)   # packs read
    # "charts/<name>/" -> (member id, its files' bytes, .helmignore's hash, folders, files): folders
    # "<prefix>\0<inode>.<mtime_ns>\0..." and files "<path>\0<files key>\0..." (see `kept_group`)
    groups: dict[str, tuple[str, int, str, str, str]] = field(default_factory=dict)
    groups_seen: dict[str, tuple[str, int, str, str, str]] = field(default_factory=dict)
    walked: dict[str, list[str]] = field(default_factory=dict)     # sub-chart -> its folders walked
    shortcut: bool = True           # whether `kept_group` may answer
    ignore: str = ""                # the hash of the chart's .helmignore (see `groups`)

    @classmethod
    def open(cls, folder: Path, chart_dir: Path) -> "PackageCache":
        cache = cls(Path(folder), Path(chart_dir))
        try:
            lines = cache.memo_path.read_bytes().decode("utf-8").split("\n")
        except (OSError, UnicodeDecodeError):
            return cache    # no memo, or one that does not read: every file is read
        if lines[0] != f"{_MEMO_HEAD}\t{os.path.realpath(chart_dir)}":
            return cache
        first = 1
        for first, line in enumerate(lines[1:], start=1):
            if not line.startswith("m\t"):
                break
            parts = line.split("\t")
            if len(parts) == 7 and parts[3].isdigit() and parts[4].isdigit() and parts[5].isdigit():
                cache.members[parts[1]] = (parts[2], int(parts[3]), int(parts[4]), int(parts[5]), parts[6])
        for first, line in enumerate(lines[first:], start=first):
            if not line.startswith("g\t"):
                break
            parts = line.split("\t")
            if len(parts) == 7 and parts[3].isdigit():
                cache.groups[parts[1]] = (parts[2], int(parts[3]), parts[4], parts[5], parts[6])
        for first, line in enumerate(lines[first:], start=first):
            if not line.startswith("d\t"):
                break
            parts = line.split("\t")
            if len(parts) == 5 and parts[2].isdigit() and parts[3].isdigit():
                cache.folders[parts[1]] = (int(parts[2]), int(parts[3]), parts[4])
        try:                   # then one line a file: "f\tdevice:inode:size:mtime_ns\tsha256"
            cache.files = dict(line[2:].rsplit("\t", 1) for line in lines[first:] if line)
        except ValueError:
            cache.files = {}
        return cache

    @property
    def memo_path(self) -> Path:
        key = hashlib.sha256(os.fsencode(os.path.realpath(self.chart_dir))).hexdigest()[:24]
        return self.folder / f"files-{key}.memo"

    def learn(self, key: str, info: os.stat_result, data: bytes, sha: str) -> None:
        """Remember the SHA-256 of a file read (`key`: as in `files`), if it settled before
        this run read it."""
        if len(data) == info.st_size and is_settled(info.st_mtime_ns):
            self.seen[key] = sha

    def listing(self, prefix: str, info: os.stat_result) -> list[str] | None:
        """The entries of the sub-chart folder at `prefix` (`info`: its stat) as the last run
        listed them, if its inode and modification time are the same: no entry was made,
        removed or renamed in it since. A folder's name ends in "/"."""
        known = self.folders.get(prefix)
        if known is None or known[0] != info.st_ino or known[1] != info.st_mtime_ns:
            return None
        self.folders_seen[prefix] = known
        return known[2].split("\0") if known[2] else []

    def learn_listing(self, prefix: str, info: os.stat_result, entries: list[str]) -> None:
        """Remember the listing of a sub-chart folder (`info`: its stat before it was listed),
        if it settled before this run listed it."""
        if is_settled(info.st_mtime_ns) and not any(c in prefix for c in _UNSAFE) \
                and not any(c in entry for entry in entries for c in _UNSAFE):
            self.folders_seen[prefix] = (info.st_ino, info.st_mtime_ns, "\0".join(entries))

    def kept_group(self, prefix: str) -> tuple[str, int] | None:
        """(member id, bytes of its files) of the sub-chart folder `prefix` when none of its
        folders and files changed since a run recorded it (`learn_groups`) under the same
        `.helmignore` (`ignore`): each folder (lstat) and file (stat) compared, none listed
        or read. None when one differs, or its member is not kept."""
        known = self.groups.get(prefix) if self.shortcut else None
        if known is None or known[2] != self.ignore or known[0] not in self.members:
            return None
        base = os.fspath(self.chart_dir) + "/"
        folders = known[3].split("\0")
        for i in range(0, len(folders) - 1, 2):
            try:
                info = os.lstat(base + folders[i][:-1])
            except OSError:
                return None
            if f"{info.st_ino}.{info.st_mtime_ns}" != folders[i + 1]:
                return None
        files = known[4].split("\0")
        for i in range(0, len(files) - 1, 2):
            try:
                info = os.stat(base + files[i])
            except OSError:
                return None
            if files_key(info) != files[i + 1]:
                return None
        self.groups_seen[prefix] = known
        return known[0], known[1]

    def learn_groups(self, groups: dict[str, tuple[str, list[tuple[str, str]], int]]) -> None:
        """Record the sub-chart folders walked in this run whose folders were all listed or
        known (`learn_listing`, `listing`) and whose files' SHA-256 are all known settled:
        `groups`, prefix -> (member id, [(path, files key)], bytes of its files)."""
        for prefix, (member_id, files, total) in groups.items():
            walked = self.walked.get(prefix)
            if not walked or not files or any(p not in self.folders_seen for p in walked) or \
                    any(key not in self.seen for _path, key in files) or \
                    any(c in path for path, _key in files for c in _UNSAFE):
                continue
            folders = "\0".join(f"{p}\0{self.folders_seen[p][0]}.{self.folders_seen[p][1]}" for p in walked)
            self.groups_seen[prefix] = (member_id, total, self.ignore, folders,
                                        "\0".join(f"{path}\0{key}" for path, key in files))

    def _pack(self, name: str) -> bytes | None:
        if name not in self.packs:
            try:
                self.packs[name] = (self.folder / name).read_bytes() if _is_pack(name) else None
            except OSError:
                self.packs[name] = None
        return self.packs[name]

    def member(self, member_id: str) -> tuple[str, bytes, int] | None:
        """(chart name, gzip member, its uncompressed length) kept under `member_id`, if whole."""
        from chartgen.repo.tarball import looks_like_member

        entry = self.members.get(member_id)
        pack = self._pack(entry[0]) if entry is not None else None
        if pack is None:
            return None
        data = pack[entry[1]:entry[1] + entry[2]]
        return (entry[4], data, entry[3]) if looks_like_member(data, entry[3]) else None

    def save(self, used: dict[str, tuple[str, bytes, int]], fresh: set[str]) -> None:
        """Record this run: `used`, member id -> (chart name, member, uncompressed length) of every sub-chart;
        `fresh`: the ids compressed in this run (the others were read from their packs).
        Then prune the folder."""
        members = {i: self.members[i] for i in used if i not in fresh}
        old_packs = {entry[0] for entry in members.values()}
        used_bytes = sum(entry[2] for entry in members.values())
        pack_bytes = sum(len(self.packs.get(p) or b"") for p in old_packs)
        if len(old_packs) + bool(fresh) > MAX_PACKS or pack_bytes > 2 * used_bytes:
            fresh, members = set(used), {}        # one pack of them all
        fresh_ids = sorted(i for i in fresh if not any(c in used[i][0] for c in _UNSAFE))
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            if fresh_ids:
                pack = f"pack-{secrets.token_hex(16)}.gz"
                write_atomic(self.folder / pack, b"".join(used[i][1] for i in fresh_ids))
                offset = 0
                for i in fresh_ids:
                    members[i] = (pack, offset, len(used[i][1]), used[i][2], used[i][0])
                    offset += len(used[i][1])
            # (a sub-chart kept whole, `kept_group`, adds no "d" or "f" line: not needed for it)
            if self.seen != self.files or members != self.members or self.folders_seen != self.folders or \
                    self.groups_seen != self.groups:
                lines = [f"{_MEMO_HEAD}\t{os.path.realpath(self.chart_dir)}\n"]
                lines += [f"m\t{i}\t{p}\t{o}\t{n}\t{raw}\t{name}\n" for i, (p, o, n, raw, name) in members.items()]
                lines += [f"g\t{prefix}\t{i}\t{total}\t{ignore}\t{folders}\t{files}\n"
                          for prefix, (i, total, ignore, folders, files) in self.groups_seen.items()]
                lines += [f"d\t{prefix}\t{ino}\t{mtime}\t{entries}\n"
                          for prefix, (ino, mtime, entries) in self.folders_seen.items()]
                lines += [f"f\t{key}\t{sha}\n" for key, sha in self.seen.items()]
                write_atomic(self.memo_path, "".join(lines))
            else:
                os.utime(self.memo_path)     # used: `prune` keeps it
        except OSError:
            return    # a cache that cannot be written only costs the next run
        prune(self.folder, {self.memo_path.name: {entry[0] for entry in members.values()}})


def _is_pack(name: str) -> bool:
    return name.startswith("pack-") and name.endswith(".gz") and "/" not in name


_swept: set[str] = set()


def _memo_packs(path: str) -> set[str]:
    """The packs a memo names (its member lines come first)."""
    packs = set()
    with open(path, "rb") as handle:
        handle.readline()
        for line in handle:
            if not line.startswith(b"m\t"):
                break
            parts = line.split(b"\t")
            if len(parts) > 2:
                packs.add(parts[2].decode("utf-8", "replace"))
    return packs


def prune(folder: Path, known: dict[str, set[str]] | None = None) -> None:
    """Remove what no run needs: memos not used for 30 days, packs no memo names (written
    more than an hour ago), temporary files of killed runs. `known`: memo name -> packs, for
    the memos the caller holds already (not read again)."""
    key = os.path.realpath(folder)
    if key not in _swept:
        sweep_leftovers(folder)
        _swept.add(key)
    known = dict(known or {})
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    now = time.time()
    named: set[str] = set()
    packs = []
    for entry in entries:
        if _is_pack(entry.name):
            packs.append(entry)
        elif entry.name.startswith("files-") and entry.name.endswith(".memo"):
            try:
                if entry.stat().st_mtime < now - _MEMO_DAYS * 86400:
                    os.unlink(entry.path)
                    continue
                named |= known[entry.name] if entry.name in known else _memo_packs(entry.path)
            except OSError:
                continue
    for entry in packs:
        if entry.name not in named:
            try:
                if entry.stat().st_mtime < now - _UNNAMED_GRACE:
                    os.unlink(entry.path)
            except OSError:
                pass
