"""`chartgen build`: every stage for each workflow, in parallel, skipped by content hash.

The stages are a table (`STAGES`): each is a small adapter that calls one library
module. Per workflow: validate -> render -> chart -> lint -> package; then, for the whole
repository, index; then image (per workflow), publish (repository) and pr, the last three
only when asked for (flags or chartgen.yaml `build:`). A workflow stops at its first
failing stage with that stage's error; the others go on. Consecutive per-workflow stages
run as one job per workflow, several at once (`build.parallelism`, processes by default:
rendering and linting are CPU-bound Python, so threads would share one core).

Skipping: `.chartgen/cache.json` keeps, per workflow, a hash of everything the stages
read (the folder's files, the shared files it uses, chartgen.yaml, chartgen's own code,
the build options) and of everything they wrote (chart folder, archive). When both
still match, the recorded results are replayed instead of redoing the work, so a second
`chartgen build --all` prints the same thing and rewrites nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable

from chartgen import __version__, limits
from chartgen.errors import ChartgenError, Finding, UsageError, redact

OK, FAILED, SKIPPED = "ok", "failed", "skipped"
CACHE_VERSION = 1


# --------------------------------------------------------------------------- data

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


# ------------------------------------------------------------------------ stages

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


def _errors(findings: Iterable[Finding]) -> tuple[Finding, ...]:
    return tuple(f for f in findings if f.is_error)


def stage_validate(job: Job) -> tuple[str, dict]:
    from chartgen.validation import RepositoryContext, validate_folder

    context = RepositoryContext(job.options.repository_ids) if job.options.repository_ids is not None else None
    jq_functions = tuple((job.config.section("validate") or {}).get("jq_functions", ()))
    findings = tuple(validate_folder(job.workflow, repository=context, jq_functions=jq_functions))
    errors = _errors(findings)
    if errors:
        raise StageFailure(findings=errors)
    warnings = len(findings) - len(errors)
    return (f"{warnings} warning{'s' * (warnings != 1)}" if warnings else "valid"), {}


def stage_render(job: Job) -> tuple[str, dict]:
    from chartgen.manifests import render_manifests, render_options

    manifests = render_manifests(job.workflow, render_options(job.config))
    return f"{len(manifests)} manifests", {}


def stage_chart(job: Job) -> tuple[str, dict]:
    # The workflow's chart only: the umbrella chart and charts/README.md read every chart,
    # so the `umbrella` stage writes them once, after all workflows (no parallel writers).
    from chartgen.chart.generate import draft_chart
    from chartgen.chart.settings import chart_settings
    from chartgen.chart.writer import write_chart

    options = job.options
    settings = chart_settings(job.config)
    draft = draft_chart(job.workflow, job.config, image_digest=options.image_digest, settings=settings)
    result = write_chart(job.config.charts_dir / draft.name, draft.files, draft.fields, draft.annotations,
                         settings, source_commit=options.source_commit, extras=settings.extras_for(draft.name))
    path = _relative(Path(result.path), job.config.root)
    moved = f" (was {result.previous_version})" if result.previous_version and result.changed \
        and result.previous_version != result.version else ""
    return f"{result.name} {result.version}{moved}", {"chart": result.name, "chart_version": result.version,
                                                      "chart_path": path}


def _lint(chart_dir: Path, config) -> tuple[Finding, ...]:
    from chartgen.chart import lint_charts

    # since=None: the "version went up since HEAD" check is for review (chartgen lint),
    # not for a build that just wrote the version itself.
    findings = tuple(lint_charts([chart_dir], config, since=None))
    errors = _errors(findings)
    if errors:
        raise StageFailure(findings=errors)
    return findings


def stage_lint(job: Job) -> tuple[str, dict]:
    findings = _lint(job.config.resolve(job.outputs["chart_path"]), job.config)
    return "clean" if not findings else f"{len(findings)} warnings", {}


def stage_package(job: Job) -> tuple[str, dict]:
    from chartgen.package import package_chart

    result = package_chart(job.config.resolve(job.outputs["chart_path"]), job.config.dist_dir)
    archive = _relative(Path(result.path), job.config.root)
    return archive, {"archive": archive, "archive_digest": result.digest}


def stage_image(job: Job) -> tuple[str, dict]:
    from chartgen.image import build_image

    options = job.options
    config = job.config
    if options.registry:
        image = dict(config.section("image"))
        image["registry"] = options.registry
        config = config.with_overrides(image=image)
    context = Path(options.image_context) if options.image_context else None
    if context is None and (options.builder or config.section("image").get("builder")) == "kaniko":
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


# Repository-scope stages get every still-healthy workflow at once.

def stage_umbrella(config, options: BuildOptions, jobs: list["WorkflowState"], earlier: dict) -> tuple[str, dict]:
    from chartgen.chart import generate_umbrella
    from chartgen.chart.settings import chart_settings
    from chartgen.chart.umbrella import write_charts_readme

    from chartgen.chart.stale import remove_stale_charts

    # Charts whose workflow folder is gone leave before the umbrella is made from the rest.
    removed = remove_stale_charts(config, config.charts_dir)
    gone = "".join(f"{REMOVED_NOTE}{_relative(c.path, config.root)} ({c.source_path} is gone)" for c in removed)
    if not chart_settings(config).umbrella_enabled:
        write_charts_readme(config, config.charts_dir)
        return "disabled (chart.umbrella)" + gone, {"removed": " ".join(c.name for c in removed)} if removed else {}
    result = generate_umbrella(config, config.charts_dir)
    outputs = {"chart": result.name, "chart_version": result.version,
               "chart_path": _relative(Path(result.path), config.root)}
    if removed:
        outputs["removed"] = " ".join(c.name for c in removed)
    message = f"{result.name} {result.version}"
    if CORE.index(options.until) >= CORE.index("lint"):
        _lint(Path(result.path), config)
    if CORE.index(options.until) >= CORE.index("package"):
        from chartgen.package import package_chart

        archive = Path(package_chart(Path(result.path), config.dist_dir).path)
        outputs["archive"] = _relative(archive, config.root)
        message += f" -> {outputs['archive']}"
    return message + gone, outputs


def stage_index(config, options: BuildOptions, jobs: list["WorkflowState"], earlier: dict) -> tuple[str, dict]:
    from chartgen.index import index_settings, update_index

    dist = config.dist_dir
    dist.mkdir(parents=True, exist_ok=True)
    result = update_index(dist, options.base_url, **index_settings(config))
    # No "N added": a replayed result must read the same as a fresh one.
    return f"{_relative(result.path, config.root)}: {result.total} chart versions", {}


def stage_publish(config, options: BuildOptions, jobs: list["WorkflowState"], earlier: dict) -> tuple[str, dict]:
    from chartgen.publish import index_keywords, publish

    archives = [j.outputs["archive"] for j in jobs if "archive" in j.outputs]
    if earlier.get("umbrella", {}).get("archive"):
        archives.append(earlier["umbrella"]["archive"])
    if not options.publish:
        raise UsageError("build.publish is on but publish.target is empty: set it or pass --publish TARGET",
                         code="build-publish-target")
    result = publish(sorted(config.resolve(a) for a in archives), options.publish,
                     base_url=options.base_url or None, **index_keywords(config))
    return (f"{result.target}: {len(result.added) + len(result.replaced)} added, {len(result.unchanged)} "
            f"already there" + (f" ({result.location})" if result.location else "")), {}


def stage_pr(config, options: BuildOptions, jobs: list["WorkflowState"], earlier: dict) -> tuple[str, dict]:
    from chartgen.gitops import open_pull_requests
    from chartgen.gitops.engine import PrError, prunes_in_build
    from chartgen.sources import load_workflow

    folders = [load_workflow(j.folder) for j in jobs]
    digest = options.image_digest or next((j.outputs.get("image_digest") for j in jobs
                                          if j.outputs.get("image_digest")), None)
    failures: list[Finding] = []
    try:
        results = open_pull_requests(folders, config, config_repo=options.config_repository,
                                     forge=options.forge, dry_run=options.dry_run,
                                     source_commit=options.source_commit, image_digest=digest,
                                     prune=prunes_in_build(config, folders))   # --all only: see the README
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
            version = proposed.get(name) or proposed.get(_chart_name(name))
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


def _chart_name(folder_name: str) -> str:
    from chartgen.chart import chart_name

    return chart_name(folder_name)


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
    return tuple(s for s in STAGES if (s.name in CORE and CORE.index(s.name) <= last)
                 or (s.name == "umbrella" and last >= CORE.index("chart"))
                 or (s.optional and wanted[s.name]))


def _relative(path: Path, root: Path) -> str:
    path, root = Path(path), Path(root)
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


def _failure(stage: str, exc: ChartgenError, where: str = "") -> StageResult:
    findings = exc.findings or (Finding(where, 0, 0, "error", str(exc), exc.code),)
    findings = tuple(f if f.path else replace(f, path=where) for f in findings)
    errors = [f for f in findings if f.is_error] or list(findings)
    summary = redact(errors[0].message).splitlines()[0] if len(errors) == 1 else f"{len(errors)} errors"
    return StageResult(stage, FAILED, summary, findings)


def _missing_module(stage: str, exc: ImportError, where: str = "") -> StageResult:
    message = f"stage {stage} is not available in this chartgen installation ({exc})"
    return StageResult(stage, FAILED, message, (Finding(where, 0, 0, "error", message, "build-stage-missing"),))


def run_workflow_stages(folder: str, config, options: BuildOptions, names: tuple[str, ...],
                        outputs: dict[str, str], progress=None) -> tuple[list[StageResult], dict[str, str]]:
    """Run the per-workflow stages `names` for one folder; stop at the first failure.

    A worker entry point: arguments and results are plain picklable data.
    """
    limits.configure(config)   # a forkserver worker starts with the defaults
    job = Job(Path(folder), config, options, dict(outputs))
    results: list[StageResult] = []
    for name in names:
        if progress is not None:
            progress(job.folder.name, name, "running")
        try:
            message, produced = STAGE_BY_NAME[name].run(job)
        except ChartgenError as exc:
            results.append(_failure(name, exc, str(folder)))
        except ImportError as exc:
            results.append(_missing_module(name, exc, str(folder)))
        except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
            # A library bug or an environment problem: keep the other workflows going.
            text = f"{type(exc).__name__}: {redact(str(exc))}"
            results.append(StageResult(name, FAILED, text, (Finding(str(folder), 0, 0, "error", text,
                                                                     "build-internal-error"),)))
        else:
            job.outputs.update(produced)
            results.append(StageResult(name, OK, message, (), tuple(sorted(produced.items()))))
        if progress is not None:
            progress(job.folder.name, name, results[-1].status)
        if results[-1].status == FAILED:
            break
    return results, job.outputs


# ------------------------------------------------------------------------ hashing

@lru_cache(maxsize=1)
def generator_fingerprint() -> str:
    """chartgen's version and the bytes of its own code and data: a new generator rebuilds."""
    digest = hashlib.sha256(__version__.encode())
    package = Path(__file__).resolve().parent
    for path in sorted(package.rglob("*")):
        if path.is_file() and path.suffix not in (".pyc",) and "__pycache__" not in path.parts:
            digest.update(path.relative_to(package).as_posix().encode() + b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _hash_tree(root: Path, digest, *, skip_hidden: bool = True) -> None:
    if not root.is_dir():
        digest.update(b"<missing>")
        return
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not (skip_hidden and d.startswith(".")))
        for name in sorted(filenames):
            path = Path(dirpath) / name
            digest.update(os.fsencode(path.relative_to(root).as_posix()) + b"\0")
            digest.update(_content(path))


