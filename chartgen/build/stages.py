"""The stages of `chartgen build`, as a table (`STAGES`).

Each stage is a small adapter that calls one library module. Per workflow: validate ->
render -> chart -> lint -> package; then, for the whole repository, umbrella and index;
then image (per workflow), publish (repository) and pr, the last three only when asked for
(flags or chartgen.yaml `build:`). Wiring a new stage is one line in `STAGES`.

A per-workflow stage takes a `Job` and returns (one-line message, outputs); a repository
stage takes (config, options, the still-healthy workflows, earlier repository outputs).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable

from chartgen.build.options import FAILED, BuildOptions, StageFailure, StageResult
from chartgen.errors import Finding, UsageError

REMOVED_NOTE = "; removed "            # a stage message names the charts it removed after this


@dataclass
class Job:
    """One workflow going through the per-workflow stages (lives inside one worker)."""

    folder: Path
    config: Any
    options: BuildOptions
    outputs: dict[str, str] = field(default_factory=dict)
    _workflow: Any = None

    @property
    def workflow(self):
        if self._workflow is None:
            from chartgen.sources import load_workflow

            self._workflow = load_workflow(self.folder)
        return self._workflow


@dataclass
class WorkflowState:
    folder: Path
    name: str
    stages: list[StageResult] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)
    cached: bool = False

    @property
    def failed(self) -> bool:
        return any(s.status == FAILED for s in self.stages)


def _errors(findings: Iterable[Finding]) -> tuple[Finding, ...]:
    return tuple(f for f in findings if f.is_error)


def stage_validate(job: Job) -> tuple[str, dict]:
    from chartgen.validation import RepositoryContext, validate_folder

    context = RepositoryContext(job.options.repository_ids) if job.options.repository_ids is not None else None
    findings = tuple(validate_folder(job.workflow, repository=context, jq_functions=job.config.validate.jq_functions))
    errors = _errors(findings)
    if errors:
        raise StageFailure(findings=errors)
    warnings = len(findings) - len(errors)
    return (f"{warnings} warning{'s' * (warnings != 1)}" if warnings else "valid"), {}


def stage_render(job: Job) -> tuple[str, dict]:
    from chartgen.manifests import render_manifests, render_options

    manifests = render_manifests(job.workflow, render_options(job.config.render))
    return f"{len(manifests)} manifests", {}


def stage_chart(job: Job) -> tuple[str, dict]:
    # The workflow's chart only: the umbrella chart and charts/README.md read every chart,
    # so the `umbrella` stage writes them once, after all workflows (no parallel writers).
    from chartgen.chart.generate import draft_chart
    from chartgen.chart.versioning import version_floor
    from chartgen.chart.writer import write_chart
    from chartgen.repo.archived import archived_versions

    options = job.options
    settings = job.config.chart
    draft = draft_chart(job.workflow, job.config, image_digest=options.image_digest, settings=settings)
    result = write_chart(job.config.charts_dir / job.config.chart_of(job.workflow.name).folder, draft.files,
                         draft.fields, draft.annotations, settings, source_commit=options.source_commit,
                         extras=settings.extras_for(draft.name),
                         archived=archived_versions(job.config.dist_dir, draft.name),
                         floor=version_floor(job.config.settings, draft.name))
    path = relative_path(Path(result.path), job.config.root)
    moved = f" (was {result.previous_version})" if result.previous_version and result.changed \
        and result.previous_version != result.version else ""
    return f"{result.name} {result.version}{moved}", {"chart": result.name, "chart_version": result.version,
                                                      "chart_path": path}


def lint_cache(config, options: BuildOptions):
    """Lint results by content hash, next to the build cache (`.chartgen/lint/`); kept nowhere
    when the build cache is off."""
    from chartgen.build.fingerprint import generator_fingerprint
    from chartgen.chart.lintcache import LintCache, lint_salt

    return LintCache(cache_folder(config, "lint", use_cache=options.use_cache), lint_salt(config, generator_fingerprint()))


def cache_folder(config, name: str, *, use_cache: bool = True) -> Path | None:
    """`.chartgen/<name>/`, next to the build cache (`lint`: lint results; `package`: the
    members of a large umbrella's sub-charts); None when the build cache is off."""
    return config.resolve(config.build.cache).parent / name if (config.build.cache and use_cache) else None


def _lint(chart_dir: Path, config, options: BuildOptions) -> tuple[Finding, ...]:
    from chartgen.chart.lintcache import lint_charts_cached

    # since=None: the "version went up since HEAD" check is for review (chartgen lint),
    # not for a build that just wrote the version itself; nor the runs with the ci/*-values.yaml
    # chartgen wrote with the chart (they double the time of helm lint; `chartgen lint` runs them).
    # Results are kept by content hash: an unchanged chart (or part of the umbrella) is not linted again.
    findings = lint_charts_cached([chart_dir], config, lint_cache(config, options), ci_values=False)
    errors = _errors(findings)
    if errors:
        raise StageFailure(findings=errors)
    return findings


def stage_lint(job: Job) -> tuple[str, dict]:
    findings = _lint(job.config.resolve(job.outputs["chart_path"]), job.config, job.options)
    return "clean" if not findings else f"{len(findings)} warnings", {}


def stage_package(job: Job) -> tuple[str, dict]:
    from chartgen.repo.package import package_chart
    from chartgen.repo.provenance import after_packaging, sign_options

    result = package_chart(job.config.resolve(job.outputs["chart_path"]), job.config.dist_dir)
    after_packaging([result], sign_options(job.config.publish))     # publish.sign: <archive>.prov
    archive = relative_path(Path(result.path), job.config.root)
    return archive, {"archive": archive, "archive_digest": result.digest}


def stage_image(job: Job) -> tuple[str, dict]:
    from chartgen.image import build_image

    options = job.options
    config = job.config
    if options.registry:
        config = config.with_overrides(image=replace(config.image, registry=options.registry.rstrip("/")))
    context = Path(options.image_context) if options.image_context else None
    if context is None and (options.builder or config.image.builder) == "kaniko":
        # kaniko runs later, elsewhere: keep its context where the next step finds it.
        context = config.root / ".chartgen" / "kaniko" / job.folder.name
    result = build_image(job.workflow, config, builder=options.builder, push=options.push,
                         source_commit=options.source_commit, context_out=context)
    outputs = {"image": result.reference}
    if result.digest:
        outputs["image_digest"] = result.digest
    if result.context_dir:
        outputs["image_context"] = str(result.context_dir)
    if result.builder == "kaniko" and context is not None:
        # The Tekton kaniko step (busybox sh, no JSON parser) reads one argument per line
        # and adds --digest-file=$(results.IMAGE_DIGEST.path) itself: it pushes there.
        from chartgen.fsutil import write_atomic

        args = [a for a in result.command[1:] if a != "--no-push" and not a.startswith("--digest-file=")]
        write_atomic(kaniko_args_path(context), "".join(a + "\n" for a in args))
        return f"{result.reference} (context {context}, built by the kaniko step)", outputs
    return result.reference + (f"@{result.digest}" if result.digest else ""), outputs


def kaniko_args_path(context: Path) -> Path:
    """Where `--image-context DIR` leaves the kaniko arguments: DIR.args, next to DIR."""
    return Path(context).with_name(Path(context).name + ".args")


def stage_umbrella(config, options: BuildOptions, jobs: list[WorkflowState], earlier: dict) -> tuple[str, dict]:
    from chartgen.chart import generate_umbrella
    from chartgen.chart.umbrella import write_charts_readme

    from chartgen.chart.stale import remove_stale_charts

    # Charts whose workflow folder is gone leave before the umbrella is made from the rest.
    removed = remove_stale_charts(config, config.charts_dir,   # the workflows of this run are never stale
                                  keep={j.outputs["chart"] for j in jobs if j.outputs.get("chart")})
    gone = "".join(f"{REMOVED_NOTE}{relative_path(c.path, config.root)} ({c.source_path} is gone)" for c in removed)
    if not config.chart.umbrella_enabled:
        write_charts_readme(config, config.charts_dir)
        return "disabled (chart.umbrella)" + gone, {"removed": " ".join(c.name for c in removed)} if removed else {}
    from chartgen.repo.archived import archived_versions

    result = generate_umbrella(config, config.charts_dir,
                               archived=lambda name: archived_versions(config.dist_dir, name),
                               memo=lint_cache(config, options))
    outputs = {"chart": result.name, "chart_version": result.version,
               "chart_path": relative_path(Path(result.path), config.root)}
    if removed:
        outputs["removed"] = " ".join(c.name for c in removed)
    message = f"{result.name} {result.version}"
    if CORE.index(options.until) >= CORE.index("lint"):
        _lint(Path(result.path), config, options)
    if CORE.index(options.until) >= CORE.index("package"):
        from chartgen.repo.package import package_chart
        from chartgen.repo.provenance import after_packaging, sign_options

        packaged = package_chart(Path(result.path), config.dist_dir, cache=cache_folder(config, "package", use_cache=options.use_cache))
        after_packaging([packaged], sign_options(config.publish))
        archive = Path(packaged.path)
        outputs["archive"] = relative_path(archive, config.root)
        message += f" -> {outputs['archive']}"
    return message + gone, outputs


def stage_index(config, options: BuildOptions, jobs: list[WorkflowState], earlier: dict) -> tuple[str, dict]:
    from chartgen.repo.update import index_settings, update_index

    dist = config.dist_dir
    dist.mkdir(parents=True, exist_ok=True)
    result = update_index(dist, options.base_url, **index_settings(config.publish))
    # No "N added": a replayed result must read the same as a fresh one.
    return f"{relative_path(result.path, config.root)}: {result.total} chart versions", {}


def stage_publish(config, options: BuildOptions, jobs: list[WorkflowState], earlier: dict) -> tuple[str, dict]:
    from chartgen.repo.publish import index_keywords, publish

    archives = [j.outputs["archive"] for j in jobs if "archive" in j.outputs]
    if earlier.get("umbrella", {}).get("archive"):
        archives.append(earlier["umbrella"]["archive"])
    if not options.publish:
        raise UsageError("build.publish is on but publish.target is empty: set it or pass --publish TARGET",
                         code="build-publish-target")
    from chartgen.gitops.auth import target_credentials

    result = publish(sorted(config.resolve(a) for a in archives), options.publish,
                     base_url=options.base_url or None, oci_settle=config.publish.oci_settle,
                     **index_keywords(config.publish),
                     credentials=target_credentials(config.pr, options.publish, options.config_repository or ""))
    twice = "".join(f"; {name} {version} is listed {count} times in the index (left by an older tool) "
                    "[index-duplicate]" for name, version, count in result.duplicates[:3])
    return (f"{result.target}: {len(result.added) + len(result.replaced)} added, {len(result.unchanged)} "
            f"already there" + (f" ({result.location})" if result.location else "") + twice), {}


def stage_pr(config, options: BuildOptions, jobs: list[WorkflowState], earlier: dict) -> tuple[str, dict]:
    from chartgen.gitops import open_pull_requests
    from chartgen.gitops.model import PrError
    from chartgen.gitops.prune import prunes_in_build
    from chartgen.sources import load_workflow

    folders = [load_workflow(j.folder) for j in jobs]
    digest = options.image_digest or next((j.outputs.get("image_digest") for j in jobs
                                          if j.outputs.get("image_digest")), None)
    config = _same_versions(config, jobs, earlier)
    failures: list[Finding] = []
    try:
        results = open_pull_requests(folders, config, config_repo=options.config_repository,
                                     forge=options.forge, dry_run=options.dry_run,
                                     source_commit=options.source_commit, image_digest=digest,
                                     prune=prunes_in_build(config, folders))   # --all only: see docs/pull-requests.md
    except PrError as exc:           # some workflows failed, the others got their PR
        results, failures = exc.results, list(exc.findings)
    per_workflow: dict[str, dict] = {}
    pruned = [f"{r.kind} {r.workflow}: {r.action}" for r in results if r.kind != "update"]
    for result in (r for r in results if r.kind == "update"):
        proposed = {change.name: change.new_version for change in result.charts}
        for name in result.workflows:
            per_workflow[name] = {"pr_url": result.url or "", "pr_action": result.action}
            if options.dry_run and result.diff:
                per_workflow[name]["pr_diff"] = result.diff  # what would be proposed
            version = proposed.get(name) or proposed.get(config.chart_of(name).name)
            if version:
                # The version proposed in the chart repository is the one that counts.
                per_workflow[name]["chart_version"] = version
    for job, folder in zip(jobs, folders):
        mine = tuple(f for f in failures if f.path == str(folder.root) or f.path.startswith(str(folder.root) + "/"))
        if mine:
            per_workflow[job.name] = {"findings": mine}
    # Failures of no workflow (a removal, a stale branch) fail the stage, but the workflows'
    # own pull requests went through and are reported with them.
    unassigned = [f for f in failures if not any(f in v.get("findings", ()) for v in per_workflow.values())]
    actions = sorted({v["pr_action"] for v in per_workflow.values() if "pr_action" in v})
    return "; ".join([", ".join(actions), *pruned]), {"per_workflow": per_workflow, "failures": unassigned}


def _same_versions(config, jobs: list[WorkflowState], earlier: dict):
    """`config` where each chart this build made continues at the version the build gave it
    (chart.versioning.SAME_RUN): the pull request proposes the versions that are built and
    published, though it adds what only it carries (the image digest, the chart repository's
    umbrella), and a second run proposes the same again."""
    from chartgen.chart.versioning import SAME_RUN

    made = {j.outputs["chart"]: j.outputs["chart_version"] for j in jobs
            if j.outputs.get("chart") and j.outputs.get("chart_version")}
    umbrella = earlier.get("umbrella", {})
    if umbrella.get("chart") and umbrella.get("chart_version"):
        made[umbrella["chart"]] = umbrella["chart_version"]
    rows = tuple(row for row in config.settings.published if row[0] not in made)
    return config.with_overrides(published=rows + tuple((name, version, SAME_RUN) for name, version in made.items()))


@dataclass(frozen=True)
class Stage:
    name: str
    scope: str                        # "workflow": one call per workflow; "repository": one call
    run: Callable
    optional: bool = False            # runs only when asked for (flag or chartgen.yaml)
    cacheable: bool = True


# The build, in order. Wiring a new stage is one line here.
STAGES: tuple[Stage, ...] = (
    Stage("validate", "workflow", stage_validate),
    Stage("render", "workflow", stage_render),
    Stage("chart", "workflow", stage_chart),
    Stage("lint", "workflow", stage_lint),
    Stage("package", "workflow", stage_package),
    Stage("umbrella", "repository", stage_umbrella),
    Stage("index", "repository", stage_index),
    Stage("image", "workflow", stage_image, optional=True, cacheable=False),
    Stage("publish", "repository", stage_publish, optional=True, cacheable=False),
    Stage("pr", "repository", stage_pr, optional=True, cacheable=False),
)


# The chain --until cuts; `umbrella` follows the per-workflow chart stages it depends on.
CORE = tuple(s.name for s in STAGES if not s.optional and s.name != "umbrella")
STAGE_BY_NAME = {s.name: s for s in STAGES}


def selected_stages(options: BuildOptions) -> tuple[Stage, ...]:
    if options.until not in CORE:
        raise UsageError(f"--until {options.until!r}: expected one of {', '.join(CORE)}", code="build-until")
    last = CORE.index(options.until)
    wanted = {"image": options.image, "publish": bool(options.publish), "pr": options.pr}
    chosen = tuple(s for s in STAGES if (s.name in CORE and CORE.index(s.name) <= last)
                   or (s.name == "umbrella" and last >= CORE.index("chart"))
                   or (s.optional and wanted[s.name]))
    if options.part == "workflows":        # a shard: the assembly makes umbrella and index
        return tuple(s for s in chosen if s.scope == "workflow")
    if options.part == "repository":
        return tuple(s for s in chosen if s.name in ("umbrella", "index"))
    return chosen


def relative_path(path: Path, root: Path) -> str:
    return relative_paths([path], root)[0]


def relative_paths(paths: Iterable[Path], root: Path) -> list[str]:
    """`path` relative to `root` (resolved when a symbolic link is on the way), POSIX style,
    for each path; as given when outside `root`."""
    from chartgen.fsutil import relative_paths as relative

    paths = list(paths)
    return [str(path) if shown is None else shown.as_posix() for path, shown in zip(paths, relative(paths, root))]
