"""chartgen's own fingerprint: a new generator (version or code) makes every cached result stale."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from chartgen import __version__


@lru_cache(maxsize=1)
def generator_fingerprint() -> str:
    """chartgen's version and the bytes of its own code and data: a new generator rebuilds."""
    digest = hashlib.sha256(__version__.encode())
    package = Path(__file__).resolve().parents[1]   # the chartgen package
    for path in sorted(package.rglob("*")):
        if path.is_file() and path.suffix not in (".pyc",) and "__pycache__" not in path.parts:
            digest.update(path.relative_to(package).as_posix().encode() + b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()
