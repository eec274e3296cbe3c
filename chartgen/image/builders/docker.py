"""docker: needs a reachable Docker engine (the CLI alone is not enough).

Credentials: docker reads `config.json` from DOCKER_CONFIG, so an auth file is handed
over as a temporary DOCKER_CONFIG folder. TLS and storage are the engine's business.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Mapping, Sequence

from chartgen.fsutil import temp_directory
from chartgen.image.builders.base import (BuildLog, BuildResult, Builder, build_arg_flags, build_failure,
                                          base_images, push_failure)

_PUSHED_DIGEST = re.compile(r"digest: (sha256:[0-9a-f]{64})")


class DockerBuilder(Builder):
    name = "docker"
    executable = "docker"

    @classmethod
    def available(cls) -> bool:
        if shutil.which(cls.executable) is None:
            return False
        try:
            done = subprocess.run([cls.executable, "info", "--format", "{{.ServerVersion}}"],
                                  capture_output=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return False
        return done.returncode == 0

    def build_command(self, context_dir: Path, containerfile: Path, tags: Sequence[str],
                      build_args: Mapping[str, str], iidfile: Path | None = None) -> list[str]:
        argv = [self.executable, "build", "-f", str(containerfile)]
        if self.options.platform:
            argv += ["--platform", self.options.platform]
        if iidfile is not None:
            argv += ["--iidfile", str(iidfile)]
        for tag in tags:
            argv += ["-t", tag]
        return argv + build_arg_flags(build_args) + [str(context_dir)]

    def _env(self, scratch: Path) -> dict[str, str]:
        if not self.options.authfile:
            return {}
        shutil.copyfile(self.options.authfile, scratch / "config.json")
        (scratch / "config.json").chmod(0o600)
        return {"DOCKER_CONFIG": str(scratch)}

    def build(self, context_dir: Path, containerfile: Path, tags: Sequence[str],
              build_args: Mapping[str, str], log: BuildLog) -> BuildResult:
        with temp_directory("chartgen-docker-") as scratch:
            iidfile = Path(scratch) / "iid"
            argv = self.build_command(context_dir, containerfile, tags, build_args, iidfile)
            output = log.run(argv, env=self._env(Path(scratch)))
            if output.returncode != 0:
                raise build_failure(self.name, output, log, base_images(containerfile))
            image_id = iidfile.read_text().strip() if iidfile.is_file() else None
        return BuildResult(image_id, tuple(tags), tuple(argv))

    def push(self, ref: str, log: BuildLog) -> str:
        with temp_directory("chartgen-docker-") as scratch:
            output = log.run([self.executable, "push", ref], env=self._env(Path(scratch)))
        if output.returncode != 0:
            raise push_failure(self.name, ref, output, log)
        found = _PUSHED_DIGEST.findall(output.output)
        if not found:
            raise push_failure(self.name, ref, output, log)
        return found[-1]
