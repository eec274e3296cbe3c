"""What the pull request flow works on and reports: units, runs and results."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from chartgen.errors import ChartgenError, Finding
from chartgen.gitops.git import Git
from chartgen.settings import PrSettings


UMBRELLA = "workflows"
ADOPTED = "adopted by chartgen pr; the whole directory is regenerated\n"
ACTIONS = ("created", "updated", "unchanged", "dry-run", "pushed", "closed")
KINDS = ("update", "remove", "close")
REMOVE_PREFIX = "remove-"       # removal branch: <branchPrefix>remove-<chart>
BODY_LIMIT = 60000  # GitHub refuses bodies over 65536 characters
Log = Callable[[str], None]


@dataclass(frozen=True)
class ChartChange:
    name: str
    old_version: str | None
    new_version: str                # "" when the chart is removed
    image: str = ""


@dataclass(frozen=True)
class PrResult:
    workflows: tuple[str, ...]
    branch: str
    url: str
    action: str                     # created | updated | unchanged | dry-run | pushed | closed
    diff: str = ""
    message: str = ""
    charts: tuple[ChartChange, ...] = ()
    commit: str | None = None
    kind: str = "update"            # update: charts regenerated; remove: a chart removed; close: stale PR closed

    @property
    def workflow(self) -> str:
        return ", ".join(self.workflows)

    def to_dict(self) -> dict:
        return {"workflows": list(self.workflows), "kind": self.kind, "branch": self.branch, "url": self.url,
                "action": self.action, "message": self.message, "commit": self.commit,
                "charts": [{"name": c.name, "from": c.old_version, "to": c.new_version or None, "image": c.image}
                           for c in self.charts]}


@dataclass(frozen=True)
class Removal:
    """A chart of the base whose workflow is gone from the sources."""

    name: str                       # chart name (folder under the charts folder)
    version: str                    # its version in the base
    source_path: str                # chartgen.io/source-path: where its workflow was
    paths: tuple[str, ...]          # chart folders to delete, relative to the repository root


@dataclass(frozen=True)
class Unit:
    branch: str
    folders: tuple = ()             # workflow folders to regenerate (update units)
    removal: Removal | None = None  # the chart to remove (removal units)

    @property
    def names(self) -> tuple[str, ...]:
        return (self.removal.name,) if self.removal else tuple(f.name for f in self.folders)

    @property
    def kind(self) -> str:
        return "remove" if self.removal else "update"

    @property
    def label(self) -> str:
        """How log lines name the unit."""
        return f"remove {self.removal.name}" if self.removal else ", ".join(self.names)


class PrError(ChartgenError):
    """Some units failed; `results` holds those that succeeded."""

    def __init__(self, findings: list[Finding], results: list[PrResult]) -> None:
        super().__init__(findings=findings)
        self.results = tuple(results)


@dataclass(frozen=True)
class Sources:
    """What pruning compares the chart repository with: this repository's sources."""

    root: Path                      # chartgen.yaml's folder: source-path is relative to it
    repository: str                 # the chartgen.io/source-repository chartgen writes
    folder_names: frozenset[str]    # every workflow folder of the sources (their branches are current)
    chart_names: frozenset[str]     # the charts those folders make


@dataclass
class Run:
    config: object
    url: str
    base: str
    settings: PrSettings
    dry_run: bool
    forge: object
    generator: Callable
    meta: dict
    log: Log
    source_ref: str | None = None
    git: Git | None = None
    results: list[PrResult] = field(default_factory=list)
    sources: "Sources | None" = None     # set when pruning

    @property
    def charts_dir(self) -> str:
        return self.settings.charts_dir.strip("/") or "charts"
