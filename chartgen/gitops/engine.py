"""The pull request flow: chart repository in, one reviewed branch per workflow out.

For each unit (one workflow by default, or every workflow of the run with `pr.grouping: run`):

1. `git ls-remote` the base and the unit's stable branch (`<branchPrefix><workflow>`), then a
   shallow fetch of both into one scratch clone (no token in its URL or .git/config).
2. Check out a fresh branch **from the base** and regenerate the charts there (the version is
   bumped against the base's chart, once, never once per run), plus the umbrella chart and
   the compatibility table, in the layout `chartgen.yaml` asks for.
3. Compare: equal to the base -> nothing to propose; equal to the branch (in the charts
   folder) -> nothing to push. Either way nothing is committed or pushed (a branch that is
   up to date but has no open pull request gets one: a crash between push and PR opening
   heals on the next run).
4. Commit and push with `--force-with-lease` on the branch value we fetched; if the branch
   moved meanwhile, fetch, regenerate and retry (`pr.pushAttempts`).
5. Ask the forge to open or update the pull request.

A run that finds the base already has the charts while the unit's branch still exists (its
pull request merged another way, or superseded) closes that pull request with a comment and
deletes the branch.

With `prune=True` (`chartgen pr --prune`, `chartgen build --pr --all`) the run also proposes
removing charts whose workflow is gone: a chart of the base's charts folder is a candidate
when chartgen wrote it (its `.chartgen` marker), its `chartgen.io/source-repository` is this
repository's `repository:` and nothing exists any more at its `chartgen.io/source-path` in the
sources (and no workflow of the sources makes a chart of that name). Each removal is one more
unit, branch `<branchPrefix>remove-<chart>`, going through the same steps. Then branches under
`<branchPrefix>` that belong to no current unit are swept: a workflow branch whose chart is one
of ours and whose source is gone, or a removal branch whose removal is merged or withdrawn, gets
its pull request closed with a comment and the branch deleted (with a lease: a branch that moved
meanwhile is left alone). Which workflows the run was given plays no part in what is pruned.

The branch is always "base + one generated commit": rerunning after the base moved rebases
it, and commits pushed to the branch by hand are replaced on the next run (the PR body says so).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterable

from chartgen.chart.settings import A_SOURCE_PATH, A_SOURCE_REPO
from chartgen.chart.settings import chart_name as _chart_name
from chartgen.errors import ChartgenError, Finding, UsageError, redact, register_secret
from chartgen.fsutil import MARKER
from chartgen.gitops.forges import ForgeOptions, PullRequestSpec, StaleBranch, get_forge
from chartgen.gitops.git import Git, PushRejected, check_url, needs_token
from chartgen.settings import PrSettings

UMBRELLA = "workflows"
ADOPTED = "adopted by chartgen pr; the whole directory is regenerated\n"
ACTIONS = ("created", "updated", "unchanged", "dry-run", "pushed", "closed")
KINDS = ("update", "remove", "close")
REMOVE_PREFIX = "remove-"       # removal branch: <branchPrefix>remove-<chart>
BODY_LIMIT = 60000  # GitHub refuses bodies over 65536 characters
Log = Callable[[str], None]


@dataclass(frozen=True)
class ChartChange:
    name: str
    old_version: str | None
    new_version: str                # "" when the chart is removed
    image: str = ""


@dataclass(frozen=True)
class PrResult:
    workflows: tuple[str, ...]
    branch: str
    url: str
    action: str                     # created | updated | unchanged | dry-run | pushed | closed
    diff: str = ""
    message: str = ""
    charts: tuple[ChartChange, ...] = ()
    commit: str | None = None
    kind: str = "update"            # update: charts regenerated; remove: a chart removed; close: stale PR closed

    @property
    def workflow(self) -> str:
        return ", ".join(self.workflows)

    def to_dict(self) -> dict:
        return {"workflows": list(self.workflows), "kind": self.kind, "branch": self.branch, "url": self.url,
                "action": self.action, "message": self.message, "commit": self.commit,
                "charts": [{"name": c.name, "from": c.old_version, "to": c.new_version or None, "image": c.image}
                           for c in self.charts]}


@dataclass(frozen=True)
class Removal:
    """A chart of the base whose workflow is gone from the sources."""

    name: str                       # chart name (folder under the charts folder)
    version: str                    # its version in the base
    source_path: str                # chartgen.io/source-path: where its workflow was
    paths: tuple[str, ...]          # chart folders to delete, relative to the repository root


@dataclass(frozen=True)
class _Unit:
    branch: str
    folders: tuple = ()             # workflow folders to regenerate (update units)
    removal: Removal | None = None  # the chart to remove (removal units)

    @property
    def names(self) -> tuple[str, ...]:
        return (self.removal.name,) if self.removal else tuple(f.name for f in self.folders)

    @property
    def kind(self) -> str:
        return "remove" if self.removal else "update"

    @property
    def label(self) -> str:
        """How log lines name the unit."""
        return f"remove {self.removal.name}" if self.removal else ", ".join(self.names)


class PrError(ChartgenError):
    """Some units failed; `results` holds those that succeeded."""

    def __init__(self, findings: list[Finding], results: list[PrResult]) -> None:
        super().__init__(findings=findings)
        self.results = tuple(results)


def default_generator(folder, config, *, out_dir, **meta):
    from chartgen.chart import generate_chart

    return generate_chart(folder, config, out_dir=out_dir, **meta)


def token_from_env() -> str | None:
    """GH_TOKEN, else GITHUB_TOKEN: the order the gh CLI uses."""
    token = os.environ.get("GH_TOKEN") or os.environ.get("GITHUB_TOKEN") or None
    register_secret(token)
    return token


@dataclass
class _Run:
    config: object
    url: str
    base: str
    settings: PrSettings
    dry_run: bool
    forge: object
    generator: Callable
    meta: dict
    log: Log
    source_ref: str | None = None
    git: Git | None = None
    results: list[PrResult] = field(default_factory=list)
    sources: "_Sources | None" = None     # set when pruning

    @property
    def charts_dir(self) -> str:
        return self.settings.charts_dir.strip("/") or "charts"


def open_pull_requests(folders: list, config, *, config_repo: str | None = None, base: str | None = None,
                       forge: str | None = None, dry_run: bool = False, source_commit: str | None = None,
                       source_ref: str | None = None, image_digest: str | None = None,
                       image_tag: str | None = None, generator: Callable | None = None,
                       log: Log | None = None, forge_options: ForgeOptions | None = None,
                       workdir: Path | None = None, prune: bool = False) -> tuple[PrResult, ...]:
    """Regenerate the charts of `folders` in the chart repository and propose them.

    Returns one PrResult per unit (per workflow, or one for the run with pr.grouping: run);
    with `prune`, also one per chart proposed for removal (kind "remove") and per stale pull
    request closed (kind "close"). `folders` may be empty when pruning.
    Raises PrError (with the successful results attached) when some units failed.
    """
    settings = config.pr
    url = check_url(config_repo or settings.config_repo)
    base = base or settings.base
    forge_name = forge or settings.forge
    token = token_from_env()
    options = forge_options or ForgeOptions(token=token, api_url=settings.api_url,
                                            retries=settings.api_retries,
                                            max_rate_limit_wait=settings.max_rate_limit_wait)
    the_forge = get_forge(forge_name, options)
    if the_forge.needs_token and not options.token and not dry_run:
        raise UsageError(f"--forge {forge_name} needs a token: set GITHUB_TOKEN or GH_TOKEN "
                         "(or use --forge none to push the branch only)", code="pr-no-token")
    if not folders and not prune:
        raise UsageError("no workflow given", code="pr-no-workflow")
    sources = _prune_sources(config, folders) if prune else None
    source_commit = source_commit or _source_commit(config)
    source_ref = source_ref or _source_ref(config, source_commit)
    meta = {"source_commit": source_commit, "image_digest": image_digest, "image_tag": image_tag}
    run = _Run(config, url, base, settings, dry_run, the_forge, generator or default_generator,
               meta, lambda line: (log or (lambda _l: None))(redact(line)), source_ref, sources=sources)

    units = _units(folders, settings)
    scratch = Path(tempfile.mkdtemp(prefix="chartgen-pr-", dir=workdir))
    failures: list[Finding] = []
    try:
        git_token = options.token if forge_options else token
        run.git = Git.init(scratch / "repo", url, token=git_token if needs_token(url) else None)
        for branch, unit in units:
            try:
                run.results.append(_propose(run, _Unit(branch, tuple(unit))))
            except ChartgenError as exc:  # reported once, by the caller; the other units go on
                where = str(unit[0].root) if unit else branch
                failures.extend(f if f.path else replace(f, path=where) for f in exc.findings)
        if sources is not None:
            failures.extend(_prune(run, {branch for branch, _unit in units}))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if failures:
        raise PrError(failures, run.results)
    return tuple(run.results)


def _units(folders: list, settings: PrSettings) -> list[tuple[str, list]]:
    prefix = settings.branch_prefix
    if settings.grouping == "run":
        return [(f"{prefix}{UMBRELLA}", list(folders))]
    seen: dict[str, list] = {}
    for folder in folders:
        seen.setdefault(f"{prefix}{folder.name}", []).append(folder)
    return list(seen.items())


def _source_commit(config) -> str | None:
    if os.environ.get("GITHUB_SHA"):
        return os.environ["GITHUB_SHA"]
    try:
        proc = subprocess.run(["git", "rev-parse", "--verify", "-q", "HEAD"], cwd=config.root,
                              capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.strip() or None if proc.returncode == 0 else None


def _source_ref(config, commit: str | None) -> str | None:
    env = os.environ
    if env.get("GITHUB_REPOSITORY") and env.get("GITHUB_SHA"):
        server = env.get("GITHUB_SERVER_URL", "https://github.com")
        return f"{server}/{env['GITHUB_REPOSITORY']}/commit/{env['GITHUB_SHA']}"
    repository = config.repository.rstrip("/")
    if repository and commit:
        return f"{repository[:-4] if repository.endswith('.git') else repository}/commit/{commit}"
    return commit


def _propose(run: _Run, unit: _Unit) -> PrResult:
    git = run.git
    branch, names, kind, label = unit.branch, unit.names, unit.kind, unit.label
    check = git.run("check-ref-format", "--branch", branch, check=False)
    if check.returncode != 0:
        raise UsageError(f"{branch!r} is not a valid branch name (check pr.branchPrefix)", code="pr-branch")
    attempts = run.settings.push_attempts
    for attempt in range(1, attempts + 1):
        remote = git.ls_remote("origin", [run.base, branch])
        if run.base not in remote:
            raise ChartgenError(f"the chart repository {run.url} has no branch {run.base!r}", code="pr-no-base")
        git.fetch("origin", [b for b in (run.base, branch) if b in remote])
        git.run("checkout", "--quiet", "--force", "-B", branch, f"refs/remotes/origin/{run.base}")
        git.run("clean", "-fdxq")
        changes = _remove(run, unit.removal) if unit.removal else _regenerate(run, list(unit.folders))
        git.run("add", "--all")
        base_ref = f"refs/remotes/origin/{run.base}"
        branch_ref = f"refs/remotes/origin/{branch}" if branch in remote else None
        diff = git.run("diff", "--cached", "--no-color", "--stat", "--patch", base_ref).stdout
        status = _file_changes(git, base_ref, run.charts_dir)
        same_as_base = not diff.strip()
        same_as_branch = branch_ref is not None and _only_provenance_differs(
            git.run("diff", "--cached", "--no-color", "-U0", branch_ref, "--", run.charts_dir).stdout)
        spec = _removal_spec(run, branch, unit.removal, status) if unit.removal else \
            _spec(run, branch, changes, status)
        if run.dry_run:
            where = ("the base already has it" if same_as_base else
                     f"branch {branch} already has it" if same_as_branch else
                     f"would push to {branch} and propose it against {run.base}")
            if same_as_base and branch in remote:
                where += f"; would close the pull request of {branch} and delete the branch"
            return PrResult(names, branch, "", "dry-run", diff, f"{label}: dry run: {where}", changes, kind=kind)
        if same_as_base:
            if branch in remote:  # merged another way, or superseded: the branch is stale
                return _close_stale(run, branch, names, remote[branch], kind,
                                    f"{run.base} already has these charts (merged another way, or superseded)",
                                    changes)
            message = f"{label}: {run.base} already has these charts; nothing to commit, push or open"
            run.log(message)
            return PrResult(names, branch, "", "unchanged", "", message, changes, kind=kind)
        if same_as_branch:
            return _up_to_date(run, spec, unit, changes)
        message = _removal_message(run, unit.removal) if unit.removal else _commit_message(run, changes)
        commit = git.commit(message, run.settings.commit.name, run.settings.commit.email)
        try:
            updated = git.push("origin", branch, remote.get(branch))
        except PushRejected:
            if attempt == attempts:
                raise ChartgenError(f"push to {branch} was rejected {attempts} times because the branch kept "
                                    "moving; try again later", code="pr-push-race") from None
            run.log(f"{branch}: the branch moved while we worked; fetching and regenerating "
                    f"(attempt {attempt + 1} of {attempts})")
            continue
        if not updated:  # a concurrent run pushed this very commit (same content, same second)
            return _up_to_date(run, spec, unit, changes)
        run.log(f"{label}: pushed {commit[:12]} to {branch}")
        result = run.forge.open_or_update(spec, pushed=True)
        run.log(result.message)
        action = "pushed" if result.action in ("pushed", "unchanged") else result.action
        return PrResult(names, branch, result.url, action, diff, result.message, changes, commit, kind=kind)
    raise AssertionError("unreachable")


# Chart.yaml annotations that record where a chart came from; the umbrella's content hash
# covers its sub-charts' Chart.yaml, so it follows their source-commit.
_PROVENANCE = re.compile(r"^[+-]\s*[\w./-]*(?:source-commit|content-hash):")


def _only_provenance_differs(diff: str) -> bool:
    """True when two chart trees differ at most in provenance annotations (source commit, and
    the hashes that cover it): a new source commit that changes nothing in the charts is not
    worth a push or a PR update."""
    in_header = False
    for line in diff.splitlines():
        if line.startswith("diff --git "):
            in_header = True
        elif line.startswith("@@"):
            in_header = False
        elif in_header or line.startswith("\\"):
            continue  # file header (index, ---/+++, modes) or "\ No newline at end of file"
        elif line[:1] in "+-" and not _PROVENANCE.match(line):
            return False
        elif line.startswith("Binary files"):
            return False
    return True


def _up_to_date(run: _Run, spec: PullRequestSpec, unit: _Unit, changes: tuple[ChartChange, ...]) -> PrResult:
    """The branch already has the charts: leave it; open its PR only if it has none."""
    result = run.forge.open_or_update(spec, pushed=False)
    what = "these charts" if unit.kind == "update" else "this removal"
    message = (f"{unit.label}: branch {unit.branch} already has {what}; nothing committed or pushed"
               + (f"; {result.message}" if result.action == "created" else ""))
    run.log(message)
    return PrResult(unit.names, unit.branch, result.url, "created" if result.action == "created" else "unchanged",
                    "", message, changes, kind=unit.kind)


def _close_stale(run: _Run, branch: str, names: tuple[str, ...], expected: str, kind: str, reason: str,
                 changes: tuple[ChartChange, ...] = ()) -> PrResult:
    """Close the open pull request of a stale branch with a comment saying why, then delete the
    branch (only if it is still at `expected`: work pushed meanwhile is not thrown away)."""
    label = {"remove": f"remove {names[0]}", "close": branch}.get(kind, ", ".join(names))
    if run.dry_run:
        return PrResult(names, branch, "", "dry-run", "", f"{label}: dry run: would close the pull request of "
                        f"{branch} and delete the branch: {reason}", changes, kind=kind)
    comment = f"Closed by chartgen: {reason}. The branch `{branch}` is deleted."
    closed = run.forge.close_stale(StaleBranch(run.url, run.settings.repository, branch, run.base, comment))
    deleted = run.git.delete_branch("origin", branch, expected)
    where = f"; {closed.message}" if closed.message else ""
    message = (f"{label}: {reason}{where}; " + (f"deleted branch {branch}" if deleted else
               f"branch {branch} moved meanwhile and is left alone"))
    run.log(message)
    return PrResult(names, branch, closed.url, "closed", "", message, changes, kind=kind)


def _remove(run: _Run, removal: Removal) -> tuple[ChartChange, ...]:
    """Delete the chart's folders in the checkout, then regenerate the umbrella chart and the
    compatibility table from the charts that remain."""
    root = run.git.cwd
    for rel in removal.paths:
        shutil.rmtree(root / rel, ignore_errors=True)
    charts = root / run.charts_dir
    layout = run.settings.layout
    config = run.config.with_overrides(charts=str(charts))
    from chartgen.chart.umbrella import generate_umbrella, write_charts_readme

    with _standalone_copies(run):
        umbrella = charts / UMBRELLA
        if "umbrella" in layout and umbrella.is_dir():
            adopted = run.settings.adopt_charts and _adopt(umbrella)
            generate_umbrella(config, charts)
            if adopted and (umbrella / MARKER).read_text() == ADOPTED:
                (umbrella / MARKER).unlink()
        else:
            write_charts_readme(config, charts)
    return (ChartChange(removal.name, removal.version, ""),)


class _standalone_copies:
    """With the umbrella-only layout the workflow charts live only under
    <charts>/workflows/charts/; the umbrella generator reads <charts>/<name>/. Copy them out
    for the generation, and take the copies away again."""

    def __init__(self, run: _Run) -> None:
        self.run, self.copies = run, []

    def __enter__(self):
        if "standalone" in self.run.settings.layout:
            return self
        charts = self.run.git.cwd / self.run.charts_dir
        nested = charts / UMBRELLA / "charts"
        for chart in sorted(nested.iterdir()) if nested.is_dir() else ():
            target = charts / chart.name
            if chart.is_dir() and not target.exists():
                shutil.copytree(chart, target)
                self.copies.append(target)
        return self

    def __exit__(self, *exc) -> None:
        for copy in self.copies:
            shutil.rmtree(copy, ignore_errors=True)


def _regenerate(run: _Run, unit: list) -> tuple[ChartChange, ...]:
    """Write the unit's charts into the checkout, in the configured layout."""
    root = run.git.cwd
    charts = root / run.charts_dir
    layout = run.settings.layout
    config = run.config.with_overrides(charts=str(charts))
    changes = []
    # umbrella-only layout: every nested chart is copied out while generating, so the umbrella
    # regenerated from <charts>/<name>/ keeps the workflows this unit does not touch
    with _standalone_copies(run):
        for folder in unit:
            standalone = charts / folder.name
            nested = charts / UMBRELLA / "charts" / folder.name
            if "standalone" not in layout and nested.is_dir() and not standalone.exists():
                shutil.copytree(nested, standalone)  # so the version policy sees the chart we have
            adopted = [d for d in (standalone, charts / UMBRELLA) if run.settings.adopt_charts and _adopt(d)]
            result = run.generator(folder, config, out_dir=charts, **run.meta)
            for chart_dir in adopted:  # a generator that left the folder alone must not leave our mark
                marker = chart_dir / MARKER
                if marker.is_file() and marker.read_text() == ADOPTED:
                    marker.unlink()
            name = getattr(result, "name", folder.name)
            standalone = charts / name
            nested = charts / UMBRELLA / "charts" / name
            if "umbrella" in layout and standalone.is_dir() and not nested.is_dir() and (charts / UMBRELLA).is_dir():
                shutil.copytree(standalone, nested)
            changes.append(ChartChange(name, getattr(result, "previous_version", None), str(result.version),
                                       _image(run, folder.name)))
    if "standalone" not in layout:
        for change in changes:
            _reset_to_head(run.git, f"{run.charts_dir}/{change.name}")
    if "umbrella" not in layout:
        _reset_to_head(run.git, f"{run.charts_dir}/{UMBRELLA}")
    return tuple(changes)


