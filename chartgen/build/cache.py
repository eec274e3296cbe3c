"""The build cache: `.chartgen/cache.json` and the content hashes it is keyed on.

Per workflow it keeps a hash of everything the stages read (the folder's files, the shared
files it uses, the settings, chartgen's own code, the build options) and of everything they
wrote (chart folder, archive). When both still match, the recorded results are replayed
instead of redoing the work, so a second `chartgen build --all` prints the same thing and
rewrites nothing. Repository stages (umbrella, index) are keyed the same way.
"""

from __future__ import annotations

import hashlib
import json
import operator
import os
import stat
from dataclasses import replace
from pathlib import Path
from typing import Iterable

from chartgen import limits
from chartgen.build.fingerprint import generator_fingerprint  # noqa: F401 (part of this module's API)
from chartgen.build.options import FAILED, BuildOptions, StageResult
from chartgen.build.stages import REMOVED_NOTE
from chartgen.errors import ChartgenError
from chartgen.fsutil import is_settled

CACHE_VERSION = 1


# Content hashes of files by (size, mtime, inode), kept in the cache (`files`): a rerun reads
# only the files that changed. A file modified in the last seconds is read every time (its
# time could still be shared by an edit to come: the "racy" case git knows).
_MEMO: dict[str, list] = {}
_SEEN: dict[str, list] = {}


def use_file_memo(memo: dict | None, uses: dict | None = None) -> tuple[dict, dict]:
    """Start a build with the file hashes (and shared files used per folder) recorded by the
    last one; returns the dicts that collect this build's (what the cache saves)."""
    _MEMO.clear()
    _MEMO.update(memo or {})
    _SEEN.clear()
    _USES.clear()
    _USES.update(uses or {})
    _USES_SEEN.clear()
    _SHARED_TREES.clear()
    forget_scans()
    return _SEEN, _USES_SEEN


def files_to_keep(dist_dir: Path) -> dict[str, list]:
    """The file hashes to record for the next build: those this build used, and those of the
    previous record for files it looked at (their stamps are checked when used) without
    hashing them — a rerun that replays the umbrella and index stages hashes no chart file and
    no archive, and the next one that redoes them must not read all of them again."""
    keep = dict(_SEEN)
    looked = {path for found in _SCANS.values() for _, path, _ in found}
    try:
        looked.update(entry.path for entry in os.scandir(dist_dir) if entry.name.endswith(".tgz"))
    except OSError:
        pass
    for path in looked:
        if path not in keep and path in _MEMO:
            keep[path] = _MEMO[path]
    return keep


_SCANS: dict[tuple[str, bool], list] = {}


def forget_scans(under: Iterable[Path | str] | None = None) -> None:
    """Folders were written since they were scanned: look again (see `_scan`). `under`: only
    the folders at or below these paths were written (one changed workflow's chart, not the
    thousand others)."""
    if under is None:
        _SCANS.clear()
        return
    tops = [os.fspath(path) for path in under]
    for key in [key for key in _SCANS if any(key[0] == top or key[0].startswith(top + os.sep) for top in tops)]:
        del _SCANS[key]


def _scan(top: str, skip_hidden: bool):
    """(relative path, os.stat_result) of every file under `top`, sorted by path parts.
    Remembered until `forget_scans()`: the runner calls it whenever a stage ran, so a run
    with nothing to do looks at each chart once, not once per question."""
    known = _SCANS.get((top, skip_hidden))
    if known is not None:
        return known
    found = []
    by_name = operator.attrgetter("name")

    def walk(folder: str, prefix: str) -> None:
        try:
            with os.scandir(folder) as listing:
                entries = sorted(listing, key=by_name)
        except OSError:
            return
        dirs = []
        for entry in entries:              # as os.walk: a folder's files before its sub-folders
            try:
                is_dir = entry.is_dir()
            except OSError:
                is_dir = False
            if is_dir:
                if not (skip_hidden and entry.name[:1] == "."):
                    dirs.append(entry)
                continue
            try:
                found.append((prefix + entry.name, entry.path, entry.stat()))
            except OSError:
                found.append((prefix + entry.name, entry.path, None))
        for entry in dirs:
            if not entry.is_symlink():
                walk(entry.path, prefix + entry.name + "/")

    walk(top, "")
    _SCANS[(top, skip_hidden)] = found
    return found


