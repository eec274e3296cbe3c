"""Test stand-ins for chartgen's pull request tests: a local GitHub API (checked against
GitHub's OpenAPI description) with git smart HTTP, and helpers for bare chart repositories."""

from .server import GitHubStandin  # noqa: F401
