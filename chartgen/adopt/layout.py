"""`chartgen init`: find a repository's layout and write what chartgen needs to work in it.

What is found: the folder that holds the workflow folders (the parent of the most folders
with a `*.sw.yaml|yml|json` at their root), the shared folder beside them (`shared`,
`_shared`), the repository URL (git remote `origin`, credentials dropped), a chart folder
already in the repository, and a published index on this repository's `gh-pages` branch.
What is written, never over an existing file unless asked: a commented `chartgen.yaml`, the
`.gitignore` lines for `dist/` and `.chartgen/`, and the GitHub Actions workflows (the
project's own `.github/workflows/`, with chartgen installed from its release).
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from chartgen import __version__
from chartgen.errors import UsageError

MAIN_SUFFIXES = (".sw.yaml", ".sw.yml", ".sw.json")
SKIP_DIRS = {"node_modules", "dist", "build", "target", "specs", "schemas", "subflows", "dashboards", "charts"}
MAX_DEPTH = 3
IGNORED = ("dist/", ".chartgen/")
# The workflows written into .github/workflows/, from the project's own (packaged as data).
CI_FILES = {"pull-request.yaml": "chartgen-pull-request.yaml", "main.yaml": "chartgen-main.yaml",
            "chartgen-workflow.yaml": "chartgen-workflow.yaml"}
INSTALL = "python -m pip install ."
INSTALL_RELEASE = "python -m pip install 'chartgen @ git+https://github.com/chartgen/chartgen@v{version}'"


@dataclass(frozen=True)
class Layout:
    root: Path
    sources: str
    shared: str
    charts: str = "charts"
    dist: str = "dist"
    repository: str = ""
    workflows: tuple[str, ...] = ()          # workflow folder names found
    shared_found: bool = False
    index_target: str = ""                   # this repository's gh-pages index, as a publish target
    chart_folders: tuple[str, ...] = ()      # folders of the repository that hold charts not written by chartgen
    notes: tuple[str, ...] = field(default=())


def _has_workflow(folder: Path) -> bool:
    try:
        return any(entry.is_file() and entry.name.lower().endswith(MAIN_SUFFIXES) for entry in folder.iterdir())
    except OSError:
        return False


def _walk(root: Path, *, into_charts: bool = False):
    """Folders under `root`, MAX_DEPTH deep: not hidden, not build output or resource folders,
    and (`into_charts`) not below a chart, but into `charts` folders."""
    skip = SKIP_DIRS - {"charts"} if into_charts else SKIP_DIRS
    stack = [(root, 0)]
    while stack:
        folder, depth = stack.pop()
        yield folder
        if depth >= MAX_DEPTH:
            continue
        try:
            children = sorted(e for e in folder.iterdir() if e.is_dir() and not e.is_symlink())
        except OSError:
            continue
        for child in reversed(children):
            if not child.name.startswith(".") and child.name not in skip \
                    and not (into_charts and (child / "Chart.yaml").is_file()):
                stack.append((child, depth + 1))


def _relative(path: Path, root: Path) -> str:
    rel = path.relative_to(root).as_posix()
    return rel or "."


def find_sources(root: Path) -> tuple[str, tuple[str, ...]]:
    """(sources folder, workflow folder names): the folder holding the most workflow folders."""
    counts: dict[Path, list[str]] = {}
    for folder in _walk(root):
        if folder != root and _has_workflow(folder) and not folder.name.startswith("_"):
            counts.setdefault(folder.parent, []).append(folder.name)
    if not counts:
        return "workflows", ()
    best = sorted(counts, key=lambda p: (-len(counts[p]), len(p.parts), str(p)))[0]
    return _relative(best, root), tuple(sorted(counts[best]))


def find_shared(root: Path, sources: str) -> tuple[str, bool]:
    base = root / sources
    for candidate in (base / "shared", base / "_shared", root / "shared"):
        if candidate.is_dir():
            return _relative(candidate, root), True
    return (f"{sources}/shared" if sources != "." else "shared"), False


def https_url(remote: str) -> str:
    """A git remote as the https URL of its repository, without credentials or `.git`
    (`git@github.com:org/repo.git` -> `https://github.com/org/repo`); "" for a local path."""
    remote = remote.strip()
    match = re.match(r"^(?:ssh://)?[^@/\s]+@([^:/\s]+)[:/](.+?)(?:\.git)?/?$", remote)
    if match:
        return f"https://{match.group(1)}/{match.group(2)}"
    parts = urlsplit(remote)
    if parts.scheme in ("http", "https") and parts.hostname:
        host = parts.hostname + (f":{parts.port}" if parts.port else "")
        path = parts.path[:-4] if parts.path.endswith(".git") else parts.path
        return urlunsplit((parts.scheme, host, path.rstrip("/"), "", ""))
    return ""


def _git(root: Path, *args: str) -> str:
    try:
        proc = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=30,
                              env={**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"})
    except (OSError, subprocess.SubprocessError):
        return ""
    return proc.stdout.strip() if proc.returncode == 0 else ""


def find_pages_index(root: Path, remote: str) -> str:
    """`git:<remote>#gh-pages[:docs]` when this repository's gh-pages branch (local, or as
    fetched from origin) holds an index.yaml in docs/ or at its root."""
    if not remote:
        return ""
    for ref in ("refs/heads/gh-pages", "refs/remotes/origin/gh-pages"):
        for folder in ("docs", ""):
            path = f"{folder}/index.yaml" if folder else "index.yaml"
            if _git(root, "ls-tree", "--name-only", ref, "--", path):
                return f"git:{remote}#gh-pages" + (f":{folder}" if folder else "")
    return ""


def find_chart_folders(root: Path) -> tuple[str, ...]:
    """Folders holding charts (`<folder>/<chart>/Chart.yaml`) that chartgen did not write."""
    from chartgen.fsutil import MARKER

    found = []
    for folder in _walk(root, into_charts=True):
        try:
            charts = [e for e in folder.iterdir() if e.is_dir() and (e / "Chart.yaml").is_file()]
        except OSError:
            continue
        if charts and not all((c / MARKER).exists() for c in charts):
            found.append(_relative(folder, root))
    return tuple(found)


def detect_layout(root: Path) -> Layout:
    root = Path(root).resolve()
    sources, workflows = find_sources(root)
    shared, shared_found = find_shared(root, sources)
    remote = _git(root, "remote", "get-url", "origin")
    repository = https_url(remote)
    chart_folders = find_chart_folders(root)
    notes = []
    charts = "charts"
    if "charts" in chart_folders:
        charts = "generated-charts"
        notes.append("charts/ holds charts chartgen did not write; chartgen writes its charts to generated-charts/ "
                     "(and never replaces a folder it did not write). If charts/ is your chart repository, "
                     "`chartgen adopt --config-repo . --charts-dir charts` continues its chart names and versions")
    for folder in chart_folders:
        if folder != "charts":
            notes.append(f"{folder}/ holds charts chartgen did not write: if it is your chart repository, "
                         f"`chartgen adopt --config-repo . --charts-dir {folder}` continues their names and versions")
    # The publish target names the remote as origin does (ssh keeps using ssh), never with credentials in it.
    parts = urlsplit(remote) if "://" in remote else None
    pages_remote = remote if not (parts and (parts.username or parts.password)) else \
        (repository + ".git" if repository else "")
    index_target = find_pages_index(root, pages_remote)
    if not workflows:
        notes.append(f"no workflow folder found (a folder with a *.sw.yaml, *.sw.yml or *.sw.json at its root); "
                     f"sources: {sources} is the default: put each workflow in {sources}/<name>/")
    return Layout(root, sources, shared, charts, "dist", repository, workflows, shared_found, index_target,
                  chart_folders, tuple(notes))


def settings_text(layout: Layout) -> str:
    """The commented chartgen.yaml `chartgen init` writes."""
    count = len(layout.workflows)
    found = (f"{count} workflow folder{'s' * (count != 1)} found: {', '.join(layout.workflows[:6])}"
             + (", ..." if count > 6 else "")) if count else "none found yet"
    repository = f"repository: {layout.repository}" if layout.repository else \
        "# repository: https://github.com/your-org/serverless-workflows"
    publish = f"publish:\n  target: {_quoted(layout.index_target)}\n" if layout.index_target else ""
    return f"""# chartgen settings for this repository, written by `chartgen init` (chartgen {__version__}).
