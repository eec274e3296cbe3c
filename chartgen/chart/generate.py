"""`generate_chart`: a workflow folder -> `charts/<name>/`, then the umbrella chart.

The chart's objects are exactly those of `render_manifests` (chartgen render): the
templates are built from them (templates.py) with values in the places a user tunes.
With default values, `helm template` gives the objects `chartgen render` writes for the
same profile, image, namespace, labels and persistence.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from chartgen.chart.settings import (A_OPERATOR, A_SONATAFLOW_API, A_SOURCE_PATH, A_SOURCE_REPO,
                                     A_WORKFLOW_ID, A_WORKFLOW_TYPE, DEFAULT_WORKFLOW_TYPE, SONATAFLOW_API,
                                     WORKFLOW_TYPES)
from chartgen.chart.textfiles import HELMIGNORE
from chartgen.names import chart_name
from chartgen.chart.writer import ChartResult, write_chart
from chartgen.errors import ChartgenError, UsageError
from chartgen.settings import ChartSettings, ImageSettings

__all__ = ["ChartResult", "ChartDraft", "draft_chart", "generate_chart", "generate_charts", "workflow_type"]


@dataclass(frozen=True)
class ChartDraft:
    """The generated files of a workflow chart before its version is decided."""

    name: str
    files: dict            # relative path -> text (README.md carries the version token)
    fields: dict           # Chart.yaml fields except version and annotations
    annotations: dict      # Chart.yaml annotations except content hash and source commit
    values: dict           # the default values (as values.yaml says)
    sonataflow_name: str


def workflow_type(workflow: dict) -> str:
    """infrastructure or assessment, from the workflow's `workflow-type/...` annotation."""
    annotations = workflow.get("annotations")
    for annotation in annotations if isinstance(annotations, list) else []:
        if isinstance(annotation, str) and annotation.startswith("workflow-type/"):
            kind = annotation.split("/", 1)[1].strip().lower()
            if kind in WORKFLOW_TYPES:
                return kind
    return DEFAULT_WORKFLOW_TYPE


def image_defaults(config, folder_name: str, image_tag: str | None, image_digest: str | None,
                   app_version: str = "") -> dict:
    """Default `image` values: registry and repository as `chartgen image` names the image; the
    digest a build pushed, when known; the tag given, else the workflow's version (the chart's
    appVersion, which `chartgen image build` tags), else `image.tag` of chartgen.yaml. Never
    `latest` unless chartgen.yaml says so. No tag and no digest: a UsageError."""
    from dataclasses import replace

    from chartgen.image import image_repository, version_tag

    settings = config.image if config is not None else ImageSettings()
    tag = str(image_tag or version_tag(app_version) or settings.tag or "")
    if not tag and not image_digest:
        raise UsageError("no default image tag: the workflow has no `version` (a valid image tag) and image.tag "
                         "in chartgen.yaml is empty; set one of them, or pass --image-tag or --image-digest",
                         code="no-default-image-tag")
    return {
        "registry": settings.registry,
        "repository": image_repository(folder_name, replace(settings, registry="")),
        "tag": tag,
        "digest": str(image_digest or ""),
    }


def _folder_image_defaults(folder, config, image_tag: str | None, image_digest: str | None,
                           app_version: str = "") -> dict:
    """image_defaults, with a finding on the folder when its name is what gives no image name."""
    try:
        return image_defaults(config, folder.name, image_tag, image_digest, app_version)
    except UsageError as exc:
        if exc.code == "no-default-image-tag":
            raise ChartgenError(exc.findings[0].message, path=str(folder.root), code=exc.code) from None
        try:
            image_defaults(config, "workflow", None, None, "1")
        except UsageError:
            raise exc from None  # the settings themselves are wrong
        raise ChartgenError(f"the folder name {folder.name!r} gives no valid image name; rename the folder "
                            "(lower-case letters, digits, '.', '_' and '-')", path=str(folder.root),
                            code="image-bad-reference") from None


def image_reference(image: dict, app_version: str = "") -> str:
    """The image a chart deploys for `image` values (same rule as the `<chart>.image` helper)."""
    name = image["repository"]
    if image.get("registry"):
        name = f"{image['registry'].rstrip('/')}/{name}"
    if image.get("digest"):
        return f"{name}@{image['digest']}"
    return f"{name}:{image.get('tag') or app_version}"


def _input_texts(folder):
    """Everything of the folder that can reach a chart: names and contents of its files."""
    yield folder.name
    yield str(folder.root)
    for source in folder.files():
        yield source.rel
        yield source.content


def helm_metadata_text(text: str) -> str:
    """Text as Helm keeps it in chart metadata (Chart.yaml description, appVersion): white space
    made a space, other characters that do not print dropped (Metadata.Validate's sanitizeString)."""
    import unicodedata

    def keep(char: str) -> str:
        if char in "\t\n\v\f\r\x85" or unicodedata.category(char)[0] == "Z":
            return " "
        return char if char.isprintable() else ""
    return "".join(map(keep, text))