def _content(path: Path) -> bytes:
    """A file's bytes for hashing; a FIFO, device, symlink loop or too large file (which
    validation reports) hashes as its problem, and is never read."""
    try:
        return limits.read_file(path)
    except ChartgenError as exc:
        return f"<{exc.code}>".encode()


def _stat_tree(root: Path, digest) -> None:
    """Names, sizes and modification times under `root`: enough to notice that an output
    chartgen wrote was changed or removed since (content hashing 6 MB of charts on every
    run would cost more than the rest of a run that has nothing to do)."""
    if not root.is_dir():
        digest.update(b"<missing>")
        return
    top = os.fspath(root)
    skip = len(top) + 1
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames.sort()
        for name in sorted(filenames):
            path = dirpath + "/" + name
            try:
                info = os.stat(path)
            except OSError:
                continue
            digest.update(f"{path[skip:]}\0{info.st_size}\0{info.st_mtime_ns}\0".encode())


def input_hash(folder: Path, config, options: BuildOptions, shared_index) -> str:
    digest = hashlib.sha256()
    digest.update(generator_fingerprint().encode())
    # Every setting but `build:` (how to run, not what comes out) shapes the outputs.
    settings = {k: v for k, v in config.data.items() if k != "build"}
    digest.update(json.dumps(settings, sort_keys=True, default=str).encode())
    digest.update(json.dumps(options.cache_key(), sort_keys=True).encode())
    _hash_tree(folder, digest)
    for target in shared_index.uses(folder):
        disk = shared_index.shared_dir / target.split("/", 1)[1] if shared_index.shared_dir else None
        digest.update(target.encode() + b"\0")
        digest.update(_content(disk) if disk is not None and disk.is_file() else b"<missing>")
    return digest.hexdigest()


