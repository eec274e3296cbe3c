"""File-system edges: atomic output directories and files, private temporary folders, and
the leftovers of interrupted runs.

Generated directories are written to a temporary sibling and swapped into place, so a
failure never leaves a half-written output. A directory chartgen wrote carries a marker
file; a non-empty directory without it is refused rather than replaced, so chartgen
never deletes what it did not write.

Every temporary name chartgen makes carries the id of the process that made it
(`.<name>.tmp-<pid>-XXXX`, `.<name>.old-<pid>`, `chartgen-publish-<pid>-XXXX`, ...). A run
killed at any point (SIGKILL included) leaves at most such names behind; the next run that
touches the folder removes those whose process is gone (`sweep_leftovers`), and puts back a
directory that was moved aside (`.<name>.old-<pid>`) when the swap never finished.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterable, Iterator, Mapping

from chartgen.errors import ChartgenError, UsageError

MARKER = ".chartgen"


def relative_paths(paths, top) -> list[Path | None]:
    """Each path relative to the folder `top` as resolving both would give it (None: not
    inside `top`). Resolved only when needed: below `top`, with no `..` and no symbolic link
    on the way, the plain relative path is the same; each folder on the way is checked for a
    link once (a thousand workflow folders share a parent)."""
    top = os.path.abspath(top)
    links: dict[str, bool] = {}
    resolved_top: list[Path] = []
    shown: list[Path | None] = []
    for path in paths:
        plain = os.path.abspath(path)
        if plain.startswith(top.rstrip(os.sep) + os.sep) and ".." not in Path(path).parts:
            folder, linked = plain, False
            while len(folder) > len(top) and not linked:
                if folder not in links:
                    links[folder] = os.path.islink(folder)
                linked = links[folder]
                folder = os.path.dirname(folder)
            if not linked:
                shown.append(Path(os.path.relpath(plain, top)))
                continue
        try:
            if not resolved_top:
                resolved_top.append(Path(top).resolve())
            shown.append(Path(path).resolve().relative_to(resolved_top[0]))
        except (ValueError, OSError):
            shown.append(None)
    return shown


def identity(path) -> tuple[int, int] | None:
    """Which file or folder `path` (a path or a scandir entry) is, links followed: (device,
    inode), one stat where resolving a path costs one per part of it; None when it cannot be
    stat'ed."""
    try:
        info = path.stat() if isinstance(path, os.DirEntry) else os.stat(path)
    except OSError:
        return None
    return info.st_dev, info.st_ino


def is_inside(path: Path, root: Path) -> bool:
    """True when `path` (symlinks resolved) lies inside `root`. Never raises: a symlink loop
    stays unresolved (os.path.realpath; Path.resolve raises RuntimeError), and reading it then
    reports the loop."""
    real, top = os.path.realpath(path), os.path.realpath(root)
    return real == top or real.startswith(top.rstrip(os.sep) + os.sep)