def _adopt(chart_dir: Path) -> bool:
    """Mark a chart chartgen did not write as its own, in the scratch clone only: the chart
    generator then replaces it as a whole, and the pull request shows what goes."""
    if chart_dir.is_dir() and not (chart_dir / MARKER).exists() and any(chart_dir.iterdir()):
        (chart_dir / MARKER).write_text(ADOPTED)
        return True
    return False


def _reset_to_head(git: Git, rel: str) -> None:
    path = git.cwd / rel
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()
    if git.run("cat-file", "-e", f"HEAD:{rel}", check=False).returncode == 0:
        git.run("checkout", "HEAD", "--", rel)


def _image(run: _Run, name: str) -> str:
    image = run.config.image
    registry = image.registry.rstrip("/")
    repo = image.name.replace("{name}", name)
    ref = f"{registry}/{repo}" if registry else repo
    tag = run.meta.get("image_tag") or image.tag
    ref += f":{tag}" if tag else ""
    digest = run.meta.get("image_digest")
    return f"{ref}@{digest}" if digest else ref


def _file_changes(git: Git, base_ref: str, charts_dir: str) -> dict[str, list[str]]:
    out = git.run("diff", "--cached", "--name-status", "--no-renames", base_ref, "--", charts_dir).stdout
    kinds = {"A": "added", "D": "removed", "M": "modified", "T": "modified"}
    status: dict[str, list[str]] = {"added": [], "removed": [], "modified": []}
    for line in out.splitlines():
        code, _, path = line.partition("\t")
        status[kinds.get(code[:1], "modified")].append(path)
    return status


