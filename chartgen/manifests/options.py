"""What a render may vary: profile, image, namespace, labels, persistence.

`RenderOptions` is a small frozen value; `render_options(config, **overrides)` builds it
from the `render:` section of chartgen.yaml (schema: chartgen/data/config/render.json),
with command-line values (not None) winning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from chartgen.errors import UsageError
from chartgen.names import is_dns1123_label, is_dns1123_subdomain

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
class PersistenceSettings:
    """spec.persistence.postgresql; defaults are those of the old Orchestrator pipeline."""

    secret_name: str = "sonataflow-psql-postgresql"
    user_key: str = "postgres-username"
    password_key: str = "postgres-password"
    service_name: str = "sonataflow-psql-postgresql"
    service_namespace: str = ""       # "" -> omitted (the workflow's namespace)
    port: int = 5432
    database_name: str = "sonataflow"
    database_schema: str = ""         # "" -> postgres_identifier(workflow name)
    migrate_db_on_startup: bool = False


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


def persistence_settings(section: dict) -> PersistenceSettings:
    """PersistenceSettings from the `render.persistence` mapping of chartgen.yaml."""
    defaults = PersistenceSettings()
    return PersistenceSettings(
        secret_name=section.get("secretName", defaults.secret_name),
        user_key=section.get("userKey", defaults.user_key),
        password_key=section.get("passwordKey", defaults.password_key),
        service_name=section.get("serviceName", defaults.service_name),
        service_namespace=section.get("serviceNamespace", defaults.service_namespace),
        port=int(section.get("port", defaults.port)),
        database_name=section.get("databaseName", defaults.database_name),
        database_schema=section.get("databaseSchema", defaults.database_schema),
        migrate_db_on_startup=bool(section.get("migrateDBOnStartUp", defaults.migrate_db_on_startup)),
    )


def render_options(config=None, *, profile: str | None = None, image: str | None = None,
                   namespace: str | None = None, persistence: bool | PersistenceSettings | None = None,
                   label_set: str | None = None, operator_version: str | None = None,
                   extra_labels: dict[str, str] | None = None) -> RenderOptions:
    """RenderOptions from chartgen.yaml's `render:` section; keyword values that are not None win.

    `persistence=True` turns persistence on with the configured settings, `False` turns it
    off, a PersistenceSettings is used as given, None follows `render.persistence.enabled`.
    """
    section = config.section("render") if config is not None else {}
    section = section if isinstance(section, dict) else {}
    pers_section = section.get("persistence") or {}
    if isinstance(persistence, PersistenceSettings):
        pers = persistence
    else:
        enabled = pers_section.get("enabled", False) if persistence is None else persistence
        pers = persistence_settings(pers_section) if enabled else None
    labels = dict(section.get("labels") or {})
    labels.update(extra_labels or {})
    return RenderOptions(
        profile=profile if profile is not None else section.get("profile", "gitops"),
        image=image or None,
        namespace=namespace if namespace is not None else section.get("namespace", ""),
        label_set=label_set if label_set is not None else section.get("labelSet", "standard"),
        operator_version=(operator_version if operator_version is not None
                          else section.get("operatorVersion", "main")),
        extra_labels=tuple(labels.items()),
        persistence=pers,
    )
