"""Forges: where a pushed branch becomes a pull request. One module per forge, one interface.

A forge module exposes `create(options: ForgeOptions) -> Forge`. `Forge.open_or_update`
receives the pull request to propose for a branch that is already pushed (or already up to
date) and answers what it did. `Forge.close_stale` closes the open pull request of a branch
that is about to be deleted, with a comment saying why (the engine deletes the branch with
git afterwards, the same way for every forge).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Protocol

from chartgen.errors import UsageError

FORGES = ("github", "none")


@dataclass(frozen=True)
class PullRequestSpec:
    repo_url: str                 # the chart repository's git URL (credential-free)
    repository: str               # owner/name on the forge ("" when unknown)
    branch: str
    base: str
    title: str
    body: str
    labels: tuple[str, ...] = ()
    reviewers: tuple[str, ...] = ()
    team_reviewers: tuple[str, ...] = ()
    draft: bool = False


@dataclass(frozen=True)
class StaleBranch:
    repo_url: str                 # the chart repository's git URL (credential-free)
    repository: str               # owner/name on the forge ("" when unknown)
    branch: str
    base: str
    comment: str                  # why its pull request is closed (posted as a comment)


@dataclass(frozen=True)
class ForgeResult:
    action: str                   # created | updated | unchanged | pushed | closed | none
    url: str = ""
    number: int | None = None
    message: str = ""             # what to tell the user (e.g. where to open the PR)


@dataclass(frozen=True)
class ForgeOptions:
    token: str | None = field(default=None, repr=False)
    # chartgen.gitops.auth credentials (a GitHub App's installation token, refreshed); wins over `token`
    credentials: object | None = field(default=None, repr=False)
    api_url: str = ""
    retries: int = 6
    max_rate_limit_wait: float = 900
    backoff_factor: float = 1.0
    # GitHub's guidance against secondary rate limits (PyGithub's defaults): pace requests.
    seconds_between_requests: float = 0.25
    seconds_between_writes: float = 1.0
    extra: dict = field(default_factory=dict)

    @property
    def auth(self):
        """The credentials for the API and for git: `credentials`, else `token`, else None."""
        if self.credentials is not None:
            return self.credentials
        if self.token:
            from chartgen.gitops.auth import StaticToken

            return StaticToken(self.token)
        return None


class Forge(Protocol):
    name: str
    needs_token: bool

    def open_or_update(self, spec: PullRequestSpec, *, pushed: bool) -> ForgeResult:
        """Open the pull request for spec.branch, or update the open one. `pushed`: the branch changed."""

    def close_stale(self, stale: StaleBranch) -> ForgeResult:
        """Close the open pull request of stale.branch (into stale.base) with stale.comment.
        action "closed" (url, number of the pull request) or "none" (no open pull request
        found, or a forge without an API: the message says what to do)."""


def get_forge(name: str, options: ForgeOptions) -> Forge:
    if name not in FORGES:
        raise UsageError(f"unknown forge {name!r} (choose one of: {', '.join(FORGES)})", code="pr-forge")
    module = importlib.import_module(f"chartgen.gitops.forges.{name}")
    return module.create(options)
