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
import os
import stat
from dataclasses import replace
from pathlib import Path

from chartgen import limits
from chartgen.build.fingerprint import generator_fingerprint  # noqa: F401 (part of this module's API)
from chartgen.build.options import FAILED, BuildOptions, StageResult
from chartgen.build.stages import REMOVED_NOTE
from chartgen.build.stamps import current_files, forget, scan, stamp_values, tree_entries, tree_stamp, umbrella_entries
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
    _CHART_CONTENTS.clear()
    forget()
    return _SEEN, _USES_SEEN


def looked_at(dist_dir: Path) -> dict[str, list | None]:
    """The files this build looked at (`chartgen.build.stamps.current_files`) and the
    archives of `dist_dir`, by path: [size, mtime, inode], or None when a folder's stamp
    vouches for them."""
    current = current_files()
    try:
        with os.scandir(dist_dir) as listing:
            for entry in listing:
                if entry.name.endswith(".tgz") and entry.path not in current:
                    try:
                        info = entry.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    current[entry.path] = [info.st_size, info.st_mtime_ns, info.st_ino]
    except OSError:
        pass
    return current


def memo_to_keep(seen: dict[str, list], recorded: dict | None, current: dict[str, list | None], *,
                 vouched: bool = True) -> dict[str, list]:
    """What a stamp-keyed memo (file hashes, Chart.yaml data, archive digests) records for the
    next build: the entries this build used, and the previous record's entries for files it
    looked at without needing them that are unchanged since (same stamp, or vouched for by
    their folder's stamp; each is checked again when used). A rerun that replays the
    umbrella and index stages reads no Chart.yaml and no archive, and the next one that
    redoes them must not read all of them again. `vouched=False`: only files whose own stamp
    was taken (the file hashes of charts serve only charts whose stamp changed: rewritten
    files, whose old hashes are of no use)."""
    keep = dict(seen)
    for path, known in (recorded or {}).items():
        if path not in keep and path in current and current[path] in ((None, known[:3]) if vouched else (known[:3],)):
            keep[path] = known
    return dict(sorted(keep.items()))


def files_seen() -> dict[str, list]:
    """The file hashes this build used (`memo_to_keep`'s `seen` for the `files` memo)."""
    return _SEEN


def _hash_tree(root: Path, digest, *, skip_hidden: bool = True) -> None:
    if not root.is_dir():
        digest.update(b"<missing>")
        return
    for rel, path, info in scan(os.fspath(root), skip_hidden):
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
    tree = _source_tree(folder)
    digest.update(bytes.fromhex(tree))
    scanned = _shared_files(shared_index)
    for target in _uses(folder, tree, shared_index):
        digest.update(target.encode() + b"\0")
        rel = target.split("/", 1)[1]
        if rel in scanned:                   # a regular file the shared folder's scan saw: by its stamp
            digest.update(_content_hash(*scanned[rel]))
            continue
        disk = shared_index.shared_dir / rel if shared_index.shared_dir else None
        digest.update(_content(disk) if disk is not None and disk.is_file() else b"<missing>")
    return digest.hexdigest()


# folder -> [entries, stamp, hash of its files]: a workflow folder whose stamp is as recorded
# is neither listed nor hashed again (see chartgen.build.stamps).
_SOURCE_TREES: dict[str, list] = {}
_SOURCE_TREES_SEEN: dict[str, list] = {}


def use_source_memo(recorded: dict | None) -> None:
    """Start with the workflow folder hashes a previous build recorded."""
    _SOURCE_TREES.clear()
    _SOURCE_TREES.update(recorded or {})
    _SOURCE_TREES_SEEN.clear()


def sources_to_keep() -> dict[str, list]:
    """The workflow folder hashes to record: this build's, and the previous record's for the
    folders it did not look at that still exist (a build of some workflows, not all)."""
    keep = dict(_SOURCE_TREES_SEEN)
    for top, known in _SOURCE_TREES.items():
        if top not in keep and os.path.isdir(top):
            keep[top] = known
    return dict(sorted(keep.items()))


def _source_tree(folder: Path) -> str:
    """The hash (hex) of a workflow folder's file names and contents (hidden folders left
    out), from the record when the folder's stamp is unchanged."""
    top = os.fspath(folder)
    known = _SOURCE_TREES.get(top)
    if known is not None and stamp_values(top, known[0])[0] == known[1]:
        _SOURCE_TREES_SEEN[top] = known
        return known[2]
    entries = tree_entries(top, skip_hidden=True)
    # Stamped before the files are read: a file changed meanwhile gets a newer time, which
    # the next run's stamp sees, provided nothing stamped was of the last seconds.
    now, values = stamp_values(top, entries)
    digest = hashlib.sha256()
    _hash_tree(Path(top), digest)
    tree = digest.hexdigest()
    if entries is not None and values is not None and is_settled(max(values[1::3], default=0)):
        _SOURCE_TREES_SEEN[top] = [entries, now, tree]
    else:
        _SOURCE_TREES_SEEN.pop(top, None)
    return tree


def _shared_files(shared_index) -> dict[str, tuple[str, os.stat_result]]:
    """The shared folder's regular files as its scan saw them: relative path -> (path, stat)."""
    if not shared_index.shared_dir:
        return {}
    found = scan(os.fspath(shared_index.shared_dir), True)
    if _SHARED_FILES.get("scan") is not found:           # once per scan, not once per workflow
        _SHARED_FILES["scan"] = found
        _SHARED_FILES["files"] = {rel: (path, info) for rel, path, info in found
                                  if info is not None and stat.S_ISREG(info.st_mode)}
    return _SHARED_FILES["files"]


_SHARED_FILES: dict = {}


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