def _commit_message(run: _Run, changes: Iterable[ChartChange]) -> str:
    changes = list(changes)
    if len(changes) == 1:
        c = changes[0]
        subject = f"chartgen: update chart {c.name} to {c.new_version}"
    else:
        subject = "chartgen: update charts " + ", ".join(f"{c.name} {c.new_version}" for c in changes)
    lines = [subject, ""]
    source = run.source_ref
    lines.append(f"Regenerated from {source}." if source else "Regenerated from a working tree (no commit).")
    for c in changes:
        lines.append(f"{c.name}: {c.old_version or '(new)'} -> {c.new_version}, image {c.image}")
    return "\n".join(lines) + "\n"


def _spec(run: _Run, branch: str, changes: tuple[ChartChange, ...], status: dict[str, list[str]]) -> PullRequestSpec:
    s = run.settings
    if len(changes) == 1:
        title = f"chartgen: {changes[0].name} chart {changes[0].new_version}"
    else:
        title = "chartgen: update charts of " + ", ".join(c.name for c in changes)
    body = render_body(run, changes, status)
    return PullRequestSpec(run.url, s.repository, branch, run.base, title, body, tuple(s.labels),
                           tuple(s.reviewers), tuple(s.team_reviewers), bool(s.draft))


def render_body(run: _Run, changes: tuple[ChartChange, ...], status: dict[str, list[str]]) -> str:
    source = run.source_ref
    commit = run.meta.get("source_commit")
    lines = ["<!-- chartgen:pull-request -->",
             f"Charts regenerated by chartgen from {source or 'a working tree'}"
             + (f" (source commit `{commit}`)." if commit and commit not in (source or "") else "."), "",
             "### Charts", "", "| chart | version | image |", "| --- | --- | --- |"]
    for c in changes:
        version = f"{c.old_version} → {c.new_version}" if c.old_version and c.old_version != c.new_version \
            else (c.new_version if c.old_version else f"(new) {c.new_version}")
        lines.append(f"| {c.name} | {version} | `{c.image}` |")
    lines += ["", "### Files", ""]
    budget = 200
    for kind in ("added", "removed", "modified"):
        paths = status[kind]
        if not paths:
            continue
        lines.append(f"**{kind.capitalize()}** ({len(paths)}):")
        lines += [f"- `{p}`" for p in paths[:budget]]
        if len(paths) > budget:
            lines.append(f"- … and {len(paths) - budget} more")
        lines.append("")
    lines += ["### Compatibility", "", *compat_table(run.git.cwd / run.charts_dir, [c.name for c in changes]), "",
              "_Generated; do not edit this branch by hand: the next chartgen run replaces its commit._"]
    body = "\n".join(lines) + "\n"
    return body if len(body) <= BODY_LIMIT else body[:BODY_LIMIT] + "\n…(truncated)\n"


