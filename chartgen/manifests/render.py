"""WorkflowFolder -> the Kubernetes objects `kn workflow gen-manifest` writes, and writing them.

`render_manifests` is pure and deterministic: the same folder and options give equal
objects (plain dicts) in the same order; `write_manifests` turns them into files named and
numbered like upstream (gen-manifest.md §2.1), replacing the output directory atomically.
Deliberate differences from upstream are listed in `chartgen.manifests.differences`.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chartgen import names
from chartgen.errors import ERROR, ChartgenError, Finding, FindingList, register_secret
from chartgen.manifests.differences import NAME_ANNOTATION
from chartgen.manifests.normalize import normalize_flow
from chartgen.manifests.options import RenderOptions

API_VERSION = "sonataflow.org/v1alpha08"
CONFIGMAP_LIMIT = 1024 * 1024  # etcd's object size limit
# Top-level sections that may name a file to inline (sdk-go loads them; dataInputSchema is not).
FILE_SECTIONS = ("functions", "events", "retries", "errors", "secrets", "auth", "constants", "timeouts")
# Lists of the workflow and of its states (SonataFlow CRD types): anything else is refused.
LIST_SECTIONS = ("annotations", "functions", "events", "retries", "errors", "secrets", "auth")
STATE_LISTS = ("actions", "dataConditions", "eventConditions", "onErrors", "onEvents", "branches")
_NON_NAME = re.compile(r"[^a-z0-9-]+")


@dataclass(frozen=True)
class Manifest:
    """One Kubernetes object and the file it goes to (`NN-<kind>_<name>.yaml`, lower-case).

    `obj` is a plain dict/list/str/int/bool/None tree, fresh for every render: callers may edit it.
    """

    filename: str
    kind: str
    name: str
    obj: dict

    def to_yaml(self) -> str:
        from chartgen.yamlio import dump_yaml

        return dump_yaml(self.obj)


def default_labels(name: str, options: RenderOptions) -> dict[str, str]:
    """Labels of the SonataFlow, the props ConfigMap and the Secret (gen-manifest.md §2.3)."""
    labels = {"app": name, "sonataflow.org/workflow-app": name}
    if options.label_set in ("standard", "full"):
        labels.update({
            "app.kubernetes.io/component": "serverless-workflow",
            "app.kubernetes.io/managed-by": "sonataflow-operator",
            "app.kubernetes.io/name": name,
            "sonataflow.org/workflow-namespace": options.namespace,
        })
    if options.label_set == "full":
        labels["app.kubernetes.io/instance"] = name
        labels["app.kubernetes.io/version"] = options.operator_version
    labels.update(dict(options.extra_labels))
    return labels


def _metadata(name: str, options: RenderOptions, labels: dict | None) -> dict:
    meta: dict[str, Any] = {"name": name}
    if labels is not None:
        meta["labels"] = dict(labels)
    if options.namespace:
        meta["namespace"] = options.namespace
    return meta


def resource_configmap_name(index: int, name: str, workflow_path: str) -> str:
    """`NN-<name>-resources-<path>`; `/` and other characters invalid in names become `-`."""
    suffix = _NON_NAME.sub("-", workflow_path.lower()).strip("-") or "root"
    return f"{index:02d}-{name}-resources-{suffix}"


# -- checks -----------------------------------------------------------------------------

def _where(folder, pointer) -> tuple[int, int]:
    document = folder.document
    return document.where(pointer) if document is not None else (0, 0)


def _check_workflow(folder, workflow: dict, findings: FindingList) -> str:
    """What rendering needs to be right; returns the Kubernetes name ("" on error)."""
    path = folder.main.display
    wf_id = workflow.get("id")
    name = ""
    if not isinstance(wf_id, str) or not wf_id.strip():
        findings.error(path, _where(folder, ("id",)),
                       "the workflow has no `id` (string); it gives the Kubernetes name of every object",
                       "no-id")
    else:
        name = names.workflow_name(wf_id)
        if not names.is_dns1123_label(name):
            findings.error(path, _where(folder, ("id",)),
                           f"workflow id {wf_id!r} does not give a valid Kubernetes name ({name!r}: lower-case "
                           "letters, digits and '-', starting and ending with a letter or digit, at most 63 "
                           "characters); rename the id, e.g. "
                           f"{_suggest(name)!r}", "invalid-name")
            name = ""
    for key in ("version", "description", "expressionLang", "name"):
        if key in workflow and not isinstance(workflow[key], str):
            findings.error(path, _where(folder, (key,)),
                           f"workflow.{key} must be a string, got {type(workflow[key]).__name__} "
                           f"{workflow[key]!r}; quote it (e.g. {key}: \"{workflow[key]}\")", "not-a-string")
    states = workflow.get("states")
    if not isinstance(states, list) or not states:
        findings.error(path, _where(folder, ("states",)), "workflow.states must list at least one state",
                       "no-states")
    else:
        seen: set[str] = set()
        for index, state in enumerate(states):
            if not isinstance(state, dict) or not isinstance(state.get("name"), str) \
                    or not isinstance(state.get("type"), str):
                findings.error(path, _where(folder, ("states", index)),
                               f"workflow.states[{index}] must be a mapping with a `name` and a `type`",
                               "bad-state")
            elif state["name"] in seen:
                findings.error(path, _where(folder, ("states", index, "name")),
                               f"duplicate state name {state['name']!r}", "duplicate-state")
            else:
                seen.add(state["name"])
        start = workflow.get("start")
        start_name = start.get("stateName") if isinstance(start, dict) else start
        if isinstance(start_name, str) and seen and start_name not in seen:
            findings.error(path, _where(folder, ("start",)),
                           f"start state {start_name!r} is not defined in workflow.states", "unknown-start")
    if "constants" in workflow:
        findings.error(path, _where(folder, ("constants",)),
                       "`constants` cannot be deployed through the SonataFlow CRD (upstream writes them "
                       "nested and the CRD types them as byte strings); use application.properties and "
                       "$SECRET or inject state data instead", "constants-unsupported")
    return name


def _check_lists(folder, workflow: dict, findings: FindingList) -> None:
    """Sections the SonataFlow CRD types as lists (the API server rejects anything else)."""
    def check(pointer: tuple, value) -> None:
        if value is not None and not isinstance(value, list):
            where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in pointer)
            findings.error(folder.main.display, _where(folder, pointer),
                           f"workflow{where} must be a list, got {type(value).__name__} {_short(value)}",
                           "not-a-list")

    for key in LIST_SECTIONS:
        if key in workflow and not (key in FILE_SECTIONS and isinstance(workflow[key], str)):
            check((key,), workflow[key])
    states = workflow.get("states")
    for index, state in enumerate(states if isinstance(states, list) else []):
        if isinstance(state, dict):
            for key in STATE_LISTS:
                if key in state:
                    check(("states", index, key), state[key])
            for e_index, error in enumerate(state.get("onErrors") if isinstance(state.get("onErrors"), list) else []):
                if isinstance(error, dict) and "errorRefs" in error:
                    check(("states", index, "onErrors", e_index, "errorRefs"), error["errorRefs"])


def _short(value, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _check_symlinks(folder, findings: FindingList) -> None:
    """A symlink out of the folder (e.g. application.properties -> ~/.credentials) would
    publish that file in a ConfigMap: refuse it (resources are checked when they are read)."""
    from chartgen.fsutil import is_inside

    for source in (folder.main, folder.properties, folder.secret_properties):
        if source is not None and not is_inside(Path(source.path), folder.root):
            if not any(f.code == "path-escape" and f.path == source.display for f in findings.items):
                findings.add(source.display, 0, 0, "symlink points outside the workflow folder; copy the file "
                             "into the folder instead", "path-escape")


def _suggest(name: str) -> str:
    return (re.sub(r"[^a-z0-9-]+", "-", name).strip("-")[:63].strip("-")) or "my-workflow"


def _inline_file_sections(folder, workflow: dict, findings: FindingList) -> dict:
    """`functions: file.json` and friends: load the file (inside the folder) and inline it."""
    from chartgen.fsutil import is_inside
    from chartgen.limits import read_file
    from chartgen.yamlio import load_data

    result = dict(workflow)
    for key in FILE_SECTIONS:
        ref = workflow.get(key)
        if not isinstance(ref, str):
            continue
        where = _where(folder, (key,))
        path = folder.main.display
        target = folder.root / ref.removeprefix("file://")
        if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", ref) and not ref.startswith("file://"):
            findings.error(path, where, f"workflow.{key} names a remote file ({ref}); chartgen renders "
                           "offline: inline the definitions or keep the file in the folder", "remote-section")
            continue
        if not target.is_file() or not is_inside(target, folder.root):
            findings.error(path, where, f"workflow.{key} names {ref!r}, which is not a file inside the "
                           "workflow folder", "missing-section-file")
            continue
        try:
            data = load_data(read_file(target), str(target))
        except (ChartgenError, OSError) as exc:
            findings.error(path, where, f"workflow.{key}: cannot read {ref!r}: {exc}", "bad-section-file")
            continue
        if key not in ("constants", "timeouts"):
            data = data.get(key) if isinstance(data, dict) else None
        if data is None:
            findings.error(path, where, f"workflow.{key}: {ref!r} must be a mapping with a {key!r} key",
                           "bad-section-file")
            continue
        result[key] = data
    return result


def _secret_entries(folder, findings: FindingList) -> list[tuple[str, str, list[str]]]:
    """(key, value, env names) in file order; every value registered as a secret."""
    import javaproperties

    source = folder.secret_properties
    try:
        text = source.content.decode("utf-8")
    except UnicodeDecodeError as exc:
        findings.add(source.display, 0, 0, f"not UTF-8 text (byte {exc.start})", "encoding")
        return []
    entries: dict[str, tuple[str, int]] = {}
    line = 1
    try:
        for element in javaproperties.parse(text):
            if isinstance(element, javaproperties.KeyValue):
                register_secret(element.value)
                if element.key in entries:
                    entries.pop(element.key)  # the last definition wins, at its place
                entries[element.key] = (element.value, line)
            line += element.source.count("\n") + element.source.count("\r") - element.source.count("\r\n")
    except Exception as exc:  # javaproperties.InvalidUEscapeError and similar
        findings.add(source.display, 0, 0, f"cannot parse secret.properties: {type(exc).__name__}",
                     "secret-syntax")
        return []
    result = []
    env_seen: dict[str, str] = {}
    for key, (value, key_line) in entries.items():
        if not names.is_configmap_key(key):
            findings.add(source.display, key_line, 1,
                         f"secret key {key!r} is not a valid Kubernetes Secret key (letters, digits, '-', '_', "
                         "'.')" + ("; Quarkus profile keys (%dev.x) cannot be Secret keys: put profile-specific "
                                   "values in application.properties as %dev.x=${ENV_NAME}" if key.startswith("%")
                                   else ""), "secret-key")
            continue
        try:
            envs = names.env_names(key)
        except ValueError as exc:
            findings.add(source.display, key_line, 1, str(exc), "secret-env-name")
            continue
        for env in envs:
            if env in env_seen:
                findings.add(source.display, key_line, 1,
                             f"secret keys {env_seen[env]!r} and {key!r} give the same environment variable "
                             f"{env}", "secret-env-duplicate")
            env_seen[env] = key
        result.append((key, value, envs))
    return result


def _size(data: dict) -> int:
    return sum(len(k.encode()) + len(v.encode()) for k, v in data.items())


# -- rendering ----------------------------------------------------------------------------

def render_manifests(folder, options: RenderOptions | None = None) -> tuple[Manifest, ...]:
    """The objects of one workflow folder, in upstream order: props ConfigMap, Secret,
    resource ConfigMaps (sorted by mount path), SonataFlow.

    Raises ChartgenError (every finding at once) when the folder cannot be rendered.
    """
    options = options or RenderOptions()
    findings = FindingList()
    findings.extend(f for f in folder.findings if f.severity == ERROR)
    _check_symlinks(folder, findings)
    workflow: dict = {}
    if folder.main is not None:
        try:
            document = folder.main.document
        except ChartgenError as exc:
            findings.extend(exc.findings)
        else:
            findings.extend(f for f in document.findings if f.severity == ERROR)
            if isinstance(document.data, dict):
                workflow = document.data
            else:
                findings.add(folder.main.display, 1, 1,
                             "the workflow file must hold a mapping (a Serverless Workflow document)", "not-a-workflow")
    if folder.main is None or not workflow:
        raise ChartgenError(findings=findings.sorted() or
                            [Finding(str(folder.root), 0, 0, ERROR, "no workflow to render", "no-workflow")])

    name = _check_workflow(folder, workflow, findings)
    # A private copy: the parsed document is cached on the folder and shared with other
    # stages; callers own (and may edit) every object we return.
    workflow = _inline_file_sections(folder, copy.deepcopy(workflow), findings)
    _check_lists(folder, workflow, findings)
    labels = default_labels(name, options)

    objects: list[tuple[str, str, dict]] = []  # (kind, name, obj) in upstream order
    if folder.properties is not None:
        objects.append(_props_configmap(folder, name, options, labels, findings))
    env: list[dict] = []
    if folder.secret_properties is not None:
        entries = _secret_entries(folder, findings)
        if entries:
            secret = _secret(name, entries, options, labels)
            objects.append(secret)
            env = [{"name": env_name, "valueFrom": {"secretKeyRef": {"name": secret[1], "key": key}}}
                   for key, _, env_names in entries for env_name in env_names]
    resource_maps = _resource_configmaps(folder, name, options, findings)
    objects.extend(resource_maps)
    if findings.has_errors:
        raise ChartgenError(findings=findings.sorted())

    mounts = [{"configMap": {"name": cm_name}, "workflowPath": workflow_path}
              for (_, cm_name, _), workflow_path in zip(resource_maps, folder.resource_groups())]
    objects.append(("SonataFlow", name, _sonataflow(workflow, name, options, labels, env, mounts)))
    return tuple(Manifest(manifest_filename(i, kind, obj_name), kind, obj_name, obj)
                 for i, (kind, obj_name, obj) in enumerate(objects, start=1))


def _props_configmap(folder, name: str, options: RenderOptions, labels: dict, findings: FindingList):
    """`<name>-props` with application.properties verbatim (no lines appended)."""
    try:
        properties = folder.properties.content.decode("utf-8")
    except UnicodeDecodeError as exc:
        findings.add(folder.properties.display, 0, 0, f"not UTF-8 text (byte {exc.start})", "encoding")
        properties = ""
    cm_name = f"{name}-props"
    return ("ConfigMap", cm_name, {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": _metadata(cm_name, options, labels),
        "data": {"application.properties": properties},
    })


def _secret(name: str, entries, options: RenderOptions, labels: dict):
    """`<name>-secrets` with stringData (no `type`, as upstream)."""
    secret_name = f"{name}-secrets"
    return ("Secret", secret_name, {
        "apiVersion": "v1", "kind": "Secret",
        "metadata": _metadata(secret_name, options, labels),
        "stringData": {key: value for key, value, _ in entries},
    })


def _resource_configmaps(folder, name: str, options: RenderOptions, findings: FindingList):
    """One ConfigMap per resource folder, in sorted path order, file contents verbatim."""
    result = []
    for index, (workflow_path, resources) in enumerate(folder.resource_groups().items(), start=1):
        cm_name = resource_configmap_name(index, name, workflow_path)
        data: dict[str, str] = {}
        for resource in resources:
            display = resource.file.display
            if not names.is_configmap_key(resource.name):
                findings.add(display, 0, 0, f"file name {resource.name!r} is not a valid ConfigMap key "
                             "(letters, digits, '-', '_', '.'); rename the file", "configmap-key")
            elif not resource.file.content.strip():
                findings.add(display, 0, 0, "empty resource file: upstream refuses to mount it; remove it or "
                             "give it content", "empty-resource")
            else:
                try:
                    data[resource.name] = resource.file.text
                except ChartgenError as exc:
                    findings.extend(exc.findings)
        if _size(data) > CONFIGMAP_LIMIT:
            findings.add(str(folder.root / workflow_path), 0, 0,
                         f"ConfigMap {cm_name} would hold {_size(data)} bytes, over Kubernetes' 1 MiB limit; "
                         "split the files into sub-folders", "configmap-too-big")
        result.append(("ConfigMap", cm_name, {
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": _metadata(cm_name, options, None),  # upstream: no labels here
            "data": data,
        }))
    return result


def _sonataflow(workflow: dict, name: str, options: RenderOptions, labels: dict, env: list,
                mounts: list) -> dict:
    annotations = {
        "sonataflow.org/description": workflow.get("description") or "",
        "sonataflow.org/expressionLang": workflow.get("expressionLang") or "jq",
        "sonataflow.org/profile": options.profile,
        "sonataflow.org/version": workflow.get("version") or "",
    }
    if workflow.get("name"):
        annotations[NAME_ANNOTATION] = workflow["name"]
    container: dict[str, Any] = {"resources": {}}
    if env:
        container["env"] = env
    if options.image:
        container["image"] = options.image
    spec: dict[str, Any] = {
        "flow": normalize_flow(workflow),
        "podTemplate": {"container": container},
        "resources": {"configMaps": mounts} if mounts else {},
    }
    if options.persistence is not None:
        spec["persistence"] = persistence_block(name, options.persistence)
    return {
        "apiVersion": API_VERSION, "kind": "SonataFlow",
        "metadata": {**_metadata(name, options, labels), "annotations": annotations},
        "spec": spec,
    }


def persistence_block(name: str, settings) -> dict:
    """spec.persistence for the workflow `name` (PersistenceSettings)."""
    service_ref: dict[str, Any] = {
        "name": settings.service_name,
        "port": settings.port,
        "databaseName": settings.database_name,
        "databaseSchema": settings.database_schema or names.postgres_identifier(name),
    }
    if settings.service_namespace:
        service_ref["namespace"] = settings.service_namespace
    block: dict[str, Any] = {"postgresql": {
        "secretRef": {"name": settings.secret_name, "userKey": settings.user_key,
                      "passwordKey": settings.password_key},
        "serviceRef": service_ref,
    }}
    if settings.migrate_db_on_startup:
        block["migrateDBOnStartUp"] = True
    return block


def manifest_filename(index: int, kind: str, name: str) -> str:
    """Upstream: strings.ToLower(fmt.Sprintf("%02d-%s_%s.yaml", n, Kind, name))."""
    return f"{index:02d}-{kind}_{name}.yaml".lower()


def write_manifests(manifests, out_dir: Path) -> list[Path]:
    """Write one file per object; `out_dir` is replaced as a whole (see fsutil.atomic_directory).

    Returns the written paths (inside `out_dir`).
    """
    from chartgen.fsutil import atomic_directory, write_tree

    files = {m.filename: m.to_yaml() for m in manifests}
    if len(files) != len(manifests):
        raise ChartgenError("two manifests share a file name", path=out_dir, code="duplicate-manifest")
    out_dir = Path(out_dir)
    with atomic_directory(out_dir) as tmp:
        write_tree(tmp, files)
        for manifest in manifests:
            if manifest.kind == "Secret":  # secret values: readable by the owner only
                (tmp / manifest.filename).chmod(0o600)
    return [out_dir / name for name in sorted(files)]