def _hash_tree(root: Path, digest, *, skip_hidden: bool = True) -> None:
    if not root.is_dir():
        digest.update(b"<missing>")
        return
    for rel, path, info in _scan(os.fspath(root), skip_hidden):
        digest.update(os.fsencode(rel) + b"\0")
        digest.update(_content_hash(path, info))


def _content_hash(path: str, info) -> bytes:
    if info is None or not stat.S_ISREG(info.st_mode):
        return hashlib.sha256(_content(Path(path))).hexdigest().encode()
    stamp = [info.st_size, info.st_mtime_ns, info.st_ino]
    known = _MEMO.get(path)
    if known and known[:3] == stamp:
        _SEEN[path] = known
        return known[3].encode()
    sha = hashlib.sha256(_content(Path(path))).hexdigest()
    if is_settled(info.st_mtime_ns):
        _SEEN[path] = stamp + [sha]
    return sha.encode()


def _content(path: Path) -> bytes:
    """A file's bytes for hashing; a FIFO, device, symlink loop or too large file (which
    validation reports) hashes as its problem, and is never read."""
    try:
        return limits.read_file(path)
    except ChartgenError as exc:
        return f"<{exc.code}>".encode()


def _stat_tree(root: Path, digest) -> None:
    """Names, sizes and modification times under `root`: enough to notice that an output
    chartgen wrote was changed or removed since (content hashing 6 MB of charts on every
    run would cost more than the rest of a run that has nothing to do)."""
    if not root.is_dir():
        digest.update(b"<missing>")
        return
    digest.update("".join(f"{rel}\0{info.st_size}\0{info.st_mtime_ns}\0"
                          for rel, _, info in _scan(os.fspath(root), False) if info is not None).encode())


def common_key(config, options: BuildOptions) -> str:
    """What every workflow's input hash shares (generator, settings, options with the
    repository's workflow ids): hashed once per build, not once per workflow."""
    digest = hashlib.sha256()
    digest.update(generator_fingerprint().encode())
    digest.update(_settings_json(config).encode())
    digest.update(json.dumps(options.cache_key(), sort_keys=True).encode())
    return digest.hexdigest()


def input_hash(folder: Path, config, options: BuildOptions, shared_index, common: str | None = None) -> str:
    """Hash of what the per-workflow stages read for `folder`; `common`: `common_key(config,
    options)`, computed once by a caller hashing many folders."""
    digest = hashlib.sha256()
    digest.update((common or common_key(config, options)).encode())
    tree = hashlib.sha256()
    _hash_tree(folder, tree)
    digest.update(tree.digest())
    for target in _uses(folder, tree.hexdigest(), shared_index):
        disk = shared_index.shared_dir / target.split("/", 1)[1] if shared_index.shared_dir else None
        digest.update(target.encode() + b"\0")
        digest.update(_content(disk) if disk is not None and disk.is_file() else b"<missing>")
    return digest.hexdigest()


_USES: dict[str, list] = {}        # folder -> [its files' hash, the shared folder's hash, shared files it uses]
_USES_SEEN: dict[str, list] = {}
_SHARED_TREES: dict[str, str] = {}


def _uses(folder: Path, tree: str, shared_index) -> tuple[str, ...]:
    """`shared_index.uses(folder)`, remembered while neither the folder's files nor the shared
    folder's changed (finding the references reads every file of the folder)."""
    shared_dir = os.fspath(shared_index.shared_dir) if shared_index.shared_dir else ""
    if shared_dir not in _SHARED_TREES:
        digest = hashlib.sha256()
        if shared_dir:
            _hash_tree(Path(shared_dir), digest)
        _SHARED_TREES[shared_dir] = digest.hexdigest()
    key = os.fspath(folder)
    known = _USES.get(key)
    if known and known[:2] == [tree, _SHARED_TREES[shared_dir]]:
        _USES_SEEN[key] = known
        return tuple(known[2])
    found = shared_index.uses(folder)
    _USES_SEEN[key] = [tree, _SHARED_TREES[shared_dir], list(found)]
    return found


