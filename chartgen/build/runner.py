"""`chartgen build`: every stage for each workflow, in parallel, skipped by content hash.

A workflow stops at its first failing stage with that stage's error; the others go on.
Consecutive per-workflow stages (`chartgen.build.stages`) run as one job per workflow,
several at once (`build.parallelism`, processes by default: rendering and linting are
CPU-bound Python, so threads would share one core). Repository stages run once, on the
workflows still healthy. Results are replayed from the build cache (`chartgen.build.cache`)
when nothing they read changed.
"""

from __future__ import annotations

import gc
import os
import sys
from concurrent.futures import Executor, ThreadPoolExecutor, as_completed
from dataclasses import replace
from pathlib import Path
from typing import Callable

from chartgen import limits
from chartgen.build.cache import (BuildCache, common_key, files_seen, input_hash, looked_at, memo_to_keep, replayable,
                                  repository_key, repository_output_hash, sources_to_keep, use_file_memo,
                                  use_source_memo)
from chartgen.build.ids import repository_ids
from chartgen.build.options import FAILED, OK, SKIPPED, BuildOptions, BuildReport, StageResult, WorkflowReport
from chartgen.build.stages import STAGE_BY_NAME, Job, Stage, WorkflowState, relative_paths, selected_stages
from chartgen.build.stamps import forget
from chartgen.errors import ChartgenError, Finding, UsageError, redact
from chartgen.fsutil import identity


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
    from concurrent.futures import ProcessPoolExecutor   # multiprocessing: only a run with work to share needs it

    return ProcessPoolExecutor(max_workers=workers, mp_context=_process_context(),
                               initializer=_init_worker, initargs=(queue,))


def _parallelism(config, count: int) -> tuple[str, int]:
    workers = config.build.parallelism or os.cpu_count() or 1
    workers = max(1, min(workers, count))
    kind = config.build.executor
    if kind == "auto":
        kind = "process" if workers > 1 else "inline"
    return kind, workers


def _run_batch(states: list[WorkflowState], names: tuple[str, ...], config, options: BuildOptions,
               progress: Callable | None, done: Callable[[WorkflowState], None] = lambda state: None) -> None:
    """Run the stages `names` for each healthy state; `done(state)` as each one ends, in that order."""
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
            done(state)
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
            for future in as_completed(futures):
                state = futures[future]
                try:
                    results, outputs = future.result()
                except Exception as exc:  # a crashed worker: this workflow fails, the rest go on
                    text = f"worker failed: {type(exc).__name__}: {redact(str(exc))}"
                    results, outputs = [StageResult(names[0], FAILED, text,
                                                     (Finding(str(state.folder), 0, 0, "error", text,
                                                              "build-internal-error"),))], state.outputs
                state.stages.extend(results)
                state.outputs = outputs
                done(state)
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
          progress: Callable[[str, str, str], None] | None = None,
          finished: Callable[[WorkflowReport], None] | None = None,
          everything: list[Path] | None = None) -> BuildReport:
    """Build `folders` (workflow folders) through the selected stages. Never raises for bad
    input in one workflow: its report says where it stopped. `finished(report)` is called once
    per workflow, as soon as no stage will add to its report (it failed, or its last stage
    ran), in the order they finish. `everything`: every workflow folder of the repository when
    the caller found them already (`--all`), else they are looked for here."""
    stages = selected_stages(options)
    # The last stage that adds to a workflow's report: a per-workflow stage, or pr (one result each).
    last_own = max([i for i, s in enumerate(stages) if s.scope == "workflow" or s.name == "pr"], default=-1)
    told: set[str] = set()

    def tell(state: WorkflowState, through: int) -> None:
        """`finished` for a workflow whose report is complete after stage number `through`."""
        if finished is not None and state.name not in told and (state.failed or through >= last_own):
            told.add(state.name)
            finished(WorkflowReport(state.name, shown[state.name], tuple(state.stages)))

    names_seen: dict[str, Path] = {}
    for folder in folders:
        name = Path(folder).name
        if name in ("", ".", "..") or os.path.islink(folder):
            name = Path(folder).resolve().name
        if name in names_seen and not os.path.samefile(names_seen[name], folder):
            raise UsageError(f"two workflow folders named {name!r}: {names_seen[name]} and {folder}",
                             code="build-duplicate-name")
        names_seen[name] = Path(folder)
    states = [WorkflowState(Path(f), n) for n, f in sorted(names_seen.items())]
    shown = dict(zip((s.name for s in states), relative_paths((s.folder for s in states), config.root)))

    cache_setting = config.build.cache
    cache = BuildCache(config.resolve(cache_setting) if (cache_setting and options.use_cache) else None)
    # The cache's records (tens of thousands of lists at 1,000 workflows) live until the end:
    # kept out of the cyclic collector's full passes while the build runs.
    gc.freeze()
    try:
        return _build(states, shown, cache, config, options, progress, tell, last_own, everything, folders)
    finally:
        gc.unfreeze()