def _source_path(folder, config) -> str:
    """The folder relative to the repository root; a folder outside it keeps its `../` path,
    which marks its chart as never stale (its source cannot be checked from here)."""
    import os

    root = Path(config.root) if config is not None else Path.cwd()
    try:
        return Path(folder.root).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return Path(os.path.relpath(Path(folder.root).resolve(), root.resolve())).as_posix()


def draft_chart(folder, config, *, image_tag: str | None = None, image_digest: str | None = None,
                settings: ChartSettings | None = None) -> ChartDraft:
    """Every file of the workflow's chart (pure: reads nothing but the loaded folder)."""
    from chartgen import names
    from chartgen.chart import artifacthub, civalues, readme, schema, templates, values
    from chartgen.chart.textfiles import render_text
    from chartgen.manifests import render_manifests, render_options
    from chartgen.yamlio import dump_json

    settings = settings or (config.chart if config is not None else ChartSettings())
    name = config.chart_of(folder.name).name if config is not None else chart_name(folder.name)
    if name == settings.umbrella_name:
        raise UsageError(f"workflow folder {folder.name!r} would give a chart named like the umbrella chart "
                         f"({name!r}); rename the folder or chart.umbrella.name", path=str(folder.root),
                         code="chart-name-clash")
    render = config.render if config is not None else None
    base = render_options(render)
    markers = templates.new_markers(_input_texts(folder))
    chart_options = base.replace(namespace=markers.namespace, image=markers.image, persistence=None,
                                 extra_labels=())
    manifests = render_manifests(folder, chart_options)
    built = templates.build_templates(manifests, name, markers)
    sonataflow = next(m for m in manifests if m.kind == "SonataFlow")
    flow = sonataflow.obj.get("spec", {}).get("flow") or {}
    workflow = folder.workflow
    workflow_id = folder.workflow_id
    description = workflow.get("description") if isinstance(workflow.get("description"), str) else ""
    kind = workflow_type(workflow)
    version = workflow.get("version") if isinstance(workflow.get("version"), str) else ""
    app_version = helm_metadata_text(version).strip()
    pers = base.persistence or render_options(render, persistence=True).persistence
    image = _folder_image_defaults(folder, config, image_tag, image_digest, app_version)

    model = values.build_values(values.ValuesInput(
        chart=name, profile=base.profile,
        image_registry=image["registry"], image_repository=image["repository"],
        image_tag=image["tag"], image_digest=image["digest"],
        labels=tuple(base.extra_labels), persistence_enabled=base.persistence is not None,
        migrate_db_on_startup=bool(getattr(pers, "migrate_db_on_startup", False)),
        secret_ref=(("name", pers.secret_name), ("userKey", pers.user_key), ("passwordKey", pers.password_key)),
        service_ref=(("name", pers.service_name), ("namespace", pers.service_namespace), ("port", pers.port),
                     ("databaseName", pers.database_name),
                     ("databaseSchema", pers.database_schema or names.postgres_identifier(sonataflow.name))),
        secret_keys=built.secret_keys, secret_name=built.secret_name,
        has_properties=bool(built.props_configmap),
    ))
    default_values = values.defaults(model)
    header = (f"Values of the {name} chart (workflow {workflow_id}). Generated by chartgen from "
              f"{_source_path(folder, config)}; regenerate with `chartgen chart` instead of editing.")
    files: dict[str, str] = dict(built.files)
    files.update(built.templates)
    files["values.yaml"] = values.values_yaml(model, header)
    files["values.schema.json"] = dump_json(schema.values_schema(model, f"Values of the {name} chart"))
    files[".helmignore"] = HELMIGNORE
    files.update(civalues.ci_values_files(secret_keys=built.secret_keys, has_properties=bool(built.props_configmap)))
    files["templates/_helpers.tpl"] = render_text(
        "_helpers.tpl.j2", chart=name, props_configmap=built.props_configmap, props_expr=built.props_expr,
        secret_name=built.secret_name, secret_name_literal=templates.go_string(built.secret_name),
        workflow_name_literal=templates.go_string(sonataflow.name),
        default_schema=templates.go_string(default_values["persistence"]["postgresql"]["serviceRef"]["databaseSchema"]))
    files["templates/NOTES.txt"] = render_text(
        "NOTES.txt.j2", name=sonataflow.name, workflow_id=workflow_id, workflow_type=kind,
        secret_keys=built.secret_keys)
    resources = []
    for entry in (sonataflow.obj.get("spec", {}).get("resources") or {}).get("configMaps") or []:
        resources.append((entry.get("workflowPath", ""), (entry.get("configMap") or {}).get("name", "")))
    source_path = _source_path(folder, config)
    files["README.md"] = readme.workflow_readme(
        chart=name, description=description, workflow_id=workflow_id, workflow_type=kind,
        source_path=source_path, source_repository=settings.source_repository, flow=flow,
        kube_version=settings.kube_version, operator_versions=settings.operator_versions,
        sonataflow_api=SONATAFLOW_API, app_version=app_version,
        image=image_reference(image, app_version),
        persistence={"enabled": base.persistence is not None, "service": pers.service_name,
                     "secret": pers.secret_name, "userKey": pers.user_key, "passwordKey": pers.password_key},
        secret_keys=built.secret_keys, value_rows=values.table_rows(model), resources=resources,
        helm_repository=settings.helm_repository, umbrella=settings.umbrella_name)
    for rel, text in files.items():
        if "\r" in text and not rel.startswith("files/"):
            raise ChartgenError(f"internal: carriage return in {rel}", path=str(folder.root), code="chart-internal")

    fields: dict[str, Any] = {
        "apiVersion": "v2", "name": name,
        "description": helm_metadata_text(description).strip() or f"The serverless workflow {workflow_id}.",
        "type": "application", "appVersion": app_version, "kubeVersion": settings.kube_version,
        "home": settings.homepage, "icon": settings.icon,
        "sources": [settings.source_repository] if settings.source_repository else [],
        "keywords": list(settings.keywords), "maintainers": settings.maintainer_list(),
    }
    annotations = {A_OPERATOR: settings.operator_versions, A_SONATAFLOW_API: SONATAFLOW_API,
                   A_WORKFLOW_ID: workflow_id, A_WORKFLOW_TYPE: kind, A_SOURCE_PATH: source_path}
    if settings.source_repository:
        annotations[A_SOURCE_REPO] = settings.source_repository
    annotations.update(artifacthub.content_annotations(
        settings, images=[(sonataflow.name, image_reference(image, app_version))], source_path=source_path))
    return ChartDraft(name, files, fields, annotations, default_values, sonataflow.name)


