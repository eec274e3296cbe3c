"""buildah: the default backend (daemonless; runs as root or rootless).

As root inside a container, overlay storage often cannot be mounted (overlay on overlay)
and there is no OCI runtime: the backend then uses `--storage-driver vfs` and
`--isolation chroot`. Both are detected once per process, or taken from chartgen.yaml.
"""

from __future__ import annotations

import shutil
import subprocess
from functools import lru_cache
from pathlib import Path
from typing import Mapping, Sequence

from chartgen.fsutil import temp_directory
from chartgen.image.builders.base import (BuildLog, BuildResult, Builder, build_arg_flags, build_failure,
                                          base_images, push_failure, read_digest)


@lru_cache(maxsize=8)
def _overlay_usable(tool: str, root: str, run_root: str) -> bool:
    """Whether the tool's default storage (overlay) initialises; probing costs one `info` call."""
    argv = [tool] + (["--root", root] if root else []) + (["--runroot", run_root] if run_root else []) + ["info"]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return True  # let the real command report the problem
    return not (done.returncode != 0 and "overlay" in (done.stdout + done.stderr).lower())


def has_oci_runtime() -> bool:
    return any(shutil.which(name) for name in ("crun", "runc"))


class BuildahBuilder(Builder):
    name = "buildah"
    executable = "buildah"
    build_verb = "build"

    def global_flags(self) -> list[str]:
        opts = self.options
        flags: list[str] = []
        driver = opts.storage_driver or ("" if _overlay_usable(self.executable, opts.storage_root, opts.run_root)
                                         else "vfs")
        if driver:
            flags += ["--storage-driver", driver]
        if opts.storage_root:
            flags += ["--root", opts.storage_root]
        if opts.run_root:
            flags += ["--runroot", opts.run_root]
        return flags

    def isolation(self) -> str:
        return self.options.isolation or ("" if has_oci_runtime() else "chroot")

    def auth_flags(self) -> list[str]:
        return ["--authfile", self.options.authfile] if self.options.authfile else []

    def push_retry_flags(self) -> list[str]:
        # chartgen retries transient failures itself (image.retries, with backoff); buildah 1.28
        # still retries blobs 3 times whatever --retry says, so make those inner retries instant
        # (a delay of 0s would mean its 2s default)
        return ["--retry", "0", "--retry-delay", "10ms"]

    def tls_flags(self) -> list[str]:
        return [] if self.options.tls_verify else ["--tls-verify=false"]

    def build_command(self, context_dir: Path, containerfile: Path, tags: Sequence[str],
                      build_args: Mapping[str, str], iidfile: Path | None = None) -> list[str]:
        argv = [self.executable, *self.global_flags(), self.build_verb,
                # --layers: one cached layer per instruction, so lib/ is reused when only the workflow changed
                "--layers", "--format", self.options.format]
        isolation = self.isolation()
        if isolation:
            argv += ["--isolation", isolation]
        argv += self.tls_flags() + self.auth_flags()
        if self.options.timestamp is not None:
            # every file and the created date get this time: identical sources, identical layers
            argv += ["--timestamp", str(self.options.timestamp)]
        if self.options.platform:
            argv += ["--platform", self.options.platform]
        if iidfile is not None:
            argv += ["--iidfile", str(iidfile)]
        argv += ["-f", str(containerfile)]
        for tag in tags:
            argv += ["-t", tag]
        argv += build_arg_flags(build_args)
        argv.append(str(context_dir))
        return argv

    def push_command(self, ref: str, digestfile: Path) -> list[str]:
        return [self.executable, *self.global_flags(), "push", *self.tls_flags(), *self.auth_flags(),
                *self.push_retry_flags(), "--digestfile", str(digestfile), ref, f"docker://{ref}"]

    def build(self, context_dir: Path, containerfile: Path, tags: Sequence[str],
              build_args: Mapping[str, str], log: BuildLog) -> BuildResult:
        with temp_directory("chartgen-iid-") as scratch:
            iidfile = Path(scratch) / "iid"
            argv = self.build_command(context_dir, containerfile, tags, build_args, iidfile)
            output = log.run(argv)
            if output.returncode != 0:
                raise build_failure(self.name, output, log, base_images(containerfile))
            image_id = iidfile.read_text().strip() if iidfile.is_file() else None
        return BuildResult(image_id, tuple(tags), tuple(argv))

    def push(self, ref: str, log: BuildLog) -> str:
        with temp_directory("chartgen-digest-") as scratch:
            digestfile = Path(scratch) / "digest"
            output = log.run(self.push_command(ref, digestfile))
            if output.returncode != 0:
                raise push_failure(self.name, ref, output, log)
            digest = read_digest(digestfile)
        if not digest:
            raise push_failure(self.name, ref, output, log)
        return digest

