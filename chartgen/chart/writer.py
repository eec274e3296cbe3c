"""Writing a chart folder: version decision, Chart.yaml, hand-written extras, atomic swap.

The new content is hashed (Chart.yaml with the version token, without the hash and the
source commit). Same hash as the chart on disk (or, when the folder is gone, as the chart
in git HEAD): the version and source commit stay. Otherwise the version is bumped by the
policy (never down). The folder is replaced as a whole (fsutil.atomic_directory), so
files of earlier runs never linger; files chartgen.yaml declares as extras are carried over.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Container, Mapping

from chartgen.chart.artifacthub import VERSION_ANNOTATIONS
from chartgen.chart.recovery import ArchivedVersions, Decision, reconcile
from chartgen.chart.settings import A_CONTENT_HASH, A_SOURCE_COMMIT, A_UMBRELLA, VERSION_TOKEN
from chartgen.chart.tree import chart_file_names, current_copies, file_inodes
from chartgen.chart.versioning import Floor, content_hash, decide_version, parse
from chartgen.errors import ERROR, ChartgenError, Finding, UsageError
from chartgen.fsutil import MARKER
from chartgen.settings import ChartSettings

# Recorded per version, not content: left out of the content hash.
UNHASHED_ANNOTATIONS = (A_CONTENT_HASH, A_SOURCE_COMMIT, *VERSION_ANNOTATIONS)
CHART_FIELD_ORDER = ("apiVersion", "name", "description", "type", "version", "appVersion", "kubeVersion",
                     "home", "icon", "sources", "keywords", "maintainers", "dependencies", "annotations")


@dataclass(frozen=True)
class ChartResult:
    name: str
    version: str
    path: Path
    changed: bool
    previous_version: str | None
    discarded_edits: tuple[str, ...] = ()   # files edited by hand that this write overwrote


MARKER_TEXT = ("written by chartgen chart; regenerated as a whole "
               "(declare hand-written files under chart.extras in chartgen.yaml)\n")
RECORD_HEADER = "sha256 of each file as chartgen wrote it (chart version left out), to tell hand edits:\n"


def chart_yaml(fields: Mapping, version: str, annotations: Mapping[str, str]) -> str:
    """Chart.yaml text: the usual key order, annotations sorted, empty fields left out."""
    return _chart_yaml_text(_chart_data(fields, version, annotations))


def _chart_yaml_text(data: dict) -> str:
    """`chart_yaml` of what `_chart_data` gives."""
    from chartgen.yamlio import dump_yaml

    dependencies = data.get("dependencies")
    if not isinstance(dependencies, list) or len(dependencies) < _SPLIT_FROM or _shares_objects(data):
        return dump_yaml(data, sort_keys=False)
    # An umbrella's (thousands of lines): its dependencies dumped once for the Chart.yaml hashed
    # and the one written. Each top-level key of a block mapping is its own lines, so the
    # parts dumped apart are the whole (anchors aside: none where no object appears twice).
    parts: list[dict] = [{}]
    for key, value in data.items():
        if key == "dependencies":
            parts += [{key: value}, {}]
        else:
            parts[-1][key] = value
    return "".join(_dependencies_yaml(part["dependencies"]) if "dependencies" in part else
                   dump_yaml(part, sort_keys=False) if part else "" for part in parts)


_SPLIT_FROM = 64
_DEPENDENCIES_DUMPED: dict[str, str] = {}


def _dependencies_yaml(dependencies: list) -> str:
    """`dependencies:` and its list, as dump_yaml writes them (the last one kept)."""
    import json

    from chartgen.yamlio import dump_yaml

    try:
        key = json.dumps(dependencies)
    except (TypeError, ValueError):
        return dump_yaml({"dependencies": dependencies}, sort_keys=False)
    if key not in _DEPENDENCIES_DUMPED:
        _DEPENDENCIES_DUMPED.clear()
        _DEPENDENCIES_DUMPED[key] = dump_yaml({"dependencies": dependencies}, sort_keys=False)
    return _DEPENDENCIES_DUMPED[key]


def _shares_objects(data) -> bool:
    """Whether a list or mapping appears twice in `data` (YAML would write an anchor)."""
    seen: set[int] = set()
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, (dict, list)):
            if id(item) in seen:
                return True
            seen.add(id(item))
            stack.extend(item.values() if isinstance(item, dict) else item)
    return False


def _chart_data(fields: Mapping, version: str, annotations: Mapping[str, str]) -> dict:
    """What `chart_yaml` writes, as data."""
    data = dict(fields)
    data["version"] = version
    data["annotations"] = {k: str(v) for k, v in sorted(annotations.items())}
    ordered = {key: data[key] for key in CHART_FIELD_ORDER if data.get(key) not in (None, "", [], {})}
    extra = sorted(set(data) - set(CHART_FIELD_ORDER))
    if extra:
        raise ChartgenError(f"internal: unknown Chart.yaml fields {extra}", code="chart-internal")
    return ordered


def _git_toplevel(folder: Path) -> Path | None:
    """The work tree holding `folder` (found by its `.git`, without running git), or None."""
    for candidate in (folder, *folder.parents):
        if (candidate / ".git").exists():
            return candidate
    return None


def _git_head_chart(target: Path) -> dict:
    """Chart.yaml of `target` as committed in git HEAD, or {}."""
    from chartgen.yamlio import load_data

    parent = target.parent
    while not parent.exists():
        parent = parent.parent
    top = _git_toplevel(parent.resolve())
    if top is None:
        return {}
    try:
        rel = (parent.resolve() / target.relative_to(parent)).relative_to(top).as_posix()
        shown = subprocess.run(["git", "-C", str(top), "show", f"HEAD:{rel}/Chart.yaml"],
                               capture_output=True, timeout=10)
    except (OSError, ValueError, subprocess.SubprocessError):
        return {}
    if shown.returncode != 0:
        return {}
    try:
        data = load_data(shown.stdout, f"HEAD:{rel}/Chart.yaml")
    except ChartgenError:
        return {}
    return data if isinstance(data, dict) else {}


def previous_chart(target: Path) -> dict:
    """Chart.yaml data of the chart being replaced: on disk, else in git HEAD."""
    from chartgen.chart.versioning import read_chart_yaml

    if (target / "Chart.yaml").is_file():
        return read_chart_yaml(target)
    return _git_head_chart(target)


def collect_extras(target: Path, patterns: tuple[str, ...]) -> dict[str, bytes]:
    """Hand-written files of the existing chart that chartgen.yaml says to keep."""
    kept: dict[str, bytes] = {}
    if not patterns or not target.is_dir():
        return kept
    for pattern in patterns:
        if pattern.startswith("/") or ".." in pattern.split("/"):
            raise UsageError(f"chart.extras pattern {pattern!r} must stay inside the chart folder",
                             code="bad-extra")
    for path in sorted(target.rglob("*")):
        if not path.is_file() or path.is_symlink():
            continue
        rel = path.relative_to(target).as_posix()
        if rel == MARKER:
            continue
        if any(fnmatch.fnmatchcase(rel, pattern) for pattern in patterns):
            kept[rel] = path.read_bytes()
    return kept


def _on_disk_equal(target: Path, files: Mapping[str, str | bytes], subtrees: Mapping[str, object],
                   current: set[str], marker: str) -> bool:
    """Whether `target` already holds `files` and, of `subtrees`, only copies that are `current`."""
    try:
        if (target / MARKER).read_text(encoding="utf-8") != marker:
            return False
    except (OSError, UnicodeDecodeError):
        return False
    if set(subtrees) != current:
        return False
    present = file_inodes(target, prune=subtrees)
    if present is None:
        return False
    present.pop(MARKER, None)
    if -1 in present.values():
        return False     # a symbolic link or a device where chartgen writes files
    own = set(present)
    wanted = {rel for rel in files if not _roots(rel, subtrees)}
    if own != wanted:
        return False
    for rel in wanted:
        content = files[rel]
        data = content.encode("utf-8") if isinstance(content, str) else content
        if (target / rel).read_bytes() != data:
            return False
    return True


def _bytes(content: str | bytes | None) -> bytes | None:
    return content.encode("utf-8") if isinstance(content, str) else content


def _sha256(content: str | bytes) -> str:
    import hashlib

    return hashlib.sha256(_bytes(content)).hexdigest()


def _roots(rel: str, subtrees: Container[str]) -> tuple[str, ...]:
    """The subtree folder `rel` lies in (at most one: subtrees are `charts/<name>`), as a tuple."""
    parts = rel.split("/", 2)
    root = "/".join(parts[:2])
    return (root,) if len(parts) > 2 and root in subtrees else ()


def write_files(root: Path, files: Mapping[str, str | bytes], links: Mapping[str, str | Path] = {}) -> None:
    """Write `files` under `root` (one mkdir per folder) and hard-link `links` (a copy where
    the file system cannot link). Every write goes to a fresh temp folder, so links never
    let a later write change another chart."""
    made: set[Path] = set()
    for rel in sorted(set(files) | set(links)):
        dest = root / rel
        if dest.parent not in made:
            dest.parent.mkdir(parents=True, exist_ok=True)
            made.add(dest.parent)
        if rel in files:
            content = files[rel]
            dest.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
            continue
        try:
            os.link(links[rel], dest)
        except OSError:
            shutil.copyfile(links[rel], dest)


def _as_written(chart_dir: Path, settings: ChartSettings, *, for_record: bool = False
                ) -> tuple[dict[str, bytes], str] | None:
    """The chart's files as chartgen hashes them when it writes them (the version put back to
    its token, Chart.yaml without hash and source commit), and the recorded content hash; None
    for a chart without a version or content hash. `for_record`: only what the marker records
    (`_file_hashes`), and Chart.yaml as the SHA-256 of its text where chartgen knows what it
    wrote (`chartgen.chart.versioning.written_chart_digest`), under `_WRITTEN_DIGEST`."""
    from chartgen.chart.readme import set_readme_version
    from chartgen.chart.versioning import read_chart_yaml, written_chart_digest

    meta = read_chart_yaml(chart_dir)
    annotations = meta.get("annotations")
    if not isinstance(annotations, dict) or not annotations.get(A_CONTENT_HASH) or not meta.get("version"):
        return None
    version = str(meta["version"])
    extras = settings.extras_for(str(meta.get("name", "")))
    umbrella = annotations.get(A_UMBRELLA) == "true"
    files: dict[str, bytes] = {}
    for rel in chart_file_names(chart_dir, umbrella):
        if rel == "Chart.yaml" or (for_record and umbrella and _SUBCHART_COPY.match(rel)):
            continue
        path = chart_dir / rel
        data = b"symbolic link: " + os.fsencode(os.readlink(path)) if path.is_symlink() else path.read_bytes()
        if rel == "README.md" and not any(fnmatch.fnmatchcase(rel, p) for p in extras):
            data = set_readme_version(data.decode("utf-8", errors="replace"), version, VERSION_TOKEN).encode("utf-8")
        files[rel] = data
    if for_record:
        try:
            digest = written_chart_digest((chart_dir / "Chart.yaml").read_bytes())
        except OSError:
            digest = ""
        if digest:
            files[_WRITTEN_DIGEST] = digest.encode("ascii")
            return files, str(annotations[A_CONTENT_HASH])
    fields = {k: v for k, v in meta.items() if k not in ("version", "annotations")}
    recorded = {k: v for k, v in annotations.items() if k not in UNHASHED_ANNOTATIONS}
    try:
        files["Chart.yaml"] = chart_yaml(fields, VERSION_TOKEN, recorded).encode("utf-8")
    except ChartgenError:
        return None
    return files, str(annotations[A_CONTENT_HASH])


# In `_as_written(for_record=True)`: the SHA-256 of Chart.yaml as written, in place of its text.
_WRITTEN_DIGEST = "\0Chart.yaml"


def verify_chart(chart_dir: Path, settings: ChartSettings) -> bool:
    """True when the chart holds exactly what chartgen wrote: its files hash to the recorded
    `chartgen.io/content-hash` (computed as write_chart computes it)."""
    written = _as_written(chart_dir, settings)
    return written is not None and content_hash(written[0]) == written[1]


def _file_hashes(files: Mapping[str, str | bytes], umbrella: bool) -> dict[str, str]:
    """sha256 of each file, except the umbrella's copies of its sub-charts' Chart.yaml: they carry
    the sub-chart's source commit, which must not make a new commit's marker differ (and edits of
    a sub-chart are the sub-chart's to report)."""
    import hashlib

    hashes = {rel: hashlib.sha256(data.encode("utf-8") if isinstance(data, str) else data).hexdigest()
              for rel, data in files.items() if not (umbrella and _SUBCHART_COPY.match(rel)) and rel != _WRITTEN_DIGEST}
    if _WRITTEN_DIGEST in files:
        hashes["Chart.yaml"] = _bytes(files[_WRITTEN_DIGEST]).decode("ascii")
    return hashes


_SUBCHART_COPY = re.compile(r"^charts/[^/]+/Chart\.yaml$")


def marker_text(hashed: Mapping[str, str | bytes], umbrella: bool = False) -> str:
    """The `.chartgen` marker of a chart: what it is, then the hash of each file as written
    (`<sha256>  "<path>"`, the path as a JSON string: any byte of a file name stays one line)."""
    import json

    lines = [f"{digest}  {json.dumps(rel)}\n" for rel, digest in sorted(_file_hashes(hashed, umbrella).items())]
    return MARKER_TEXT + RECORD_HEADER + "".join(lines)


def _recorded_hashes(chart_dir: Path) -> dict[str, str] | None:
    """The file hashes the marker recorded, or None (no marker, or one of an older chartgen)."""
    import json

    try:
        text = (chart_dir / MARKER).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    if RECORD_HEADER not in text:
        return None
    record: dict[str, str] = {}
    for line in text.split(RECORD_HEADER, 1)[1].splitlines():
        digest, _, rel = line.partition("  ")
        try:
            record[json.loads(rel)] = digest
        except ValueError:
            return None
    return record


def hand_edits(chart_dir: Path, settings: ChartSettings) -> tuple[str, ...] | None:
    """Files of a chart chartgen wrote that were changed or added since (a regeneration would
    lose them), files declared under chart.extras left out; `()` for a chart nobody edited,
    `("",)` when only its content hash tells (a marker of an older chartgen), None when
    chartgen cannot tell (no marker, no content hash)."""
    if not (chart_dir / MARKER).is_file():
        return None
    record = _recorded_hashes(chart_dir)
    written = _as_written(chart_dir, settings, for_record=record is not None)
    if written is None:
        return None
    files, recorded_hash = written
    from chartgen.chart.versioning import read_chart_yaml

    meta = read_chart_yaml(chart_dir)
    extras = settings.extras_for(str(meta.get("name", "")))
    umbrella = meta["annotations"].get(A_UMBRELLA) == "true"     # _as_written checked the annotations
    if record is None:
        return () if extras or content_hash(files) == recorded_hash else ("",)
    return tuple(rel for rel, digest in sorted(_file_hashes(files, umbrella).items())
                 if record.get(rel) != digest and not any(fnmatch.fnmatchcase(rel, p) for p in extras))


def refuse_hand_edits(chart_dir: Path, edited: tuple[str, ...]) -> None:
    """Raise [chart-hand-edit]: one finding per edited file, so CI annotates each."""
    try:   # shown as the user names it: relative to the current folder when inside it
        chart_dir = Path(chart_dir).resolve().relative_to(Path.cwd().resolve())
    except (ValueError, OSError):
        pass
    fix = ("regenerating would lose the edit (keep it: change the workflow sources, or list the file under "
           "chart.extras in chartgen.yaml; drop it: --discard-edits)")
    raise ChartgenError(findings=[
        Finding(str(chart_dir / rel), 0, 0, ERROR, f"changed or added by hand since chartgen wrote {chart_dir}: {fix}",
                "chart-hand-edit") if rel else
        Finding(str(chart_dir), 0, 0, ERROR, "files edited by hand since chartgen wrote this chart (they no longer "
                f"match its chartgen.io/content-hash): {fix}", "chart-hand-edit")
        for rel in edited])


def _refuse_duplicates(built: Path, target: Path) -> None:
    """Hand-written templates kept in the chart must not repeat a generated object."""
    from chartgen.chart.objects import check_duplicates

    problems = check_duplicates(built)
    if problems:
        raise ChartgenError(findings=[Finding(str(target / "templates"), 0, 0, ERROR,
                                              f"{p.message.split(' is also', 1)[0]} comes from a kept extra "
                                              "template and from chartgen; remove one (chart.extras in "
                                              "chartgen.yaml)", "duplicate-object") for p in problems])


def write_chart(target: Path, files: Mapping[str, str | bytes], fields: Mapping, annotations: Mapping[str, str],
                settings: ChartSettings, *, source_commit: str | None = None, extras: tuple[str, ...] = (),
                versioned_texts: tuple[str, ...] = ("README.md",),
                subtrees: Mapping[str, Path] | None = None, archived: ArchivedVersions | None = None,
                floor: Floor | None = None, memo=None) -> ChartResult:
    """Decide the version, write `target` atomically, and say what happened.

    `files` holds every generated file except Chart.yaml; the texts named in
    `versioned_texts` carry the version token, replaced here by the real version.
    `subtrees` (folder -> sub-chart folder): the umbrella's copies of its sub-charts, whose
    Chart.yaml (with their content hash) is in `files`; their other files are hard links to
    the sub-chart's, not hashed. A copy already current is moved into the new folder as it
    is, so a change of one sub-chart costs one sub-chart, not a thousand.
    `archived`: the chart's archives already packaged (`chartgen.chart.recovery`).
    `floor` is what is published of this chart (chart.versioning.version_floor): the
    version never goes below it. `memo`: what tells the copies current (`current_copies`).
    """
    from chartgen.chart.readme import apply_version
    from chartgen.chart.versioning import remember_chart_yaml
    from chartgen.fsutil import atomic_directory, sweep_leftovers

    subtrees = dict(subtrees or {})

    target = Path(target)
    sweep_leftovers(target.parent)   # first: it puts back a folder a killed run left moved aside
    previous = previous_chart(target)
    kept = collect_extras(target, extras)
    content = {**files, **kept}
    hashed = dict(content)
    hashed["Chart.yaml"] = chart_yaml(fields, VERSION_TOKEN, annotations)
    digest = content_hash(hashed)

    previous_annotations = previous.get("annotations") if isinstance(previous.get("annotations"), dict) else {}
    previous_version = str(previous["version"]) if previous.get("version") not in (None, "") else None
    if previous_version is not None:
        parse(previous_version, path=str(target / "Chart.yaml"))
    version, changed = decide_version(previous_version, previous_annotations.get(A_CONTENT_HASH), digest,
                                      floor, settings)
    commit = source_commit if changed else previous_annotations.get(A_SOURCE_COMMIT)
    if archived is not None:
        decided = reconcile(Decision(version, changed, commit), digest, archived,
                            folder_missing=not (target / "Chart.yaml").is_file(), previous_version=previous_version,
                            source_commit=source_commit, policy=settings.version_policy,
                            label=settings.prerelease_label)
        version, changed, commit = decided.version, decided.changed, decided.source_commit

    final_annotations = dict(annotations)
    final_annotations[A_CONTENT_HASH] = digest
    if commit:
        final_annotations[A_SOURCE_COMMIT] = str(commit)
    current, linked = current_copies(target, subtrees, {rel: _bytes(content.get(f"{rel}/Chart.yaml"))
                                                        for rel in subtrees}, memo)
    if settings.artifacthub:
        from chartgen.chart.artifacthub import changes_since, version_annotations

        # A current copy holds the new Chart.yaml already: not read again
        same = {f"{rel}/Chart.yaml": _bytes(content[f"{rel}/Chart.yaml"]) for rel in current}
        changes = changes_since(target, previous, content, {**fields, "annotations": annotations},
                                first=f"First version of the chart {fields.get('name', target.name)}", known=same) \
            if changed else None
        final_annotations.update(version_annotations(version, changes, previous_annotations))
    packaged = archived.lookup(version) if archived is not None else None
    if packaged is not None and packaged.get(A_CONTENT_HASH) == digest:
        # This version is already packaged with this content: its per-version notes (the
        # changes since the version before) are part of that archive; keep them as they are.
        for key in VERSION_ANNOTATIONS:
            final_annotations.pop(key, None)
            if key in packaged:
                final_annotations[key] = packaged[key]
    final: dict[str, str | bytes] = dict(content)
    for rel in versioned_texts:
        if rel in final and rel not in kept and isinstance(final[rel], str):
            final[rel] = apply_version(final[rel], version)
    final_data = _chart_data(fields, version, final_annotations)
    final["Chart.yaml"] = _chart_yaml_text(final_data)
    # What this Chart.yaml is as hashed (`_as_written`): the next run reads it unparsed.
    same_annotations = {k: str(v) for k, v in annotations.items()} == \
        {k: v for k, v in final_data["annotations"].items() if k not in UNHASHED_ANNOTATIONS}
    remember_chart_yaml(final["Chart.yaml"], final_data, _sha256(hashed["Chart.yaml"]) if same_annotations else "")
    discarded: tuple[str, ...] = ()
    marker = marker_text(hashed, umbrella=annotations.get(A_UMBRELLA) == "true")
    if not _on_disk_equal(target, final, subtrees, current, marker):
        discarded = hand_edits(target, settings) or ()
        if discarded and settings.hand_edits != "overwrite":
            refuse_hand_edits(target, discarded)
        links = {f"{rel}/{inner}": path for rel in sorted(linked) for inner, (path, _) in linked[rel].items()}
        written = {rel: data for rel, data in final.items() if not _roots(rel, current)}
        with atomic_directory(target, marker_text=marker, reuse=current) as tmp:
            write_files(tmp, written, links)
            if any(rel.startswith("templates/") for rel in kept):
                _refuse_duplicates(tmp, target)
    name = str(fields.get("name", target.name))
    return ChartResult(name, version, target, changed, previous_version, discarded)