def output_hash(outputs: dict[str, str], config) -> str:
    digest = hashlib.sha256()
    if "chart_path" in outputs:
        _stat_tree(config.resolve(outputs["chart_path"]), digest)
    if "archive" in outputs:
        archive = config.resolve(outputs["archive"])
        try:
            info = archive.stat()
            digest.update(f"{info.st_size}\0{info.st_mtime_ns}".encode())
        except OSError:
            digest.update(b"<missing>")
    return digest.hexdigest()


class BuildCache:
    """`.chartgen/cache.json`: per workflow, input hash -> recorded stage results."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.data: dict = {"version": CACHE_VERSION, "workflows": {}, "repository": {}}
        if path is not None and path.is_file():
            try:
                loaded = json.loads(path.read_text(encoding="utf-8"))
                if loaded.get("version") == CACHE_VERSION:
                    self.data = loaded
            except (OSError, ValueError):
                pass  # a broken cache only costs a rebuild

    def lookup(self, name: str, key: str, config, names: tuple[str, ...]):
        entry = self.data["workflows"].get(name)
        if not entry or entry.get("key") != key:
            return None
        stages = [StageResult.from_dict(s) for s in entry["stages"]]
        recorded = tuple(s.stage for s in stages)
        if recorded[:len(names)] == names:
            stages = stages[:len(names)]           # a longer run covers a shorter one
        elif not (recorded == names[:len(recorded)] and stages and stages[-1].status == FAILED):
            return None                            # neither covers nor failed before the rest
        outputs = entry.get("outputs", {})
        if output_hash(outputs, config) != entry.get("output_hash"):
            return None
        replayed: dict[str, str] = {}
        for stage in stages:
            replayed.update(stage.outputs)
        return stages, replayed

    def store(self, name: str, key: str, stages: list[StageResult], outputs: dict, config) -> None:
        entry = self.data["workflows"].get(name)
        if entry and entry.get("key") == key and len(entry["stages"]) > len(stages) \
                and [s["stage"] for s in entry["stages"][:len(stages)]] == [s.stage for s in stages]:
            return                                 # keep the longer record of the same inputs
        self.data["workflows"][name] = {"key": key, "stages": [s.to_dict() for s in stages],
                                        "outputs": outputs, "output_hash": output_hash(outputs, config)}

    def save(self) -> None:
        if self.path is None:
            return
        from chartgen.fsutil import write_atomic

        write_atomic(self.path, json.dumps(self.data, indent=1, sort_keys=True) + "\n")


# ------------------------------------------------------------------------ running

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


_progress_queue = None


def _init_worker(queue) -> None:
    global _progress_queue
    _progress_queue = queue


def _queue_progress(name, stage, status):
    if _progress_queue is not None:
        _progress_queue.put((name, stage, status))


def _worker(folder, config, options, names, outputs):
    return run_workflow_stages(folder, config, options, names, outputs, _queue_progress)


def _process_context():
    import multiprocessing

    # Never fork a process that already runs helm's Go runtime (its threads do not survive
    # fork): then workers come from a clean forkserver. Otherwise fork, the cheapest start.
    return multiprocessing.get_context("forkserver" if "helm_python" in sys.modules else "fork")


def _executor(kind: str, workers: int, queue) -> Executor:
    if kind == "thread":
        return ThreadPoolExecutor(max_workers=workers, initializer=_init_worker, initargs=(queue,))
    return ProcessPoolExecutor(max_workers=workers, mp_context=_process_context(),
                               initializer=_init_worker, initargs=(queue,))


def _parallelism(config, count: int) -> tuple[str, int]:
    section = config.section("build") or {}
    workers = section.get("parallelism") or os.cpu_count() or 1
    workers = max(1, min(workers, count))
    kind = section.get("executor", "auto")
    if kind == "auto":
        kind = "process" if workers > 1 else "inline"
    return kind, workers


def _run_batch(states: list[WorkflowState], names: tuple[str, ...], config, options: BuildOptions,
               progress: Callable | None) -> None:
    todo = [s for s in states if not s.failed]
    if not todo:
        return
    kind, workers = _parallelism(config, len(todo))
    if kind == "inline" or workers == 1:
        for state in todo:
            results, outputs = run_workflow_stages(str(state.folder), config, options, names, state.outputs,
                                                   progress)
            state.stages.extend(results)
            state.outputs = outputs
        return
    import queue as queue_module
    import threading

    # Progress events travel from the workers through a queue, only when someone watches.
    events = None if progress is None else (queue_module.Queue() if kind == "thread" else _process_context().Queue())
    stop = threading.Event()

    def pump():
        while not stop.is_set() or not events.empty():
            try:
                item = events.get(timeout=0.05)
            except queue_module.Empty:
                continue
            except (EOFError, OSError):
                return
            progress(*item)

    reader = threading.Thread(target=pump, daemon=True)
    try:
        with _executor(kind, workers, events) as pool:
            futures = {pool.submit(_worker, str(s.folder), config, options, names, s.outputs): s for s in todo}
            if events is not None:
                reader.start()   # after the workers are forked: fork copies only the calling thread
            for future, state in futures.items():
                try:
                    results, outputs = future.result()
                except Exception as exc:  # a crashed worker: this workflow fails, the rest go on
                    text = f"worker failed: {type(exc).__name__}: {redact(str(exc))}"
                    results, outputs = [StageResult(names[0], FAILED, text,
                                                     (Finding(str(state.folder), 0, 0, "error", text,
                                                              "build-internal-error"),))], state.outputs
                state.stages.extend(results)
                state.outputs = outputs
    finally:
        stop.set()
        if reader.is_alive():
            reader.join(timeout=2)


def _run_repository_stage(stage: Stage, states: list[WorkflowState], config, options: BuildOptions,
                          progress: Callable | None, earlier: dict) -> StageResult:
    healthy = [s for s in states if not s.failed]
    if not healthy:
        return StageResult(stage.name, SKIPPED, "no workflow got this far")
    if progress is not None:
        progress("*", stage.name, "running")
    try:
        message, produced = stage.run(config, options, healthy, earlier)
    except ChartgenError as exc:
        result = _failure(stage.name, exc)
    except ImportError as exc:
        result = _missing_module(stage.name, exc)
    else:
        per_workflow = produced.pop("per_workflow", None)
        failures = produced.pop("failures", ())
        if per_workflow is not None:       # pr: one result per workflow
            for state in healthy:
                values = dict(per_workflow.get(state.name, {}))
                findings = values.pop("findings", ())
                if findings:
                    state.stages.append(_failure(stage.name, ChartgenError(findings=findings), str(state.folder)))
                    continue
                text = " ".join(v for v in (values.get("pr_action", ""), values.get("pr_url", "")) if v)
                state.stages.append(StageResult(stage.name, OK, text, (), tuple(sorted(values.items()))))
            result = (_failure(stage.name, ChartgenError(findings=failures)) if failures
                      else StageResult(stage.name, OK, message))
        else:
            result = StageResult(stage.name, OK, message, (), tuple(sorted(produced.items())))
    if progress is not None:
        progress("*", stage.name, result.status)
    return result


def build(folders: list[Path], config, options: BuildOptions = BuildOptions(),
          progress: Callable[[str, str, str], None] | None = None) -> BuildReport:
    """Build `folders` (workflow folders) through the selected stages. Never raises for bad
    input in one workflow: its report says where it stopped."""
    from chartgen.plan import SharedIndex
    from chartgen.sources import discover

    stages = selected_stages(options)
    names_seen: dict[str, Path] = {}
    for folder in folders:
        name = Path(folder).resolve().name
        if name in names_seen and names_seen[name].resolve() != Path(folder).resolve():
            raise UsageError(f"two workflow folders named {name!r}: {names_seen[name]} and {folder}",
                             code="build-duplicate-name")
        names_seen[name] = Path(folder)
    states = [WorkflowState(Path(f), n) for n, f in sorted(names_seen.items())]

    cache_setting = (config.section("build") or {}).get("cache", ".chartgen/cache.json")
    cache = BuildCache(config.resolve(cache_setting) if (cache_setting and options.use_cache) else None)
    if options.repository_ids is None:
        try:
            everything = discover(config.sources_dir, config.shared_dir if config.shared_dir.is_dir() else None)
        except UsageError:
            everything = []
        known = {Path(f).resolve(): Path(f) for f in [*everything, *folders]}
        memo = cache.data.get("ids", {}) if cache.path else None
        seen: dict = {}
        options = replace(options, repository_ids=repository_ids(sorted(known.values()), memo, seen))
        if cache.path:
            cache.data["ids"] = seen      # only files that still exist
    shared = SharedIndex(config.shared_dir if config.shared_dir.is_dir() else None)

    # Leading cacheable per-workflow stages: replay from the cache when nothing changed.
    leading: list[str] = []
    for stage in stages:
        if stage.scope != "workflow" or not stage.cacheable:
            break
        leading.append(stage.name)
    leading_names = tuple(leading)
    keys: dict[str, str] = {}
    if leading_names:
        for state in states:
            keys[state.name] = input_hash(state.folder, config, options, shared)
            hit = cache.lookup(state.name, keys[state.name], config, leading_names) if cache.path else None
            if hit is not None:
                state.stages, state.outputs = list(hit[0]), dict(hit[1])
                state.cached = True
                if progress is not None:
                    for result in state.stages:
                        progress(state.name, result.stage, result.status)
    repository_results: list[StageResult] = []
    index = 0
    while index < len(stages):
        stage = stages[index]
        if stage.scope == "workflow":
            batch = []
            while index < len(stages) and stages[index].scope == "workflow":
                batch.append(stages[index].name)
                index += 1
            batch_names = tuple(batch)
            pending = [s for s in states if not s.cached or batch_names != leading_names]
            _run_batch(pending, batch_names, config, options, progress)
            if batch_names == leading_names and cache.path:
                for state in states:
                    if not state.cached:
                        cache.store(state.name, keys[state.name], state.stages, state.outputs, config)
            continue
        index += 1
        key = _repository_key(stage.name, config, options) if (cache.path and stage.cacheable) else None
        recorded = cache.data.setdefault("repository", {}).get(stage.name, {}) if key else {}
        if key and recorded.get("result") and _repository_output_hash(
                stage.name, recorded["result"].get("outputs", {}), config) == recorded.get("output_hash"):
            same = recorded.get("key") == key
            if not same and recorded.get("content") == _repository_key(stage.name, config, options, content=True):
                same, recorded["key"] = True, key     # inputs rewritten with the same bytes
            if same:
                repository_results.append(StageResult.from_dict(recorded["result"]))
                continue
        earlier = {r.stage: dict(r.outputs) for r in repository_results}
        result = _run_repository_stage(stage, states, config, options, progress, earlier)
        repository_results.append(result)
        if key and result.status != FAILED:
            # Keyed on what the stage reads *after* it ran (it may have written part of it).
            cache.data["repository"][stage.name] = {
                "key": _repository_key(stage.name, config, options),
                "content": _repository_key(stage.name, config, options, content=True),
                "result": _replayable(result).to_dict(),
                "output_hash": _repository_output_hash(stage.name, dict(result.outputs), config)}
        if result.status == FAILED and stage.name in ("umbrella", "index", "publish"):
            # Nothing after a failed repository stage can be trusted for any workflow.
            break
    if cache.path:
        try:
            cache.save()
        except OSError:
            pass
    reports = tuple(WorkflowReport(s.name, _relative(s.folder, config.root), tuple(s.stages)) for s in states)
    return BuildReport(reports, tuple(repository_results), tuple(s.name for s in states if s.cached))


REMOVED_NOTE = "; removed "


def _replayable(result: StageResult) -> StageResult:
    """What a cache replay of `result` reports: a removal of stale charts happened once, so
    a later run with nothing changed must not say it again."""
    outputs = dict(result.outputs)
    if "removed" not in outputs:
        return result
    del outputs["removed"]
    return replace(result, message=result.message.split(REMOVED_NOTE)[0], outputs=tuple(sorted(outputs.items())))


def _repository_key(stage: str, config, options: BuildOptions, *, content: bool = False) -> str | None:
    """Hash of what a repository stage reads; None: not cacheable.

    Cheap by default (names, sizes, times of the charts and archives); `content=True` hashes
    the bytes, for when a workflow was redone with the same result (its files rewritten)."""
    digest = hashlib.sha256(generator_fingerprint().encode())
    digest.update(json.dumps({k: v for k, v in config.data.items() if k != "build"}, sort_keys=True,
                             default=str).encode())
    if stage == "umbrella":
        from chartgen.chart.settings import chart_settings

        umbrella = chart_settings(config).umbrella_name
        digest.update(options.until.encode())
        # The stage also removes the charts of deleted workflow folders: a folder list change
        # must rerun it even when the charts folder itself did not change.
        sources = config.sources_dir
        if sources.is_dir():
            digest.update("\0".join(sorted(e.name for e in sources.iterdir() if e.is_dir())).encode() + b"\1")
        charts = config.charts_dir
        if charts.is_dir():
            for entry in sorted(charts.iterdir()):
                if entry.is_dir() and entry.name != umbrella:
                    digest.update(entry.name.encode() + b"\0")
                    if content:
                        _hash_tree(entry, digest, skip_hidden=False)
                    else:
                        _stat_tree(entry, digest)
        return digest.hexdigest()
    if stage == "index":
        digest.update(options.base_url.encode() + b"\0")
        dist = config.dist_dir
        for archive in sorted(dist.glob("*.tgz")) if dist.is_dir() else ():
            if content:
                digest.update(f"{archive.name}\0{_file_hash(archive)}\0".encode())
            else:
                info = archive.stat()
                digest.update(f"{archive.name}\0{info.st_size}\0{info.st_mtime_ns}\0".encode())
        return digest.hexdigest()
    return None


def _repository_output_hash(stage: str, outputs: dict, config) -> str:
    if stage == "index":
        return _file_hash(config.dist_dir / "index.yaml") + _file_hash(config.dist_dir / "index.html")
    return output_hash(outputs, config) + _file_hash(config.charts_dir / "README.md")


def workflow_ids(folder: Path, memo: dict | None = None, seen: dict | None = None) -> list[str]:
    """Ids of a folder's main workflow and subflows, read cheaply (no positions, no specs).

    `memo` (kept in the build cache) maps a file to (size, mtime, ids): unchanged files are
    not parsed again."""
    from chartgen.sources import MAIN_SUFFIXES
    from chartgen.yamlio import load_data

    files = [folder / e for e in sorted(os.listdir(folder)) if e.lower().endswith(MAIN_SUFFIXES)]
    subflows = folder / "subflows"
    if subflows.is_dir():
        files += [subflows / e for e in sorted(os.listdir(subflows)) if e.lower().endswith(MAIN_SUFFIXES)]
    ids = []
    for path in files:
        try:
            info = path.stat()
        except OSError:
            continue
        stamp = [info.st_size, info.st_mtime_ns]
        known = memo.get(str(path)) if memo is not None else None
        if known and known[:2] == stamp:
            ids.extend(known[2])
            if seen is not None:
                seen[str(path)] = known
            continue
        found = []
        try:
            data = load_data(limits.read_file(path), str(path))
        except (OSError, ChartgenError, ValueError, RecursionError):
            data = None
        if isinstance(data, dict) and isinstance(data.get("id"), str) and data["id"]:
            found.append(data["id"])
        if seen is not None:
            seen[str(path)] = stamp + [found]
        ids.extend(found)
    return ids


def repository_ids(folders: Iterable[Path], memo: dict | None = None,
                   seen: dict | None = None) -> dict[str, tuple[str, ...]]:
    """workflow id -> folder names, for the cross-workflow validation rules."""
    ids: dict[str, list[str]] = {}
    for folder in folders:
        for workflow_id in workflow_ids(Path(folder), memo, seen):
            ids.setdefault(workflow_id, []).append(Path(folder).name)
    return {k: tuple(v) for k, v in sorted(ids.items())}


def _file_hash(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return ""


def options_from_config(config, **flags) -> BuildOptions:
    """BuildOptions from chartgen.yaml `build:` with command-line values (not None) on top."""
    section = config.section("build") or {}
    publishing = config.section("publish") or {}
    values = {"image": section.get("image", False), "push": section.get("push", False),
              "publish": publishing.get("target", "") if section.get("publish") else "",
              "pr": section.get("pr", False), "base_url": publishing.get("url", "")}
    values.update({k: v for k, v in flags.items() if v is not None and v != ""})
    if section.get("publish") and not values["publish"]:
        raise UsageError("build.publish is on but publish.target is empty: set it or pass --publish TARGET",
                         code="build-publish-target")
    return BuildOptions(**values)


# ------------------------------------------------------------------------ output

def format_text(report: BuildReport) -> str:
    """Plain, deterministic lines: a workflow per line, then the failing stage's errors."""
    lines = []
    width = max([len(w.name) for w in report.workflows] + [len(r.stage) + 2 for r in report.repository] + [4])
    for workflow in report.workflows:
        done = [s.stage for s in workflow.stages if s.status == OK]
        outputs = workflow.outputs
        failed = workflow.failed_stage
        if failed is None:
            detail = []
            if outputs.get("chart_version"):
                detail.append(f"chart {outputs.get('chart', workflow.name)} {outputs['chart_version']}")
            if outputs.get("archive"):
                detail.append(outputs["archive"])
            if outputs.get("image"):
                detail.append(outputs["image"] + (f"@{outputs['image_digest']}" if outputs.get("image_digest") else ""))
            if outputs.get("pr_url"):
                detail.append(outputs["pr_url"])
            lines.append(f"{workflow.name:<{width}}  ok      {' '.join(done)}" + (f"  ({', '.join(detail)})"
                                                                                   if detail else ""))
            if outputs.get("pr_diff"):  # --pr --dry-run: the diff that would be proposed
                lines.extend(f"    {line}" for line in outputs["pr_diff"].rstrip("\n").splitlines())
        else:
            lines.append(f"{workflow.name:<{width}}  FAILED  at {failed.stage}: {failed.message}")
            for finding in failed.findings[:20]:
                lines.append(f"    {finding.format()}")
            if len(failed.findings) > 20:
                lines.append(f"    ... {len(failed.findings) - 20} more (chartgen validate {workflow.folder})")
    for result in report.repository:
        status = {OK: "ok", FAILED: "FAILED"}.get(result.status, result.status)
        lines.append(f"{'[' + result.stage + ']':<{width}}  {status:<6}  {result.message}")
        if result.status == FAILED:
            lines.extend(f"    {f.format()}" for f in result.findings[:20])
    good = sum(w.ok for w in report.workflows)
    lines.append(f"{good} of {len(report.workflows)} workflows built" +
                 ("" if report.ok else "; failures above"))
    return "\n".join(lines) + "\n"


