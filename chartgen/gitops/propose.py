"""One unit of the pull request flow: fetch, regenerate from the base, compare, commit,
push with a lease, then open or update the pull request (steps 1-5 of `chartgen.gitops.engine`)."""

from __future__ import annotations

import re

from chartgen.errors import ChartgenError, UsageError
from chartgen.gitops.body import commit_message, file_changes, removal_message, removal_spec, update_spec
from chartgen.gitops.forges import PullRequestSpec, StaleBranch
from chartgen.gitops.git import PushRejected
from chartgen.gitops.model import ChartChange, PrResult, Run, Unit
from chartgen.gitops.regenerate import regenerate_charts, remove_chart
from chartgen.markdown import code, escape


def propose_unit(run: Run, unit: Unit) -> PrResult:
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
        changes = remove_chart(run, unit.removal) if unit.removal else regenerate_charts(run, list(unit.folders))
        git.run("add", "--all")
        base_ref = f"refs/remotes/origin/{run.base}"
        branch_ref = f"refs/remotes/origin/{branch}" if branch in remote else None
        diff = git.run("diff", "--cached", "--no-color", "--stat", "--patch", base_ref).stdout
        status = file_changes(git, base_ref, run.charts_dir)
        same_as_base = not diff.strip()
        same_as_branch = branch_ref is not None and _only_provenance_differs(
            git.run("diff", "--cached", "--no-color", "-U0", branch_ref, "--", run.charts_dir).stdout)
        spec = removal_spec(run, branch, unit.removal, status) if unit.removal else \
            update_spec(run, branch, changes, status)
        if run.dry_run:
            where = ("the base already has it" if same_as_base else
                     f"branch {branch} already has it" if same_as_branch else
                     f"would push to {branch} and propose it against {run.base}")
            if same_as_base and branch in remote:
                where += f"; would close the pull request of {branch} and delete the branch"
            return PrResult(names, branch, "", "dry-run", diff, f"{label}: dry run: {where}", changes, kind=kind)
        if same_as_base:
            if branch in remote:  # merged another way, or superseded: the branch is stale
                return close_stale(run, branch, names, remote[branch], kind,
                                    f"{run.base} already has these charts (merged another way, or superseded)",
                                    changes)
            message = f"{label}: {run.base} already has these charts; nothing to commit, push or open"
            run.log(message)
            return PrResult(names, branch, "", "unchanged", "", message, changes, kind=kind)
        if same_as_branch:
            return _up_to_date(run, spec, unit, changes)
        message = removal_message(run, unit.removal) if unit.removal else commit_message(run, changes)
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


def _up_to_date(run: Run, spec: PullRequestSpec, unit: Unit, changes: tuple[ChartChange, ...]) -> PrResult:
    """The branch already has the charts: leave it; open its PR only if it has none."""
    result = run.forge.open_or_update(spec, pushed=False)
    what = "these charts" if unit.kind == "update" else "this removal"
    message = (f"{unit.label}: branch {unit.branch} already has {what}; nothing committed or pushed"
               + (f"; {result.message}" if result.action == "created" else ""))
    run.log(message)
    return PrResult(unit.names, unit.branch, result.url, "created" if result.action == "created" else "unchanged",
                    "", message, changes, kind=unit.kind)


def close_stale(run: Run, branch: str, names: tuple[str, ...], expected: str, kind: str, reason: str,
                 changes: tuple[ChartChange, ...] = ()) -> PrResult:
    """Close the open pull request of a stale branch with a comment saying why, then delete the
    branch (only if it is still at `expected`: work pushed meanwhile is not thrown away)."""
    label = {"remove": f"remove {names[0]}", "close": branch}.get(kind, ", ".join(names))
    if run.dry_run:
        return PrResult(names, branch, "", "dry-run", "", f"{label}: dry run: would close the pull request of "
                        f"{branch} and delete the branch: {reason}", changes, kind=kind)
    comment = f"Closed by chartgen: {escape(reason)}. The branch {code(branch)} is deleted."
    closed = run.forge.close_stale(StaleBranch(run.url, run.settings.repository, branch, run.base, comment))
    deleted = run.git.delete_branch("origin", branch, expected)
    where = f"; {closed.message}" if closed.message else ""
    message = (f"{label}: {reason}{where}; " + (f"deleted branch {branch}" if deleted else
               f"branch {branch} moved meanwhile and is left alone"))
    run.log(message)
    return PrResult(names, branch, closed.url, "closed", "", message, changes, kind=kind)
