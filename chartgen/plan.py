"""Which workflows a change affects (`chartgen plan --since REV`).

A changed path affects:
- the workflow whose folder holds it (`<sources>/<name>/...`);
- every workflow that references it, when it lies in the shared folder: the same
  references `chartgen.sources` follows (`$ref: ../shared/schemas/x.json` from
  `schemas/`, transitively through shared files), dangling ones included, so deleting a
  shared file affects the workflows that used it;
- every workflow, when it is chartgen.yaml, the Containerfile template, chartgen's own
  sources inside the repository (the generator: a change shows in every chart), or a
  path listed in `build.always_affected_by`.

Speed: only files that contain the bytes `shared` are parsed, shared references are
looked up only when a shared file changed, and each shared file is scanned once. 500
folders take well under a second.

The changed paths are `git diff --name-only REV...HEAD` (changes on this branch since
it left REV, as a pull request shows them), plus uncommitted changes and untracked files
unless `committed_only` — locally, "what does my work in progress affect" is the question.
"""

from __future__ import annotations

import fnmatch
import os
import posixpath
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from chartgen.errors import ChartgenError, UsageError

NULL_SHA = "0" * 40
# A path token around each `shared/` in a file: e.g. `../shared/schemas/x.json` in
# `$ref: "../shared/schemas/x.json#/defs"` (delimited by quotes, blanks, brackets, `#`...).
_DELIMITERS = frozenset(b" \t\r\n\"'`,[]{}()<>|:=")
_TOKEN_TAIL = re.compile(rb"[^\s\"'`,\[\]{}()<>|#?]*")
CONTAINERFILE_TEMPLATE = "templates/Containerfile.j2"   # inside the chartgen package


@dataclass(frozen=True)
class AffectedWorkflow:
    name: str
    folder: str                      # relative to the configuration root, posix
    reasons: tuple[str, ...]         # "folder: <path>", "shared: <path>", "all: <path>"
    shared: tuple[str, ...] = ()     # shared files (paths inside the workflow: shared/...) it uses

    def to_dict(self) -> dict:
        return {"name": self.name, "folder": self.folder, "reasons": list(self.reasons),
                "shared": list(self.shared)}


@dataclass(frozen=True)
class Plan:
    since: str
    changed: tuple[str, ...]                         # changed paths, relative to the configuration root
    workflows: tuple[AffectedWorkflow, ...]
    removed: tuple[str, ...] = ()                    # workflow folders deleted by the change
    everything: bool = False                         # a change affects every workflow

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(w.name for w in self.workflows)

    def to_dict(self) -> dict:
        return {"since": self.since, "changed": list(self.changed), "all": self.everything,
                "workflows": [w.to_dict() for w in self.workflows], "removed": list(self.removed)}

    def github_matrix(self, shards: int = 0) -> dict:
        """For `strategy.matrix`. GitHub rejects an empty `include`; callers test `count`.

        `shards` > 0: at most that many entries, each a share of the workflows (dealt in
        turn, by name: neighbours, often alike, land in different shards), with their
        names and folders space-separated (`chartgen build --shard $folders`)."""
        if shards <= 0:
            return {"include": [{"workflow": w.name, "folder": w.folder} for w in self.workflows]}
        ordered = sorted(self.workflows, key=lambda w: w.name)
        parts = [ordered[i::shards] for i in range(min(shards, len(ordered)))]
        return {"include": [{"shard": f"{number}/{len(parts)}", "workflows": " ".join(w.name for w in part),
                             "folders": " ".join(w.folder for w in part)}
                            for number, part in enumerate(parts, 1)]}


# --------------------------------------------------------------------------- git

def _git(root: Path, *args: str) -> str:
    try:
        # surrogateescape: a file name that is not UTF-8 stays a (printable-when-shown) path
        proc = subprocess.run(["git", "-C", str(root), "-c", "core.quotepath=off", *args],
                              capture_output=True, text=True, errors="surrogateescape", check=False)
    except FileNotFoundError:
        raise UsageError("git is not installed; `chartgen plan` needs it", code="no-git") from None
    if proc.returncode != 0:
        raise UsageError(f"git {' '.join(args)} failed: {proc.stderr.strip()}", code="git-failed")
    return proc.stdout


