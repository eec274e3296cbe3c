"""Git fixtures shared by tests: real repositories on disk, used as remotes."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

# Commits made by tests do not depend on the machine's (or CI's empty) git identity.
IDENTITY = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
            "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}


def git(*args: str, cwd: Path | str | None = None) -> str:
    """Run git with the test identity; its stdout."""
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True,
                          env={**os.environ, **IDENTITY}).stdout


_git = git


def seeded_chart_repository(tmp_path: Path) -> Path:
    """A bare chart repository (`tmp_path/charts.git`) whose main branch has one commit."""
    bare = tmp_path / "charts.git"
    _git("init", "-q", "--bare", "-b", "main", str(bare))
    seed = tmp_path / "seed"
    _git("init", "-q", "-b", "main", str(seed))
    (seed / "README.md").write_text("charts\n")
    _git("add", "-A", cwd=seed)
    _git("-c", "user.name=chartgen tests", "-c", "user.email=tests@chartgen.invalid",
         "commit", "-q", "-m", "seed", cwd=seed)
    _git("push", "-q", str(bare), "main", cwd=seed)
    return bare
