"""Kubernetes limits: names from workflow ids, ConfigMap keys and sizes, Secret keys.

The SonataFlow name is the workflow id lower-cased (`chartgen.names.workflow_name`, as
upstream), and must be a DNS-1123 label. A ConfigMap (and a Secret) holds at most 1 MiB of
data (keys plus values, the API server's own rule); one ConfigMap per resource folder, one
for application.properties.
"""

from __future__ import annotations

import json

from chartgen.errors import ERROR, WARNING, FindingList
from chartgen.names import env_names, is_configmap_key, is_dns1123_label, workflow_name
from chartgen.sources import PROPERTIES, WorkflowFolder

CONFIGMAP_LIMIT = 1024 * 1024
# `kubectl apply` (client-side) copies the object into an annotation limited to 256 KiB.
APPLY_ANNOTATION_LIMIT = 256 * 1024


def check_id(check) -> None:
    """The main workflow's id gives a valid Kubernetes name."""
    data = check.data
    workflow_id = data.get("id")
    if not isinstance(workflow_id, str) or not workflow_id:
        if isinstance(data.get("key"), str) and data.get("key"):
            check.error(("key",), "the workflow has a key but no id: the manifest generator names resources "
                        "after the id and would produce empty names; add an id", "key-without-id")
        return
    name = workflow_name(workflow_id)
    if not is_dns1123_label(name):
        suggestion = "".join(c if c.isalnum() or c == "-" else "-" for c in name).strip("-")[:63]
        check.error(("id",), f"workflow id {workflow_id!r} gives the Kubernetes name {name!r}, which is not a "
                    "valid DNS-1123 label (lower-case letters, digits and '-', at most 63 characters, starting "
                    f"and ending alphanumeric); use an id such as {suggestion!r}", "k8s-name")
    elif name != workflow_id:
        check.warning(("id",), f"workflow id {workflow_id!r} has upper-case letters: in the cluster the workflow "
                      f"runs as {name!r} (resources, URLs and the Orchestrator UI use that name)", "k8s-name-case")


def check_folder(folder: WorkflowFolder, findings: FindingList, secret_values: dict[str, str] | None) -> None:
    # Resource file and folder names that are not ConfigMap keys are refused while reading
    # (chartgen.sources.name_problem): such files never become resources.
    if folder.main is not None and not is_configmap_key(folder.main.path.name):
        # The main workflow goes into the SonataFlow resource, not a ConfigMap: only a warning.
        findings.add(folder.main.display, 0, 0, f"workflow file name {folder.main.path.name!r} has characters "
                     "that are not valid in Kubernetes keys (spaces ...), which scripts and image builds often "
                     "mishandle; rename it", "file-name", WARNING)
    if folder.properties is not None:
        content = folder.properties.content
        _size(findings, folder.properties.display, "the properties ConfigMap", len(PROPERTIES) + len(content),
              _escaped(PROPERTIES.encode()) + _escaped(content))
    for path, group in folder.resource_groups().items():
        total = sum(len(r.name.encode()) + len(r.file.content) for r in group)
        applied = sum(_escaped(r.name.encode()) + _escaped(r.file.content) for r in group)
        biggest = max(group, key=lambda r: len(r.file.content))
        _size(findings, biggest.file.display, f"the ConfigMap for {path}/ ({len(group)} files)", total, applied)
    if folder.secret_properties is not None and secret_values is not None:
        lines = _lines(folder.secret_properties)
        env_seen: dict[str, str] = {}
        for key in secret_values:
            line = lines.get(key, 0)
            where = (line, 1 if line else 0)
            if not is_configmap_key(key):
                hint = ("; Quarkus profile keys (%dev.x) cannot be Secret keys: put profile-specific values in "
                        "application.properties as %dev.x=${ENV_NAME}" if key.startswith("%") else "")
                findings.error(folder.secret_properties.display, where, f"secret.properties key {key!r} is not a "
                               f"valid Kubernetes Secret key (letters, digits, '-', '_', '.'){hint}", "secret-key")
                continue
            try:
                envs = env_names(key)
            except ValueError:
                findings.error(folder.secret_properties.display, where, f"secret.properties key {key!r} cannot "
                               "become an environment variable name (letters, digits, '.', '-', '_' only); "
                               "rename it", "secret-env-name")
                continue
            for env in envs:
                if env in env_seen:
                    findings.error(folder.secret_properties.display, where, f"secret.properties keys "
                                   f"{env_seen[env]!r} and {key!r} give the same environment variable {env}",
                                   "secret-env-duplicate")
                env_seen[env] = key
        total = sum(len(k.encode()) + len(v.encode()) for k, v in secret_values.items())
        _size(findings, folder.secret_properties.display, "the Secret", total, total)


def _lines(source) -> dict[str, int]:
    result: dict[str, int] = {}
    try:
        text = source.text
    except Exception:  # noqa: BLE001 - encoding problems are reported elsewhere
        return result
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.lstrip()
        if stripped and stripped[0] not in "#!":
            words = stripped.replace(":", "=").split("=", 1)[0].split()
            result.setdefault(words[0].replace("\\", "") if words else "", number)
    return result


def _escaped(content: bytes) -> int:
    """Bytes the value takes in the JSON of the last-applied annotation (quotes, \\n, \\")."""
    if len(content) < APPLY_ANNOTATION_LIMIT // 8:
        return len(content) + 2  # small files cannot tip the balance: skip the encoding
    return len(json.dumps(content.decode("utf-8", errors="replace"), ensure_ascii=False).encode())


def _size(findings: FindingList, path: str, what: str, size: int, applied: int) -> None:
    """`size`: the data as the API server counts it; `applied`: as JSON in kubectl's annotation."""
    if size > CONFIGMAP_LIMIT:
        findings.add(path, 0, 0, f"{what} would hold {size:,} bytes, over the Kubernetes limit of "
                     f"{CONFIGMAP_LIMIT:,} bytes; split or shrink the files (e.g. trim unused OpenAPI paths)",
                     "configmap-size", ERROR)
    elif applied > APPLY_ANNOTATION_LIMIT:
        findings.add(path, 0, 0, f"{what} holds {size // 1024} KiB ({applied // 1024} KiB as JSON): client-side "
                     f"`kubectl apply` fails above {APPLY_ANNOTATION_LIMIT // 1024} KiB (its last-applied "
                     "annotation); deploy with Helm or `kubectl apply --server-side`, or trim the files",
                     "configmap-apply-size", WARNING)


def check_chart_name(folder: WorkflowFolder, findings: FindingList, umbrella: str, mapped: str | None = None) -> None:
    """The folder's chart (`mapped`: the name chartgen.yaml gives it) must not be named like
    the umbrella chart (`chartgen chart` refuses it)."""
    from chartgen.names import chart_name

    name = mapped or chart_name(folder.name)
    if umbrella and name == umbrella:
        findings.add(str(folder.root), 0, 0, f"workflow folder {folder.name!r} gives the chart {name!r}, the name of "
                     "the umbrella chart (chart.umbrella.name in chartgen.yaml); rename the folder, map it to another "
                     "chart (workflows: in chartgen.yaml) or rename the umbrella chart", "chart-name-clash", ERROR)
