#!/usr/bin/env python3
"""Speed of `chartgen plan` and `chartgen build` (prints a table; medians; no pass/fail).

1. plan on a git repository with 500 workflow folders (copies of workflow_sources/ and
   the corpus), after a change to a shared schema (the worst case: every folder is
   scanned for shared references) and after a change to one folder. Target < 1 s.
2. `chartgen build --all` (no images) on workflow_sources/ + the 45 corpus folders copied
   into a temp repository: a cold run (target < 10 s), then a second run with nothing
   changed (target < 1 s, identical output).

Usage: python3 benchmarks/bench_plan_build.py [--folders 500] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("CHARTGEN_SHARED", REPO.parent / "shared")) / "corpus"
GIT_ENV = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@example.com",
           "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@example.com"}


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, env=GIT_ENV)


def source_folders() -> list[Path]:
    folders = [p for p in sorted((REPO / "workflow_sources").iterdir()) if p.is_dir() and p.name != "shared"]
    if CORPUS.is_dir():
        folders += [p for p in sorted(CORPUS.glob("*/*")) if p.is_dir() and not p.name.startswith("_")]
    return folders


SNAPSHOT: Path | None = None   # a frozen copy of the package: edits made meanwhile do not count


def chartgen(root: Path, *args: str) -> tuple[float, subprocess.CompletedProcess]:
    env = {**os.environ, "PYTHONPATH": str(SNAPSHOT)} if SNAPSHOT else None
    global LAST_CPU
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "chartgen", *args], cwd=root, capture_output=True, text=True,
                          env=env)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    LAST_CPU = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, proc


LAST_CPU = 0.0   # user+sys seconds of the last chartgen run and its workers (load-independent)


def make_repository(root: Path, count: int) -> None:
    sources = root / "workflow_sources"
    sources.mkdir(parents=True)
    shutil.copytree(REPO / "workflow_sources" / "shared", sources / "shared")
    originals = source_folders()
    for i in range(count):
        original = originals[i % len(originals)]
        shutil.copytree(original, sources / f"{original.name.lower()}-{i:03d}", symlinks=True)
    (root / "chartgen.yaml").write_text("sources: workflow_sources\nshared: workflow_sources/shared\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "base")


def bench_plan(count: int, repeat: int) -> list[tuple]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-plan-") as tmp:
        root = Path(tmp)
        make_repository(root, count)
        shared_file = next(p for p in sorted((root / "workflow_sources" / "shared").rglob("*.json")))
        shared_file.write_text(shared_file.read_text() + "\n")
        some_folder = sorted((root / "workflow_sources").iterdir())[1]
        (some_folder / "application.properties").write_text("changed=1\n")
        git(root, "add", "-A")
        git(root, "commit", "-q", "-m", "change")
        from chartgen.config import load_config
        from chartgen.plan import plan

        config = load_config(root / "chartgen.yaml")
        times, affected = [], 0
        for _ in range(repeat):
            start = time.perf_counter()
            affected = len(plan(config, "HEAD~1").workflows)
            times.append(time.perf_counter() - start)
        rows.append((f"plan library, {count} folders, shared + 1 folder changed", statistics.median(times),
                     1.0, f"{affected} affected"))
        times, cpus = [], []
        for _ in range(repeat):
            elapsed, proc = chartgen(root, "plan", "--since", "HEAD~1")
            assert proc.returncode == 0, proc.stderr
            times.append(elapsed)
            cpus.append(LAST_CPU)
        rows.append((f"chartgen plan (CLI, process start included), {count} folders", statistics.median(times),
                     1.0, f"cpu {statistics.median(cpus):.2f} s; {len(proc.stdout.split())} affected"))
        git(root, "commit", "-q", "--allow-empty", "-m", "nothing")
        (root / "README.md").write_text("x\n")
        times = []
        for _ in range(repeat):
            elapsed, proc = chartgen(root, "plan", "--since", "HEAD~1", "--committed-only")
            times.append(elapsed)
        rows.append((f"chartgen plan, nothing affected, {count} folders", statistics.median(times), 1.0,
                     f"{len(proc.stdout.split())} affected"))
    return rows


def bench_build(repeat: int) -> list[tuple]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-build-") as tmp:
        root = Path(tmp)
        sources = root / "workflow_sources"
        sources.mkdir()
        shutil.copytree(REPO / "workflow_sources" / "shared", sources / "shared")
        for folder in source_folders():
            target = sources / folder.name
            if target.exists():
                target = sources / f"{folder.parent.name.split('+')[0]}-{folder.name}"
            shutil.copytree(folder, target, symlinks=True)
        (root / "chartgen.yaml").write_text((REPO / "chartgen.yaml").read_text())
        count = len([p for p in sources.iterdir() if p.name != "shared"])
        elapsed, cold = chartgen(root, "build", "--all")
        built = cold.stdout.strip().splitlines()[-1] if cold.stdout.strip() else cold.stderr[-300:]
        rows.append((f"chartgen build --all, cold, {count} folders", elapsed, 10.0, f"cpu {LAST_CPU:.2f} s; {built}"))
        warm_times, identical, cpus = [], True, []
        for _ in range(repeat):
            elapsed, warm = chartgen(root, "build", "--all")
            warm_times.append(elapsed)
            cpus.append(LAST_CPU)
            identical &= (warm.stdout == cold.stdout and warm.returncode == cold.returncode)
        rows.append((f"chartgen build --all, nothing changed, {count} folders", statistics.median(warm_times),
                     1.0, f"cpu {statistics.median(cpus):.2f} s; " + ("identical output" if identical
                                                                       else "OUTPUT DIFFERS")))
        touched = next(p for p in sorted(sources.iterdir()) if p.name != "shared")
        (touched / "application.properties").write_text(
            ((touched / "application.properties").read_text() if (touched / "application.properties").exists()
             else "") + "\nbench.touch=1\n")
        elapsed, _ = chartgen(root, "build", "--all")
        rows.append((f"chartgen build --all, 1 of {count} folders changed", elapsed, 10.0,
                     f"cpu {LAST_CPU:.2f} s; {touched.name}"))
        elapsed, _ = chartgen(root, "--version")
        rows.append(("chartgen --version", elapsed, 0.15, f"cpu {LAST_CPU:.2f} s"))
        # Processes or threads? helm's Go calls release the GIL, the Python stages do not.
        base = (REPO / "chartgen.yaml").read_text()
        for label, setting in (("processes", "executor: process"), ("threads", "executor: thread"),
                               ("serial", "parallelism: 1")):
            (root / "chartgen.yaml").write_text(base.replace("build:\n", f"build:\n  {setting}\n  cache: ''\n", 1))
            times, cpus = [], []
            for _ in range(max(1, repeat // 2)):
                shutil.rmtree(root / "charts", ignore_errors=True)
                shutil.rmtree(root / "dist", ignore_errors=True)
                elapsed, proc = chartgen(root, "build", "--all")
                times.append(elapsed)
                cpus.append(LAST_CPU)
            rows.append((f"chartgen build --all, cold, no cache, {label}", statistics.median(times), 10.0,
                         f"cpu {statistics.median(cpus):.2f} s; "
                         + (proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr[-200:])))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--folders", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--only", choices=["plan", "build"])
    args = parser.parse_args()
    global SNAPSHOT
    snapshot = tempfile.TemporaryDirectory(prefix="bench-chartgen-")
    SNAPSHOT = Path(snapshot.name)
    shutil.copytree(REPO / "chartgen", SNAPSHOT / "chartgen",
                    ignore=shutil.ignore_patterns("__pycache__"))
    sys.path.insert(0, str(SNAPSHOT))
    rows = []
    if args.only != "build":
        rows += bench_plan(args.folders, args.repeat)
    if args.only != "plan":
        rows += bench_build(args.repeat)
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores "
          "(wall times scale with it; cpu = user+sys of chartgen and its workers)")
    print(f"{'case':<66} {'median s':>9} {'target s':>9} {'ratio':>6}  note")
    for name, seconds, target, note in rows:
        print(f"{name:<66} {seconds:>9.3f} {target:>9.2f} {seconds / target:>6.2f}  {note}")


if __name__ == "__main__":
    main()
