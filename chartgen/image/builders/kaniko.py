"""kaniko: produces the context and the executor command line a Tekton step runs.

kaniko only runs inside its own image (gcr.io/kaniko-project/executor), so this backend
never executes anything: `build` returns the command, and kaniko pushes while building
(`--destination` per tag, `--digest-file` for the pushed digest, `--no-push` otherwise).
Credentials come from the step's /kaniko/.docker/config.json (DOCKER_CONFIG).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Sequence

from chartgen.errors import UsageError
from chartgen.image.builders.base import BuildLog, BuildResult, Builder, BuilderOptions, build_arg_flags

EXECUTOR = "/kaniko/executor"
# The Tekton result a Task declares for the pushed digest.
TEKTON_DIGEST_FILE = "$(results.IMAGE_DIGEST.path)"


class KanikoBuilder(Builder):
    name = "kaniko"
    executable = EXECUTOR
    pushes_during_build = True

    def __init__(self, options: BuilderOptions | None = None, *, push: bool = False,
                 digest_file: str = TEKTON_DIGEST_FILE) -> None:
        super().__init__(options)
        self.push_enabled = push
        self.digest_file = digest_file

    @classmethod
    def available(cls) -> bool:
        return os.access(EXECUTOR, os.X_OK)

    def build_command(self, context_dir: Path, containerfile: Path, tags: Sequence[str],
                      build_args: Mapping[str, str]) -> list[str]:
        argv = [EXECUTOR, f"--context=dir://{context_dir}", f"--dockerfile={containerfile}",
                "--snapshot-mode=redo"]
        if self.options.timestamp is not None:
            argv.append("--reproducible")  # same bytes in, same layers out: timestamps are stripped
        if self.options.platform:
            argv.append(f"--custom-platform={self.options.platform}")
        for tag in tags:
            argv.append(f"--destination={tag}")
        if self.push_enabled:
            argv.append(f"--digest-file={self.digest_file}")
        else:
            argv.append("--no-push")
        if not self.options.tls_verify:
            # plain HTTP or unverified TLS, for pulling the base images and for pushing
            argv += ["--insecure", "--insecure-pull", "--skip-tls-verify", "--skip-tls-verify-pull"]
        flags = build_arg_flags(build_args)
        argv += [f"{flag}={value}" for flag, value in zip(flags[::2], flags[1::2])]
        return argv

    def build(self, context_dir: Path, containerfile: Path, tags: Sequence[str],
              build_args: Mapping[str, str], log: BuildLog) -> BuildResult:
        argv = self.build_command(context_dir, containerfile, tags, build_args)
        log.note("kaniko runs in its own container; the command for the Tekton step:")
        log.note("$ " + " ".join(argv))
        return BuildResult(None, tuple(tags), tuple(argv), executed=False)

    def push(self, ref: str, log: BuildLog) -> str:
        raise UsageError("kaniko pushes while it builds (its --destination flags); there is no separate push",
                         code="image-kaniko-push")