# Every key is checked against a schema: a misspelt key is an error with its line.
# All settings: https://github.com/chartgen/chartgen/blob/main/docs/configuration.md

# The folder with one folder per workflow ({found}).
sources: {_quoted(layout.sources)}
# Files several workflows use (`../shared/...` references); each workflow's chart takes along
# exactly the shared files it uses.
shared: {_quoted(layout.shared)}
# Where the generated charts go (commit them), and the chart archives and index (do not).
charts: {_quoted(layout.charts)}
dist: {_quoted(layout.dist)}
# Recorded in every chart (chartgen.io/source-repository): how chartgen later tells the
# charts it made from this repository.
{repository}

# Workflow images: <registry>/<name>, {{name}} is the workflow folder name.
# image:
#   registry: quay.io/orchestrator
#   name: serverless-workflow-{{name}}

# The chart repository that reviews the charts (pr.configRepo: `chartgen pr`, `build --pr`)
# and where the charts are published (publish.target: `chartgen publish`, `build --publish`):
# `chartgen adopt --config-repo URL` adds both, with the chart names and versions the chart
# repository already publishes.
{publish}"""


def _quoted(value: str) -> str:
    from chartgen.yamlio import dump_yaml

    return dump_yaml(value).strip().removesuffix("...").strip()


def gitignore_text(existing: str) -> str:
    """`existing` with the lines chartgen needs ignored added (dist/, .chartgen/)."""
    present = {line.strip().strip("/") for line in existing.splitlines()}
    missing = [entry for entry in IGNORED if entry.strip("/") not in present]
    if not missing:
        return existing
    prefix = existing if not existing or existing.endswith("\n") else existing + "\n"
    return prefix + "# chartgen: chart archives and index, build cache and logs\n" + "".join(f"/{m}\n" for m in missing)


def ci_workflows(layout: Layout, version: str = __version__) -> dict[str, str]:
    """`.github/workflows/<file>` -> text: the project's own workflows, chartgen installed
    from its release instead of from the checkout."""
    folder = resources.files("chartgen") / "data" / "github-actions"
    files = {}
    for source, target in CI_FILES.items():
        text = (folder / source).read_text(encoding="utf-8")
        text = text.replace(INSTALL, INSTALL_RELEASE.format(version=version))
        text = text.replace("under workflow_sources/.", f"under {layout.sources}/.")
        files[f".github/workflows/{target}"] = text
    return files


def write_files(root: Path, layout: Layout, *, ci: bool = True, force: bool = False) -> list[tuple[str, str]]:
    """Write chartgen.yaml, .gitignore and the CI workflows; (path, what happened) each.
    chartgen.yaml and the workflows are never replaced unless `force`; .gitignore only
    gains lines."""
    from chartgen.fsutil import write_atomic

    root = Path(root)
    done: list[tuple[str, str]] = []
    config = root / "chartgen.yaml"
    if config.exists() and not force:
        raise UsageError(f"{config} already exists; edit it, or pass --force to write a new one",
                         path=config, code="init-exists")
    write_atomic(config, settings_text(layout))
    done.append(("chartgen.yaml", "written"))
    ignore = root / ".gitignore"
    old = ignore.read_text(encoding="utf-8") if ignore.is_file() else ""
    new = gitignore_text(old)
    if new != old:
        write_atomic(ignore, new)
        done.append((".gitignore", "updated" if old else "written"))
    else:
        done.append((".gitignore", "already ignores dist/ and .chartgen/"))
    if ci:
        for rel, text in ci_workflows(layout).items():
            path = root / rel
            if path.exists() and not force:
                done.append((rel, "kept (exists; --force replaces it)"))
                continue
            write_atomic(path, text)
            done.append((rel, "written"))
    return done
