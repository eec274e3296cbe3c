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

Modules: `model` (units, results), `propose` (one unit), `regenerate` (charts in the clone),
`body` (commit messages, pull request bodies), `review` (the bodies' workflow changes: the
semantic diff of `semantic` over the charts `snapshot` reads and renders, the diagram, the
rendered diffs), `prune` (removals, stale branches).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Callable

from chartgen.errors import ChartgenError, Finding, UsageError, redact
from chartgen.fsutil import make_temp_dir
from chartgen.gitops.auth import NO_CREDENTIALS, credentials_from_env
from chartgen.gitops.forges import ForgeOptions, get_forge
from chartgen.gitops.git import Git, check_commit, check_source_ref, check_url, is_commit, needs_token
from chartgen.gitops.model import UMBRELLA, Log, PrError, PrResult, Run, Unit
from chartgen.gitops.propose import propose_unit
from chartgen.gitops.prune import prune_charts, prune_sources
from chartgen.image import check_digest, check_tags
from chartgen.markdown import is_ref_name, is_url
from chartgen.settings import PrSettings


def default_generator(folder, config, *, out_dir, **meta):
    from chartgen.chart import generate_chart

    return generate_chart(folder, config, out_dir=out_dir, **meta)


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
    options = forge_options or ForgeOptions(credentials=credentials_from_env(settings, url),
                                            api_url=settings.api_url, retries=settings.api_retries,
                                            max_rate_limit_wait=settings.max_rate_limit_wait)
    the_forge = get_forge(forge_name, options)
    if the_forge.needs_token and not options.auth and not dry_run:
        raise UsageError(f"--forge {forge_name} needs {NO_CREDENTIALS} "
                         "(or use --forge none to push the branch only)", code="pr-no-token")
    if not folders and not prune:
        raise UsageError("no workflow given", code="pr-no-workflow")
    # Shown in commit messages and pull requests: user-given values must be what they claim.
    source_commit = check_commit(source_commit) if source_commit else _source_commit(config)
    source_ref = check_source_ref(source_ref) if source_ref else _source_ref(config, source_commit)
    if image_tag:
        check_tags([image_tag])
    if image_digest:
        check_digest(image_digest)
    sources = prune_sources(config, folders) if prune else None
    meta = {"source_commit": source_commit, "image_digest": image_digest, "image_tag": image_tag}
    run = Run(config, url, base, settings, dry_run, the_forge, generator or default_generator,
               meta, lambda line: (log or (lambda _l: None))(redact(line)), source_ref, sources=sources)

    units = _units(folders, settings)
    scratch = make_temp_dir("chartgen-pr-", dir=workdir)   # a killed run's is removed by the next
    failures: list[Finding] = []
    try:
        run.git = Git.init(scratch / "repo", url, token=options.auth if needs_token(url) else None)
        for branch, unit in units:
            try:
                run.results.append(propose_unit(run, Unit(branch, tuple(unit))))
            except ChartgenError as exc:  # reported once, by the caller; the other units go on
                where = str(unit[0].root) if unit else branch
                failures.extend(f if f.path else replace(f, path=where) for f in exc.findings)
        if sources is not None:
            failures.extend(prune_charts(run, {branch for branch, _unit in units}))
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
        return os.environ["GITHUB_SHA"] if is_commit(os.environ["GITHUB_SHA"]) else None
    try:
        proc = subprocess.run(["git", "rev-parse", "--verify", "-q", "HEAD"], cwd=config.root,
                              capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    commit = proc.stdout.strip() if proc.returncode == 0 else ""
    return commit if is_commit(commit) else None


def _source_ref(config, commit: str | None) -> str | None:
    """The commit's URL (GitHub Actions, or chartgen.yaml `repository:`), else the commit;
    a URL that is not plain (an ssh remote, odd characters) gives way to the commit."""
    env = os.environ
    if env.get("GITHUB_REPOSITORY") and env.get("GITHUB_SHA"):
        server = env.get("GITHUB_SERVER_URL", "https://github.com")
        url = f"{server}/{env['GITHUB_REPOSITORY']}/commit/{env['GITHUB_SHA']}"
        if is_url(url):
            return url
    repository = config.repository.rstrip("/")
    if repository and commit:
        url = f"{repository[:-4] if repository.endswith('.git') else repository}/commit/{commit}"
        if is_url(url):
            return url
    return commit if commit and is_ref_name(commit) else None
