"""Kubernetes and environment naming rules shared by validation, rendering and charts."""

from __future__ import annotations

import re

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_CONFIGMAP_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
_ENV_NAME = re.compile(r"^[A-Z0-9_]+$")
_PROFILE_KEY = re.compile(r"^%([A-Za-z0-9_-]+(?:,[A-Za-z0-9_-]+)*)\.(.+)$")
_PG_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_NOT_CHART_NAME = re.compile(r"[^a-z0-9-]+")


def workflow_name(workflow_id: str) -> str:
    """The Kubernetes name of a workflow: its id lower-cased, as `kn workflow gen-manifest` does."""
    return workflow_id.lower()


def is_dns1123_label(name: str) -> bool:
    return len(name) <= 63 and bool(_DNS1123_LABEL.match(name))


def is_dns1123_subdomain(name: str) -> bool:
    return len(name) <= 253 and bool(_DNS1123_SUBDOMAIN.match(name))


def is_configmap_key(key: str) -> bool:
    return len(key) <= 253 and bool(_CONFIGMAP_KEY.match(key)) and key not in (".", "..")


def _normalize_env(text: str) -> str:
    text = text.strip()
    for char in ' -."\'[]%':
        text = text.replace(char, "_")
    text = text.upper()
    if text.endswith("_"):
        text = text[:-1]
    return text


def env_names(key: str) -> list[str]:
    """Environment variable names for a secret.properties key (upstream normalizeEnvNames).

    `%dev.quarkus.http.port` -> [`_DEV_QUARKUS_HTTP_PORT`]; `%prod,dev.x` -> one per profile.
    Raises ValueError for keys that cannot become a valid name.
    """
    match = _PROFILE_KEY.match(key)
    candidates = ([f"%{profile}_{match.group(2)}" for profile in match.group(1).split(",")]
                  if match else [key])
    names = [_normalize_env(c) for c in candidates]
    for name in names:
        if not _ENV_NAME.match(name):
            raise ValueError(f"invalid environment variable name: {key} (must only contain A-Z, 0-9, and _)")
    return names


def postgres_identifier(text: str) -> str:
    """A valid unquoted PostgreSQL identifier derived from `text` (schema names)."""
    ident = re.sub(r"[^a-z0-9_]", "_", text.lower())
    if not ident or not (ident[0].isalpha() or ident[0] == "_"):
        ident = "_" + ident
    return ident[:63]


def is_postgres_identifier(text: str) -> bool:
    return bool(_PG_IDENTIFIER.match(text))


def chart_name(folder_name: str) -> str:
    """The chart of a workflow folder: its name lower-cased, other characters than a-z, 0-9
    and '-' made '-' (`mta-v7.x` -> `mta-v7-x`, `01_basic` -> `01-basic`), at most 63."""
    name = _NOT_CHART_NAME.sub("-", folder_name.lower()).strip("-")
    return name[:63].strip("-") or "workflow"
