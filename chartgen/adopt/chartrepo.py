"""An existing chart repository as `chartgen adopt` reads it: its charts (name, folder,
version, the workflows they deploy) and its published index (the gh-pages branch).

The repository is fetched once, shallow, into a scratch folder that is removed afterwards;
credentials reach git as for `chartgen pr` (a GitHub App or a token, never in a URL). Every
file is read through `chartgen.limits.read_file`: a chart repository is input like any other.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from chartgen.errors import ChartgenError, printable, redact

PAGES_BRANCH = "gh-pages"
# Where chart-releaser and `helm repo index` keep the index on the pages branch
# (pages_index_path: docs/index.yaml is the Orchestrator repositories' choice).
INDEX_FOLDERS = ("docs", "")
_SONATAFLOW = re.compile(r"^kind:\s*['\"]?SonataFlow['\"]?\s*(#.*)?$", re.MULTILINE)
_NAME = re.compile(r"^  name:\s*['\"]?([A-Za-z0-9][-A-Za-z0-9.]*)['\"]?\s*(#.*)?$")


@dataclass(frozen=True)
class ExistingChart:
    """A chart folder of the chart repository."""

    folder: str                          # its folder under the charts folder
    name: str                            # Chart.yaml name
    version: str                         # Chart.yaml version
    sonataflows: tuple[str, ...] = ()    # metadata.name of the SonataFlow objects its templates hold
    workflow_id: str = ""                # chartgen.io/workflow-id (a chart chartgen made)
    source_path: str = ""                # chartgen.io/source-path (a chart chartgen made)
    source_repository: str = ""          # chartgen.io/source-repository
    evidence: str = ""                   # the template that names its SonataFlow
    umbrella: bool = False               # it depends on other charts of the folder


@dataclass(frozen=True)
class ChartRepository:
    url: str
    base: str
    charts_dir: str
    charts: tuple[ExistingChart, ...] = ()
    index_target: str = ""               # git:URL#gh-pages:docs, when the branch has an index
    index: object = None                 # chartgen.repo.index.IndexFile of that target
    notes: tuple[str, ...] = field(default=())


def sonataflow_names(text: str) -> list[str]:
    """metadata.name of each `kind: SonataFlow` document of a manifest or template (a name
    written as Helm template syntax is no name: it is left out)."""
    names = []
    for document in re.split(r"^---\s*$", text, flags=re.MULTILINE):
        if not _SONATAFLOW.search(document):
            continue
        in_metadata = False
        for line in document.split("\n"):
            if line.startswith("metadata:"):
                in_metadata = True
                continue
            if in_metadata and line and not line.startswith((" ", "#")):
                break
            match = _NAME.match(line) if in_metadata else None
            if match:
                names.append(match.group(1).lower())
                break
    return names


def read_chart(chart_dir: Path, folder: str, shown: str = "") -> ExistingChart | None:
    """The chart in `chart_dir` (its folder name `folder`, shown as `shown`), or None when it
    has no readable Chart.yaml with a name."""
    from chartgen.limits import read_file
    from chartgen.yamlio import load_data

    try:
        meta = load_data(read_file(chart_dir / "Chart.yaml"), f"{folder}/Chart.yaml")
    except ChartgenError:
        return None
    if not isinstance(meta, dict) or not meta.get("name"):
        return None
    notes = meta.get("annotations") if isinstance(meta.get("annotations"), dict) else {}
    found: list[str] = []
    evidence = ""
    templates = chart_dir / "templates"
    for path in sorted(templates.iterdir()) if templates.is_dir() else ():
        if path.suffix not in (".yaml", ".yml") or not path.is_file() or path.is_symlink():
            continue
        try:
            text = read_file(path).decode("utf-8", errors="replace")
        except ChartgenError:
            continue
        names = sonataflow_names(text)
        if names and not evidence:
            evidence = printable(f"{shown or folder}/templates/{path.name}")   # a file name is input too
        found += [n for n in names if n not in found]
    return ExistingChart(folder, str(meta["name"]), str(meta.get("version") or ""), tuple(found),
                         str(notes.get("chartgen.io/workflow-id") or ""), str(notes.get("chartgen.io/source-path") or ""),
                         str(notes.get("chartgen.io/source-repository") or ""), evidence,
                         bool(meta.get("dependencies")))


def read_charts(charts_root: Path, shown: str = "") -> tuple[ExistingChart, ...]:
    """The charts of `charts_root` (shown as `shown` in evidence paths)."""
    charts = []
    for entry in sorted(charts_root.iterdir()) if charts_root.is_dir() else ():
        if entry.is_dir() and not entry.is_symlink() and not entry.name.startswith("."):
            chart = read_chart(entry, entry.name, f"{shown}/{entry.name}" if shown else entry.name)
            if chart is not None:
                charts.append(chart)
    return tuple(charts)


def fetch_chart_repository(url: str, *, base: str, charts_dir: str, credentials=None,
                           index_target: str = "", workdir: Path | None = None) -> ChartRepository:
    """Read the chart repository at `url`: the charts of `charts_dir` on branch `base`, and
    the index of `index_target` (default: the gh-pages branch's docs/index.yaml or
    index.yaml, when there is one)."""
    from chartgen.gitops.git import Git, check_url, needs_token

    given, url = url, check_url(url)
    scratch = Path(tempfile.mkdtemp(prefix="chartgen-adopt-", dir=workdir))
    notes: list[str] = []
    try:
        git = Git.init(scratch / "repo", url, token=credentials if needs_token(url) else None)
        heads = git.ls_remote("origin", [base, PAGES_BRANCH])
        charts: tuple[ExistingChart, ...] = ()
        if base in heads:
            git.fetch("origin", [base])
            git.run("checkout", "--quiet", "--force", f"refs/remotes/origin/{base}")
            charts = read_charts(git.cwd / charts_dir, charts_dir)
            if not charts:
                notes.append(f"{charts_dir}/ on {base} holds no chart")
        else:
            notes.append(f"the chart repository has no branch {base!r}: no charts read")
        index = None
        if not index_target and PAGES_BRANCH in heads:
            index_target, index = _pages_index(git, given)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return ChartRepository(given, base, charts_dir, charts, index_target, index, tuple(notes))


def _pages_index(git, url: str):
    """(target, index) of the gh-pages branch's index: docs/index.yaml or index.yaml (the one
    with more chart versions when both are there), or ("", None)."""
    from chartgen.repo.reading import parse_index

    git.run("fetch", "--quiet", "--no-tags", "--depth=1", "--filter=blob:none", "origin",
            f"+refs/heads/{PAGES_BRANCH}:refs/remotes/origin/{PAGES_BRANCH}", remote=True)
    ref = f"refs/remotes/origin/{PAGES_BRANCH}"
    best = ("", None)
    for folder in INDEX_FOLDERS:
        path = f"{folder}/index.yaml" if folder else "index.yaml"
        if not git.out("ls-tree", "--name-only", ref, "--", path):
            continue
        raw = git.run("show", f"{ref}:{path}", remote=True).stdout
        try:
            index = parse_index(raw, f"{redact(url)}#{PAGES_BRANCH}:{path}")
        except ChartgenError:
            continue
        if best[1] is None or len(index) > len(best[1]):
            best = (f"git:{url}#{PAGES_BRANCH}" + (f":{folder}" if folder else ""), index)
    return best
