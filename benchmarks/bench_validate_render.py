#!/usr/bin/env python3
"""Speed of `chartgen --version` and of validate + render over ../shared/corpus.

Targets (issue 2): `chartgen --version` < 150 ms; validate + render of the 45 corpus
folders < 2 s on the 2-core CI machine. Prints medians of N runs per phase and the
ratio to the target. Usage:

    python3 benchmarks/bench_validate_render.py [--runs 5] [--version-runs 20] [--corpus DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

VERSION_TARGET = 0.150
CORPUS_TARGET = 2.0


def corpus_folders(corpus: Path) -> list[Path]:
    return sorted(p for p in corpus.glob("*/*") if p.is_dir() and not p.name.startswith("_"))


def one_pass(folders, validate_folder, out_root: Path) -> dict[str, float]:
    """Load, validate, render and write every folder once; seconds per phase."""
    from chartgen.errors import ChartgenError
    from chartgen.manifests import RenderOptions, render_manifests, write_manifests
    from chartgen.sources import load_workflow

    times = dict.fromkeys(("load", "validate", "render", "write"), 0.0)
    options = RenderOptions(image="quay.io/o/wf:1")
    cpu_start = time.process_time()
    for index, folder in enumerate(folders):
        start = time.perf_counter()
        workflow_folder = load_workflow(folder)
        _ = workflow_folder.document  # parse the main workflow here, not in a later phase
        times["load"] += time.perf_counter() - start
        if validate_folder is not None:
            start = time.perf_counter()
            validate_folder(workflow_folder)
            times["validate"] += time.perf_counter() - start
        start = time.perf_counter()
        try:
            manifests = render_manifests(workflow_folder, options)
        except ChartgenError:
            manifests = None
        times["render"] += time.perf_counter() - start
        if manifests:
            cpu_pause = time.process_time()
            start = time.perf_counter()
            write_manifests(manifests, out_root / f"{index:02d}")
            times["write"] += time.perf_counter() - start
            cpu_start += time.process_time() - cpu_pause  # CPU figure: load+validate+render only
    times["cpu"] = time.process_time() - cpu_start
    times["total"] = sum(times[k] for k in ("load", "validate", "render", "write"))
    return times


def version_startup(runs: int) -> tuple[float, float]:
    """Median wall time of `chartgen --version` and of a bare `python3 -c pass`."""
    exe = shutil.which("chartgen")
    command = [exe, "--version"] if exe else [sys.executable, "-m", "chartgen", "--version"]

    def median_of(cmd):
        samples = []
        for _ in range(runs):
            start = time.perf_counter()
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
            samples.append(time.perf_counter() - start)
        return statistics.median(samples)

    return median_of(command), median_of([sys.executable, "-c", "pass"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--version-runs", type=int, default=20)
    parser.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "corpus")
    args = parser.parse_args()

    try:
        from chartgen.validation import validate_folder
    except ImportError as exc:  # the validation package may not exist yet
        print(f"note: validation not available ({exc}); timing render only")
        validate_folder = None

    version, python_floor = version_startup(args.version_runs)
    print(f"chartgen --version   median of {args.version_runs}: {version * 1000:7.1f} ms  "
          f"(target {VERSION_TARGET * 1000:.0f} ms, ratio {version / VERSION_TARGET:.2f}; "
          f"bare python3 {python_floor * 1000:.1f} ms)")

    folders = corpus_folders(args.corpus)
    if not folders:
        print(f"corpus {args.corpus} absent: skipping the corpus benchmark")
        return 0
    runs = []
    with tempfile.TemporaryDirectory(prefix="chartgen-bench-") as tmp:
        for run in range(args.runs):
            runs.append(one_pass(folders, validate_folder, Path(tmp) / str(run)))
    print(f"\ncorpus: {len(folders)} folders, median of {args.runs} runs (first run included)")
    print(f"{'phase':<10}{'median s':>10}{'min s':>10}{'max s':>10}")
    for phase in ("load", "validate", "render", "write", "total"):
        values = [r[phase] for r in runs]
        print(f"{phase:<10}{statistics.median(values):>10.3f}{min(values):>10.3f}{max(values):>10.3f}")
    target_phases = statistics.median([r["load"] + r["validate"] + r["render"] for r in runs])
    cpu = statistics.median([r["cpu"] for r in runs])
    print(f"\nload+validate+render: {target_phases:.3f} s wall, {cpu:.3f} s CPU (target {CORPUS_TARGET:.1f} s, "
          f"ratio {target_phases / CORPUS_TARGET:.2f} wall, {cpu / CORPUS_TARGET:.2f} CPU); writing adds "
          f"{statistics.median([r['write'] for r in runs]):.3f} s")
    print(f"load average now: {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
          "(wall times grow when other jobs share the 2 cores)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
