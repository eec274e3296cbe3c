"""What one `chartgen build` run is asked to do, and what it reports.

`BuildOptions` come from chartgen.yaml `build:`/`publish:` with command-line values on top
(`options_from_settings`); the reports are plain frozen values that the output formats
(`chartgen.build.output`) and the build cache (`chartgen.build.cache`) read and write.
"""

from __future__ import annotations

from dataclasses import dataclass

from chartgen.errors import ChartgenError, Finding, UsageError, redact
from chartgen.settings import BuildSettings, PublishSettings

OK, FAILED, SKIPPED = "ok", "failed", "skipped"


@dataclass(frozen=True)
class BuildOptions:
    """What one `chartgen build` run does, besides the workflows it runs on."""

    until: str = "index"                 # last core stage (validate ... index)
    image: bool = False
    push: bool = False
    publish: str = ""                    # publish target; empty: no publish
    pr: bool = False
    builder: str | None = None
    registry: str | None = None
    image_context: str | None = None     # kaniko: where to keep the build context (one workflow)
    image_digest: str | None = None      # an image built elsewhere (Tekton's kaniko step)
    source_commit: str | None = None
    config_repository: str | None = None
    forge: str | None = None
    base_url: str = ""
    dry_run: bool = False
    use_cache: bool = True
    # "all"; "workflows": only the per-workflow stages (a shard of a split build);
    # "repository": only umbrella and index, over the charts and archives already there
    # (the assembly of the shards' outputs)
    part: str = "all"
    # workflow id -> folder names of the whole repository (cross-workflow validation rules)
    repository_ids: dict | None = None

    def cache_key(self) -> dict:
        """Options that change what the cacheable stages produce."""
        return {"source_commit": self.source_commit, "registry": self.registry,
                "image_digest": self.image_digest, "repository_ids": self.repository_ids}


@dataclass(frozen=True)
class StageResult:
    stage: str
    status: str                               # ok | failed | skipped
    message: str = ""                         # one line: what came out, or what went wrong
    findings: tuple[Finding, ...] = ()
    outputs: tuple[tuple[str, str], ...] = ()  # e.g. (("chart_version", "0.1.0-rc.1"),)

    def to_dict(self) -> dict:
        data = {"stage": self.stage, "status": self.status, "message": redact(self.message)}
        if self.findings:
            data["findings"] = [f.to_dict() for f in self.findings]
        if self.outputs:
            data["outputs"] = dict(self.outputs)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "StageResult":
        findings = tuple(Finding(f["path"], f["line"], f["column"], f["severity"], f["message"], f["code"])
                         for f in data.get("findings", ()))
        return cls(data["stage"], data["status"], data.get("message", ""), findings,
                   tuple(sorted(data.get("outputs", {}).items())))


@dataclass(frozen=True)
class WorkflowReport:
    name: str
    folder: str
    stages: tuple[StageResult, ...] = ()

    @property
    def ok(self) -> bool:
        return all(s.status != FAILED for s in self.stages)

    @property
    def failed_stage(self) -> StageResult | None:
        return next((s for s in self.stages if s.status == FAILED), None)

    @property
    def outputs(self) -> dict[str, str]:
        merged: dict[str, str] = {}
        for stage in self.stages:
            merged.update(stage.outputs)
        return merged

    def to_dict(self) -> dict:
        outputs = self.outputs
        failed = self.failed_stage
        return {
            "name": self.name, "folder": self.folder, "ok": self.ok,
            "stages": [s.to_dict() for s in self.stages],
            "chart": outputs.get("chart", ""),
            "chart_version": outputs.get("chart_version", ""),
            "chart_path": outputs.get("chart_path", ""),
            "archive": outputs.get("archive", ""),
            "image": outputs.get("image", ""),
            "image_digest": outputs.get("image_digest", ""),
            "pr_url": outputs.get("pr_url", ""),
            "errors": [f.format() for f in failed.findings if f.is_error] if failed else [],
        }


@dataclass(frozen=True)
class BuildReport:
    workflows: tuple[WorkflowReport, ...]
    repository: tuple[StageResult, ...] = ()       # index, publish
    cached: tuple[str, ...] = ()                   # workflows replayed from the cache (not printed)

    @property
    def ok(self) -> bool:
        return all(w.ok for w in self.workflows) and all(s.status != FAILED for s in self.repository)

    def to_dict(self) -> dict:
        return {"ok": self.ok, "workflows": [w.to_dict() for w in self.workflows],
                "repository": [s.to_dict() for s in self.repository]}


class StageFailure(ChartgenError):
    """A stage failed with findings (validation or lint errors)."""


def options_from_settings(section: BuildSettings, publishing: PublishSettings, **flags) -> BuildOptions:
    """BuildOptions from chartgen.yaml `build:` (and `publish:` for the target and URL) with
    command-line values (not None) on top."""
    values = {"image": section.image, "push": section.push,
              "publish": publishing.target if section.publish else "",
              "pr": section.pr, "base_url": publishing.url}
    values.update({k: v for k, v in flags.items() if v is not None and v != ""})
    if section.publish and not values["publish"]:
        raise UsageError("build.publish is on but publish.target is empty: set it or pass --publish TARGET",
                         code="build-publish-target")
    return BuildOptions(**values)
