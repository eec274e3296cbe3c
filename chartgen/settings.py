"""chartgen.yaml as typed, frozen values: one dataclass per section, built once.

`chartgen.config` validates the file against its schema (chartgen/data/config/*.json) and
fills in the schema's defaults; `settings_from_data` then turns that mapping into a
`Settings` here, once. Stages are handed the section they read (`config.render`,
`config.publish`, ...), never the raw mapping. Field names are the schema's keys in
snake_case; `metadata["key"]` names the schema key (a dotted path for a nested one) where
it differs. The dataclass defaults equal the schema's defaults (a test checks it), so a
section built by hand in a test means what an empty chartgen.yaml means.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Mapping

from chartgen.limits import Limits
from chartgen.names import chart_name


def _key(name: str, **extra: Any) -> dict:
    return {"key": name, **extra}


@dataclass(frozen=True)
class BuildSettings:
    """`build:`: what `chartgen build` runs and how (not what comes out)."""

    image: bool = False
    push: bool = False
    publish: bool = False
    pr: bool = False
    parallelism: int = 0
    executor: str = "auto"
    cache: str = ".chartgen/cache.json"
    always_affected_by: tuple[str, ...] = ()


@dataclass(frozen=True)
class ChartSettings:
    """`chart:`: how charts are written, versioned and linted."""

    operator_versions: str = ">=1.36.0 <1.38.0"
    kube_version: str = ">=1.27.0-0"
    version_policy: str = "prerelease"
    prerelease_label: str = "rc"
    initial_version: str = ""
    # each maintainer: sorted (key, value) pairs of its name, email, url
    maintainers: tuple[tuple[tuple[str, str], ...], ...] = ()
    icon: str = ""
    home: str = ""                          # empty: source_repository (see `homepage`)
    artifacthub: bool = True
    license: str = ""
    # each link: sorted (key, value) pairs of its name and url
    links: tuple[tuple[tuple[str, str], ...], ...] = ()
    sign_key_fingerprint: str = field(default="", metadata=_key("sign_key.fingerprint"))
    sign_key_url: str = field(default="", metadata=_key("sign_key.url"))
    keywords: tuple[str, ...] = ("sonataflow", "serverless-workflow", "orchestrator")
    helm_repository: str = ""
    extras: tuple[tuple[str, tuple[str, ...]], ...] = ()   # chart name -> glob patterns
    hand_edits: str = "refuse"              # refuse | overwrite: a chart edited since chartgen wrote it
    umbrella_enabled: bool = field(default=True, metadata=_key("umbrella.enabled"))
    umbrella_name: str = field(default="workflows", metadata=_key("umbrella.name"))
    umbrella_description: str = field(
        default="All serverless workflows of this repository; enable each with `<name>.enabled=true`.",
        metadata=_key("umbrella.description"))
    umbrella_embed: bool = field(default=True, metadata=_key("umbrella.embed"))
    yamllint_config: str = ""
    # the top-level `repository:`, which the chart annotations record (set by Settings)
    source_repository: str = field(default="", metadata={"derived": True})

    @property
    def first_version(self) -> str:
        if self.initial_version:
            return self.initial_version
        return f"0.1.0-{self.prerelease_label}.1" if self.version_policy == "prerelease" else "0.1.0"

    @property
    def homepage(self) -> str:
        """Chart.yaml `home`: the setting, else the source repository."""
        return self.home or self.source_repository

    def extras_for(self, chart_name: str) -> tuple[str, ...]:
        return dict(self.extras).get(chart_name, ())

    def maintainer_list(self) -> list[dict[str, str]]:
        return [{k: v for k, v in m if v} for m in self.maintainers]

    def link_list(self) -> list[tuple[str, str]]:
        """(name, url) of each `chart.links` entry, in file order."""
        return [(dict(link).get("name", ""), dict(link).get("url", "")) for link in self.links]


@dataclass(frozen=True)
class ImageSettings:
    """`image:`: how workflow images are named and built. Paths are resolved against the
    folder of chartgen.yaml."""

    registry: str = field(default="quay.io/orchestrator", metadata={"convert": lambda v: str(v).rstrip("/")})
    name: str = "serverless-workflow-{name}"
    tag: str = ""
    builder: str = "auto"
    builder_image: str = field(default="registry.redhat.io/openshift-serverless-1/logic-swf-builder-rhel9:1.37.0-19",
                               metadata=_key("builderImage"))
    runtime_image: str = field(default="registry.access.redhat.com/ubi9/openjdk-17:1.21-2",
                               metadata=_key("runtimeImage"))
    quarkus_extensions: tuple[str, ...] = field(default=(), metadata=_key("quarkusExtensions"))
    maven_args_append: str = field(default="", metadata=_key("mavenArgsAppend"))
    storage_driver: str = field(default="", metadata=_key("storageDriver"))
    storage_root: str = field(default="", metadata=_key("storageRoot", path=str))
    run_root: str = field(default="", metadata=_key("runRoot", path=str))
    isolation: str = ""
    tls_verify: bool = field(default=True, metadata=_key("tlsVerify"))
    format: str = "oci"
    reproducible: bool = True
    platform: str = ""
    retries: int = 3
    retry_delay: float = field(default=2.0, metadata=_key("retryDelay", convert=float))
    log_dir: Path = field(default=Path(".chartgen/logs"), metadata=_key("logDir", path=Path))


@dataclass(frozen=True)
class CommitSettings:
    """`pr.commit:`: author and committer of the generated commits."""

    name: str = "chartgen"
    email: str = "chartgen@users.noreply.github.com"


@dataclass(frozen=True)
class PrSettings:
    """`pr:`: pull requests against the chart repository."""

    config_repo: str = field(default="", metadata=_key("configRepo"))
    base: str = "main"
    forge: str = "github"
    api_url: str = field(default="", metadata=_key("apiUrl"))
    repository: str = ""
    branch_prefix: str = field(default="chartgen/", metadata=_key("branchPrefix"))
    grouping: str = "workflow"
    charts_dir: str = field(default="charts", metadata=_key("chartsDir"))
    layout: tuple[str, ...] = ("standalone", "umbrella")
    adopt_charts: bool = field(default=True, metadata=_key("adoptCharts"))
    prune: bool = True
    labels: tuple[str, ...] = ("chartgen", "automated")
    reviewers: tuple[str, ...] = ()
    team_reviewers: tuple[str, ...] = field(default=(), metadata=_key("teamReviewers"))
    draft: bool = False
    commit: CommitSettings = field(default=CommitSettings(), metadata={"section": CommitSettings})
    push_attempts: int = field(default=3, metadata=_key("pushAttempts"))
    api_retries: int = field(default=6, metadata=_key("apiRetries"))
    max_rate_limit_wait: float = field(default=900, metadata=_key("maxRateLimitWait"))


@dataclass(frozen=True)
class PublishSettings:
    """`publish:`: the Helm repository index and where charts are published."""

    url: str = ""
    target: str = ""
    index_format: str = "auto"
    html: bool = True
    title: str = "Helm charts"
    oci_settle: float = field(default=3.0, metadata=_key("ociSettle"))
    sign_enabled: bool = field(default=False, metadata=_key("sign.enabled"))
    sign_key: str = field(default="", metadata=_key("sign.key", path=str))
    sign_name: str = field(default="", metadata=_key("sign.name"))
    alias: str = ""


@dataclass(frozen=True)
class PersistenceSettings:
    """`render.persistence:` as spec.persistence.postgresql; defaults are those of the old
    Orchestrator pipeline."""

    secret_name: str = field(default="sonataflow-psql-postgresql", metadata=_key("secretName"))
    user_key: str = field(default="postgres-username", metadata=_key("userKey"))
    password_key: str = field(default="postgres-password", metadata=_key("passwordKey"))
    service_name: str = field(default="sonataflow-psql-postgresql", metadata=_key("serviceName"))
    service_namespace: str = field(default="", metadata=_key("serviceNamespace"))  # "": the workflow's
    port: int = 5432
    database_name: str = field(default="sonataflow", metadata=_key("databaseName"))
    database_schema: str = field(default="", metadata=_key("databaseSchema"))  # "": from the workflow name
    migrate_db_on_startup: bool = field(default=False, metadata=_key("migrateDBOnStartUp"))


@dataclass(frozen=True)
class RenderSettings:
    """`render:`: defaults of `chartgen render` (command-line flags override them)."""

    profile: str = "gitops"
    namespace: str = ""
    label_set: str = field(default="standard", metadata=_key("labelSet"))
    operator_version: str = field(default="main", metadata=_key("operatorVersion"))
    # extra labels, as (key, value) pairs in file order
    labels: tuple[tuple[str, str], ...] = field(
        default=(), metadata={"convert": lambda v: tuple((str(k), str(x)) for k, x in v.items())})
    persistence_enabled: bool = field(default=False, metadata=_key("persistence.enabled"))
    persistence: PersistenceSettings = field(default=PersistenceSettings(),
                                             metadata={"section": PersistenceSettings})


@dataclass(frozen=True)
class ValidateSettings:
    """`validate:`: settings of `chartgen validate`."""

    jq_functions: tuple[str, ...] = ()


@dataclass(frozen=True)
class WorkflowChart:
    """`workflows.<folder>:`: the chart a workflow folder makes, when not the default."""

    workflow: str                           # the workflow folder's name
    chart: str = ""                         # "": the folder name made a chart name
    folder: str = ""                        # "": the chart name


@dataclass(frozen=True)
class ChartPlace:
    """A workflow's chart: its name and its folder under the charts folder."""

    name: str
    folder: str


