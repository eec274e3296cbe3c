"""Lint results kept by content hash, so that a build lints only what changed.

`LintCache` is a folder (the build's `.chartgen/lint/`), one small JSON file per result,
named by the hash of what was linted (every file of the chart) and of what judges it
(`salt`: chartgen's code and settings, the yamllint configuration, Helm's version): parallel
workers never write the same file, and a changed byte anywhere is a new key.

The umbrella chart is linted in parts whose results are each kept:
- its own files (Chart.yaml, values, schema, templates) by yamllint and the Python checks;
- `helm lint --strict` of a "shell": the umbrella with, for each sub-chart, only what Helm
  reads of a disabled dependency (Chart.yaml, values.yaml, values.schema.json). Every
  sub-chart is off by default, so Helm renders none of their templates either way, and each
  sub-chart was linted on its own (its own lint stage); its Chart.yaml files are normalised
  (versions and annotations), so a new version of a sub-chart alone does not run it again;
  the key is made from the sub-charts' files' stamps while they hold (`_shell_digest`);
- the duplicate-object check across sub-charts, from each sub-chart's objects, kept per
  sub-chart: keyed on its Chart.yaml when that is the workflow chart's (whose content hash
  covers every file, as generated; the copy was made from it in the same stage), else on
  its files' names, sizes, times and inodes; the first kind also in one memo of the umbrella
  by the two Chart.yaml files' stamps (`_umbrella_objects`).
The umbrella's own Chart.yaml is yamllint-ed in pieces (`chartgen.chart.yamlsplit`).
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from dataclasses import asdict
from pathlib import Path
from typing import Iterable

from chartgen.chart.lint import (_helm_checks, _python_checks, _umbrella_duplicates, chart_dirs_of, generated_objects,
                                 run_helm_lint, yamllint_config_path)
from chartgen.chart.objects import check_duplicates, dependency_values, display_path, rendered_objects
from chartgen.errors import Finding

CACHE_FORMAT = "1"
SHELL_FILES = ("Chart.yaml", "values.yaml", "values.schema.json")
TEMP_FOLDER = ".tmp"       # where results are written before they are renamed into place


class LintCache:
    """`folder`/<hash>.json; `salt`: what else the results depend on (see `lint_salt`)."""

    def __init__(self, folder: Path | None, salt: str = "") -> None:
        self.folder = Path(folder) if folder is not None else None
        self.salt = salt

    def key(self, kind: str, *parts: bytes | str) -> str:
        digest = hashlib.sha256(f"{CACHE_FORMAT}\0{kind}\0{self.salt}\0".encode())
        for part in parts:
            digest.update(part.encode() if isinstance(part, str) else part)
        return digest.hexdigest()

    def get(self, key: str):
        if self.folder is None:
            return None
        path = self.folder / f"{key}.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            os.utime(path)             # used: `prune` keeps it
        except (OSError, ValueError):
            return None
        return data

    def put(self, key: str, data) -> None:
        if self.folder is None:
            return
        from chartgen.fsutil import write_atomic

        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            write_atomic(self.folder / f"{key}.json", json.dumps(data, sort_keys=True),
                         temp_dir=self.folder / TEMP_FOLDER)
        except OSError:
            pass    # a cache that cannot be written only costs the next lint


def prune(folder: Path, *, days: int = 30) -> None:
    """Remove the results not used for `days` days (charts long gone or changed since), and
    the temporary files of runs killed while writing one."""
    import time

    from chartgen.fsutil import sweep_leftovers

    sweep_leftovers(Path(folder) / TEMP_FOLDER)    # results are written through a folder of their own
    # At most once a day: listing thousands of results costs tens of milliseconds, a stat of
    # each a tenth of a second at a thousand charts.
    stamp = Path(folder).with_name(Path(folder).name + ".pruned")
    try:
        if time.time() - stamp.stat().st_mtime < 86400:
            return
    except OSError:
        pass
    sweep_leftovers(folder)                        # temporary files of older versions, written here
    limit = time.time() - days * 86400
    try:
        entries = list(os.scandir(folder))
        stamp.touch()
    except OSError:
        return
    for entry in entries:
        try:
            if entry.name.endswith(".json") and entry.stat().st_mtime < limit:
                os.unlink(entry.path)
        except OSError:
            pass


def lint_salt(config, extra: str = "") -> str:
    """What lint results depend on besides the chart: settings, yamllint rules, Helm."""
    import helm_python

    from chartgen import __version__

    digest = hashlib.sha256(f"{__version__}\0{extra}\0".encode())
    digest.update(json.dumps(config.settings.to_data(), sort_keys=True, default=str).encode())
    try:
        digest.update(Path(yamllint_config_path(config)).read_bytes())
    except OSError:
        digest.update(b"<no yamllint config>")
    digest.update(str(helm_python.helm_sdk_version()).encode())
    return digest.hexdigest()


def _tree_bytes(root: Path, *, skip_top: Iterable[str] = ()) -> bytes:
    """Every file under `root` (name and bytes), in order; top-level entries `skip_top` left out."""
    digest = hashlib.sha256()
    skip = set(skip_top)
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        if rel_dir == ".":
            dirnames[:] = [d for d in dirnames if d not in skip]
            filenames = [f for f in filenames if f not in skip]
        dirnames.sort()
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            digest.update(os.fsencode(os.path.relpath(path, root)) + b"\0")
            try:
                with open(path, "rb") as handle:
                    digest.update(handle.read())
            except OSError:
                digest.update(b"<unreadable>")
            digest.update(b"\1")
    return digest.digest()


def _stat_bytes(root: Path, skip: tuple[str, ...] = ()) -> bytes:
    """Names, sizes, times and inodes of the files under `root` (top-level `skip` left out)."""
    digest = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        if dirpath == os.fspath(root):
            filenames = [f for f in filenames if f not in skip]
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            try:
                info = os.stat(path)
            except OSError:
                continue
            digest.update(f"{os.path.relpath(path, root)}\0{info.st_size}\0{info.st_mtime_ns}\0{info.st_ino}\0"
                          .encode())
    return digest.digest()


def _dump(findings: Iterable[Finding]) -> list:
    return [asdict(f) for f in findings]


def _load(data: list) -> list[Finding]:
    return [Finding(**f) for f in data]


def _where(chart_dir: Path) -> str:
    """Findings name files relative to the working folder: part of the key."""
    return display_path(chart_dir)


def lint_chart_cached(chart_dir: Path, config, cache: LintCache, *, ci_values: bool = False) -> list[Finding]:
    """The checks `lint_charts` runs on one chart (all but the git version check)."""
    if dependency_values(chart_dir):
        return lint_umbrella(chart_dir, config, cache)
    key = cache.key("chart", _where(chart_dir), str(ci_values), _tree_bytes(chart_dir))
    hit = cache.get(key)
    if hit is not None:
        return _load(hit["findings"])
    helm_findings, _ = _helm_checks(chart_dir, config, ci_values)
    findings = _python_checks(chart_dir, config) + helm_findings
    cache.put(key, {"findings": _dump(findings)})
    return findings


# Left out of the umbrella's shell: files Helm's lint never reads.
_SHELL_SKIPS = ("charts", "README.md", ".chartgen")
_NORMAL_VERSION = "0.0.0"


def _shell_listing(umbrella: Path) -> tuple[dict[str, str], dict[str, tuple[str, os.stat_result]]]:
    """What the shell holds (see `_shell_files`), as relative path -> file: the umbrella's own
    files, and the sub-charts' (with their `lstat`): regular files only, no links."""
    own: dict[str, str] = {}
    top = os.fspath(umbrella)
    for dirpath, dirnames, filenames in os.walk(top):
        rel_dir = os.path.relpath(dirpath, top)
        if rel_dir == ".":
            dirnames[:] = [d for d in dirnames if d not in _SHELL_SKIPS]
            filenames = [f for f in filenames if f not in _SHELL_SKIPS]
        for name in filenames:
            path = os.path.join(dirpath, name)
            if os.path.isfile(path) and not os.path.islink(path):
                own[os.path.relpath(path, top).replace(os.sep, "/")] = path
    subs: dict[str, tuple[str, os.stat_result]] = {}
    try:
        entries = sorted(os.scandir(os.path.join(top, "charts")), key=lambda entry: entry.name)
    except OSError:
        entries = []
    for entry in entries:
        if entry.is_dir():
            for name in SHELL_FILES:
                path = os.path.join(entry.path, name)
                try:
                    info = os.lstat(path)
                except OSError:
                    continue
                if stat.S_ISREG(info.st_mode):
                    subs[f"charts/{entry.name}/{name}"] = (path, info)
        elif entry.is_file(follow_symlinks=False):   # a packaged dependency: Helm reads all of it
            subs[f"charts/{entry.name}"] = (entry.path, entry.stat(follow_symlinks=False))
    return own, subs


