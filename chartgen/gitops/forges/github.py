"""`--forge github`: open the pull request, or update the open one found by its head branch.

PyGithub is imported inside the functions (start-up time). Rate limits and 5xx answers are
retried by a `urllib3.Retry` (PyGithub's `GithubRetry`, extended): a `Retry-After` header is
honoured on 403/429, and without it `x-ratelimit-reset` when `x-ratelimit-remaining` is 0;
5xx answers back off exponentially; a wait longer than `pr.maxRateLimitWait` fails with a
clear message instead of hanging a CI job for an hour.
"""

from __future__ import annotations

from chartgen.errors import ChartgenError, UsageError, redact, register_secret
from chartgen.gitops.forges import ForgeOptions, ForgeResult, PullRequestSpec, StaleBranch
from chartgen.gitops.github_api import api_url, make_retry, slug


def repository_slug(spec: PullRequestSpec) -> str:
    """owner/name: the configured one, else the last two segments of the URL path."""
    return slug(spec.repository, spec.repo_url)


class GitHubForge:
    name = "github"
    needs_token = True

    def __init__(self, options: ForgeOptions) -> None:
        self.options = options
        self.api_url = api_url(options.api_url)
        register_secret(options.token)

    def client(self, *, retry_posts: bool = True):
        import github

        from chartgen.gitops.auth import NO_CREDENTIALS, pygithub_auth

        if not self.options.auth:
            raise UsageError(f"--forge github needs {NO_CREDENTIALS}", code="pr-no-token")
        return github.Github(base_url=self.api_url, auth=pygithub_auth(self.options.auth),
                             retry=make_retry(self.options.retries, self.options.max_rate_limit_wait,
                                              backoff_factor=self.options.backoff_factor, retry_posts=retry_posts), lazy=True, timeout=60,
                             per_page=100,
                             seconds_between_requests=self.options.seconds_between_requests,
                             seconds_between_writes=self.options.seconds_between_writes)

    def open_or_update(self, spec: PullRequestSpec, *, pushed: bool) -> ForgeResult:
        try:
            return self._open_or_update(spec, pushed)
        except ChartgenError:
            raise
        except Exception as exc:  # GithubException, requests/urllib3 errors: one clear message
            raise ChartgenError(f"GitHub API ({self.api_url}) failed for {repository_slug(spec)}: "
                                f"{_describe(exc)}", code="pr-github") from None

    def _open_or_update(self, spec: PullRequestSpec, pushed: bool) -> ForgeResult:
        from github import GithubException

        slug = repository_slug(spec)
        client = self.client()
        repo = client.get_repo(slug)
        owner = slug.split("/")[0]
        pull = self._find(repo, owner, spec)
        if pull is None:
            try:
                pull = repo.create_pull(base=spec.base, head=spec.branch, title=spec.title, body=spec.body,
                                        draft=spec.draft)
            except GithubException as exc:
                # A retried POST whose first attempt succeeded: the PR exists now; use it.
                pull = self._find(repo, owner, spec) if exc.status == 422 else None
                if pull is None:
                    raise
            action = "created"
            if spec.reviewers or spec.team_reviewers:
                pull.create_review_request(reviewers=list(spec.reviewers), team_reviewers=list(spec.team_reviewers))
        elif pushed:
            pull.edit(title=spec.title, body=spec.body)
            action = "updated"
        else:
            action = "unchanged"
        have = {label.name for label in pull.labels}
        missing = [label for label in spec.labels if label not in have]
        if missing:
            # PyGithub's add_to_labels posts a bare list; GitHub's OpenAPI description only
            # specifies {"labels": [...]}, so send that form.
            client.requester.requestJsonAndCheck("POST", f"{pull.issue_url}/labels", input={"labels": missing})
        verb = {"created": "opened", "updated": "updated", "unchanged": "already up to date:"}[action]
        return ForgeResult(action, pull.html_url, pull.number, f"{verb} pull request {pull.html_url}")

    def close_stale(self, stale: StaleBranch) -> ForgeResult:
        try:
            return self._close_stale(stale)
        except ChartgenError:
            raise
        except Exception as exc:
            raise ChartgenError(f"GitHub API ({self.api_url}) failed for {repository_slug(stale)}: "
                                f"{_describe(exc)}", code="pr-github") from None

    def _close_stale(self, stale: StaleBranch) -> ForgeResult:
        slug = repository_slug(stale)
        repo = self.client().get_repo(slug)
        pull = self._find(repo, slug.split("/")[0], stale)
        if pull is None:
            return ForgeResult("none", "", None, f"no open pull request from {stale.branch}")
        self._comment_once(pull, stale.comment)
        pull.edit(state="closed")                   # PATCH /repos/{o}/{r}/pulls/{n}
        return ForgeResult("closed", pull.html_url, pull.number, f"closed pull request {pull.html_url}")

    def _comment_once(self, pull, body: str) -> None:
        """Post `body` on the pull request unless it is there already. A comment is not
        idempotent, so its POST is never retried blindly: after a failure (a lost response
        included) the comments are read back, and a rerun after a failed close finds its
        comment and does not post it again."""
        def posted() -> bool:   # GET /repos/{o}/{r}/issues/{n}/comments
            return any(comment.body == body for comment in pull.get_issue_comments())

        if posted():
            return
        try:
            self.client(retry_posts=False).requester.requestJsonAndCheck(
                "POST", f"{pull.issue_url}/comments", input={"body": body})
        except Exception:
            if not posted():
                raise

    @staticmethod
    def _find(repo, owner: str, spec):
        for pull in repo.get_pulls(state="open", head=f"{owner}:{spec.branch}", base=spec.base):
            if pull.head.ref == spec.branch:
                return pull
        return None


def _describe(exc: Exception) -> str:
    status = getattr(exc, "status", None)
    data = getattr(exc, "data", None)
    message = data.get("message") if isinstance(data, dict) else None
    errors = data.get("errors") if isinstance(data, dict) else None
    text = f"{status} {message}" if status and message else str(exc)
    if errors:
        text += f" ({errors})"
    return redact(text)[:600]


def create(options: ForgeOptions) -> GitHubForge:
    return GitHubForge(options)
