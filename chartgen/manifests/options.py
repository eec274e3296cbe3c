"""What a render may vary: profile, image, namespace, labels, persistence.

`RenderOptions` is a small frozen value; `render_options(config.render, **overrides)` builds
it from the `render:` section of chartgen.yaml (schema: chartgen/data/config/render.json),
with command-line values (not None) winning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from chartgen.errors import UsageError
from chartgen.names import is_dns1123_label, is_dns1123_subdomain
from chartgen.settings import PersistenceSettings, RenderSettings

PROFILES = ("dev", "preview", "gitops")
LABEL_SETS = ("app", "standard", "full")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")


def is_label_key(key: str) -> bool:
    prefix, _, name = key.rpartition("/")
    return (not prefix or is_dns1123_subdomain(prefix)) and len(name) <= 63 and bool(_LABEL_NAME.match(name))


def is_label_value(value: str) -> bool:
    return len(value) <= 63 and bool(_LABEL_VALUE.match(value))


@dataclass(frozen=True)
class RenderOptions:
    """Everything besides the workflow folder that decides the rendered manifests.

    profile   -- sonataflow.org/profile. Default gitops (the Orchestrator deploys prebuilt
                 images); upstream gen-manifest defaults to dev.
    image     -- spec.podTemplate.container.image; None: not set (as upstream without --image).
    namespace -- metadata.namespace; "" omits it (and the workflow-namespace label is "").
    label_set -- "app" (2 labels), "standard" (6, what Orchestrator charts carry), "full" (8, current upstream).
    operator_version -- app.kubernetes.io/version for label_set "full".
    extra_labels -- sorted (key, value) pairs added to the SonataFlow, props ConfigMap and Secret.
    persistence  -- spec.persistence.postgresql when set.
    """

    profile: str = "gitops"
    image: str | None = None
    namespace: str = ""
    label_set: str = "standard"
    operator_version: str = "main"
    extra_labels: tuple[tuple[str, str], ...] = ()
    persistence: PersistenceSettings | None = None

    def __post_init__(self) -> None:
        if self.profile not in PROFILES:
            raise UsageError(f"unknown profile {self.profile!r} (choose one of: {', '.join(PROFILES)})",
                             code="bad-profile")
        if self.label_set not in LABEL_SETS:
            raise UsageError(f"unknown label set {self.label_set!r} (choose one of: {', '.join(LABEL_SETS)})",
                             code="bad-label-set")
        if self.namespace and not is_dns1123_label(self.namespace):
            raise UsageError(f"namespace {self.namespace!r} is not a valid Kubernetes namespace name "
                             "(lower-case letters, digits and '-', at most 63 characters)", code="bad-namespace")
        object.__setattr__(self, "extra_labels", tuple(sorted(dict(self.extra_labels).items())))
        for key, value in self.extra_labels:
            if not isinstance(key, str) or not isinstance(value, str) or not is_label_key(key) \
                    or not is_label_value(value):
                raise UsageError(f"label {key!r}: {value!r} is not a valid Kubernetes label", code="bad-label")

    def replace(self, **changes: Any) -> "RenderOptions":
        return replace(self, **changes)


def render_options(settings: RenderSettings | None = None, *, profile: str | None = None, image: str | None = None,
                   namespace: str | None = None, persistence: bool | PersistenceSettings | None = None,
                   label_set: str | None = None, operator_version: str | None = None,
                   extra_labels: dict[str, str] | None = None) -> RenderOptions:
    """RenderOptions from chartgen.yaml's `render:` section (`config.render`; None: its
    defaults); keyword values that are not None win.

    `persistence=True` turns persistence on with the configured settings, `False` turns it
    off, a PersistenceSettings is used as given, None follows `render.persistence.enabled`.
    """
    section = settings if settings is not None else RenderSettings()
    if isinstance(persistence, PersistenceSettings):
        pers = persistence
    else:
        enabled = section.persistence_enabled if persistence is None else persistence
        pers = section.persistence if enabled else None
    labels = dict(section.labels)
    labels.update(extra_labels or {})
    return RenderOptions(
        profile=profile if profile is not None else section.profile,
        image=image or None,
        namespace=namespace if namespace is not None else section.namespace,
        label_set=label_set if label_set is not None else section.label_set,
        operator_version=operator_version if operator_version is not None else section.operator_version,
        extra_labels=tuple(labels.items()),
        persistence=pers,
    )
