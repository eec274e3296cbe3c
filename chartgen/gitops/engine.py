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

from chartgen.errors import ChartgenError, Finding, UsageError, redact, register_secret
from chartgen.fsutil import MARKER
from chartgen.gitops.forges import ForgeOptions, PullRequestSpec, get_forge
from chartgen.gitops.git import Git, PushRejected, check_url, needs_token

UMBRELLA = "workflows"
ADOPTED = "adopted by chartgen pr; the whole directory is regenerated\n"
ACTIONS = ("created", "updated", "unchanged", "dry-run", "pushed")
BODY_LIMIT = 60000  # GitHub refuses bodies over 65536 characters
Log = Callable[[str], None]


@dataclass(frozen=True)
class ChartChange:
    name: str
    old_version: str | None
    new_version: str
    image: str = ""


@dataclass(frozen=True)
class PrResult:
    workflows: tuple[str, ...]
    branch: str
    url: str
    action: str                     # created | updated | unchanged | dry-run | pushed
    diff: str = ""
    message: str = ""
    charts: tuple[ChartChange, ...] = ()
    commit: str | None = None

    @property
    def workflow(self) -> str:
        return ", ".join(self.workflows)

    def to_dict(self) -> dict:
        return {"workflows": list(self.workflows), "branch": self.branch, "url": self.url, "action": self.action,
                "message": self.message, "commit": self.commit,
                "charts": [{"name": c.name, "from": c.old_version, "to": c.new_version, "image": c.image}
                           for c in self.charts]}


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
    settings: dict
    dry_run: bool
    forge: object
    generator: Callable
    meta: dict
    log: Log
    source_ref: str | None = None
    git: Git | None = None
    results: list[PrResult] = field(default_factory=list)

    @property
    def charts_dir(self) -> str:
        return self.settings["chartsDir"].strip("/") or "charts"


def open_pull_requests(folders: list, config, *, config_repo: str | None = None, base: str | None = None,
                       forge: str | None = None, dry_run: bool = False, source_commit: str | None = None,
                       source_ref: str | None = None, image_digest: str | None = None,
                       image_tag: str | None = None, generator: Callable | None = None,
                       log: Log | None = None, forge_options: ForgeOptions | None = None,
                       workdir: Path | None = None) -> tuple[PrResult, ...]:
    """Regenerate the charts of `folders` in the chart repository and propose them.

    Returns one PrResult per unit (per workflow, or one for the run with pr.grouping: run).
    Raises PrError (with the successful results attached) when some units failed.
    """
    settings = config.section("pr")
    url = check_url(config_repo or settings["configRepo"])
    base = base or settings["base"]
    forge_name = forge or settings["forge"]
    token = token_from_env()
    options = forge_options or ForgeOptions(token=token, api_url=settings["apiUrl"],
                                            retries=settings["apiRetries"],
                                            max_rate_limit_wait=settings["maxRateLimitWait"])
    the_forge = get_forge(forge_name, options)
    if the_forge.needs_token and not options.token and not dry_run:
        raise UsageError(f"--forge {forge_name} needs a token: set GITHUB_TOKEN or GH_TOKEN "
                         "(or use --forge none to push the branch only)", code="pr-no-token")
    if not folders:
        raise UsageError("no workflow given", code="pr-no-workflow")
    source_commit = source_commit or _source_commit(config)
    source_ref = source_ref or _source_ref(config, source_commit)
    meta = {"source_commit": source_commit, "image_digest": image_digest, "image_tag": image_tag}
    run = _Run(config, url, base, settings, dry_run, the_forge, generator or default_generator,
               meta, lambda line: (log or (lambda _l: None))(redact(line)), source_ref)

    units = _units(folders, settings)
    scratch = Path(tempfile.mkdtemp(prefix="chartgen-pr-", dir=workdir))
    failures: list[Finding] = []
    try:
        git_token = options.token if forge_options else token
        run.git = Git.init(scratch / "repo", url, token=git_token if needs_token(url) else None)
        for branch, unit in units:
            try:
                run.results.append(_propose(run, branch, unit))
            except ChartgenError as exc:  # reported once, by the caller; the other units go on
                where = str(unit[0].root) if unit else branch
                failures.extend(f if f.path else replace(f, path=where) for f in exc.findings)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if failures:
        raise PrError(failures, run.results)
    return tuple(run.results)


def _units(folders: list, settings: dict) -> list[tuple[str, list]]:
    prefix = settings["branchPrefix"]
    if settings["grouping"] == "run":
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
    repository = (config.get("repository") or "").rstrip("/")
    if repository and commit:
        return f"{repository[:-4] if repository.endswith('.git') else repository}/commit/{commit}"
    return commit