def compat_table(charts_dir: Path, names: list[str]) -> list[str]:
    """Markdown rows: chart version, workflow type, supported operator versions."""
    rows = [r for r in _compat_rows(charts_dir) if r[0] in names]
    if not rows:  # charts chartgen.chart does not recognise: read their annotations
        rows = [r for r in _rows_from_annotations(charts_dir) if r[0] in names]
    lines = ["| chart | version | workflow type | Orchestrator operator |", "| --- | --- | --- | --- |"]
    lines += [f"| {r[0]} | {r[1]} | {r[2] or '-'} | {r[3] or '-'} |" for r in rows]
    return lines


def _compat_rows(charts_dir: Path) -> list[tuple[str, str, str, str]]:
    try:
        from chartgen.chart import compat_matrix
    except ImportError:
        return []
    try:
        return [_row(r) for r in compat_matrix(charts_dir)]
    except ChartgenError:
        return []


def _row(row) -> tuple[str, str, str, str]:
    """(chart, version, workflow type, operator range) from a CompatRow, a dict or a tuple."""
    if isinstance(row, (tuple, list)):
        return tuple(str(v) if v is not None else "" for v in (list(row) + ["", "", "", ""])[:4])  # type: ignore
    if isinstance(row, dict):
        get = row.get
    else:
        def get(key, default=None):
            return getattr(row, key, default)
    chart = get("name") or get("chart") or ""
    version = get("version") or ""
    kind = get("workflow_type") or get("type") or ""
    operator = get("operator_versions") or get("operator_range") or get("operator") or ""
    return str(chart), str(version), str(kind), str(operator)


