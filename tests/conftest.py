"""Shared test helpers.

Tests that need an outside component (buildah, a registry, ../shared) skip with a clear
reason when it is absent; with CHARTGEN_REQUIRE_ALL=1 (set by .ci/run) those skips
become failures, so CI always runs them.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("CHARTGEN_SHARED", REPO.parent / "shared"))
CORPUS = SHARED / "corpus"
GOLDEN = SHARED / "golden"
CRDS = SHARED / "crds"
GITHUB_OPENAPI = SHARED / "github-openapi" / "api.github.com.json"
REQUIRE_ALL = os.environ.get("CHARTGEN_REQUIRE_ALL") == "1"


def need(condition: bool, reason: str) -> None:
    """Skip (or fail under CHARTGEN_REQUIRE_ALL=1) when a component is missing."""
    if condition:
        return
    if REQUIRE_ALL:
        pytest.fail(f"required component missing (CHARTGEN_REQUIRE_ALL=1): {reason}")
    pytest.skip(reason)


def need_shared(path: Path = SHARED) -> Path:
    need(path.exists(), f"{path} is absent (the ../shared test data is not checked out)")
    return path


def need_tool(name: str) -> str:
    found = shutil.which(name)
    need(found is not None, f"{name} is not installed")
    return found


@pytest.fixture
def repo_root() -> Path:
    return REPO