def _split_z(text: str) -> list[str]:
    return [p for p in text.split("\0") if p]


def changed_paths(root: Path, since: str, *, committed_only: bool = False) -> tuple[Path, list[str]]:
    """(git top level, changed paths relative to it) between `since` and HEAD (+ work tree)."""
    try:
        inside = subprocess.run(["git", "-C", str(root), "rev-parse", "--show-toplevel"], capture_output=True,
                                text=True)
    except FileNotFoundError:
        raise UsageError("git is not installed; `chartgen plan` needs it", code="no-git") from None
    if inside.returncode != 0:
        raise UsageError(f"{root} is not in a git repository: `chartgen plan` compares commits",
                         path=root, code="plan-no-git")
    top = Path(inside.stdout.strip())
    probe = subprocess.run(["git", "-C", str(root), "rev-parse", "--verify", "--quiet", f"{since}^{{commit}}"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        raise UsageError(f"--since {since!r} is not a commit of this repository (a shallow clone? "
                         "fetch with `fetch-depth: 0` or fetch that commit)", code="plan-unknown-rev")
    paths = set(_split_z(_git(root, "diff", "--name-only", "--no-renames", "-z", f"{since}...HEAD", "--")))
    if not committed_only:
        paths.update(_split_z(_git(root, "diff", "--name-only", "--no-renames", "-z", "HEAD", "--")))
        paths.update(_split_z(_git(root, "ls-files", "--others", "--exclude-standard", "-z")))
    return top, sorted(paths)


# ----------------------------------------------------------------- shared references

def _scan_files(folder: str) -> Iterable[tuple[str, str]]:
    """(disk path, path inside the workflow) of the files `chartgen.sources` reads references from.

    Plain strings and os.scandir: on 500 folders pathlib's overhead would be most of the time."""
    from chartgen.sources import DATA_SUFFIXES, MAIN_SUFFIXES, RESOURCE_DIRS, SHARED

    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return
    tops = set((*RESOURCE_DIRS, SHARED))
    for entry in entries:
        if entry.name.lower().endswith(MAIN_SUFFIXES) and _is(entry.is_file):
            yield entry.path, entry.name
    for entry in entries:
        if entry.name not in tops or not _is(entry.is_dir):
            continue
        stack = [(entry.path, entry.name)]
        while stack:
            disk_dir, rel_dir = stack.pop()
            try:
                children = sorted(os.scandir(disk_dir), key=lambda e: e.name)
            except OSError:
                continue
            for child in children:
                # Symlinked folders are not followed, as chartgen.sources (os.walk) does not.
                if _is(child.is_dir, follow_symlinks=False):
                    if not child.name.startswith("."):
                        stack.append((child.path, rel_dir + "/" + child.name))
                elif child.name.lower().endswith(DATA_SUFFIXES):
                    yield child.path, rel_dir + "/" + child.name


def _is(test, **kwargs) -> bool:
    """DirEntry.is_dir/is_file, False for a symlink loop (which raises) or any other error."""
    try:
        return test(**kwargs)
    except OSError:
        return False


def _references(path: str, rel: str, *, prefilter: bool = True) -> list[str]:
    """`shared/...` targets a file references (paths inside the workflow).

    Outside shared/, a file can only reference a shared file by spelling `shared/`: its
    bytes are searched for such path tokens (no parsing, so a 300 KiB OpenAPI spec costs a
    byte search). That finds every real reference and, rarely, a path merely mentioned in
    a description: a harmless over-approximation for planning. Shared files refer to their
    siblings relatively, so they are parsed like `chartgen.sources` does (there are few).
    """
    from chartgen.limits import read_file
    from chartgen.sources import _FILE_REF, DATA_SUFFIXES, SHARED, file_references
    from chartgen.yamlio import load_data

    try:
        content = read_file(path)
    except ChartgenError:
        return []   # a FIFO, a device, too large, unreadable: validation reports it
    base = posixpath.dirname(rel)
    if prefilter:
        found = set()
        position = content.find(b"shared/")
        while position != -1:
            start = position
            while start > 0 and content[start - 1] not in _DELIMITERS:
                start -= 1
            end = _TOKEN_TAIL.match(content, position).end()
            token = content[start:end].decode("utf-8", "replace")
            if token.lower().endswith(DATA_SUFFIXES) and _FILE_REF.match(token):
                target = posixpath.normpath(posixpath.join(base, token))
                if target.startswith(SHARED + "/"):
                    found.add(target)
            position = content.find(b"shared/", end)
        return sorted(found)
    try:
        data = load_data(content, path)
    except (ChartgenError, ValueError, RecursionError):
        return []
    return sorted({t for t, _ in file_references(data, base) if t.startswith(SHARED + "/")})


class SharedIndex:
    """Which shared files each workflow uses, computed lazily and once per file."""

    def __init__(self, shared_dir: Path | None) -> None:
        self.shared_dir = shared_dir
        self._shared_refs: dict[str, list[str]] = {}

    def _refs_of_shared(self, target: str) -> list[str]:
        if target not in self._shared_refs:
            self._shared_refs[target] = []
            if self.shared_dir is not None:
                disk = os.path.join(self.shared_dir, target.split("/", 1)[1])
                if os.path.isfile(disk):
                    self._shared_refs[target] = _references(disk, target, prefilter=False)
        return self._shared_refs[target]

    def uses(self, folder: Path) -> tuple[str, ...]:
        """Shared files (as `shared/<path>`) the workflow references, transitively, dangling included."""
        found: set[str] = set()
        queue: list[str] = []
        folder = os.fspath(folder)
        for disk, rel in _scan_files(folder):
            queue.extend(_references(disk, rel))
        while queue:
            target = queue.pop()
            if target in found or os.path.exists(os.path.join(folder, target)):
                continue   # already seen, or the folder carries its own shared/ copy
            found.add(target)
            queue.extend(self._refs_of_shared(target))
        return tuple(sorted(found))


# --------------------------------------------------------------------------- planning

def _package_dir() -> Path:
    return Path(__file__).resolve().parent


def always_affecting(config) -> list[str]:
    """Paths/patterns (relative to the configuration root) whose change affects every workflow."""
    root = Path(config.root).resolve()
    result = []
    if config.path is not None:
        result.append(Path(config.path).resolve().relative_to(root).as_posix()
                      if Path(config.path).resolve().is_relative_to(root) else Path(config.path).name)
    else:
        result.append("chartgen.yaml")
    package = _package_dir()
    if package.is_relative_to(root):
        # chartgen's own sources live in this repository: the generator and the
        # Containerfile template (chartgen/templates/Containerfile.j2) are inputs of every workflow.
        result.append(package.relative_to(root).as_posix() + "/**")
    if config.chart.yamllint_config:
        result.append(_config_relative(config, config.chart.yamllint_config))   # lints every chart
    result.extend(config.build.always_affected_by)
    return result


def _config_relative(config, path: str) -> str:
    absolute = Path(os.path.normpath(config.resolve(path).absolute()))
    root = Path(config.root).resolve()
    return absolute.relative_to(root).as_posix() if absolute.is_relative_to(root) else path


def _extras_owner(config, rel: str, folders: dict) -> str | None:
    """The workflow whose chart keeps `rel` as a hand-written extra (chart.extras), if any."""
    extras = dict(config.chart.extras)
    if not extras:
        return None
    charts = _config_relative(config, str(config.charts_dir))
    if not rel.startswith(charts.rstrip("/") + "/"):
        return None
    chart, _, inside = rel[len(charts.rstrip("/")) + 1:].partition("/")
    if not any(fnmatch.fnmatchcase(inside, pattern) for pattern in extras.get(chart, ())):
        return None
    return next((name for name in folders if config.chart_of(name).folder == chart), None)


def _matches(path: str, pattern: str) -> bool:
    if pattern.endswith("/**"):
        return path == pattern[:-3] or path.startswith(pattern[:-2])
    return path == pattern or fnmatch.fnmatchcase(path, pattern)


def plan_paths(config, changed: Iterable[str], *, since: str = "") -> Plan:
    """Plan for an explicit list of changed paths (relative to the configuration root)."""
    from chartgen.sources import discover

    root = Path(config.root).resolve()
    sources = config.sources_dir.resolve()
    shared = config.shared_dir.resolve() if config.shared_dir.exists() else config.shared_dir.absolute()
    existing_shared = config.shared_dir if config.shared_dir.exists() else None
    folders = {f.name: f for f in discover(config.sources_dir, existing_shared)}
    changed = sorted(set(changed))
    patterns = always_affecting(config)

    reasons: dict[str, list[str]] = {}
    removed: set[str] = set()
    shared_changes: list[str] = []
    everything: list[str] = []
    for rel in changed:
        if any(_matches(rel, p) for p in patterns):
            everything.append(rel)
            continue
        owner = _extras_owner(config, rel, folders)
        if owner is not None:
            reasons.setdefault(owner, []).append(f"chart extra: {rel}")
            continue
        absolute = root / rel
        if absolute.is_relative_to(shared):
            shared_changes.append("shared/" + absolute.relative_to(shared).as_posix())
            continue
        if absolute.is_relative_to(sources) and absolute != sources:
            name = absolute.relative_to(sources).parts[0]
            if name in folders:
                reasons.setdefault(name, []).append(f"folder: {rel}")
            elif len(absolute.relative_to(sources).parts) > 1 and not name.startswith((".", "_")):
                removed.add(name)
    index = SharedIndex(shared if shared.is_dir() else None)
    uses: dict[str, tuple[str, ...]] = {}
    if shared_changes:
        wanted = set(shared_changes)
        for name, folder in folders.items():
            uses[name] = index.uses(folder)
            for target in sorted(wanted.intersection(uses[name])):
                reasons.setdefault(name, []).append(f"shared: {target}")
    if everything:
        # The same reasons for every workflow: a few names, not a copy of a long list each.
        common = [f"all: {rel}" for rel in everything[:3]]
        if len(everything) > 3:
            common.append(f"all: ... {len(everything) - 3} more")
        for name in folders:
            reasons.setdefault(name, []).extend(common)
    affected = []
    for name in sorted(reasons):
        folder = folders[name]
        folder_rel = folder.resolve().relative_to(root).as_posix() if folder.resolve().is_relative_to(root) \
            else str(folder)
        if name not in uses:
            uses[name] = index.uses(folder)     # reported for every affected workflow
        affected.append(AffectedWorkflow(name, folder_rel, tuple(dict.fromkeys(reasons[name])),
                                         uses.get(name, ())))
    return Plan(since, tuple(changed), tuple(affected), tuple(sorted(removed - set(folders))), bool(everything))


def _everything(config, since: str, reason: str) -> Plan:
    from chartgen.sources import discover

    root = Path(config.root).resolve()
    folders = discover(config.sources_dir, config.shared_dir if config.shared_dir.exists() else None)
    return Plan(since, (), tuple(AffectedWorkflow(f.name, f.resolve().relative_to(root).as_posix(), (reason,))
                                 for f in folders), (), True)


def plan_all(config) -> Plan:
    """Every workflow of the repository (`chartgen plan --all`: a full build, in shards)."""
    return _everything(config, "", "all: --all")


def plan(config, since: str, *, committed_only: bool = False, unknown: str = "error") -> Plan:
    """Which workflows the changes since `since` affect (see the module docstring).

    `unknown="all"` plans every workflow when `since` is not a commit of the repository
    (a force-push made GitHub's `before` unreachable) instead of failing.
    """
    root = Path(config.root).resolve()
    if since and since.strip("0") == "":
        # GitHub's `before` on the first push of a branch: no previous commit, everything is new.
        return _everything(config, since, "all: no previous commit")
    try:
        top, paths = changed_paths(root, since, committed_only=committed_only)
    except UsageError as exc:
        if unknown == "all" and exc.code == "plan-unknown-rev":
            return _everything(config, since, f"all: {since[:12]} is not in this history")
        raise
    relative = []
    for p in paths:
        absolute = Path(os.path.normpath(top / p))
        if absolute.is_relative_to(root):
            relative.append(absolute.relative_to(root).as_posix())
    return plan_paths(config, relative, since=since)


def format_lines(result: Plan) -> str:
    from chartgen.errors import printable

    return "".join(printable(name) + "\n" for name in result.names)