def _build(states, shown, cache, config, options, progress, tell, last_own, everything, folders) -> BuildReport:
    """`build` once its workflows are named and its cache is loaded."""
    from chartgen.plan import SharedIndex
    from chartgen.sources import discover

    stages = selected_stages(options)
    recorded_memos = {memo: cache.data.get(memo) if cache.path else None for memo in ("files", "chart_yamls", "digests")}
    use_source_memo(cache.data.get("sources") if cache.path else None)
    _, uses_seen = use_file_memo(cache.data.get("files") if cache.path else None,
                                 cache.data.get("uses") if cache.path else None)
    from chartgen.repo.archive import use_digest_memo

    digests_seen = use_digest_memo(cache.data.get("digests") if cache.path else None)
    from chartgen.chart.versioning import chart_yaml_memo

    chart_yamls_seen = chart_yaml_memo(cache.data.get("chart_yamls") if cache.path else None)
    if options.repository_ids is None:
        if everything is None:
            try:
                everything = discover(config.sources_dir, config.shared_dir if config.shared_dir.is_dir() else None)
            except UsageError:
                everything = []
        known = {identity(f) or os.path.abspath(f): Path(f) for f in [*everything, *folders]}
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
        common = common_key(config, options)
        for state in states:
            keys[state.name] = input_hash(state.folder, config, options, shared, common)
            hit = cache.lookup(state.name, keys[state.name], config, leading_names) if cache.path else None
            if hit is not None:
                state.stages, state.outputs = list(hit[0]), dict(hit[1])
                state.cached = True
                if progress is not None:
                    for result in state.stages:
                        progress(state.name, result.stage, result.status)
                tell(state, len(leading_names) - 1)
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
            _run_batch(pending, batch_names, config, options, progress, lambda s, end=index - 1: tell(s, end))
            if pending:                             # the stages wrote these charts (and archives)
                forget(config.resolve(s.outputs["chart_path"]) for s in pending if s.outputs.get("chart_path"))
            if batch_names == leading_names and cache.path:
                for state in states:
                    if not state.cached:
                        cache.store(state.name, keys[state.name], state.stages, state.outputs, config)
            continue
        index += 1
        key = repository_key(stage.name, config, options) if (cache.path and stage.cacheable) else None
        recorded = cache.data.setdefault("repository", {}).get(stage.name, {}) if key else {}
        intact = bool(key and recorded.get("result")) and repository_output_hash(
            stage.name, recorded["result"].get("outputs", {}), config, recorded.get("entries"))[0] \
            == recorded.get("output_hash")
        if intact:
            same = recorded.get("key") == key
            if not same and recorded.get("content") == repository_key(stage.name, config, options, content=True):
                same, recorded["key"] = True, key     # inputs rewritten with the same bytes
            if same:
                replayed = StageResult.from_dict(recorded["result"])
                repository_results.append(replayed)
                if replayed.status == FAILED:      # the same failure, told again without redoing it
                    for state in states:
                        tell(state, index - 1)
                    break
                continue
        earlier = {r.stage: dict(r.outputs) for r in repository_results}
        result = _run_repository_stage(stage, states, config, options, progress, earlier)
        # The umbrella stage writes the umbrella and removes the charts of deleted workflows
        # (which no later look visits); the others write no chart.
        forget([config.charts_dir / config.chart.umbrella_name] if stage.name == "umbrella" else [], intact=intact)
        repository_results.append(result)
        for state in states:
            tell(state, index - 1)
        if key:
            # Keyed on what the stage reads *after* it ran (it may have written part of it).
            # A failure is kept too: a rerun with nothing changed says it again at once
            # (`--no-cache` tries again).
            written, entries = repository_output_hash(stage.name, dict(result.outputs), config)
            cache.data["repository"][stage.name] = {
                "key": repository_key(stage.name, config, options),
                "content": repository_key(stage.name, config, options, content=True),
                "result": replayable(result).to_dict(),
                "output_hash": written, "entries": entries}
        if result.status == FAILED and stage.name in ("umbrella", "index", "publish"):
            # Nothing after a failed repository stage can be trusted for any workflow.
            break
    for state in states:        # the rest, after a repository stage failed
        tell(state, last_own)
    if cache.path:
        stamps = looked_at(config.dist_dir)
        for memo, seen_now in (("files", files_seen()), ("chart_yamls", chart_yamls_seen), ("digests", digests_seen)):
            cache.data[memo] = memo_to_keep(seen_now, recorded_memos[memo], stamps, vouched=memo != "files")
        from chartgen.chart.versioning import content_entries_to_keep

        cache.data["chart_yamls"].update(content_entries_to_keep(recorded_memos["chart_yamls"],
                                                                 cache.data["chart_yamls"]))
        cache.data["uses"] = dict(sorted(uses_seen.items()))
        cache.data["sources"] = sources_to_keep()
        from chartgen.chart.lintcache import prune

        prune(cache.path.parent / "lint")     # where the lint stages keep their results
        try:
            cache.save()
        except OSError:
            pass
    reports = tuple(WorkflowReport(s.name, shown[s.name], tuple(s.stages)) for s in states)
    return BuildReport(reports, tuple(repository_results), tuple(s.name for s in states if s.cached))