def _rows_from_annotations(charts_dir: Path) -> list[tuple[str, str, str, str]]:
    from chartgen.yamlio import load_data

    rows = []
    for chart_yaml in sorted(charts_dir.glob("*/Chart.yaml")):
        try:
            data = load_data(chart_yaml.read_bytes(), str(chart_yaml))
        except ChartgenError:
            continue
        if not isinstance(data, dict) or chart_yaml.parent.name == UMBRELLA:
            continue
        notes = data.get("annotations") or {}
        kind = next((str(v) for k, v in notes.items() if k.endswith(("workflow-type", "workflowType", "/type"))), "")
        operator = next((str(v) for k, v in notes.items() if "operator" in k), "")
        rows.append((str(data.get("name", chart_yaml.parent.name)), str(data.get("version", "")), kind, operator))
    return rows


# --------------------------------------------------------------------------- pruning

@dataclass(frozen=True)
class _Sources:
    """What pruning compares the chart repository with: this repository's sources."""

    root: Path                      # chartgen.yaml's folder: source-path is relative to it
    repository: str                 # the chartgen.io/source-repository chartgen writes
    folder_names: frozenset[str]    # every workflow folder of the sources (their branches are current)
    chart_names: frozenset[str]     # the charts those folders make


def _prune_sources(config, folders: list) -> _Sources:
    """Refuse to prune when the comparison could be wrong: no `repository:` (chartgen's charts
    could not be told from another repository's), no workflow in the sources folder (a wrong
    --config or an empty checkout would remove every chart), or workflows from elsewhere."""
    from chartgen.sources import discover

    repository = config.repository
    if not repository:
        raise UsageError("--prune needs `repository:` in chartgen.yaml: it is how chartgen tells the charts it "
                         "made from this repository (annotation chartgen.io/source-repository) from others",
                         code="pr-prune-no-repository")
    sources_dir = config.sources_dir
    shared = config.shared_dir if config.shared_dir.is_dir() else None
    found = discover(sources_dir, shared) if sources_dir.is_dir() else []
    if not found:
        raise UsageError(f"refusing to prune: the sources folder {sources_dir} has no workflow folder, so every "
                         "chart of this repository would be removed (wrong --config or an incomplete checkout?)",
                         path=str(sources_dir), code="pr-prune-no-sources")
    resolved = {Path(f).resolve() for f in found}
    outside = [f for f in folders if Path(f.root).resolve() not in resolved]
    if outside:
        raise UsageError(f"--prune compares the chart repository with the sources folder {sources_dir}, but "
                         f"workflow {outside[0].root} is not one of its folders; run --prune with that folder's "
                         "chartgen.yaml (--config), or without --prune", path=str(outside[0].root),
                         code="pr-prune-outside-sources")
    names = {Path(f).name for f in found} | {f.name for f in folders}
    return _Sources(Path(config.root), repository, frozenset(names),
                    frozenset(names | {_chart_name(n) for n in names}))


