"""Publish into a folder: archives, index.yaml and index.html (serve it with any web server).

Concurrent publishers into the same folder are serialised with an advisory lock on
the folder itself, so each one reads the index the previous one wrote.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from chartgen.repo.publish import PublishOptions, PublishResult, Target, update_folder


def publish(archives, target: Target, options: PublishOptions) -> PublishResult:
    folder = Path(target.location)
    if folder.exists() and not folder.is_dir():
        from chartgen.errors import UsageError

        raise UsageError(f"publish target {folder} exists and is not a directory", path=folder,
                         code="publish-target")
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        addition = update_folder(folder, archives, options, where=str(folder / "index.yaml"))
    finally:
        os.close(fd)  # closing releases the lock
    return PublishResult(str(target), addition.added, addition.unchanged, addition.replaced, 1,
                         str(folder / "index.yaml"), addition.duplicates)
