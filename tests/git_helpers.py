"""Git fixtures shared by tests: real repositories on disk, used as remotes."""

from __future__ import annotations

import subprocess
from pathlib import Path


def _git(*args: str, cwd: Path | None = None) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True)


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