def _kind(path: Path) -> str:
    import stat

    try:
        mode = os.stat(path).st_mode
    except OSError:
        return "a broken symbolic link" if os.path.islink(path) else "unreadable"
    for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISREG, "a file"), (stat.S_ISCHR, "a device"),
                       (stat.S_ISBLK, "a device"), (stat.S_ISFIFO, "a pipe"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a file"


def unwritable(path: Path, *, folder: bool = True) -> str | None:
    """Why chartgen cannot write `path`, an output folder (or, folder=False, a file it replaces),
    as the end of a sentence about it (`is a device, not a folder`), or None when it can. A path that exists must be a folder (a regular file); otherwise its
    nearest existing ancestor must be a folder (chartgen creates the missing ones). The folder
    written in is tried by creating and removing a temporary file: permission bits say nothing
    for root, a read-only mount or /proc."""
    path = Path(path)
    if os.path.lexists(path):
        if folder and not path.is_dir():
            return f"is {_kind(path)}, not a folder"
        if not folder and not path.is_file():
            return f"is {_kind(path)}, not a regular file"
    existing = path if folder and path.is_dir() else path.parent
    while not os.path.lexists(existing) and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return f"cannot be created: {existing} is {_kind(existing)}, not a folder"
    try:
        fd, probe = tempfile.mkstemp(prefix=temp_prefix(".chartgen-probe-"), dir=existing)
    except OSError as exc:
        return f"cannot be written: {existing}: {exc.strerror or exc}"
    os.close(fd)
    os.unlink(probe)
    return None


def check_replaceable(target: Path, *, marker: str = MARKER) -> None:
    """Refuse to replace a non-empty directory that chartgen did not write."""
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise UsageError(f"{target} exists and is not a directory; refusing to replace it",
                         path=target, code="output-not-dir")
    if target.is_dir() and any(target.iterdir()) and not (target / marker).exists():
        raise ChartgenError(
            f"{target} is not empty and was not written by chartgen (no {marker} marker); "
            "refusing to delete it. Choose an empty or new directory.",
            path=target, code="output-not-ours")


@contextmanager
def atomic_directory(target: Path, *, marker: str = MARKER, marker_text: str = "",
                     reuse: Iterable[str] = ()) -> Iterator[Path]:
    """Yield a fresh temp directory; on success it replaces `target` in one swap.

    On any exception the temp directory is removed and `target` is left as it was.
    `reuse`: folders of `target` (relative paths) that the new directory holds unchanged:
    they are moved in just before the swap instead of being written again (the umbrella
    chart's copies of a thousand sub-charts). A journal next to `target` lists them until
    the swap is done, so an interrupted run moves them back (here, or the next run's
    `sweep_leftovers` after a kill): `target` is never left without them.
    """
    target = Path(target)
    sweep_leftovers(target.parent)   # first: it may put back a `target` a killed run moved aside
    check_replaceable(target, marker=marker)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=temp_prefix(f".{target.name}.tmp-"), dir=target.parent))
    journal: Path | None = None
    try:
        yield tmp
        (tmp / marker).write_text(marker_text or "written by chartgen; the whole directory is regenerated\n")
        os.chmod(tmp, 0o755)
        journal = _move_in(target, tmp, sorted(set(reuse))) if target.is_dir() else None
        old = None
        if target.exists():
            old = target.parent / f".{target.name}.old-{os.getpid()}"
            os.rename(target, old)
        try:
            os.rename(tmp, target)
        except BaseException:
            if old is not None:
                os.rename(old, target)  # put the previous output back
            raise
        if journal is not None:
            journal.unlink()
            journal = None
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        if journal is not None:
            _move_back(journal)
        shutil.rmtree(tmp, ignore_errors=True)
        raise


# Next to a folder being replaced: `.<name>.reused-<pid>-XXXX`, the temp folder's name then
# the folders moved from the old folder into it, one JSON string a line.
_REUSED = "reused"