def _workflow_charts(value: Mapping[str, Any]) -> tuple[WorkflowChart, ...]:
    return tuple(WorkflowChart(str(k), str((v or {}).get("chart", "")), str((v or {}).get("folder", "")))
                 for k, v in sorted(value.items()))


@dataclass(frozen=True)
class Settings:
    """All of chartgen.yaml: the top-level paths and one value per section."""

    sources: str = "workflow_sources"
    shared: str = "workflow_sources/shared"
    charts: str = "charts"
    dist: str = "dist"
    repository: str = ""
    build: BuildSettings = field(default=BuildSettings(), metadata={"section": BuildSettings})
    chart: ChartSettings = field(default=ChartSettings(), metadata={"section": ChartSettings})
    image: ImageSettings = field(default=ImageSettings(), metadata={"section": ImageSettings})
    pr: PrSettings = field(default=PrSettings(), metadata={"section": PrSettings})
    publish: PublishSettings = field(default=PublishSettings(), metadata={"section": PublishSettings})
    render: RenderSettings = field(default=RenderSettings(), metadata={"section": RenderSettings})
    validate: ValidateSettings = field(default=ValidateSettings(), metadata={"section": ValidateSettings})
    limits: Limits = field(default=Limits(), metadata={"section": Limits})
    workflows: tuple[WorkflowChart, ...] = field(default=(), metadata={"convert": _workflow_charts})
    # chart name -> newest version published before chartgen (`versionFloors:`)
    version_floors: tuple[tuple[str, str], ...] = field(default=(), metadata=_key("versionFloors"))
    # what the published index says, read at run time (chartgen.repo.published), not from the
    # file: (chart name, newest published version, its chartgen.io/content-hash or "")
    published: tuple[tuple[str, str, str], ...] = field(default=(), metadata={"derived": True})

    def chart_of(self, workflow: str) -> ChartPlace:
        """The chart of the workflow folder named `workflow`: `workflows:` or the default."""
        mapped = next((w for w in self.workflows if w.workflow == workflow), None)
        name = (mapped.chart if mapped else "") or chart_name(workflow)
        return ChartPlace(name, (mapped.folder if mapped else "") or name)

    def __post_init__(self) -> None:
        # The chart annotations record the top-level `repository:`; an override of it
        # (Config.with_overrides) reaches the chart section too.
        if self.chart.source_repository != self.repository:
            object.__setattr__(self, "chart", replace(self.chart, source_repository=self.repository))

    def to_data(self) -> dict:
        """A plain, JSON-serialisable picture of every setting (for content hashes)."""
        return _to_data(self)