def _load(folder):
    from chartgen.sources import WorkflowFolder, load_workflow

    return folder if isinstance(folder, WorkflowFolder) else load_workflow(folder)


def generate_charts(folders: Iterable, config, *, out_dir: Path | None = None, source_commit: str | None = None,
                    image_digest: str | None = None, image_tag: str | None = None,
                    umbrella: bool | None = None, archived=None) -> tuple[ChartResult, ...]:
    """Charts of several workflow folders, then the umbrella chart once.

    Every folder is rendered before anything is written: one bad folder raises a
    ChartgenError with the findings of all of them and leaves every chart as it was.
    `archived(chart name)`: that chart's archives already packaged (`chartgen.chart.recovery`).
    """
    from chartgen.chart.umbrella import generate_umbrella, write_charts_readme
    from chartgen.chart.versioning import version_floor
    from chartgen.errors import Finding

    settings = config.chart
    out = Path(out_dir) if out_dir is not None else config.charts_dir
    drafts: list[tuple[str, ChartDraft]] = []
    problems: list[Finding] = []
    seen: dict[str, str] = {}
    places: dict[str, str] = {}              # chart folder -> workflow folder
    for item in folders:
        try:
            folder = _load(item)
            draft = draft_chart(folder, config, image_tag=image_tag, image_digest=image_digest, settings=settings)
        except UsageError:
            raise
        except ChartgenError as exc:
            problems.extend(exc.findings)
            continue
        if draft.name in seen:
            raise UsageError(f"workflow folders {seen[draft.name]} and {folder.root} both give the chart "
                             f"{draft.name!r}", path=str(folder.root), code="chart-name-clash")
        place = config.chart_of(folder.name).folder
        if place in places:
            raise UsageError(f"workflow folders {places[place]} and {folder.root} both write their chart to "
                             f"{place!r} (workflows: in chartgen.yaml)", path=str(folder.root),
                             code="chart-name-clash")
        seen[draft.name] = places[place] = str(folder.root)
        drafts.append((place, draft))
    if problems:
        raise ChartgenError(findings=problems)
    results = tuple(write_chart(out / place, draft.files, draft.fields, draft.annotations, settings,
                                source_commit=source_commit, extras=settings.extras_for(draft.name),
                                archived=archived(draft.name) if archived else None,
                                floor=version_floor(config.settings, draft.name))
                    for place, draft in drafts)
    if settings.umbrella_enabled if umbrella is None else umbrella:
        generate_umbrella(config, out, archived=archived)
    else:
        write_charts_readme(config, out)
    return results


def generate_chart(folder, config, *, out_dir: Path | None = None, source_commit: str | None = None,
                   image_digest: str | None = None, image_tag: str | None = None) -> ChartResult:
    """Write `charts/<name>/` for one workflow folder (atomically), then regenerate the umbrella."""
    return generate_charts([folder], config, out_dir=out_dir, source_commit=source_commit,
                           image_digest=image_digest, image_tag=image_tag)[0]
