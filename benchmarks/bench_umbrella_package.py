#!/usr/bin/env python3
"""Package the umbrella chart of N workflows after one workflow changed: chartgen's
`package_chart` (with the build's package cache, without, with an empty one) vs `helm package`
(helm-python-sdk, in process) of the same folder.

The umbrella is made as `chartgen build` makes it: `charts/workflows/` with its own files and,
per workflow, `charts/<name>/` holding hard links to the workflow chart's files (Chart.yaml a
copy), written to a fresh folder (copies still current moved over) and swapped in. By default the workflow charts are N copies
of charts/greeting (renamed, file times a day old as in a checkout); `--charts DIR` uses a
built repository's charts folder instead (its umbrella's own files are kept, its sub-charts
linked again; the folder is copied first).

Each repetition changes one workflow chart (a line appended to its values.yaml, written anew),
regenerates the umbrella with the next version, then times, each in a fresh Python process
(modules imported before the clock):
- chartgen, one change: `package_chart(umbrella, out, cache=CACHE)`, CACHE as the previous
  repetition left it (what `chartgen build` does);
- chartgen, unchanged: the same again (nothing changed since);
- chartgen, no cache: `package_chart(umbrella, out)` (`--no-cache`, or the build cache off);
- chartgen, empty cache: into an empty cache folder (a first build);
- chartgen before (with `--before TREE`: the chartgen of another checkout, e.g. main);
- helm: `helm_python.package(umbrella, destination=out)`.
The table gives medians; the run checks that every chartgen variant wrote the same bytes, and
that Helm loads the archive with every sub-chart.

Usage: python3 benchmarks/bench_umbrella_package.py [--count 1000] [--repeat 5]
       [--charts DIR] [--before /path/to/other/checkout] [--folder /var/tmp]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SOURCE = REPO / "charts" / "greeting"
UMBRELLA = "workflows"
OLD = time.time() - 86400


def make_workflow_charts(charts: Path, count: int) -> None:
    chart_yaml = (SOURCE / "Chart.yaml").read_text()
    for i in range(count):
        dest = charts / f"wf-{i:04d}"
        shutil.copytree(SOURCE, dest)
        (dest / "Chart.yaml").write_text(chart_yaml.replace("name: greeting", f"name: wf-{i:04d}"))
    top = charts / ".umbrella-top"
    (top / "templates").mkdir(parents=True)
    names = sorted(p.name for p in charts.iterdir() if p.name.startswith("wf-"))
    (top / "Chart.yaml").write_text("apiVersion: v2\nname: workflows\nversion: 0.1.0\ndependencies:\n" + "".join(
        f"- name: {n}\n  version: 0.1.0-rc.4\n  condition: {n}.enabled\n" for n in names))
    (top / "values.yaml").write_text("".join(f"{n}:\n  enabled: false\n" for n in names))
    (top / "values.schema.json").write_text(json.dumps({"type": "object", "properties": {
        n: {"type": "object", "properties": {"enabled": {"type": "boolean"}}} for n in names}}, indent=2))
    (top / "README.md").write_text("".join(f"- {n}\n" for n in names))
    (top / "templates" / "NOTES.txt").write_text("The workflows.\n")
    for root, _dirs, files in os.walk(charts):
        for name in files:
            os.utime(os.path.join(root, name), (OLD, OLD))


def adopt_charts(source: Path, charts: Path) -> None:
    """A built repository's charts: workflow charts copied, the umbrella's own files kept."""
    shutil.copytree(source, charts, symlinks=True, ignore=lambda d, names: [n for n in names if n == UMBRELLA])
    umbrella = source / UMBRELLA
    shutil.copytree(umbrella, charts / ".umbrella-top", ignore=lambda d, names: ["charts"] if Path(d) == umbrella else [])


def _current(copy: Path, chart: Path) -> bool:
    """Whether the umbrella's copy of a workflow chart still holds its files (same links,
    same Chart.yaml), as generate_umbrella judges it."""
    if not copy.is_dir():
        return False
    mine = {str(p.relative_to(copy)): p for p in copy.rglob("*") if p.is_file()}
    theirs = {str(p.relative_to(chart)): p for p in chart.rglob("*") if p.is_file() and p.name != ".chartgen"}
    if mine.keys() != theirs.keys():
        return False
    return all(mine[rel].read_bytes() == theirs[rel].read_bytes() if rel == "Chart.yaml"
               else mine[rel].stat().st_ino == theirs[rel].stat().st_ino for rel in mine)


def regenerate(charts: Path, version: int) -> Path:
    """The umbrella written anew as generate_umbrella writes it: its own files, and per
    workflow chart a copy (hard links, Chart.yaml copied), the copies still current moved over
    as they are; swapped in."""
    top = charts / ".umbrella-top"
    fresh = charts / f".{UMBRELLA}.tmp"
    umbrella = charts / UMBRELLA
    shutil.copytree(top, fresh)
    chart_yaml = fresh / "Chart.yaml"
    chart_yaml.write_text(re.sub(r"(?m)^version: .*$", f"version: 0.1.{version}", chart_yaml.read_text(), count=1))
    dependencies = set(re.findall(r"(?m)^- name: (\S+)", chart_yaml.read_text()))
    (fresh / "charts").mkdir(exist_ok=True)
    for sub in sorted(p for p in charts.iterdir() if p.name in dependencies):
        if _current(umbrella / "charts" / sub.name, sub):
            os.rename(umbrella / "charts" / sub.name, fresh / "charts" / sub.name)
            continue
        for root, _dirs, files in os.walk(sub):
            rel = Path(root).relative_to(sub)
            (fresh / "charts" / sub.name / rel).mkdir(parents=True, exist_ok=True)
            for name in files:
                if name == ".chartgen":
                    continue
                if rel == Path(".") and name == "Chart.yaml":
                    shutil.copyfile(Path(root) / name, fresh / "charts" / sub.name / name)
                else:
                    os.link(Path(root) / name, fresh / "charts" / sub.name / rel / name)
    if umbrella.exists():
        os.rename(umbrella, charts / f".{UMBRELLA}.old")
    os.rename(fresh, umbrella)
    shutil.rmtree(charts / f".{UMBRELLA}.old", ignore_errors=True)
    return umbrella


def change_one(charts: Path, run: int) -> None:
    chart = sorted(p for p in charts.iterdir() if (p / "Chart.yaml").is_file() and p.name != UMBRELLA
                   and not p.name.startswith("."))[0]
    values = chart / "values.yaml"
    text = values.read_text() + f"# change {run}\n"
    tmp = values.with_name(".values.yaml.new")
    tmp.write_text(text)
    os.replace(tmp, values)      # a new file, as chartgen writes a chart


# --- one measured run, in its own process -------------------------------------------------

def worker(job: str, umbrella: str, out: str, cache: str) -> None:
    if job == "helm":
        import helm_python

        def run():
            Path(out).mkdir(parents=True, exist_ok=True)
            return hashlib.sha256(Path(helm_python.package(umbrella, destination=out)).read_bytes()).hexdigest()
    else:
        import importlib

        # imported before the clock, as helm_python is (a build has them loaded when it packages)
        for module in ("yaml", "chartgen.yamlio", "chartgen.repo.versions", "chartgen.repo.packcache"):
            try:
                importlib.import_module(module)
            except ImportError:
                pass       # an older chartgen (--before) has no package cache
        from chartgen.repo.package import package_chart

        def run():
            if job == "before":
                return package_chart(Path(umbrella), Path(out)).digest
            return package_chart(Path(umbrella), Path(out), cache=Path(cache) if cache else None).digest
    start = time.perf_counter()
    digest = run()
    print(json.dumps({"seconds": time.perf_counter() - start, "digest": digest}))


def measure(job: str, umbrella: Path, out: Path, cache: Path | None = None, tree: Path = REPO) -> tuple[float, str]:
    env = dict(os.environ, PYTHONPATH=str(tree))
    done = subprocess.run([sys.executable, __file__, "--worker", job, str(umbrella), str(out), str(cache or "")],
                          check=True, capture_output=True, text=True, cwd=tree, env=env)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    shutil.rmtree(out, ignore_errors=True)
    return result["seconds"], result["digest"]


def helm_loads(archive_dir: Path, count: int) -> bool:
    import helm_python

    archive = next(archive_dir.glob("*.tgz"))
    with helm_python.Chart.load(archive) as chart:
        return len(chart.metadata.get("dependencies") or []) == count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--charts", help="a built repository's charts folder (copied)")
    parser.add_argument("--before", help="another chartgen checkout to time as well (e.g. /work/main)")
    parser.add_argument("--folder", default="/var/tmp")
    parser.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(*args.worker)      # chartgen from PYTHONPATH: this checkout's, or --before's
        return
    sys.path.insert(0, str(REPO))

    work = Path(tempfile.mkdtemp(prefix="bench-umbrella-", dir=args.folder))
    try:
        charts = work / "charts"
        if args.charts:
            adopt_charts(Path(args.charts), charts)
        else:
            charts.mkdir()
            make_workflow_charts(charts, args.count)
        count = len(re.findall(r"(?m)^- name: ", (charts / ".umbrella-top" / "Chart.yaml").read_text()))
        cache = work / "cache"
        umbrella = regenerate(charts, 0)
        measure("chartgen", umbrella, work / "out", cache)          # the previous build
        jobs = ["chartgen, one change", "chartgen, unchanged", "chartgen, no cache", "chartgen, empty cache"] \
            + (["chartgen before"] if args.before else []) + ["helm package"]
        times: dict[str, list[float]] = {job: [] for job in jobs}
        same = True
        for run in range(1, args.repeat + 1):
            change_one(charts, run)
            umbrella = regenerate(charts, run)
            digests = set()
            for job in jobs:
                if job == "helm package":
                    seconds, _ = measure("helm", umbrella, work / "out")
                    times[job].append(seconds)
                    continue
                shutil.rmtree(work / "empty", ignore_errors=True)
                folder = {"chartgen, no cache": None, "chartgen, empty cache": work / "empty"}.get(job, cache)
                tree = Path(args.before) if job == "chartgen before" else REPO
                seconds, digest = measure("before" if job == "chartgen before" else "chartgen", umbrella,
                                          work / "out", folder, tree)
                times[job].append(seconds)
                if job != "chartgen before":
                    digests.add(digest)
            same = same and len(digests) == 1
            print(f"run {run}: " + ", ".join(f"{job} {times[job][-1]:.2f} s" for job in jobs), flush=True)
        out = work / "check"
        from chartgen.repo.package import package_chart

        package_chart(umbrella, out, cache=cache)
        loads = helm_loads(out, count)
        files = sum(len(f) for _, _, f in os.walk(umbrella))
        size = next(out.glob("*.tgz")).stat().st_size
    finally:
        shutil.rmtree(work, ignore_errors=True)

    helm = statistics.median(times["helm package"])
    print(f"\nUmbrella of {count:,} workflows ({files:,} files, archive {size / 1e6:.1f} MB), "
          f"one workflow changed; medians of {args.repeat}:\n")
    print("| packaging | time | helm package / it |")
    print("|---|---|---|")
    for job in jobs:
        median = statistics.median(times[job])
        print(f"| {job} | {median:.2f} s | {helm / median:.1f}x |")
    print(f"\nsame bytes with and without the cache: {'yes' if same else 'NO'}; "
          f"Helm loads the archive with every sub-chart: {'yes' if loads else 'NO'}")
    if not (same and loads):
        sys.exit(1)


if __name__ == "__main__":
    main()
