"""Scan everything a pull request run leaves behind for a token: log lines, results, the
scratch clone's files (`.git/config` included, captured while the clone exists), every
object and file of the chart repository, and every request the stand-in received."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Iterable


def snapshot_clones(monkeypatch, workdir: Path) -> dict[str, bytes]:
    """Capture the files of the scratch clones under `workdir` each time the engine calls the
    forge (the clone is removed at the end of the run). Returns path -> bytes, filled later."""
    from chartgen.gitops import engine

    files: dict[str, bytes] = {}
    real_get_forge = engine.get_forge

    def snapshot() -> None:
        for clone in workdir.glob("chartgen-pr-*"):
            for file in clone.rglob("*"):
                if file.is_file():
                    files[str(file)] = file.read_bytes()

    def get_forge(name, options):
        forge = real_get_forge(name, options)
        for method in ("open_or_update", "close_stale"):
            real = getattr(forge, method)

            def wrapped(*args, _real=real, **kwargs):
                snapshot()
                return _real(*args, **kwargs)

            setattr(forge, method, wrapped)
        return forge

    monkeypatch.setattr(engine, "get_forge", get_forge)
    return files


def assert_token_nowhere(token: str | Iterable[str], *, lines=(), results=(), bare: Path | None = None,
                         server=None, clone_files: dict[str, bytes] | None = None) -> None:
    """`token`: one secret, or several (a private key's lines, every token minted)."""
    tokens = [token] if isinstance(token, str) else [t for t in token if t]
    assert tokens
    found = [t for t in tokens if any(t in line for line in lines)]
    found += [t for t in tokens if any(t in repr(r) for r in results)]
    assert found == [], "a secret is in a log line or a result"
    if clone_files is not None:
        assert any(f.endswith(".git/config") for f in clone_files), "the clone was scanned while it existed"
        assert [f for f, data in clone_files.items() if any(t.encode() in data for t in tokens)] == []
        for name, data in clone_files.items():
            if name.endswith(".git/config"):
                text = data.decode()
                assert "@" not in text and "helper" not in text and "extraheader" not in text.lower(), text
    if bare is not None:
        objects = subprocess.run(["git", "--git-dir", str(bare), "cat-file", "--batch-all-objects", "--batch"],
                                 capture_output=True, check=True).stdout
        assert objects and not [t for t in tokens if t.encode() in objects]
        for file in Path(bare).rglob("*"):
            if file.is_file():
                data = file.read_bytes()
                assert not [t for t in tokens if t.encode() in data], file
    if server is not None:
        for record in server.requests:
            assert not [t for t in tokens if t in record.path or t.encode() in record.body], record.path
