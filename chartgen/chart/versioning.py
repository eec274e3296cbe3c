"""Chart versions: the bump policy, explicit bumps, content hashes and never going down.

A generated chart records a hash of its content (every file, with the version and the
source commit left out) in the `chartgen.io/content-hash` annotation. Regenerating keeps
the version when the hash is unchanged and bumps it by the configured policy otherwise.
Pre-releases are `X.Y.Z-<label>.N` with a numeric N, so SemVer orders rc.10 after rc.9
(the old `rcN` scheme sorted rc10 below rc2).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from chartgen.errors import ChartgenError, UsageError

PARTS = ("major", "minor", "patch", "release", "prerelease")
COMMIT_TOKEN = "chartgen-source-commit"        # stands for the source commit while hashing


def parse(version: str, *, path: str = "Chart.yaml"):
    import semver

    try:
        return semver.Version.parse(str(version).strip().strip("'\""))
    except (ValueError, TypeError):
        raise ChartgenError(f"chart version {version!r} is not SemVer 2 (X.Y.Z or X.Y.Z-pre)",
                            path=path, code="bad-version") from None


def greater(a: str, b: str) -> bool:
    """True when version `a` sorts after `b` (SemVer 2 precedence)."""
    return parse(a).compare(parse(b)) > 0


def _with_pre(version, label: str, number: int) -> str:
    return str(version.replace(prerelease=f"{label}.{number}", build=None))


def _pre_number(version, label: str) -> int | None:
    """N of `<label>.N`, or None for any other pre-release (e.g. the old `rc9`)."""
    pre = version.prerelease or ""
    match = re.fullmatch(rf"{re.escape(label)}\.(\d+)", pre)
    return int(match.group(1)) if match else None


def next_version(previous: str, policy: str = "prerelease", label: str = "rc") -> str:
    """The version after `previous` for changed content, by policy; always greater."""
    current = parse(previous)
    if policy == "prerelease":
        number = _pre_number(current, label)
        if number is not None:
            candidate = _with_pre(current, label, number + 1)
        else:
            # A release (1.2.0 -> 1.2.1-rc.1) or an unknown pre-release scheme (1.3.0-rc9: rc.10
            # would sort below it, so move to the next patch: 1.3.1-rc.1).
            candidate = _with_pre(current.replace(prerelease=None, build=None).bump_patch(), label, 1)
    elif policy == "patch":
        candidate = str(current.bump_patch()) if not current.prerelease else str(current.finalize_version())
    elif policy == "minor":
        candidate = str(current.bump_minor())
    else:
        raise UsageError(f"unknown version policy {policy!r} (choose prerelease, patch or minor)",
                         code="bad-version-policy")
    if not greater(candidate, previous):  # pragma: no cover - guarded by the rules above
        raise ChartgenError(f"cannot compute a version above {previous}", code="version-order")
    return candidate


def bump(version: str, part: str, *, prerelease: bool = False, label: str = "rc") -> str:
    """An explicit bump (`chartgen version --major|--minor|--patch|--release|--prerelease`).

    major/minor/patch bump that part and drop any pre-release (1.2.3-rc.4 --patch -> 1.2.4);
    with prerelease=True the result starts a pre-release (1.2.3 --minor --prerelease -> 1.3.0-rc.1).
    release drops the pre-release (1.2.3-rc.4 -> 1.2.3); prerelease alone counts up
    (1.2.3-rc.4 -> 1.2.3-rc.5; 1.2.3 -> 1.2.4-rc.1).
    """
    current = parse(version)
    if part == "release":
        if not current.prerelease:
            raise UsageError(f"{version} is already a release; use --patch, --minor or --major",
                             code="already-released")
        result = str(current.finalize_version())
    elif part == "prerelease":
        result = next_version(version, "prerelease", label)
    elif part in ("major", "minor", "patch"):
        base = current.replace(prerelease=None, build=None)
        bumped = {"major": base.bump_major, "minor": base.bump_minor, "patch": base.bump_patch}[part]()
        result = _with_pre(bumped, label, 1) if prerelease else str(bumped)
    else:
        raise UsageError(f"unknown version part {part!r} (choose one of {', '.join(PARTS)})", code="bad-part")
    if not greater(result, version):  # pragma: no cover - every rule above goes up
        raise ChartgenError(f"{result} would not be above {version}", code="version-order")
    return result


# A floor whose content hash is this holds whatever this run generates: `chartgen build --pr`
# proposes each chart at the version the build gave it, though the proposal adds what only
# the pull request carries (the image digest, the chart repository's umbrella).
SAME_RUN = "*"


@dataclass(frozen=True)
class Floor:
    """The lowest version a chart may continue from: what is already published."""

    version: str
    content_hash: str = ""      # the published chart's chartgen.io/content-hash, when known
    source: str = ""            # where it was read: `versionFloors` or the published index


def _sort_key(version: str):
    return parse(version[1:] if version[:1] in ("v", "V") else version)


def version_floor(settings, chart: str) -> Floor | None:
    """The floor of `chart`: the higher of its `versionFloors:` entry and the newest version
    of the published index (Settings.published, read at run time), or None."""
    floors = [Floor(v, "", "versionFloors") for n, v in settings.version_floors if n == chart]
    floors += [Floor(v, h, "the published index") for n, v, h in settings.published if n == chart]
    best = None
    for floor in floors:
        try:
            order = _sort_key(floor.version).compare(_sort_key(best.version) if best else "0.0.0")
        except ChartgenError:
            continue                # an unreadable published version is no floor
        order = 1 if best is None else order
        if order > 0 or (order == 0 and floor.content_hash and not best.content_hash):
            best = floor
    return best


def decide_version(previous: str | None, previous_hash: str | None, digest: str, floor: Floor | None,
                   settings) -> tuple[str, bool]:
    """The one version rule (`chartgen chart`, `build`, `pr`): (version, changed).

    The chart continues from the higher of its previous version (the chart being replaced:
    on disk, in git HEAD, or in the chart repository's base) and its floor (what is
    published). It keeps that version when it holds this very content (same content hash),
    and otherwise goes one step above it by `chart.version_policy`: never below anything
    published, never a version published with other content. A chart with neither starts at
    `chart.initial_version` (0.1.0-rc.1).
    """
    top, top_hash = previous, previous_hash
    if floor is not None and (top is None or _sort_key(floor.version).compare(_sort_key(top)) > 0):
        top, top_hash = floor.version, floor.content_hash
    if top is None:
        return settings.first_version, True
    if digest and (top_hash == digest or (floor is not None and floor.version == top
                                         and floor.content_hash in (digest, SAME_RUN))):
        return top, not (previous == top and previous_hash == digest)
    if previous is None and settings.initial_version and greater(settings.initial_version, top):
        return settings.initial_version, True
    return next_version(top, settings.version_policy, settings.prerelease_label), True


def content_hash(files: Mapping[str, str | bytes]) -> str:
    """sha256 over relative path and content of every file, in path order."""
    digest = hashlib.sha256()
    for rel in sorted(files):
        content = files[rel]
        data = content.encode("utf-8") if isinstance(content, str) else content
        digest.update(rel.encode("utf-8") + b"\0" + str(len(data)).encode() + b"\0" + data)
    return "sha256:" + digest.hexdigest()


# path -> [size, mtime, inode, data as JSON]: a build reads each Chart.yaml many times, and
# the build cache keeps them for the next build (`chart_yaml_memo`). A file written in the last
# seconds (not `is_settled`: its stamp could be shared by an edit to come) is kept by its
# content instead: "sha256:<hex of its bytes>" -> [size, 0, 0, data as JSON, digest as written],
# the last the SHA-256 of the Chart.yaml chartgen hashed for it (version token, no hash or source
# commit; `remember_chart_yaml`), or "". A file whose stamp is not known is looked up by its
# bytes, so the umbrella's Chart.yaml (thousands of lines, written by each build) is parsed by
# no later build, nor are the charts a build wrote before they settled.
_CHART_YAMLS: dict[str, list] = {}
_CHART_YAMLS_SEEN: dict[str, list] = {}
_CONTENT = "sha256:"


def chart_yaml_memo(recorded: dict | None) -> dict:
    """Start with the Chart.yaml data a previous build recorded; returns the dict collecting
    what this one reads (what the build cache saves)."""
    _CHART_YAMLS.clear()
    _CHART_YAMLS.update(recorded or {})
    _CHART_YAMLS_SEEN.clear()
    return _CHART_YAMLS_SEEN


def _content_key(raw: bytes) -> str:
    return _CONTENT + hashlib.sha256(raw).hexdigest()


def _plain(data) -> bool:
    """Whether `data` holds only mappings with string keys, lists and strings (what YAML
    gives back as it was dumped)."""
    if isinstance(data, str):
        return True
    if isinstance(data, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in data.items())
    if isinstance(data, list):
        return all(_plain(v) for v in data)
    return False


def remember_chart_yaml(text: str, data: dict, written_digest: str = "") -> None:
    """Note the Chart.yaml chartgen writes: `text`, the dump of `data`; `written_digest`: the
    SHA-256 of the Chart.yaml it hashed for it (see `written_chart_digest`). The next read of
    these bytes (by this build or the next) is not parsed."""
    import json

    if not _plain(data):
        return              # a value YAML might not give back as it was: parsed when read
    raw = text.encode("utf-8")
    key = _content_key(raw)
    _CHART_YAMLS[key] = _CHART_YAMLS_SEEN[key] = [len(raw), 0, 0, json.dumps(data), written_digest]


def written_chart_digest(raw: bytes) -> str:
    """The SHA-256 of the Chart.yaml chartgen hashed when it wrote these Chart.yaml bytes, or ""
    when not known (`remember_chart_yaml`)."""
    key = _content_key(raw)
    known = _CHART_YAMLS.get(key)
    if known is None or len(known) < 5 or not isinstance(known[4], str):
        return ""
    _CHART_YAMLS_SEEN[key] = known
    return known[4]


def known_chart_yaml(raw: bytes) -> dict | None:
    """The data of these Chart.yaml bytes if this build or the last one wrote or parsed them
    (`remember_chart_yaml`, `read_chart_yaml`), else None: a fresh copy."""
    import json

    key = _content_key(raw)
    known = _CHART_YAMLS.get(key)
    if known is None or known[0] != len(raw):
        return None
    _CHART_YAMLS_SEEN[key] = known
    return json.loads(known[3])


# path -> (size, mtime, inode, data): what `chart_yaml_view` gave in this process.
_VIEWS: dict[str, tuple[int, int, int, dict]] = {}


def chart_yaml_view(chart_dir: Path) -> dict:
    """`read_chart_yaml`, for a caller that does not change what it gets: the same object to
    every caller while the file's stamp is the same (a thousand charts are read by several
    steps of a build)."""
    import os

    key = os.path.join(chart_dir, "Chart.yaml")
    try:
        info = os.stat(key)
    except OSError:
        return {}
    known = _VIEWS.get(key)
    if known is not None and known[:3] == (info.st_size, info.st_mtime_ns, info.st_ino):
        return known[3]
    data = read_chart_yaml(chart_dir)
    if len(_VIEWS) > 65536:
        _VIEWS.clear()
    _VIEWS[key] = (info.st_size, info.st_mtime_ns, info.st_ino, data)
    return data


def content_entries_to_keep(recorded: dict | None, kept: dict) -> dict[str, list]:
    """Of a previous record's entries kept by content (the Chart.yaml chartgen wrote, with
    what it hashed for it; one read before it settled), those whose data is that of a
    Chart.yaml `kept` holds by its path: a run that read no Chart.yaml (a rerun with nothing
    to do) must not lose what the next one asks by the bytes (the umbrella's, thousands of
    lines to parse and dump again). An entry is only ever used for the very bytes it is
    keyed on, so keeping one too many costs room, never a wrong answer."""
    current = {entry[3] for key, entry in kept.items() if not key.startswith(_CONTENT) and len(entry) > 3}
    return {key: entry for key, entry in (recorded or {}).items()
            if key.startswith(_CONTENT) and key not in kept and len(entry) > 3 and entry[3] in current}


def read_chart_yaml(chart_dir: Path) -> dict:
    import json
    import os

    from chartgen.fsutil import is_settled
    from chartgen.yamlio import load_data

    path = Path(chart_dir) / "Chart.yaml"
    key = os.fspath(path)
    try:
        info = os.stat(key)
        stamp = [info.st_size, info.st_mtime_ns, info.st_ino]
        known = _CHART_YAMLS.get(key)
        if known is not None and known[:3] == stamp:
            _CHART_YAMLS_SEEN[key] = known
            return json.loads(known[3])     # a fresh copy for the caller to change
        raw = path.read_bytes()
    except OSError:
        return {}
    settled = is_settled(info.st_mtime_ns)
    content = _content_key(raw)
    known = _CHART_YAMLS.get(content)
    if known is not None and known[0] == len(raw):
        _CHART_YAMLS[key] = stamp + [known[3]]
        if settled:
            _CHART_YAMLS_SEEN[key] = _CHART_YAMLS[key]     # kept by its stamp from now on
        else:
            _CHART_YAMLS_SEEN[content] = known
        return json.loads(known[3])
    data = load_data(raw, str(path))
    data = data if isinstance(data, dict) else {}
    try:
        text = json.dumps(data)     # key order kept: Chart.yaml is written back in it
    except (TypeError, ValueError):
        return data          # a YAML date or the like: not kept
    if json.loads(text) != data:
        return data
    if len(_CHART_YAMLS) > 65536:
        _CHART_YAMLS.clear()
    _CHART_YAMLS[key] = stamp + [text]
    if settled:
        _CHART_YAMLS_SEEN[key] = _CHART_YAMLS[key]   # settled: an edit to come changes its time
    else:
        _CHART_YAMLS[content] = _CHART_YAMLS_SEEN[content] = [len(raw), 0, 0, text, ""]
    return data


def set_chart_version(text: str, version: str) -> str:
    """Chart.yaml text with its top-level `version:` replaced, everything else kept as written
    (ruamel.yaml's round-trip mode keeps comments, order and quoting)."""
    import io

    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    editor = YAML()
    editor.preserve_quotes = True
    editor.width = 1 << 30
    from chartgen.chart.artifacthub import AH_PRERELEASE, prerelease_value
    from chartgen.yamlio import check_yaml

    check_yaml(text, "Chart.yaml")   # alias expansion and depth bounded, as for every YAML read
    try:
        data = editor.load(text)
    except YAMLError as exc:
        raise ChartgenError(f"Chart.yaml is not valid YAML: {exc}", code="bad-chart-yaml") from None
    if not isinstance(data, dict) or "version" not in data:
        raise ChartgenError("Chart.yaml has no top-level `version:` line", code="bad-chart-yaml")
    data["version"] = version
    annotations = data.get("annotations")
    if isinstance(annotations, dict) and AH_PRERELEASE in annotations:   # Artifact Hub's flag follows
        annotations[AH_PRERELEASE] = prerelease_value(version)
    out = io.StringIO()
    editor.dump(data, out)
    return out.getvalue()


def bump_version(chart_dir: Path | str, part: str, *, prerelease: bool = False, config=None) -> str:
    """Bump a generated chart's version in place (Chart.yaml and README.md); returns it.

    The content hash is not touched (it leaves the version out), so the next regeneration
    keeps the bumped version. Regenerate the umbrella chart afterwards (the command does).
    """
    from chartgen.chart.readme import set_readme_version
    from chartgen.fsutil import write_atomic

    chart_dir = Path(chart_dir)
    chart_yaml = chart_dir / "Chart.yaml"
    if not chart_yaml.is_file():
        raise UsageError(f"{chart_dir} is not a chart (no Chart.yaml)", path=chart_dir, code="not-a-chart")
    from chartgen.settings import ChartSettings

    settings = config.chart if config is not None else ChartSettings()
    old = str(read_chart_yaml(chart_dir).get("version", ""))
    new = bump(old, part, prerelease=prerelease, label=settings.prerelease_label)
    write_atomic(chart_yaml, set_chart_version(chart_yaml.read_text(encoding="utf-8"), new))
    readme = chart_dir / "README.md"
    if readme.is_file():
        write_atomic(readme, set_readme_version(readme.read_text(encoding="utf-8"), old, new))
    return new
