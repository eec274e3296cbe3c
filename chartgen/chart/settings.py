"""The `chart:` section of chartgen.yaml as a frozen value, plus the names charts get."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# Chart.yaml annotation keys (documented in docs/charts.md).
ANNOTATION_PREFIX = "chartgen.io/"
A_OPERATOR = ANNOTATION_PREFIX + "operator-versions"
A_SONATAFLOW_API = ANNOTATION_PREFIX + "sonataflow-api"
A_WORKFLOW_ID = ANNOTATION_PREFIX + "workflow-id"
A_WORKFLOW_TYPE = ANNOTATION_PREFIX + "workflow-type"
A_SOURCE_REPO = ANNOTATION_PREFIX + "source-repository"
A_SOURCE_PATH = ANNOTATION_PREFIX + "source-path"
A_SOURCE_COMMIT = ANNOTATION_PREFIX + "source-commit"
A_CONTENT_HASH = ANNOTATION_PREFIX + "content-hash"
A_UMBRELLA = ANNOTATION_PREFIX + "umbrella"

SONATAFLOW_API = "sonataflow.org/v1alpha08"
WORKFLOW_TYPES = ("infrastructure", "assessment")
DEFAULT_WORKFLOW_TYPE = "infrastructure"

_NOT_NAME = re.compile(r"[^a-z0-9-]+")


@dataclass(frozen=True)
class ChartSettings:
    operator_versions: str = ">=1.36.0 <1.38.0"
    kube_version: str = ">=1.27.0-0"
    version_policy: str = "prerelease"
    prerelease_label: str = "rc"
    initial_version: str = ""
    maintainers: tuple[tuple[tuple[str, str], ...], ...] = ()
    icon: str = ""
    home: str = ""
    keywords: tuple[str, ...] = ("sonataflow", "serverless-workflow", "orchestrator")
    helm_repository: str = ""
    extras: tuple[tuple[str, tuple[str, ...]], ...] = ()
    umbrella_enabled: bool = True
    umbrella_name: str = "workflows"
    umbrella_description: str = "All serverless workflows of this repository; enable each with `<name>.enabled=true`."
    umbrella_embed: bool = True
    yamllint_config: str = ""
    source_repository: str = ""

    @property
    def first_version(self) -> str:
        if self.initial_version:
            return self.initial_version
        return f"0.1.0-{self.prerelease_label}.1" if self.version_policy == "prerelease" else "0.1.0"

    def extras_for(self, chart_name: str) -> tuple[str, ...]:
        return dict(self.extras).get(chart_name, ())

    def maintainer_list(self) -> list[dict[str, str]]:
        return [dict(m) for m in self.maintainers]


def chart_settings(config: Any) -> ChartSettings:
    """ChartSettings from a chartgen Config (defaults when config is None)."""
    if config is None:
        return ChartSettings()
    section = config.section("chart") or {}
    umbrella = section.get("umbrella") or {}
    defaults = ChartSettings()
    return ChartSettings(
        operator_versions=section.get("operator_versions", defaults.operator_versions),
        kube_version=section.get("kube_version", defaults.kube_version),
        version_policy=section.get("version_policy", defaults.version_policy),
        prerelease_label=section.get("prerelease_label", defaults.prerelease_label),
        initial_version=section.get("initial_version", ""),
        maintainers=tuple(tuple(sorted((k, str(v)) for k, v in m.items() if v))
                          for m in section.get("maintainers", [])),
        icon=section.get("icon", ""),
        home=section.get("home", "") or config.get("repository", "") or "",
        keywords=tuple(section.get("keywords", defaults.keywords)),
        helm_repository=section.get("helm_repository", ""),
        extras=tuple(sorted((k, tuple(v)) for k, v in (section.get("extras") or {}).items())),
        umbrella_enabled=umbrella.get("enabled", True),
        umbrella_name=umbrella.get("name", defaults.umbrella_name),
        umbrella_description=umbrella.get("description", defaults.umbrella_description),
        umbrella_embed=umbrella.get("embed", True),
        yamllint_config=section.get("yamllint_config", ""),
        source_repository=config.get("repository", "") or "",
    )


def chart_name(folder_name: str) -> str:
    """The chart of a workflow folder: its name lower-cased, other characters than a-z, 0-9
    and '-' made '-' (`mta-v7.x` -> `mta-v7-x`, `01_basic` -> `01-basic`), at most 63."""
    name = _NOT_NAME.sub("-", folder_name.lower()).strip("-")
    return name[:63].strip("-") or "workflow"