def _read(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def _normal_sub_file(rel: str, data: bytes) -> tuple[bytes, str | None]:
    """A sub-chart's file as the shell holds it, and the sub-chart's version (of its Chart.yaml)."""
    if rel.endswith("/Chart.yaml") and rel.count("/") == 2:
        return _normal_chart_yaml(data, {})
    return data, None


def _shell_files(umbrella: Path) -> dict[str, bytes]:
    """What `helm lint` of the umbrella reads, as relative path -> bytes: its own files, and of
    each sub-chart only what Helm reads of a disabled dependency (every sub-chart is off by
    default, and was linted on its own).

    The Chart.yaml files are normalised: versions (the umbrella's, each sub-chart's and the
    dependencies' that match them) become one placeholder and the annotations (content hash,
    source commit, changes) are dropped. Those change with every workflow change and Helm's
    lint of the umbrella says nothing about them that the sub-charts' own lints and chartgen's
    version checks do not; so the result is kept across such changes and the ~1 s `helm lint`
    of a thousand-workflow umbrella runs again only when what it judges changed."""
    own, subs = _shell_listing(umbrella)
    files = {rel: _read(path) for rel, path in own.items()}
    versions: dict[str, str] = {}
    for rel, (path, _) in subs.items():
        files[rel], version = _normal_sub_file(rel, _read(path))
        if version is not None:
            versions[rel.split("/")[1]] = version
    if "Chart.yaml" in files:
        files["Chart.yaml"], _ = _normal_chart_yaml(files["Chart.yaml"], versions)
    return files


def _shell_digest(umbrella: Path, cache: LintCache) -> bytes:
    """The digest of `_shell_files(umbrella)`, without reading the sub-charts' files whose
    stamps (inode, size, time) are as when they were last read, long enough ago
    (`fsutil.is_settled`): the umbrella stage rewrites only the sub-charts that changed, so at
    a thousand workflows this is 3,000 `lstat` calls instead of 3,000 reads."""
    from chartgen.fsutil import is_settled

    own, subs = _shell_listing(umbrella)
    memo_key = cache.key("umbrella-shell-stamps", os.path.abspath(umbrella))
    known = cache.get(memo_key) or {}
    kept: dict[str, list] = {}
    digests: dict[str, str] = {}
    versions: dict[str, str] = {}
    for rel, (path, info) in subs.items():
        stamp = [info.st_ino, info.st_size, info.st_mtime_ns]
        entry = known.get(rel)
        if entry is not None and entry[0] == stamp:
            digest, version = entry[1], entry[2]
        else:
            data, version = _normal_sub_file(rel, _read(path))
            digest = hashlib.sha256(data).hexdigest()
        if is_settled(info.st_mtime_ns):
            kept[rel] = [stamp, digest, version]
        digests[rel] = digest
        if version is not None:
            versions[rel.split("/")[1]] = version
    for rel, path in own.items():
        data = _read(path)
        if rel == "Chart.yaml":
            data, _ = _normal_chart_yaml(data, versions)
        digests[rel] = hashlib.sha256(data).hexdigest()
    if kept != known:
        cache.put(memo_key, kept)
    return _files_digest(digests)


def _files_digest(digests: dict[str, str]) -> bytes:
    """One digest of relative path -> SHA-256 (hex) of the file."""
    digest = hashlib.sha256()
    for rel, file_digest in sorted(digests.items()):
        digest.update(rel.encode("utf-8") + b"\0" + bytes.fromhex(file_digest))
    return digest.digest()


def _normal_chart_yaml(data: bytes, dependency_versions: dict[str, str]) -> tuple[bytes, str | None]:
    """(normalised Chart.yaml, the version it had) — see `_shell_files`. Line by line, on the
    layout chartgen writes (a thousand YAML parses would cost more than the lint they save);
    a Chart.yaml of another layout, or whose version is not SemVer, is kept as it is."""
    import semver

    try:
        lines = data.decode("utf-8").split("\n")
    except UnicodeDecodeError:
        return data, None
    version = None
    out: list[str] = []
    block = ""             # the top-level key whose indented lines follow
    dependency = None      # the name of the dependency being read
    for line in lines:
        if line and not line.startswith((" ", "-")):
            block = line.split(":", 1)[0]
            dependency = None
            if block == "version":
                value = line[len("version:"):].strip().strip("'\"")
                if version is not None or not semver.Version.is_valid(value):
                    return data, None
                version = value
                out.append(f"version: {_NORMAL_VERSION}")
                continue
        if block == "annotations":
            continue
        if block == "dependencies":
            if line.startswith("- name: "):
                dependency = line[len("- name: "):].strip()
            elif line.startswith("  version: ") and dependency in dependency_versions \
                    and line[len("  version: "):].strip().strip("'\"") == dependency_versions[dependency]:
                out.append(f"  version: {_NORMAL_VERSION}")
                continue
        out.append(line)
    if version is None:
        return data, None
    return "\n".join(out).encode("utf-8"), version


class _YamllintMemo:
    """yamllint's findings for one file, kept in the lint cache by the file's bytes and name."""

    def __init__(self, cache: LintCache) -> None:
        self.cache = cache

    def _key(self, text: str, path: str) -> str:
        return self.cache.key("yamllint", path, b"\0", text.encode("utf-8"))

    def get(self, text: str, path: str) -> list[Finding] | None:
        hit = self.cache.get(self._key(text, path))
        return _load(hit["findings"]) if hit is not None else None

    def put(self, text: str, path: str, findings: list[Finding]) -> None:
        self.cache.put(self._key(text, path), {"findings": _dump(findings)})


def _umbrella_helm(umbrella: Path, config, cache: LintCache) -> list[Finding]:
    from chartgen.fsutil import temp_directory

    key = cache.key("umbrella-helm", _where(umbrella), _shell_digest(umbrella, cache))
    hit = cache.get(key)
    if hit is not None:
        return _load(hit["findings"])
    files = _shell_files(umbrella)    # kept under what was read and linted
    key = cache.key("umbrella-helm", _where(umbrella),
                    _files_digest({rel: hashlib.sha256(data).hexdigest() for rel, data in files.items()}))
    real = _where(umbrella)
    with temp_directory(".chartgen-lint-", dir=umbrella.parent) as tmp:   # swept if killed
        shell = Path(tmp) / umbrella.name
        from chartgen.chart.writer import write_files

        write_files(shell, files)
        shown = _where(shell)
        findings = [Finding(real + f.path[len(shown):] if f.path.startswith(shown) else f.path, f.line, f.column,
                            f.severity, f.message.replace(str(shell), str(umbrella)).replace(shown, real), f.code)
                    for f in run_helm_lint(shell, ci_values=False)]
    cache.put(key, {"findings": _dump(findings)})
    return findings


def _subchart_objects(sub: Path, config, cache: LintCache) -> tuple[list | None, bool]:
    """(the sub-chart's objects or None, whether its Chart.yaml is its workflow chart's)."""
    # The umbrella writes each sub-chart's Chart.yaml anew (its bytes count, not its time); the
    # other files are links to the workflow chart's, whose own files `generated_objects` reads.
    own = config.charts_dir / sub.name
    try:
        chart_yaml = (sub / "Chart.yaml").read_bytes()
    except OSError:
        chart_yaml = b"<missing>"
    try:
        own_chart_yaml = (own / "Chart.yaml").read_bytes()
    except OSError:
        own_chart_yaml = None
    if own_chart_yaml == chart_yaml:
        # The usual case. Within the build's umbrella stage the copy was just made from the
        # workflow chart, whose files are as chartgen generated them (a hand edit fails its
        # chart stage first), and Chart.yaml carries the hash of all of them.
        key = cache.key("objects", os.path.abspath(sub), hashlib.sha256(chart_yaml).digest(), b"as-generated")
    else:
        key = cache.key("objects", str(sub.resolve()), hashlib.sha256(chart_yaml).digest(),
                        _stat_bytes(sub, skip=("Chart.yaml",)), _stat_bytes(own))
    hit = cache.get(key)
    if hit is not None:
        return [tuple(o) for o in hit["objects"]] if hit["objects"] is not None else None, own_chart_yaml == chart_yaml
    objects = generated_objects(own, config) if own_chart_yaml == chart_yaml else None
    if objects is not None:
        objects = [(f"{sub.name}/{template.split('/', 1)[-1]}", *rest) for template, *rest in objects]
    else:
        import helm_python
        import yaml

        try:
            objects = rendered_objects(sub)
        except (helm_python.HelmError, yaml.YAMLError):
            objects = None
    cache.put(key, {"objects": objects})
    return objects, own_chart_yaml == chart_yaml


def _regular_stamp(path: str) -> list | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return [info.st_ino, info.st_size, info.st_mtime_ns] if stat.S_ISREG(info.st_mode) else None


def _umbrella_objects(umbrella: Path, config, cache: LintCache) -> dict[str, list | None]:
    """Each sub-chart's objects (`_subchart_objects`: (template, kind, namespace, name) each) by
    name. Those of a sub-chart whose
    Chart.yaml is its workflow chart's come from one memo of the umbrella while both files have
    the stamps (inode, size, time) they had then, long enough ago (`fsutil.is_settled`): at a
    thousand workflows, 2,000 `stat` calls instead of 2,000 reads and 1,000 cache files."""
    from chartgen.fsutil import is_settled

    memo_key = cache.key("umbrella-objects", os.path.abspath(umbrella))
    known = cache.get(memo_key) or {}
    kept: dict[str, list] = {}
    rendered: dict[str, list | None] = {}
    charts_dir = os.fspath(config.charts_dir)
    folder = os.path.join(umbrella, "charts")
    try:
        names = sorted(name for name in os.listdir(folder) if not name.startswith("."))
    except OSError:
        names = []
    for name in names:
        stamps = [_regular_stamp(os.path.join(folder, name, "Chart.yaml")),
                  _regular_stamp(os.path.join(charts_dir, name, "Chart.yaml"))]
        if stamps[0] is None:
            continue    # not a chart
        entry = known.get(name)
        if entry is not None and entry[0] == stamps:
            kept[name] = entry
            rendered[name] = entry[1]
            continue
        objects, generated = _subchart_objects(umbrella / "charts" / name, config, cache)
        rendered[name] = objects
        if generated and objects is not None and all(s is not None and is_settled(s[2]) for s in stamps):
            kept[name] = [stamps, [list(o) for o in objects]]
    if kept != known:
        cache.put(memo_key, kept)
    return rendered


def lint_umbrella(umbrella: Path, config, cache: LintCache) -> list[Finding]:
    """The umbrella's checks, each part from the cache when what it reads is unchanged."""
    key = cache.key("umbrella-own", _where(umbrella), _tree_bytes(umbrella, skip_top=("charts",)))
    hit = cache.get(key)
    if hit is not None:
        findings = _load(hit["findings"])
    else:
        findings = _python_checks(umbrella, config, _YamllintMemo(cache))
        cache.put(key, {"findings": _dump(findings)})
    helm_findings = _umbrella_helm(umbrella, config, cache)
    if helm_findings:
        return findings + helm_findings
    rendered = _umbrella_objects(umbrella, config, cache)
    if any(objects is None for objects in rendered.values()):
        return findings + check_duplicates(umbrella)
    return findings + _umbrella_duplicates(umbrella, rendered, sorted(rendered))


def lint_charts_cached(paths: Iterable[str | Path], config, cache: LintCache, *,
                       ci_values: bool = False) -> tuple[Finding, ...]:
    """`lint_charts(paths, config, since=None)` with each result kept in `cache`."""
    findings: list[Finding] = []
    for chart_dir in chart_dirs_of(paths, config):
        findings += lint_chart_cached(chart_dir, config, cache, ci_values=ci_values)
    return tuple(sorted(set(findings), key=lambda f: (f.path, f.line, f.column, f.code, f.message)))