def _settings_json(config) -> str:
    """Every setting but `build:` (how to run, not what comes out): it shapes the outputs."""
    settings = config.settings.to_data()
    del settings["build"]
    return json.dumps(settings, sort_keys=True, default=str)


def _umbrella_stat_tree(root: Path, charts_dir: Path, digest) -> None:
    """`_stat_tree` of the umbrella chart without a stat of its thousands of sub-chart files:
    those are hard links to the workflow charts' files (which each workflow's own check
    looks at), so their names and inode numbers, from the folder listings, tell a removed,
    added or replaced file; a file that is not such a link (a checkout makes copies) is
    looked at as any other."""
    from chartgen.chart.tree import file_inodes

    top = os.fspath(root)
    subs = os.path.join(top, "charts")
    try:
        names = sorted(e.name for e in os.scandir(subs) if e.is_dir(follow_symlinks=False))
    except OSError:
        names = []
    prune = {f"charts/{name}" for name in names}
    own = file_inodes(root, prune=prune)
    if own is None:
        digest.update(b"<missing>")
        return
    parts = [_stamp(top, rel) for rel in sorted(own)]
    for name in names:
        copy = file_inodes(Path(subs) / name) or {}
        source = {rel: info.st_ino for rel, _, info in _scan(os.fspath(charts_dir / name), False)
                  if info is not None}
        parts.append(f"charts/{name}/\1")
        for rel in sorted(copy):
            same = copy[rel] == source.get(rel) and copy[rel] != -1
            parts.append(f"{rel}\0{copy[rel]}\0" if same else _stamp(top, f"charts/{name}/{rel}"))
    digest.update("".join(parts).encode())


def _stamp(top: str, rel: str) -> str:
    try:
        info = os.lstat(os.path.join(top, rel))
    except OSError:
        return f"{rel}\0<missing>\0"
    return f"{rel}\0{info.st_size}\0{info.st_mtime_ns}\0"


def output_hash(outputs: dict[str, str], config) -> str:
    digest = hashlib.sha256()
    if "chart_path" in outputs:
        chart = config.resolve(outputs["chart_path"])
        if outputs.get("chart") == config.chart.umbrella_name and config.chart.umbrella_embed:
            _umbrella_stat_tree(chart, config.charts_dir, digest)
        else:
            _stat_tree(chart, digest)
    if "archive" in outputs:
        archive = config.resolve(outputs["archive"])
        try:
            info = archive.stat()
            digest.update(f"{info.st_size}\0{info.st_mtime_ns}".encode())
        except OSError:
            digest.update(b"<missing>")
    return digest.hexdigest()