def prunes_in_build(config, folders: list) -> bool:
    """Whether `chartgen build --pr` prunes: only a run over every workflow folder of the
    sources (`--all`, none failed before the PR stage), with pr.prune on and `repository:` set.
    A partial run (`build mta`, `--since`) never prunes: it was asked about its workflows only."""
    from chartgen.sources import discover

    if not config.pr.prune or not config.repository:
        return False
    try:
        everything = discover(config.sources_dir, config.shared_dir if config.shared_dir.is_dir() else None)
    except UsageError:
        return False
    given = {Path(f if isinstance(f, (str, os.PathLike)) else f.root).resolve() for f in folders}
    return bool(everything) and {Path(f).resolve() for f in everything} <= given


def _prune(run: _Run, current_branches: set[str]) -> list[Finding]:
    """Propose the removals, then close the stale pull requests. Returns the failures."""
    failures: list[Finding] = []
    prefix = run.settings.branch_prefix
    try:
        removals = _removals(run)
    except ChartgenError as exc:
        return list(exc.findings)
    workflow_branches = {f"{prefix}{name}" for name in run.sources.folder_names} | current_branches
    proposed: set[str] = set()
    for removal in removals:
        branch = f"{prefix}{REMOVE_PREFIX}{removal.name}"
        try:
            if branch in workflow_branches:
                raise UsageError(f"the removal branch of chart {removal.name} would be {branch}, the branch of "
                                 f"workflow {branch[len(prefix):]}; rename one of them", code="pr-branch-clash")
            proposed.add(branch)
            run.results.append(_propose(run, _Unit(branch, removal=removal)))
        except ChartgenError as exc:
            failures.extend(f if f.path else replace(f, path=removal.source_path) for f in exc.findings)
    before = len(run.results)
    try:
        _sweep(run, workflow_branches | proposed | {f"{prefix}{UMBRELLA}"}, removals)
    except ChartgenError as exc:
        failures.extend(exc.findings)
    if not removals and len(run.results) == before and not failures:
        run.log(f"prune: every chart of {run.sources.repository} in {run.base} still has its workflow; "
                "no stale branch; nothing to remove or close")
    return failures


