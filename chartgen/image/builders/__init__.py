"""Image builder backends, one module each, all implementing `base.Builder`."""

from __future__ import annotations

import importlib

from chartgen.errors import ChartgenError, UsageError
from chartgen.image.builders.base import Builder, BuilderOptions, BuildLog, BuildResult, PushError

# name -> "module:Class"; the order is the auto-detection preference.
BACKENDS = {
    "buildah": "chartgen.image.builders.buildah:BuildahBuilder",
    "podman": "chartgen.image.builders.podman:PodmanBuilder",
    "docker": "chartgen.image.builders.docker:DockerBuilder",
    "kaniko": "chartgen.image.builders.kaniko:KanikoBuilder",
}
AUTO_ORDER = ("buildah", "podman", "docker")


def backend_class(name: str) -> type[Builder]:
    if name not in BACKENDS:
        raise UsageError(f"unknown image builder {name!r} (choose one of {', '.join(BACKENDS)})",
                         code="image-unknown-builder")
    module_name, class_name = BACKENDS[name].split(":")
    return getattr(importlib.import_module(module_name), class_name)


def detect() -> str:
    """The first installed backend of AUTO_ORDER (kaniko only inside its own image)."""
    for name in AUTO_ORDER:
        if backend_class(name).available():
            return name
    if backend_class("kaniko").available():
        return "kaniko"
    raise ChartgenError("no image builder found: install buildah (preferred), podman or docker, "
                        "or choose --builder kaniko to produce a Tekton step", code="image-builder-missing")


def resolve(name: str | None) -> str:
    """An explicit choice is checked (kaniko never runs here, so it is always allowed)."""
    if not name or name == "auto":
        return detect()
    cls = backend_class(name)
    if name != "kaniko" and not cls.available():
        import shutil

        hint = (" (the docker CLI is there but no Docker engine answers)"
                if name == "docker" and shutil.which("docker") else "")
        raise ChartgenError(f"image builder {name} is not available on this machine{hint}",
                            code="image-builder-missing")
    return name


__all__ = ["BACKENDS", "Builder", "BuilderOptions", "BuildLog", "BuildResult", "PushError",
           "backend_class", "detect", "resolve"]
