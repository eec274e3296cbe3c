"""Every deliberate difference between `chartgen render` and `kn workflow gen-manifest`.

This is the ONE list: the golden tests are derived from it, and docs/render.md lists every entry. Each
entry says what upstream does, what chartgen does and why; `strip` (when set) removes the
difference from one rendered object (used on both sides before a golden comparison).
Differences with `strip=None` do not show in successfully rendered objects (they turn
an upstream defect into an error, or concern the output directory or inputs upstream
cannot read at all).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

NAME_ANNOTATION = "sonataflow.org/name"


@dataclass(frozen=True)
class Difference:
    id: str
    upstream: str
    chartgen: str
    why: str
    strip: Callable[[dict], None] | None = None


def _drop_creation_timestamp(obj: dict) -> None:
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        meta.pop("creationTimestamp", None)


def _drop_status(obj: dict) -> None:
    obj.pop("status", None)


def _sort_env(obj: dict) -> None:
    container = obj.get("spec", {}).get("podTemplate", {}).get("container", {})
    if isinstance(container.get("env"), list):
        container["env"] = sorted(container["env"], key=lambda e: (str(e.get("name")), repr(e)))


def _canonical_schema(obj: dict) -> None:
    from chartgen.names import postgres_identifier

    service = obj.get("spec", {}).get("persistence", {}).get("postgresql", {}).get("serviceRef")
    if isinstance(service, dict) and isinstance(service.get("databaseSchema"), str):
        service["databaseSchema"] = postgres_identifier(service["databaseSchema"])


def _drop_name_annotation(obj: dict) -> None:
    annotations = obj.get("metadata", {}).get("annotations")
    if isinstance(annotations, dict):
        annotations.pop(NAME_ANNOTATION, None)


DELIBERATE_DIFFERENCES: tuple[Difference, ...] = (
    Difference(
        "no-creation-timestamp",
        "every object has `metadata.creationTimestamp: null`",
        "not written",
        "noise from Go's zero time; servers set it anyway",
        _drop_creation_timestamp),
    Difference(
        "no-status",
        "the SonataFlow carries a `status: {address: {}, lastTimeRecoverAttempt: null}` stub",
        "no `status:`",
        "status belongs to the operator; GitOps tools show the stub as a permanent diff",
        _drop_status),
    Difference(
        "stable-env-order",
        "secret env entries come in Go map order (random from run to run)",
        "secret.properties file order",
        "byte-identical output from run to run",
        _sort_env),
    Difference(
        "name-annotation",
        "the workflow `name` is lost",
        "kept as annotation `sonataflow.org/name` (which the operator reads back since 2025)",
        "the Orchestrator shows the workflow name",
        _drop_name_annotation),
    Difference(
        "valid-names",
        "name = lower-cased id, not checked (`My_Flow` -> invalid `my_flow`; no id -> empty name)",
        "an id whose lower-case form is not a DNS-1123 label (max 63 chars) is an error naming the id",
        "the API server would reject the objects at deploy time"),
    Difference(
        "valid-secret-keys",
        "`%dev.key` secret keys become Secret keys with `%` (rejected by Kubernetes); "
        "two keys with the same env name give duplicate env entries",
        "both are errors naming the key (never the value)",
        "fail at render time, not at deploy time"),
    Difference(
        "no-symlink-escape",
        "follows symlinks anywhere (application.properties -> a credentials file ends up in a ConfigMap)",
        "a workflow file that is a symlink out of the folder is an error",
        "files from outside the folder are never published"),
    Difference(
        "shared-resources",
        "files referenced from the repository's shared folder (`../shared/schemas/x.json`) are not collected",
        "they travel with the workflow as ConfigMaps mounted at `shared/<dir>`",
        "nothing is left dangling in the cluster"),
    Difference(
        "nested-resource-dirs",
        "resource folders are read non-recursively; same-named folders merge",
        "sub-folders become their own ConfigMaps (`subflows/specs` -> `NN-<name>-resources-subflows-specs`)",
        "subflows that carry their own specs/ work in the cluster"),
    Difference(
        "constants-rejected",
        "`constants` come out nested as `{Data: {Data: ...}}`, typed as byte strings by the CRD",
        "a workflow with `constants` is an error explaining the upstream limitation",
        "a manifest the cluster rejects or misreads is worse than a clear error"),
    Difference(
        "no-number-rounding",
        "free-form numbers go through sdk-go `Object` (floats printed with %f: 6 decimals; ints beyond int32 become floats)",
        "integral floats become ints (2.0 -> 2) as upstream; other numbers are kept exactly",
        "no silent precision loss in arguments and data"),
    Difference(
        "no-derived-nulls",
        "(derived, unconfirmed) `transition: null` on eventConditions with `end`, `dataConditions: null` on event switches",
        "not written",
        "null keys carry no information"),
    Difference(
        "output-directory",
        "files are added to the output directory; stale files of earlier runs stay",
        "the directory is replaced as a whole (marker `.chartgen`); a non-empty directory without the marker is "
        "refused; nothing is left behind on failure",
        "stale manifests were the old pipeline's worst bug"),
    Difference(
        "defaults",
        "profile dev; namespace of the current kubeconfig context; 8 labels",
        "profile, namespace and label set from chartgen.yaml `render:` (defaults gitops, none, 6 labels)",
        "renders do not depend on the machine's kubeconfig; the Orchestrator deploys with gitops"),
    Difference(
        "persistence",
        "never writes `spec.persistence` (the old pipeline patched it in with yq)",
        "`--persistence` writes `spec.persistence.postgresql` from chartgen.yaml; the default schema is the "
        "workflow name made a valid PostgreSQL identifier",
        "no post-processing step; `my-flow` needs quoting in SQL, `my_flow` does not",
        _canonical_schema),
    Difference(
        "checks",
        "full sdk-go validation of the main workflow only",
        "render checks what it needs (id, states, names, keys, sizes, file sections, list-typed sections); "
        "`chartgen validate` does the full check of every file",
        "one validator, run before render by `chartgen build`"),
)


def strip_differences(obj: dict) -> dict:
    """Remove every strippable deliberate difference from one object (in place; returned)."""
    for difference in DELIBERATE_DIFFERENCES:
        if difference.strip is not None:
            difference.strip(obj)
    return obj
