"""The annotations chartgen writes into Chart.yaml, and the names charts get.

The `chart:` section of chartgen.yaml is `chartgen.settings.ChartSettings` (`config.chart`)."""

from __future__ import annotations


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
VERSION_TOKEN = "0.0.0-chartgen.version"      # stands for the version while hashing (versioning.py)
WORKFLOW_TYPES = ("infrastructure", "assessment")
DEFAULT_WORKFLOW_TYPE = "infrastructure"



