"""Kubernetes manifests of a workflow folder, as `kn workflow gen-manifest` writes them.

Public API (stable; the chart, build and PR stages call it):

    RenderOptions, PersistenceSettings, render_options(config.render, **overrides)
    Manifest(filename, kind, name, obj), render_manifests(folder, options) -> tuple[Manifest, ...]
    write_manifests(manifests, out_dir) -> list[Path]
    normalize_flow(workflow) -> dict
    DELIBERATE_DIFFERENCES (the one list of differences from upstream), strip_differences(obj)
"""

from chartgen.manifests.differences import DELIBERATE_DIFFERENCES, Difference, strip_differences
from chartgen.manifests.normalize import normalize_flow
from chartgen.manifests.options import PersistenceSettings, RenderOptions, render_options
from chartgen.manifests.render import (Manifest, default_labels, manifest_filename, persistence_block,
                                       render_manifests, resource_configmap_name, write_manifests)

__all__ = [
    "DELIBERATE_DIFFERENCES", "Difference", "Manifest", "PersistenceSettings", "RenderOptions",
    "default_labels", "manifest_filename", "normalize_flow", "persistence_block", "render_manifests",
    "render_options", "resource_configmap_name", "strip_differences", "write_manifests",
]