def output_stamp(outputs: dict[str, str], config, entries: str | None = None) -> tuple[str, str | None]:
    """(stamp, entries) of what a run wrote (`outputs`: its chart folder, archive); `entries`:
    what the stamp looks at, as recorded (see `chartgen.build.stamps`), else found by a walk."""
    digest = hashlib.sha256()
    if "chart_path" in outputs:
        chart = config.resolve(outputs["chart_path"])
        if entries is None and outputs.get("chart") == config.chart.umbrella_name and config.chart.umbrella_embed:
            entries = umbrella_entries(chart, config.charts_dir)
        tree, entries = tree_stamp(chart, entries)
        digest.update(tree.encode())
    if "archive" in outputs:
        digest.update(_file_stamp(config.resolve(outputs["archive"])).encode())
    return digest.hexdigest(), entries


def _file_stamp(path: Path) -> str:
    """Size, modification time and inode of a file: it was replaced or changed since, or not."""
    try:
        info = os.stat(path)
    except OSError:
        return "<missing>"
    return f"{info.st_size}:{info.st_mtime_ns}:{info.st_ino};"


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
        self._saved: str | None = None   # the file's text: a run that changed nothing does not rewrite it
        if path is not None:
            try:
                text = path.read_text(encoding="utf-8")
                loaded = json.loads(text)
                if isinstance(loaded, dict) and loaded.get("version") == CACHE_VERSION:
                    self.data = loaded
                    self._saved = text
            except (OSError, ValueError):
                pass  # a missing or broken cache only costs a rebuild

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
        if output_stamp(outputs, config, entry.get("entries"))[0] != entry.get("output_hash"):
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
        written, entries = output_stamp(outputs, config)
        self.data["workflows"][name] = {"key": key, "stages": [s.to_dict() for s in stages], "outputs": outputs,
                                        "output_hash": written, "entries": entries}

    def save(self) -> None:
        if self.path is None:
            return
        from chartgen.fsutil import sweep_leftovers, write_atomic

        sweep_leftovers(self.path.parent, only=f".{self.path.name}.")   # a killed run's temporary file
        # Compact: json's C encoder does not indent, and the file is megabytes at 1,000 workflows.
        text = json.dumps(self.data, sort_keys=True, separators=(",", ":")) + "\n"
        if text == self._saved and self.path.is_file():
            return
        write_atomic(self.path, text)
        self._saved = text


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

    Cheap by default (the stamps of the charts, sizes and times of the archives);
    `content=True` hashes the bytes, for when a workflow was redone with the same result (its
    files rewritten)."""
    digest = hashlib.sha256(generator_fingerprint().encode())
    digest.update(_settings_json(config).encode())
    if stage == "umbrella":
        umbrella = config.chart.umbrella_name
        digest.update(options.until.encode())
        # The stage also removes the charts of deleted workflow folders: a folder list change
        # must rerun it even when the charts folder itself did not change.
        digest.update("\0".join(folder_names(config.sources_dir)).encode("utf-8", "surrogateescape") + b"\1")
        charts = os.fspath(config.charts_dir)
        for name in folder_names(charts):
            if name != umbrella:
                chart = os.path.join(charts, name)     # a string: a thousand of them, asked for four times
                digest.update(name.encode("utf-8", "surrogateescape") + b"\0")
                digest.update(_chart_content(chart) if content else tree_stamp(chart)[0].encode())
        return digest.hexdigest()
    if stage == "index":
        digest.update(options.base_url.encode() + b"\0")
        dist = os.fspath(config.dist_dir)
        try:           # names, not paths: sorting a thousand paths compares their parts
            with os.scandir(dist) as listing:
                archives = sorted(entry.name for entry in listing if entry.name.endswith(".tgz"))
        except OSError:
            archives = []
        for name in archives:
            path = os.path.join(dist, name)
            try:
                info = os.stat(path)
            except OSError:
                info = None
            if content:
                digest.update(name.encode("utf-8", "surrogateescape") + b"\0" + _content_hash(path, info) + b"\0")
            elif info is not None:
                digest.update(f"{name}\0{info.st_size}\0{info.st_mtime_ns}\0".encode("utf-8", "surrogateescape"))
        return digest.hexdigest()
    return None


def folder_names(folder: Path | str) -> list[str]:
    """Names of the folders in `folder` (links to folders included), sorted."""
    try:
        with os.scandir(folder) as listing:
            return sorted(entry.name for entry in listing if entry.is_dir())
    except OSError:
        return []


def _chart_content(folder: str) -> bytes:
    """What a chart folder holds, for the umbrella's content key: its Chart.yaml, whose
    `chartgen.io/content-hash` covers every file chartgen wrote there (a file changed by hand
    since is the workflow's own output check's to find)."""
    tree = tree_stamp(folder)[0]          # this run's, remembered: the key is asked for twice
    known = _CHART_CONTENTS.get(folder)
    if known is not None and known[0] == tree:
        return known[1]
    try:
        content = hashlib.sha256(limits.read_file(Path(folder, "Chart.yaml"))).hexdigest().encode()
    except (ChartgenError, OSError):
        content = b"<missing>"
    _CHART_CONTENTS[folder] = (tree, content)
    return content


_CHART_CONTENTS: dict[str, tuple[str, bytes]] = {}     # folder -> (its stamp in this run, `_chart_content`)


def repository_output_hash(stage: str, outputs: dict, config, entries: str | None = None) -> tuple[str, str | None]:
    """(stamp, entries) of what a repository stage wrote; see `output_stamp`."""
    if stage == "index":    # files of megabytes at a thousand charts: their stamps, not their bytes
        return _file_stamp(config.dist_dir / "index.yaml") + _file_stamp(config.dist_dir / "index.html"), None
    written, entries = output_stamp(outputs, config, entries)
    return written + _file_hash(config.charts_dir / "README.md"), entries