def _move_in(target: Path, tmp: Path, reuse: list[str]) -> Path | None:
    import json

    old, new = os.fspath(target), os.fspath(tmp)

    def is_folder(path: str) -> bool:      # a folder, not a link to one
        try:
            return stat.S_ISDIR(os.lstat(path).st_mode)
        except OSError:
            return False

    reuse = [rel for rel in reuse if is_folder(f"{old}/{rel}") and not os.path.lexists(f"{new}/{rel}")]
    if not reuse:
        return None
    fd, name = tempfile.mkstemp(prefix=temp_prefix(f".{target.name}.{_REUSED}-"), dir=target.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write("".join(json.dumps(line) + "\n" for line in [tmp.name, *reuse]))
    made: set[str] = set()
    for rel in reuse:
        parent = os.path.dirname(rel)
        if parent not in made:
            (tmp / parent).mkdir(parents=True, exist_ok=True)
            made.add(parent)
        os.rename(f"{old}/{rel}", f"{new}/{rel}")
    return Path(name)


def _move_back(journal: Path) -> None:
    """Put back what the journal says was moved into a temp folder that never took the place
    of its target; then drop the journal."""
    import json

    try:
        lines = [json.loads(line) for line in journal.read_text(encoding="utf-8").splitlines()]
    except (OSError, ValueError):
        lines = []
    match = re.match(rf"^\.(?P<base>.+)\.{_REUSED}-\d+-{_RANDOM}$", journal.name)
    if match and lines and isinstance(lines[0], str) and \
            re.fullmatch(rf"\.{re.escape(match.group('base'))}\.tmp-\d+-{_RANDOM}", lines[0]):
        target, tmp = journal.parent / match.group("base"), journal.parent / lines[0]
        for rel in lines[1:]:
            if not isinstance(rel, str) or not rel or rel.startswith("/") or \
                    {"..", ".", ""} & set(rel.split("/")) or not tmp.is_dir() or not target.is_dir():
                continue   # only what this journal's own run could have moved
            if os.path.isdir(tmp / rel) and not os.path.lexists(target / rel):
                try:
                    (target / rel).parent.mkdir(parents=True, exist_ok=True)
                    os.rename(tmp / rel, target / rel)
                except OSError:
                    pass
    try:
        journal.unlink()
    except FileNotFoundError:
        pass


# Memos that trust a file by its stamp (size, modification time, inode) record only files
# older than this: an edit within the same clock tick could keep the stamp (git's "racy" case).
SETTLED_NS = 2_000_000_000


def is_settled(mtime_ns: int) -> bool:
    """Whether a file modified at `mtime_ns` is old enough for a stamp-keyed memo to trust."""
    return time.time_ns() - mtime_ns > SETTLED_NS


def user_cache_dir(name: str) -> Path | None:
    """`$XDG_CACHE_HOME/chartgen/<name>` (else ~/.cache/...), made private to the user, for
    what chartgen keeps between runs outside any repository (never a repository's own
    `.chartgen/`: anyone who can change the repository can write there). None when there is
    no such place or it is not the user's own (another user's, a link, open to others)."""
    home = os.path.expanduser("~")
    base = os.environ.get("XDG_CACHE_HOME") or (os.path.join(home, ".cache") if home != "~" else "")
    if not base or not os.path.isabs(base):
        return None
    folder = Path(base) / "chartgen" / name
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = os.lstat(folder)
    except OSError:
        return None
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o022:
        return None
    return folder


def template_cache():
    """A jinja2 bytecode cache in the user's cache folder: each process would otherwise compile
    chartgen's templates again (~40 ms a run); None where there is no private cache folder."""
    import jinja2

    from chartgen import __version__

    folder = user_cache_dir("templates")
    return jinja2.FileSystemBytecodeCache(str(folder), f"{__version__}-%s.cache") if folder else None


def write_tree(root: Path, files: Mapping[str, str | bytes]) -> None:
    """Write relative-path -> content pairs under `root` (which must exist)."""
    for rel, content in sorted(files.items()):
        dest = root / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            dest.write_bytes(content)
        else:
            dest.write_text(content, encoding="utf-8")


def _replace_atomic(path: Path, fill: Callable[[str], None], temp_dir: Path | None = None) -> None:
    """Write a temp file in `path`'s folder (or `temp_dir`, on the same file system) with
    `fill(temp_path)`, then rename it over `path`: readers see the old file or the new one,
    never half of it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if temp_dir is not None:
        Path(temp_dir).mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=temp_prefix(f".{path.name}.tmp-"), dir=temp_dir or path.parent)
    os.close(fd)
    try:
        fill(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_atomic(path: Path, content: str | bytes, *, temp_dir: Path | None = None) -> None:
    """Replace one file atomically with `content`; `temp_dir`: where the temporary file is
    made (a folder of its own lets a sweep after a killed run look at it alone, not at a
    folder of thousands of files)."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    _replace_atomic(path, lambda tmp: Path(tmp).write_bytes(data), temp_dir)


def copy_atomic(source: Path, dest: Path) -> None:
    """Replace `dest` atomically with a copy of `source`."""
    _replace_atomic(dest, lambda tmp: shutil.copyfile(source, tmp))


# ------------------------------------------------------------------ leftovers of killed runs

# Seconds of slack when comparing a process's start time with a file's change time: the boot
# time in /proc/stat is whole seconds.
_CLOCK_SLACK = 2.0
# Names without a process id, as chartgen made them before it recorded one: removed once
# they are this old (no live run keeps a temporary name that long).
_LEGACY_AGE = 3600.0
_RANDOM = r"[A-Za-z0-9_]+"
# chartgen's own temporary files and folders: `[.]chartgen-<what>-<pid>-XXXX`.
_TEMPORARY = re.compile(rf"^\.?chartgen-[a-z]+-(?P<pid>\d+)-{_RANDOM}$")
# (pattern, restore): `base` is the name the entry stands for; `restore` entries are put
# back under that name when it is missing (a swap interrupted between its two renames).
_LEFTOVERS = (
    (re.compile(r"^\.(?P<base>.+)\.old-(?P<pid>\d+)$"), True),
    (re.compile(rf"^\.(?P<base>.+)\.(?:tmp|removed|reused)-(?P<pid>\d+)-{_RANDOM}$"), False),
    (_TEMPORARY, False),
)
_LEGACY = (   # distinctive enough not to be anybody's own file (`.index.yaml.original` is kept)
    re.compile(r"^\.(?P<base>.+)\.(?:tmp-|removed\.)[a-z0-9_]{8}$"),
    re.compile(r"^\.(?P<base>.+\.(?:tgz|prov))\.[a-z0-9_]{8}$"),
    re.compile(r"^\.chartgen-package-[a-z0-9_]{8}$"),
    re.compile(r"^chartgen-[a-z]+-[a-z0-9_]{8}$"),
)


def temp_prefix(prefix: str) -> str:
    """`prefix` with this process's id: the start of every temporary name chartgen makes."""
    return f"{prefix}{os.getpid()}-"


def _boot_time() -> float | None:
    try:
        with open("/proc/stat", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("btime "):
                    return float(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def process_start_time(pid: int) -> float | None:
    """When process `pid` started (seconds since the epoch), or None when unknown (no /proc)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        boot = _boot_time()
        return None if boot is None else boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def owner_is_gone(pid: int, changed: float) -> bool:
    """True when no live process can own a temporary name made by process `pid` and last
    changed at `changed` (epoch seconds): no such process, or one started after the change
    (the id was reused: another container, a later run)."""
    if pid != os.getpid():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            pass   # alive, another user's
        except OSError:
            return False
    started = process_start_time(pid)
    return started is not None and started > changed + _CLOCK_SLACK


# How long a dead run's folder may take to remove: a program it started (git clone, fetch)
# outlives a SIGKILL of chartgen and keeps writing into the folder for a moment.
_REMOVE_PATIENCE = 5.0


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        deadline = time.monotonic() + _REMOVE_PATIENCE
        while True:
            shutil.rmtree(path, ignore_errors=True)
            if not os.path.lexists(path) or time.monotonic() > deadline:
                return
            time.sleep(0.05)
    else:
        try:
            path.unlink()
        except FileNotFoundError:
            pass


def sweep_leftovers(folder: Path, *, only: str | None = None) -> list[Path]:
    """Remove the temporary names of dead chartgen runs in `folder`; put back a directory that
    an interrupted swap left moved aside (`.<name>.old-<pid>` when `<name>` is missing).
    `only`: consider just the names starting with it. Returns what was removed or restored."""
    try:
        names = [n for n in os.listdir(folder) if (n.startswith(only) if only else n[:1] in ".c")]
    except OSError:
        return []
    now = time.time()
    swept: list[Path] = []
    # A folder moved aside comes back first, then what a journal says was moved out of it,
    # and only then are the temp folders removed.
    names.sort(key=lambda n: (0 if ".old-" in n else 1 if f".{_REUSED}-" in n else 2, n))
    for name in names:
        path = Path(folder) / name
        for pattern, restore in _LEFTOVERS:
            match = pattern.match(name)
            if match is None:
                continue
            try:
                changed = path.lstat().st_ctime
            except OSError:
                break
            if owner_is_gone(int(match.group("pid")), changed):
                if name.startswith(FOREIGN_WATCH):
                    swept.extend(_remove_foreign(Path(folder), path, changed))
                if f".{_REUSED}-" in name and not restore and path.is_file():
                    _move_back(path)
                    swept.append(path)
                    break
                base = Path(folder) / match.group("base") if restore else None
                if base is not None and not os.path.lexists(base) and (path / MARKER).is_file():
                    try:
                        os.rename(path, base)
                    except OSError:
                        _remove(path)
                else:
                    _remove(path)
                swept.append(path)
            break
        else:
            if any(p.match(name) for p in _LEGACY):
                try:
                    old = now - path.lstat().st_ctime > _LEGACY_AGE
                except OSError:
                    old = False
                if old:
                    _remove(path)
                    swept.append(path)
    return swept


# ---------------------------------------------- temporary folders that other code names

# Helm's Go code, loaded in-process by helm-python-sdk, makes its own temporary folders
# (`helm-c-pull-<random>`) in the temporary folder the process's environment named when it
# started (Go reads the environment once, before Python could change it). Their names carry no
# process id, so a run killed during a pull leaves one no later run could tell from a live
# run's. Around such a call chartgen writes a watch file `chartgen-watch-<pid>-XXXX` listing
# the foreign names that exist already; when the watch of a dead run is swept, the foreign
# names made since (and not possibly a live run's) go with it.
FOREIGN_WATCH = "chartgen-watch-"
FOREIGN_PREFIX = "helm-c-"


def startup_temp_dir() -> Path:
    """The temporary folder Go code in this process uses: $TMPDIR as the process started
    (/proc/self/environ), else /tmp."""
    try:
        with open("/proc/self/environ", "rb") as handle:
            block = handle.read()
    except OSError:
        return Path(os.environ.get("TMPDIR") or "/tmp")
    for item in block.split(b"\0"):
        if item.startswith(b"TMPDIR=") and len(item) > 7:
            return Path(os.fsdecode(item[7:]))
    return Path("/tmp")


def _foreign_names(folder: Path) -> set[str]:
    try:
        return {n for n in os.listdir(folder) if n.startswith(FOREIGN_PREFIX)}
    except OSError:
        return set()


def _watched(watch: Path) -> set[str]:
    try:
        return set(watch.read_text(encoding="utf-8", errors="replace").split("\n"))
    except OSError:
        return set()


def _remove_foreign(folder: Path, watch: Path, started: float) -> list[Path]:
    """The foreign names the dead run of `watch` may have made: absent when it started
    watching, made since, and present before every live watch began (so no live run's)."""
    candidates = _foreign_names(folder) - _watched(watch)
    if not candidates:
        return []
    for name in os.listdir(folder):
        match = _TEMPORARY.match(name)
        if name.startswith(FOREIGN_WATCH) and match and name != watch.name:
            try:
                changed = (folder / name).lstat().st_ctime
            except OSError:
                continue
            if not owner_is_gone(int(match.group("pid")), changed):
                candidates &= _watched(folder / name)
    removed = []
    for name in sorted(candidates):
        path = folder / name
        try:
            made = path.lstat().st_ctime
        except OSError:
            continue
        if made >= started - _CLOCK_SLACK:
            _remove(path)
            removed.append(path)
    return removed


def sweep_foreign_watches() -> None:
    """Remove the watches of dead runs, and what those runs' foreign calls left behind."""
    for folder in {startup_temp_dir(), Path(tempfile.gettempdir())}:
        sweep_leftovers(folder, only=FOREIGN_WATCH)


@contextmanager
def foreign_temps_watched() -> Iterator[None]:
    """Around a call into Helm's Go code that may make temporary folders of its own: the next
    run removes them if this one is killed meanwhile (see FOREIGN_WATCH)."""
    sweep_foreign_watches()
    folder = startup_temp_dir()
    try:
        handle, name = tempfile.mkstemp(prefix=temp_prefix(FOREIGN_WATCH), dir=folder)
    except OSError:
        yield    # an unwritable temporary folder: Go's own call will say so
        return
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write("\n".join(sorted(_foreign_names(folder))))
    try:
        yield
    finally:
        try:
            os.unlink(name)
        except OSError:
            pass


def make_temp_dir(prefix: str, *, dir: Path | None = None) -> Path:
    """A new private folder `<prefix><pid>-XXXX` in `dir` (default: the system's temporary
    folder), after removing those of dead runs with the same prefix. The caller removes it."""
    parent = Path(dir) if dir is not None else Path(tempfile.gettempdir())
    sweep_leftovers(parent, only=prefix)
    return Path(tempfile.mkdtemp(prefix=temp_prefix(prefix), dir=parent))


@contextmanager
def temp_directory(prefix: str, *, dir: Path | None = None) -> Iterator[Path]:
    """`make_temp_dir`, removed afterwards."""
    path = make_temp_dir(prefix, dir=dir)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
        # Again on the way out: a dead run's name whose process id a short-lived process had
        # taken over at the start (e.g. a git of this run) can be told apart now.
        sweep_leftovers(path.parent, only=prefix)