def _removals(run: _Run) -> list[Removal]:
    """Charts of the base that chartgen made from this repository and whose source is gone."""
    git = run.git
    if run.base not in git.ls_remote("origin", [run.base]):
        raise ChartgenError(f"the chart repository {run.url} has no branch {run.base!r}", code="pr-no-base")
    git.fetch("origin", [run.base])
    ref = f"refs/remotes/origin/{run.base}"
    files = set(git.out("ls-tree", "-r", "--name-only", ref, "--", run.charts_dir).splitlines())
    names = set()
    for path in files:
        parts = path[len(run.charts_dir) + 1:].split("/")
        if parts[-1] == "Chart.yaml" and (len(parts) == 2 or parts[:2] == [UMBRELLA, "charts"] and len(parts) == 4):
            names.add(parts[-2])
    names.discard(UMBRELLA)
    removals = []
    for name in sorted(names):
        meta = _chart_meta(git, ref, run.charts_dir, name, files)
        if meta is None or not _gone(run, meta, name):
            continue
        layout = run.settings.layout
        places = {"standalone": f"{run.charts_dir}/{name}", "umbrella": f"{run.charts_dir}/{UMBRELLA}/charts/{name}"}
        # only where this configuration manages charts, as updates do
        paths = tuple(path for where, path in places.items() if where in layout and f"{path}/Chart.yaml" in files)
        if not paths:
            continue
        removals.append(Removal(name, str(meta.get("version", "")), _annotation(meta, A_SOURCE_PATH), paths))
    return removals


def _annotation(meta: dict, key: str) -> str:
    notes = meta.get("annotations")
    return str(notes.get(key, "") or "") if isinstance(notes, dict) else ""


def _chart_meta(git: Git, ref: str, charts_dir: str, name: str, files: set[str] | None = None) -> dict | None:
    """Chart.yaml of chart `name` at `ref` when chartgen made it (the marker beside it, or the
    umbrella's for a chart that lives only inside the umbrella), else None."""
    from chartgen.yamlio import load_data

    def exists(path: str) -> bool:
        if files is not None:
            return path in files
        return git.run("cat-file", "-e", f"{ref}:{path}", check=False).returncode == 0

    for chart, marker in ((f"{charts_dir}/{name}", f"{charts_dir}/{name}/{MARKER}"),
                          (f"{charts_dir}/{UMBRELLA}/charts/{name}", f"{charts_dir}/{UMBRELLA}/{MARKER}")):
        if not exists(f"{chart}/Chart.yaml"):
            continue
        if not exists(marker):
            return None  # written by hand (or by the old pipeline): never ours to remove
        text = git.run("show", f"{ref}:{chart}/Chart.yaml", check=False).stdout
        try:
            data = load_data(text, f"{chart}/Chart.yaml")
        except ChartgenError:
            return None
        return data if isinstance(data, dict) else None
    return None


