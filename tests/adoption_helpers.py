"""Repositories laid out like the Orchestrator's real ones, built in the test:

- a source repository with one folder per workflow under `workflows/` (one with a dotted
  name, `mta-v7.x`) and their shared files in `workflows/shared/`, its git remote `origin`
  pointing at GitHub;
- its chart repository: `charts/<folder>/` on `main`, hand-made as the old pipeline made
  them (plain gen-manifest output in `templates/`, Chart.yaml by hand), with a chart whose
  name differs from its folder (`mta-v7` in `charts/mta-v7.x`) and an older chart of another
  workflow (`mta`, SonataFlow `mtaanalysis`); and a gh-pages branch whose `docs/index.yaml`
  was written by chart-releaser: absolute release URLs, versions above the ones on `main`,
  `-rcN` pre-releases and duplicated entries.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from tests.conftest import REPO
from tests.git_helpers import git

SOURCE_REMOTE = "https://github.com/acme/serverless-workflows.git"
SOURCE_REPOSITORY = "https://github.com/acme/serverless-workflows"
# folder in the chart repository -> (chart name, version on main, SonataFlow it deploys)
MAIN_CHARTS = {"greeting": ("greeting", "1.4.0-rc0", "greeting"),
               "mta-v7.x": ("mta-v7", "1.4.0-rc0", "mta"),
               "mta": ("mta", "1.2.0-rc1", "mtaanalysis"),
               "move2kube": ("move2kube", "1.4.0-rc1", "move2kube")}
# what gh-pages:docs/index.yaml lists, newest first as chart-releaser sorts (rc10 below rc9!)
PUBLISHED = {"greeting": ["1.4.0-rc0", "1.3.0-rc9", "1.3.0-rc10", "1.3.0-rc10", "1.3.0-rc10"],
             "mta-v7": ["1.4.0-rc2", "1.4.0-rc0", "1.4.0-rc0", "1.3.0"],
             "mta": ["1.2.0-rc1"] * 5,
             "mta-v6.x": ["1.2.0"],
             "move2kube": ["1.4.0-rc1"],
             "workflows": ["0.2.26", "0.2.25"]}
# workflow folder of the sources -> the sample it is made of
WORKFLOWS = {"greeting": "greeting", "mta-v7.x": "mta", "move2kube": "move2kube", "escalation": "escalation"}


def _sonataflow(name: str) -> str:
    return ("apiVersion: sonataflow.org/v1alpha08\nkind: SonataFlow\nmetadata:\n  annotations:\n"
            f"    sonataflow.org/description: {name}\n    sonataflow.org/profile: gitops\n"
            f"  creationTimestamp: null\n  labels:\n    app: {name}\n  name: {name}\nspec:\n  flow:\n"
            "    start:\n      stateName: Start\n    states: []\n  podTemplate:\n    container:\n"
            f"      image: quay.io/orchestrator/serverless-workflow-{name}:63211409\n")


def _entry(name: str, version: str, number: int) -> str:
    digest = hashlib.sha256(f"{name}-{version}-{number}".encode()).hexdigest()
    return (f"  - apiVersion: v2\n    appVersion: 1.0.0\n    created: \"2024-12-{10 + number:02d}T10:00:00.{number:09d}Z\"\n"
            f"    description: {name}\n    digest: {digest}\n    name: {name}\n    type: application\n"
            f"    urls:\n    - https://github.com/acme/serverless-workflows-config/releases/download/"
            f"{name}-{version}/{name}-{version}.tgz\n    version: {version}\n")


def chart_releaser_index() -> str:
    text = "apiVersion: v1\nentries:\n"
    for name in sorted(PUBLISHED):
        text += f"  {name}:\n" + "".join(_entry(name, v, i) for i, v in enumerate(PUBLISHED[name]))
    return text + "generated: \"2024-12-18T10:00:00.000000000Z\"\n"


def chart_repository(tmp: Path) -> Path:
    """The bare chart repository (`main` with the charts, `gh-pages` with docs/index.yaml)."""
    bare = tmp / "serverless-workflows-config.git"
    git("init", "-q", "--bare", "-b", "main", str(bare))
    seed = tmp / "config-seed"
    git("init", "-q", "-b", "main", str(seed))
    (seed / "README.md").write_text("# Helm charts of the serverless workflows\n")
    for folder, (name, version, flow) in MAIN_CHARTS.items():
        chart = seed / "charts" / folder
        (chart / "templates").mkdir(parents=True)
        (chart / "Chart.yaml").write_text(f"apiVersion: v2\nname: {name}\ndescription: The {name} workflow\n"
                                          f"type: application\nversion: {version}\nappVersion: \"1.0.0\"\n")
        (chart / "values.yaml").write_text("# hand-maintained\n{}\n")
        (chart / "templates" / f"01-configmap_{flow}-props.yaml").write_text(
            f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {flow}-props\ndata:\n  application.properties: \"\"\n")
        (chart / "templates" / f"04-sonataflow_{flow}.yaml").write_text(_sonataflow(flow))
    git("add", "-A", cwd=seed)
    git("commit", "-q", "-m", "charts of the old pipeline", cwd=seed)
    git("push", "-q", str(bare), "main", cwd=seed)
    git("checkout", "-q", "--orphan", "gh-pages", cwd=seed)
    git("rm", "-r", "-q", "-f", ".", cwd=seed)
    (seed / "docs").mkdir()
    (seed / "docs" / "index.yaml").write_text(chart_releaser_index())
    (seed / "docs" / "_config.yml").write_text("include: []\n")
    git("add", "-A", cwd=seed)
    git("commit", "-q", "-m", "Update docs/index.yaml", cwd=seed)
    git("push", "-q", str(bare), "gh-pages", cwd=seed)
    shutil.rmtree(seed)
    return bare


def source_repository(tmp: Path) -> Path:
    """The workflows repository: workflows/<name>/ and workflows/shared/, committed."""
    src = tmp / "serverless-workflows"
    git("init", "-q", "-b", "main", str(src))
    git("remote", "add", "origin", SOURCE_REMOTE, cwd=src)
    for folder, sample in WORKFLOWS.items():
        shutil.copytree(REPO / "workflow_sources" / sample, src / "workflows" / folder)
    shutil.copytree(REPO / "workflow_sources" / "shared", src / "workflows" / "shared")
    (src / "README.md").write_text("# serverless workflows\n")
    git("add", "-A", cwd=src)
    git("commit", "-q", "-m", "workflows", cwd=src)
    return src
