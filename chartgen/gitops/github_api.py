"""GitHub's REST API basics shared by the forge and the GitHub App credentials: where the
API is, which repository a URL names, and the retry policy (rate limits, 5xx)."""

from __future__ import annotations

import os
import time
from urllib.parse import urlsplit

from chartgen.errors import ChartgenError, UsageError

DEFAULT_API = "https://api.github.com"


def api_url(configured: str = "") -> str:
    """pr.apiUrl, else $GITHUB_API_URL (set by GitHub Actions), else https://api.github.com."""
    return (configured or os.environ.get("GITHUB_API_URL") or DEFAULT_API).rstrip("/")


def slug(repository: str, url: str) -> str:
    """owner/name: `repository` (pr.repository) when set, else from the URL path."""
    if repository:
        return repository
    path = urlsplit(url).path if "://" in url else url.partition(":")[2]
    parts = [p for p in path.strip("/").split("/") if p]
    if len(parts) >= 2:
        name = parts[-1][:-4] if parts[-1].endswith(".git") else parts[-1]
        return f"{parts[-2]}/{name}"
    raise UsageError(f"cannot tell the GitHub repository (owner/name) from {url!r}; set pr.repository "
                     "in chartgen.yaml", code="pr-repository")


def make_retry(retries: int, max_rate_limit_wait: float, *, backoff_factor: float = 1.0, retry_posts: bool = True):
    """A GithubRetry that also honours x-ratelimit-reset on 429, caps waits, retries 5xx.
    `retry_posts=False` for a POST that is not idempotent (a comment: GitHub keeps both)."""
    from github.GithubRetry import GithubRetry

    cap = max_rate_limit_wait

    class ChartgenRetry(GithubRetry):
        def get_retry_after(self, response):  # noqa: D401 - urllib3 hook
            wait = super().get_retry_after(response)
            headers = response.headers
            if wait is None and response.status in (403, 429) and headers.get("x-ratelimit-remaining") == "0":
                reset = headers.get("x-ratelimit-reset", "")
                if reset.isdigit():
                    wait = max(0.0, int(reset) - time.time()) + 0.5
            if wait is not None and wait > cap:
                raise ChartgenError(f"GitHub rate limit: the API asks to wait {wait:.0f}s, more than "
                                    f"pr.maxRateLimitWait ({cap:.0f}s); try again later", code="pr-rate-limit")
            return wait

    # PATCH (the PR update) is idempotent too; urllib3's default list lacks it, PyGithub adds GET/POST.
    methods = {"GET", "POST", "PATCH", "PUT", "DELETE", "HEAD"} - (set() if retry_posts else {"POST"})
    return ChartgenRetry(total=retries, backoff_factor=backoff_factor, allowed_methods=methods,
                         status_forcelist=[429, *range(500, 600)], max_rate_limit_wait=cap,
                         secondary_rate_wait=min(60.0, cap), raise_on_status=False)