def _gone(run: _Run, meta: dict, name: str) -> bool:
    """A chart of ours (this source repository) whose workflow folder no longer exists."""
    from chartgen.chart.stale import source_is_gone

    sources = run.sources
    annotations = meta.get("annotations") if isinstance(meta.get("annotations"), dict) else {}
    return source_is_gone(annotations, name, root=sources.root, repository=sources.repository,
                          chart_names=sources.chart_names)


def _sweep(run: _Run, current: set[str], removals: list[Removal]) -> None:
    """Close the pull requests of stale branches under the branch prefix and delete them."""
    git = run.git
    prefix = run.settings.branch_prefix
    if not prefix:  # without a prefix chartgen cannot tell its branches from anybody's
        return
    remote = git.ls_remote("origin", [f"{prefix}*"])
    removed = {r.name for r in removals}
    base_ref = f"refs/remotes/origin/{run.base}"
    for branch, sha in sorted(remote.items()):
        suffix = branch[len(prefix):]
        if branch in current or branch == run.base or not suffix or "/" in suffix:
            continue
        git.fetch("origin", [branch], depth=2)
        ref = f"refs/remotes/origin/{branch}"
        reason = None
        name = suffix[len(REMOVE_PREFIX):] if suffix.startswith(REMOVE_PREFIX) else ""
        had = _chart_meta(git, f"{ref}^", run.charts_dir, name) if name else None
        if had is not None and _annotation(had, A_SOURCE_REPO) == run.sources.repository \
                and _chart_meta(git, ref, run.charts_dir, name) is None:
            if _chart_meta(git, base_ref, run.charts_dir, name) is None:
                reason = f"{run.base} no longer has chart {name}: its removal was merged or done another way"
            else:
                reason = (f"the workflow of chart {name} is back in the sources "
                          f"({_annotation(had, A_SOURCE_PATH)}); its removal is withdrawn")
            names = (name,)
        else:
            names = (suffix,)
            for chart in dict.fromkeys((suffix, _chart_name(suffix))):
                meta = _chart_meta(git, ref, run.charts_dir, chart)
                if meta is not None and _gone(run, meta, chart):
                    reason = f"workflow {suffix} was removed from the sources ({_annotation(meta, A_SOURCE_PATH)})"
                    if chart in removed:
                        reason += f"; the removal of its chart is proposed on {prefix}{REMOVE_PREFIX}{chart}"
                    break
        if reason:
            run.results.append(_close_stale(run, branch, names, sha, "close", reason))


def _removal_message(run: _Run, removal: Removal) -> str:
    source = run.source_ref
    return (f"chartgen: remove chart {removal.name}\n\n"
            f"Its workflow folder {removal.source_path} is no longer in the sources"
            + (f" at {source}" if source else "") + ".\n"
            f"{removal.name}: {removal.version or '(no version)'} -> removed\n")


def _removal_spec(run: _Run, branch: str, removal: Removal, status: dict[str, list[str]]) -> PullRequestSpec:
    s = run.settings
    source = run.source_ref
    lines = ["<!-- chartgen:pull-request -->",
             f"Chart `{removal.name}` removed by chartgen: its workflow folder `{removal.source_path}` is no "
             f"longer in the sources of {run.sources.repository}" + (f" (at {source})." if source else "."),
             "", "The chart was generated by chartgen from that folder (annotations `chartgen.io/source-repository`"
             " and `chartgen.io/source-path`). Merging removes it from the chart repository and from the "
             "umbrella chart; installed releases are not touched. Close this pull request to keep the chart.",
             "", "### Charts", "", "| chart | version |", "| --- | --- |",
             f"| {removal.name} | {removal.version or '-'} → (removed) |", "", "### Files", ""]
    for kind in ("added", "removed", "modified"):
        paths = status[kind]
        if paths:
            lines.append(f"**{kind.capitalize()}** ({len(paths)}):")
            lines += [f"- `{p}`" for p in paths[:200]]
            lines += [f"- … and {len(paths) - 200} more"] if len(paths) > 200 else []
            lines.append("")
    lines.append("_Generated; do not edit this branch by hand: the next chartgen run replaces its commit._")
    body = "\n".join(lines) + "\n"
    body = body if len(body) <= BODY_LIMIT else body[:BODY_LIMIT] + "\n…(truncated)\n"
    return PullRequestSpec(run.url, s.repository, branch, run.base,
                           f"chartgen: remove chart {removal.name} (workflow deleted)", body, tuple(s.labels),
                           tuple(s.reviewers), tuple(s.team_reviewers), bool(s.draft))
