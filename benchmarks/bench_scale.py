#!/usr/bin/env python3
"""`chartgen build --all` at scale (prints a table; no pass/fail), on synthetic repositories
(benchmarks/synthetic.py: N copies of the samples with unique ids):

- cold: a first `build --all` (validate, render, chart, lint, package, umbrella, index);
- no-op: the same again, nothing changed (targets: < 1 s at 1,000 workflows);
- one change: one workflow's application.properties edited (target < 2 s at 1,000,
  umbrella included);
- assembly (--assembly): `chartgen plan --format github-matrix` in 3 shards, each shard
  built on its own copy, then the assembly step (umbrella + index from the shards' charts
  and archives), timed alone.

Seconds, and seconds per workflow; the umbrella's largest files. Each size runs once (a
cold build of 1,000 workflows takes minutes on 2 cores); `--repeat` medians the warm runs.

Usage: python3 benchmarks/bench_scale.py [--sizes 50,200,1000] [--repeat 3] [--assembly]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic import make_repository  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SNAPSHOT: Path | None = None   # a frozen copy of the package: edits made meanwhile do not count


def chartgen(root: Path, *args: str, check: bool = True) -> tuple[float, subprocess.CompletedProcess]:
    env = {**os.environ, "PYTHONPATH": str(SNAPSHOT or REPO)}
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "chartgen", *args], cwd=root, capture_output=True, text=True,
                          env=env)
    elapsed = time.perf_counter() - start
    if check and proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-15:])
        print(f"chartgen {' '.join(args)} failed ({proc.returncode}) in {root}:\n{tail}", file=sys.stderr)
    return elapsed, proc


def largest_files(chart: Path, count: int = 3) -> str:
    files = sorted((p for p in chart.iterdir() if p.is_file()), key=lambda p: -p.stat().st_size)[:count]
    return ", ".join(f"{p.name} {p.stat().st_size / 1024:.0f} KB" for p in files)


def bench_size(count: int, repeat: int, assembly: bool) -> dict:
    row: dict = {"n": count}
    with tempfile.TemporaryDirectory(prefix=f"bench-scale-{count}-") as tmp:
        root = Path(tmp) / "repo"
        make_repository(root, count)
        row["cold"], proc = chartgen(root, "build", "--all")
        row["cold_ok"] = proc.returncode == 0
        noop = []
        for _ in range(repeat):
            elapsed, proc = chartgen(root, "build", "--all")
            noop.append(elapsed)
        row["noop"] = statistics.median(noop)
        row["noop_ok"] = proc.returncode == 0
        changed = []
        folders = sorted(p for p in (root / "workflow_sources").iterdir() if p.name != "shared")
        for i in range(repeat):
            with (folders[(i * 7) % len(folders)] / "application.properties").open("a") as handle:
                handle.write(f"\nbench.change={i}\n")
            elapsed, proc = chartgen(root, "build", "--all")
            changed.append(elapsed)
        row["change"] = statistics.median(changed)
        row["change_ok"] = proc.returncode == 0
        umbrella = root / "charts" / "workflows"
        row["files"] = largest_files(umbrella) if umbrella.is_dir() else "-"
        if assembly:
            row.update(bench_assembly(Path(tmp), root))
    return row


def bench_assembly(tmp: Path, root: Path, shards: int = 3) -> dict:
    """Shards built on copies of `root` (charts and dist removed), then the assembly step."""
    for name in ("charts", "dist", ".chartgen"):
        shutil.rmtree(root / name, ignore_errors=True)
    _, proc = chartgen(root, "plan", "--all", "--format", "github-matrix", "--shards", str(shards))
    matrix = json.loads(proc.stdout)
    shard_times = []
    outputs = []
    for number, entry in enumerate(matrix["include"]):
        copy = tmp / f"shard-{number}"
        shutil.copytree(root, copy)
        elapsed, proc = chartgen(copy, "build", "--shard", *entry["folders"].split())
        shard_times.append(elapsed)
        outputs.append(copy)
    for copy in outputs:
        shutil.copytree(copy / "charts", root / "charts", dirs_exist_ok=True)
        shutil.copytree(copy / "dist", root / "dist", dirs_exist_ok=True)
    elapsed, proc = chartgen(root, "build", "--assemble")
    return {"shard_max": max(shard_times), "assemble": elapsed, "assemble_ok": proc.returncode == 0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="50,200,1000", help="comma-separated workflow counts")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--assembly", action="store_true", help="also time sharded builds and the assembly")
    args = parser.parse_args()
    global SNAPSHOT
    with tempfile.TemporaryDirectory(prefix="bench-scale-code-") as code:
        SNAPSHOT = Path(code)
        shutil.copytree(REPO / "chartgen", SNAPSHOT / "chartgen", ignore=shutil.ignore_patterns("__pycache__"))
        # Byte-compiled once, as `pip install` does: with PYTHONDONTWRITEBYTECODE set (some CI
        # images set it) every run would compile chartgen again, a third of a no-op's time.
        import compileall

        compileall.compile_dir(SNAPSHOT / "chartgen", quiet=1)
        run(args)


def run(args) -> None:
    rows = []
    for n in args.sizes.split(","):
        rows.append(bench_size(int(n), args.repeat, args.assembly))
        print(f"measured {n}: {rows[-1]}", file=sys.stderr, flush=True)
    print(f"{'workflows':>9}  {'cold s':>8}  {'s/wf':>6}  {'no-op s':>8}  {'1 change s':>10}  umbrella's largest files")
    for r in rows:
        flag = lambda ok: "" if ok else " FAILED"
        print(f"{r['n']:>9}  {r['cold']:>8.1f}  {r['cold'] / r['n']:>6.3f}  {r['noop']:>8.2f}  "
              f"{r['change']:>10.2f}  {r['files']}{flag(r['cold_ok'])}{flag(r['noop_ok'])}{flag(r['change_ok'])}")
    if args.assembly:
        print(f"\n{'workflows':>9}  {'slowest shard s':>15}  {'assembly s':>10}")
        for r in rows:
            print(f"{r['n']:>9}  {r['shard_max']:>15.1f}  {r['assemble']:>10.2f}{'' if r['assemble_ok'] else ' FAILED'}")


if __name__ == "__main__":
    main()
