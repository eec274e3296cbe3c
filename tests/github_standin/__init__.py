"""Test stand-ins for chartgen's pull request tests: a local GitHub API (checked against
GitHub's OpenAPI description) with git smart HTTP, and helpers for bare chart repositories."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .server import HTTP_BACKEND, GitHubStandin

# Variables a CI runner may set that would point chartgen at the real GitHub.
GITHUB_VARIABLES = ("GH_TOKEN", "GITHUB_SHA", "GITHUB_REPOSITORY", "GITHUB_API_URL")


@contextmanager
def running_standin(tmp_path: Path, monkeypatch, token: str, bare: Path) -> Iterator[tuple[GitHubStandin, str]]:
    """The stand-in serving `bare` as acme/charts, with `token` as GITHUB_TOKEN and no other
    GitHub variable of the machine in the way; yields (server, clone URL). Skips (fails under
    CHARTGEN_REQUIRE_ALL=1) without GitHub's OpenAPI description or git-http-backend."""
    from conftest import GITHUB_OPENAPI, need, need_shared

    need_shared(GITHUB_OPENAPI)
    need(Path(HTTP_BACKEND).exists(), f"{HTTP_BACKEND} is absent (Debian package git)")
    for name in GITHUB_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GITHUB_TOKEN", token)
    server = GitHubStandin(tmp_path / "srv", GITHUB_OPENAPI, token).start()
    try:
        yield server, server.add_repo("acme", "charts", bare)
    finally:
        server.stop()
