"""What is already published: the newest version of each chart in the Helm repository.

A chart's version continues the published history (chart.versioning.decide_version): it never
goes below the newest version published, and keeps a published version whose content is the
same. The history is read from every place chartgen knows for this repository, each once:
the publish target (`--publish`/`--to`, else `publish.target`: its index on the branch, in the
folder, or the tags in the OCI registry), the index at `publish.url`, and the one at
`chart.helm_repository`. What cannot be read is reported as one warning
(`[published-unreachable]`), never guessed around silently; the versions recorded in
chartgen.yaml (`versionFloors:`, written by `chartgen adopt`) apply either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

from chartgen.chart.settings import A_CONTENT_HASH, A_SOURCE_REPO, A_UMBRELLA
from chartgen.errors import WARNING, ChartgenError, Finding, redact
from chartgen.repo.index import INDEX_NAME, IndexFile, newest_version
from chartgen.repo.versions import is_newer


@dataclass(frozen=True)
class Published:
    """The newest published version of each chart asked about, and where it was read."""

    versions: Mapping[str, tuple[str, str]]    # chart -> (version, content hash or "")
    read: tuple[str, ...] = ()                 # the places read
    problems: tuple[Finding, ...] = ()         # places that could not be read (warnings)


def index_locations(config, target: str | None = None) -> list[str]:
    """Where this repository's published charts can be read: the target of this run, the
    configured one (`publish.target`), the repository URLs (`publish.url`,
    `chart.helm_repository`), each once."""
    places = [target, config.publish.target, config.publish.url, config.chart.helm_repository]
    seen: list[str] = []
    for place in places:
        place = (place or "").strip()
        if place and place.rstrip("/") not in [p.rstrip("/") for p in seen]:
            seen.append(place)
    return seen


def newest(index: IndexFile, names: Iterable[str] | None = None, *,
           not_from: str = "") -> dict[str, tuple[str, str]]:
    """chart -> (newest version, its chartgen.io/content-hash or "") for `names` (all charts
    when None); only the blocks of those charts are parsed. `not_from`: leave out the versions
    chartgen made from that source repository (chartgen.io/source-repository)."""
    found: dict[str, tuple[str, str]] = {}
    for name in (index.names() if names is None else names):
        if name not in index.entries:
            continue
        if not_from:
            versions = tuple(e for e in index.versions(name) if not made_from(e, not_from))
            version = newest_version(versions)
            entry = next((e for e in versions if str(e.get("version")) == version), None)
        else:                       # only the newest entry is parsed (a large index: 1,000 charts)
            entry = index.pick(name, lambda versions: newest_version({"version": v} for v in versions))
        if entry is None:
            continue
        notes = entry.get("annotations") if isinstance(entry.get("annotations"), dict) else {}
        found[name] = (str(entry.get("version")), str(notes.get(A_CONTENT_HASH) or ""))
    return found


def made_from(entry: Mapping, repository: str) -> bool:
    """Whether chartgen made this index entry's chart from `repository`: its
    chartgen.io/source-repository, or for the umbrella chart (which records none) its sources."""
    notes = entry.get("annotations") if isinstance(entry.get("annotations"), Mapping) else {}
    if notes.get(A_SOURCE_REPO) == repository:
        return True
    sources = entry.get("sources") if isinstance(entry.get("sources"), list) else []
    return str(notes.get(A_UMBRELLA)) == "true" and repository in sources


def read_index_at(location: str, *, environ: Mapping[str, str] | None = None, credentials=None) -> IndexFile | None:
    """The index of a publish target or repository URL (an OCI registry has none: None);
    an empty index when nothing is published there yet. Raises ChartgenError when it cannot
    be read."""
    import os

    from chartgen.repo.index import empty_index
    from chartgen.repo.publish import parse_target
    from chartgen.repo.reading import fetch_index, load_index, parse_index

    if location.startswith(("http://", "https://")):
        return fetch_index(location)
    target = parse_target(location)
    if target.kind == "dir":
        index = Path(target.location) / INDEX_NAME
        return load_index(index) if index.is_file() else empty_index()
    if target.kind == "git":
        from chartgen.repo.publish.git import read_index_file

        raw = read_index_file(target, os.environ if environ is None else environ, credentials)
        return parse_index(raw, f"{target}") if raw is not None else empty_index()
    return None


def read_location(location: str, names: Iterable[str], *, environ: Mapping[str, str] | None = None,
                  credentials=None) -> dict[str, tuple[str, str]]:
    """The newest published versions of `names` at one place (a publish target or a
    repository URL). A place with nothing published yet gives {}; one that cannot be read
    raises ChartgenError."""
    import os

    from chartgen.repo.publish import parse_target

    names = list(names)
    index = read_index_at(location, environ=environ, credentials=credentials)
    if index is not None:
        return newest(index, names)
    return _read_oci(parse_target(location), names, os.environ if environ is None else environ)


def _read_oci(target, names: list[str], environ: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    import tempfile

    import helm_python

    from chartgen.repo.publish.oci import is_loopback, newest_tag, registry_credentials, split_location

    host, path = split_location(target.location)
    found: dict[str, tuple[str, str]] = {}
    with tempfile.TemporaryDirectory(prefix="chartgen-published-") as tmp:
        try:
            client = helm_python.RegistryClient(plain_http=is_loopback(host),
                                                credentials_file=Path(tmp) / "registry.json")
            with client:
                credentials = registry_credentials(host, environ)
                if credentials:
                    client.login(host, credentials[0], credentials[1], plain_http=is_loopback(host))
                for name in names:
                    version = newest_tag(client, helm_python, f"oci://{host}/{path}/{name}")
                    if version is not None:
                        found[name] = (version, "")
        except helm_python.HelmError as exc:
            raise ChartgenError(f"cannot read the registry: {redact(str(exc))}", code="published-unreachable") \
                from None
    return found


def read_published(locations: Iterable[str], names: Iterable[str], *, environ: Mapping[str, str] | None = None,
                   credentials_for=None) -> Published:
    """The newest published version of each of `names` over every place in `locations` (the
    highest wins). A place that cannot be read is a warning in `problems`, not an error.
    `credentials_for(location)` gives the credentials for a git place (or None)."""
    names = list(dict.fromkeys(names))
    merged: dict[str, tuple[str, str]] = {}
    read, problems = [], []
    for location in locations:
        shown = redact(location)
        try:
            credentials = credentials_for(location) if credentials_for is not None else None
            found = read_location(location, names, environ=environ, credentials=credentials)
        except ChartgenError as exc:
            reason = (exc.findings[0].message if exc.findings else str(exc)).replace("\\n", "\n")
            reason = reason.split("\n")[0].strip()
            problems.append(Finding(shown, 0, 0, WARNING, f"cannot read what is published there ({reason}); chart "
                                    "versions do not take it into account, so they may go below a version "
                                    "published there (publishing there refuses that)",
                                    "published-unreachable"))
            continue
        read.append(shown)
        for name, (version, digest) in found.items():
            if name not in merged or is_newer(version, merged[name][0]):
                merged[name] = (version, digest)
    return Published(merged, tuple(read), tuple(problems))


def with_published(config, published: Published):
    """`config` whose charts continue from `published` (Settings.published)."""
    rows = tuple(sorted((name, version, digest) for name, (version, digest) in published.versions.items()))
    return config.with_overrides(published=rows)


def continue_published(config, folder_names: Iterable[str], *, target: str | None = None, credentials_for=None,
                       warn_new: bool = True, charts_dir: Path | None = None):
    """(config, warnings): `config` whose charts continue the published history (the newest
    published version of each chart of `folder_names` and of the umbrella chart, from every
    place `index_locations` names), and what to tell the user once: a place that could not be
    read (`published-unreachable`), or, with `warn_new` and no place nor `versionFloors:` at
    all, the workflows whose chart is made for the first time from nothing published
    (`published-unknown`). `charts_dir` is where the charts go (default `charts`)."""
    folder_names = list(folder_names)
    locations = index_locations(config, target)
    if locations:
        names = [config.chart_of(name).name for name in folder_names] + [config.chart.umbrella_name]
        published = read_published(locations, names, credentials_for=credentials_for)
        return with_published(config, published), published.problems
    charts = Path(charts_dir) if charts_dir is not None else config.charts_dir
    new = [name for name in folder_names if warn_new and not config.settings.version_floors
           and not (charts / config.chart_of(name).folder / "Chart.yaml").is_file()]
    if not new:
        return config, ()
    shown = ", ".join(sorted(new)[:3]) + (f" and {len(new) - 3} more" if len(new) > 3 else "")
    where = str(config.path) if config.path else "chartgen.yaml"
    return config, (Finding(where, 0, 0, WARNING, f"no published Helm repository is known (publish.target, "
                            f"publish.url), so the new charts of {shown} start at {config.chart.first_version}; "
                            "if these workflows were published before, run `chartgen adopt` first to continue "
                            "their versions", "published-unknown"),)