def format_json(report: BuildReport) -> str:
    return json.dumps(report.to_dict(), indent=2, sort_keys=False) + "\n"


def markdown_summary(report: BuildReport) -> str:
    from chartgen.ci import markdown_table

    rows = []
    for w in report.workflows:
        o = w.outputs
        failed = w.failed_stage
        rows.append([w.name, "✅" if w.ok else f"❌ {failed.stage}", o.get("chart_version", ""),
                     o.get("image_digest", ""), o.get("pr_url", ""),
                     failed.message if failed else ""])
    text = "### chartgen build\n\n" + markdown_table(
        ["workflow", "result", "chart version", "image digest", "pull request", "error"], rows)
    for result in report.repository:
        text += f"\n- `{result.stage}`: {result.status} {result.message}"
    return text + "\n"


def ci_outputs(report: BuildReport) -> dict[str, str]:
    """Step outputs / Tekton results. Single values describe the first workflow (a Tekton
    task or a matrix job builds one); lists cover all."""
    first = report.workflows[0].outputs if report.workflows else {}
    return {
        "ok": "true" if report.ok else "false",
        "failed": " ".join(w.name for w in report.workflows if not w.ok),
        "chart-version": first.get("chart_version", ""),
        "image-url": first.get("image", ""),
        "image-digest": first.get("image_digest", ""),
        "pr-url": first.get("pr_url", ""),
        "summary": json.dumps(report.to_dict(), separators=(",", ":")),
    }