def settings_from_data(data: Mapping[str, Any], root: Path | None = None) -> Settings:
    """Settings from a validated chartgen.yaml mapping (defaults already filled in by the
    schema). Paths in `image:` are resolved against `root` (the folder of chartgen.yaml)."""
    return _section(Settings, data, Path(root) if root is not None else None)


def _lookup(data: Mapping[str, Any], key: str) -> Any:
    value: Any = data
    for part in key.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return MISSING
        value = value[part]
    return value


def _frozen(value: Any) -> Any:
    """Lists become tuples and mappings sorted (key, value) tuples, all the way down."""
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    if isinstance(value, Mapping):
        return tuple(sorted((str(k), _frozen(v)) for k, v in value.items()))
    return value


def _section(cls: type, data: Mapping[str, Any], root: Path | None) -> Any:
    values: dict[str, Any] = {}
    for item in fields(cls):
        meta = item.metadata
        if meta.get("derived"):
            continue
        raw = _lookup(data, meta.get("key", item.name))
        if raw is MISSING:
            continue                           # the dataclass default (the schema's)
        if "section" in meta:
            values[item.name] = _section(meta["section"], raw if isinstance(raw, Mapping) else {}, root)
        elif "path" in meta:
            values[item.name] = meta["path"](root / raw if raw and root is not None else raw) if raw else \
                item.default
        elif "convert" in meta:
            values[item.name] = meta["convert"](raw)
        else:
            values[item.name] = _frozen(raw)
    return cls(**values)


def _to_data(value: Any) -> Any:
    if hasattr(value, "__dataclass_fields__"):
        return {item.name: _to_data(getattr(value, item.name)) for item in fields(value)}
    if isinstance(value, tuple):
        return [_to_data(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value
