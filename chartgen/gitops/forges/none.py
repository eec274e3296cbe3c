"""`--forge none`: the branch is pushed; the user opens the pull request."""

from __future__ import annotations

from urllib.parse import quote, urlsplit

from chartgen.gitops.forges import ForgeOptions, ForgeResult, PullRequestSpec, StaleBranch


def web_url(repo_url: str) -> str:
    """https://host/owner/name for http(s) and scp-style (git@host:owner/name.git) URLs, else ""."""
    if repo_url.startswith(("http://", "https://")):
        parts = urlsplit(repo_url)
        path = parts.path.rstrip("/")
        path = path[:-4] if path.endswith(".git") else path
        return f"{parts.scheme}://{parts.hostname}{':%d' % parts.port if parts.port else ''}{path}"
    if "@" in repo_url and ":" in repo_url and "://" not in repo_url:
        host, _, path = repo_url.split("@", 1)[1].partition(":")
        path = path[:-4] if path.endswith(".git") else path
        return f"https://{host}/{path.strip('/')}"
    return ""


class NoForge:
    name = "none"
    needs_token = False

    def open_or_update(self, spec: PullRequestSpec, *, pushed: bool) -> ForgeResult:
        web = web_url(spec.repo_url)
        url = f"{web}/compare/{quote(spec.base)}...{quote(spec.branch, safe='/')}?expand=1" if web else ""
        where = url or f"{spec.repo_url} (branch {spec.branch} into {spec.base})"
        if pushed:
            return ForgeResult("pushed", url, None, f"pushed branch {spec.branch}; open the pull request at {where}")
        return ForgeResult("unchanged", url, None,
                           f"branch {spec.branch} is already up to date; the pull request can be opened at {where}")

    def close_stale(self, stale: StaleBranch) -> ForgeResult:
        """No API: nothing to close here; deleting the branch (the engine does) makes GitHub,
        GitLab and Gitea close a pull request still open from it."""
        web = web_url(stale.repo_url)
        where = f" ({web}/pulls)" if web else ""
        return ForgeResult("none", "", None, f"no forge API: close any pull request still open from {stale.branch} "
                                             f"by hand{where}")


def create(options: ForgeOptions) -> NoForge:
    return NoForge()
