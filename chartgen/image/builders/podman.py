"""podman: the same command line as buildah (podman build/push use buildah's code)."""

from __future__ import annotations

from chartgen.image.builders.buildah import BuildahBuilder


class PodmanBuilder(BuildahBuilder):
    name = "podman"
    executable = "podman"
    build_verb = "build"

    def push_retry_flags(self) -> list[str]:
        return []  # older podman has no --retry; chartgen's own retries still apply