def _file_hash(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return ""


class BuildCache:
    """`.chartgen/cache.json`: per workflow, input hash -> recorded stage results."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.data: dict = {"version": CACHE_VERSION, "workflows": {}, "repository": {}}
        self._saved = None       # what the file holds: a run that changed nothing does not rewrite it
        if path is not None and path.is_file():
            try:
                text = path.read_text(encoding="utf-8")
                loaded = json.loads(text)
                if loaded.get("version") == CACHE_VERSION:
                    self.data = loaded
                    self._saved = json.loads(text)
            except (OSError, ValueError):
                pass  # a broken cache only costs a rebuild

    def lookup(self, name: str, key: str, config, names: tuple[str, ...]):
        entry = self.data["workflows"].get(name)
        if not entry or entry.get("key") != key:
            return None
        stages = [StageResult.from_dict(s) for s in entry["stages"]]
        recorded = tuple(s.stage for s in stages)
        if recorded[:len(names)] == names:
            stages = stages[:len(names)]           # a longer run covers a shorter one
        elif not (recorded == names[:len(recorded)] and stages and stages[-1].status == FAILED):
            return None                            # neither covers nor failed before the rest
        outputs = entry.get("outputs", {})
        if output_hash(outputs, config) != entry.get("output_hash"):
            return None
        replayed: dict[str, str] = {}
        for stage in stages:
            replayed.update(stage.outputs)
        return stages, replayed

    def store(self, name: str, key: str, stages: list[StageResult], outputs: dict, config) -> None:
        entry = self.data["workflows"].get(name)
        if entry and entry.get("key") == key and len(entry["stages"]) > len(stages) \
                and [s["stage"] for s in entry["stages"][:len(stages)]] == [s.stage for s in stages]:
            return                                 # keep the longer record of the same inputs
        self.data["workflows"][name] = {"key": key, "stages": [s.to_dict() for s in stages],
                                        "outputs": outputs, "output_hash": output_hash(outputs, config)}

    def save(self) -> None:
        if self.path is None:
            return
        from chartgen.fsutil import sweep_leftovers, write_atomic

        sweep_leftovers(self.path.parent, only=f".{self.path.name}.")   # a killed run's temporary file
        if self.data == self._saved and self.path.is_file():
            return
        write_atomic(self.path, json.dumps(self.data, indent=1, sort_keys=True) + "\n")
        self._saved = None


def replayable(result: StageResult) -> StageResult:
    """What a cache replay of `result` reports: a removal of stale charts happened once, so
    a later run with nothing changed must not say it again."""
    outputs = dict(result.outputs)
    if "removed" not in outputs:
        return result
    del outputs["removed"]
    return replace(result, message=result.message.split(REMOVED_NOTE)[0], outputs=tuple(sorted(outputs.items())))


def repository_key(stage: str, config, options: BuildOptions, *, content: bool = False) -> str | None:
    """Hash of what a repository stage reads; None: not cacheable.

    Cheap by default (names, sizes, times of the charts and archives); `content=True` hashes
    the bytes, for when a workflow was redone with the same result (its files rewritten)."""
    digest = hashlib.sha256(generator_fingerprint().encode())
    digest.update(_settings_json(config).encode())
    if stage == "umbrella":
        umbrella = config.chart.umbrella_name
        digest.update(options.until.encode())
        # The stage also removes the charts of deleted workflow folders: a folder list change
        # must rerun it even when the charts folder itself did not change.
        sources = config.sources_dir
        if sources.is_dir():
            digest.update("\0".join(sorted(e.name for e in sources.iterdir() if e.is_dir())).encode() + b"\1")
        charts = config.charts_dir
        if charts.is_dir():
            for entry in sorted(charts.iterdir()):
                if entry.is_dir() and entry.name != umbrella:
                    digest.update(entry.name.encode() + b"\0")
                    if content:
                        _hash_tree(entry, digest, skip_hidden=False)
                    else:
                        _stat_tree(entry, digest)
        return digest.hexdigest()
    if stage == "index":
        digest.update(options.base_url.encode() + b"\0")
        dist = config.dist_dir
        for archive in sorted(dist.glob("*.tgz")) if dist.is_dir() else ():
            if content:
                path = os.fspath(archive)
                try:
                    info = os.stat(path)
                except OSError:
                    info = None
                digest.update(archive.name.encode() + b"\0" + _content_hash(path, info) + b"\0")
            else:
                info = archive.stat()
                digest.update(f"{archive.name}\0{info.st_size}\0{info.st_mtime_ns}\0".encode())
        return digest.hexdigest()
    return None


def repository_output_hash(stage: str, outputs: dict, config) -> str:
    if stage == "index":
        return _file_hash(config.dist_dir / "index.yaml") + _file_hash(config.dist_dir / "index.html")
    return output_hash(outputs, config) + _file_hash(config.charts_dir / "README.md")