def _propose(run: _Run, branch: str, unit: list) -> PrResult:
    git = run.git
    names = tuple(f.name for f in unit)
    check = git.run("check-ref-format", "--branch", branch, check=False)
    if check.returncode != 0:
        raise UsageError(f"{branch!r} is not a valid branch name (check pr.branchPrefix)", code="pr-branch")
    attempts = run.settings["pushAttempts"]
    for attempt in range(1, attempts + 1):
        remote = git.ls_remote("origin", [run.base, branch])
        if run.base not in remote:
            raise ChartgenError(f"the chart repository {run.url} has no branch {run.base!r}", code="pr-no-base")
        git.fetch("origin", [b for b in (run.base, branch) if b in remote])
        git.run("checkout", "--quiet", "--force", "-B", branch, f"refs/remotes/origin/{run.base}")
        git.run("clean", "-fdxq")
        changes = _regenerate(run, unit)
        git.run("add", "--all")
        base_ref = f"refs/remotes/origin/{run.base}"
        branch_ref = f"refs/remotes/origin/{branch}" if branch in remote else None
        diff = git.run("diff", "--cached", "--no-color", "--stat", "--patch", base_ref).stdout
        status = _file_changes(git, base_ref, run.charts_dir)
        same_as_base = not diff.strip()
        same_as_branch = branch_ref is not None and _only_provenance_differs(
            git.run("diff", "--cached", "--no-color", "-U0", branch_ref, "--", run.charts_dir).stdout)
        spec = _spec(run, branch, unit, changes, status)
        if run.dry_run:
            where = ("the base already has it" if same_as_base else
                     f"branch {branch} already has it" if same_as_branch else
                     f"would push to {branch} and propose it against {run.base}")
            return PrResult(names, branch, "", "dry-run", diff, f"{', '.join(names)}: dry run: {where}", changes)
        if same_as_base:
            message = f"{', '.join(names)}: {run.base} already has these charts; nothing to commit, push or open"
            run.log(message)
            return PrResult(names, branch, "", "unchanged", "", message, changes)
        if same_as_branch:
            return _up_to_date(run, spec, names, branch, changes)
        commit = git.commit(_commit_message(run, changes), **run.settings["commit"])
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
            return _up_to_date(run, spec, names, branch, changes)
        run.log(f"{', '.join(names)}: pushed {commit[:12]} to {branch}")
        result = run.forge.open_or_update(spec, pushed=True)
        run.log(result.message)
        action = "pushed" if result.action in ("pushed", "unchanged") else result.action
        return PrResult(names, branch, result.url, action, diff, result.message, changes, commit)
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


def _up_to_date(run: _Run, spec: PullRequestSpec, names: tuple[str, ...], branch: str,
                changes: tuple[ChartChange, ...]) -> PrResult:
    """The branch already has the charts: leave it; open its PR only if it has none."""
    result = run.forge.open_or_update(spec, pushed=False)
    message = (f"{', '.join(names)}: branch {branch} already has these charts; nothing committed or pushed"
               + (f"; {result.message}" if result.action == "created" else ""))
    run.log(message)
    return PrResult(names, branch, result.url, "created" if result.action == "created" else "unchanged",
                    "", message, changes)


def _regenerate(run: _Run, unit: list) -> tuple[ChartChange, ...]:
    """Write the unit's charts into the checkout, in the configured layout."""
    root = run.git.cwd
    charts = root / run.charts_dir
    layout = run.settings["layout"]
    config = run.config.with_overrides(charts=str(charts))
    changes = []
    for folder in unit:
        standalone = charts / folder.name
        nested = charts / UMBRELLA / "charts" / folder.name
        if "standalone" not in layout and nested.is_dir() and not standalone.exists():
            shutil.copytree(nested, standalone)  # so the version policy sees the chart we have
        adopted = [d for d in (standalone, charts / UMBRELLA) if run.settings["adoptCharts"] and _adopt(d)]
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
    image = run.config.section("image") or {}
    registry = str(image.get("registry", "")).rstrip("/")
    repo = str(image.get("name", "{name}")).replace("{name}", name)
    ref = f"{registry}/{repo}" if registry else repo
    tag = run.meta.get("image_tag") or image.get("tag")
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


def _spec(run: _Run, branch: str, unit: list, changes: tuple[ChartChange, ...],
          status: dict[str, list[str]]) -> PullRequestSpec:
    s = run.settings
    if len(changes) == 1:
        title = f"chartgen: {changes[0].name} chart {changes[0].new_version}"
    else:
        title = "chartgen: update charts of " + ", ".join(c.name for c in changes)
    body = render_body(run, changes, status)
    return PullRequestSpec(run.url, s["repository"], branch, run.base, title, body, tuple(s["labels"]),
                           tuple(s["reviewers"]), tuple(s["teamReviewers"]), bool(s["draft"]))


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