def tekton_values(report: BuildReport) -> dict[str, str]:
    first = report.workflows[0].outputs if report.workflows else {}
    return {"IMAGE_URL": first.get("image", ""), "IMAGE_DIGEST": first.get("image_digest", ""),
            "CHART_VERSION": first.get("chart_version", ""), "PR_URL": first.get("pr_url", "")}


class Progress:
    """Per-workflow, per-stage progress on a terminal: one redrawn line per workflow, or, when
    they would not fit on the screen, one redrawn line counting them and naming the running ones."""

    def __init__(self, names: list[str], stream, last_stage: str = "") -> None:
        import shutil

        self.last_stage = last_stage      # a workflow showing "<last_stage> ok" or "... failed" is done
        self.names = [*names, "*"]
        self.stream = stream
        self.state = {n: "waiting" for n in self.names}
        self.drawn = 0
        self.width = max(max(len(n) for n in self.names), 10)
        self.compact = len(self.names) > shutil.get_terminal_size((80, 24)).lines - 2
        self.columns = shutil.get_terminal_size((80, 24)).columns

    def __call__(self, name: str, stage: str, status: str) -> None:
        if name not in self.state:
            return
        self.state[name] = f"{stage} ..." if status == "running" else f"{stage} {status}"
        self.draw()

    def draw(self) -> None:
        if self.compact:
            running = [f"{n} ({v[:-4]})" for n, v in self.state.items() if v.endswith(" ...") and n != "*"]
            done = sum(1 for n, v in self.state.items()
                       if n != "*" and (v.endswith(" failed") or v == f"{self.last_stage} ok"))
            line = f"{done}/{len(self.names) - 1} workflows; running: {', '.join(running) or '-'}"
            self.stream.write("\r\x1b[2K" + line[:max(self.columns - 1, 20)])
            self.drawn = 1
            self.stream.flush()
            return
        out = []
        if self.drawn:
            out.append(f"\x1b[{self.drawn}F")
        for name in self.names:
            label = "repository" if name == "*" else name
            out.append(f"\x1b[2K{label:<{self.width}}  {self.state[name]}\n")
        self.drawn = len(self.names)
        self.stream.write("".join(out))
        self.stream.flush()

    def close(self) -> None:
        if self.drawn:
            self.stream.write("\r\x1b[2K" if self.compact else f"\x1b[{self.drawn}F\x1b[J")
            self.stream.flush()
