#!/usr/bin/env python3
"""Package many charts: `helm package` (helm-python-sdk, in process) vs chartgen's `package_chart`.

N copies of a generated chart (charts/greeting, renamed) are packaged into an empty output
folder, on an ext4 folder and on tmpfs (/dev/shm), by default 200 and 1,000 charts:

- helm: `helm_python.package(chart, destination=out)` for each chart (Helm 4's Go SDK; its
  archives carry the files' times, so they are not reproducible);
- chartgen: `package_chart(chart, out)` for each chart (reproducible archive, checked
  as `helm package` checks a chart);
- chartgen, again: the same into the folder the previous chartgen run filled (every archive
  unchanged: nothing written).

Each run is a fresh Python process (modules imported before the clock starts, on both sides);
the jobs are interleaved, the table gives medians and the ratio helm / chartgen. The run
also checks that chartgen's archives are the same bytes in every run and that Helm loads one
with the chart folder's files.

Usage: python3 benchmarks/bench_package.py [--repeat N] [--counts 200,1000]
       [--folders ext4=/var/tmp,tmpfs=/dev/shm]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
SOURCE = REPO / "charts" / "greeting"


def make_charts(root: Path, count: int) -> list[Path]:
    chart_yaml = (SOURCE / "Chart.yaml").read_text()
    charts = []
    for i in range(count):
        dest = root / f"wf-{i:04d}"
        shutil.copytree(SOURCE, dest)
        (dest / "Chart.yaml").write_text(chart_yaml.replace("name: greeting", f"name: wf-{i:04d}"))
        charts.append(dest)
    return charts


# --- one measured run, in its own process -------------------------------------------------

def worker(job: str, source: str, out: str) -> None:
    charts = sorted(p for p in Path(source).iterdir() if (p / "Chart.yaml").is_file())
    out_path = Path(out)
    if job == "helm":
        import helm_python

        def run():
            out_path.mkdir(parents=True, exist_ok=True)
            for chart in charts:
                helm_python.package(chart, destination=out_path)
    else:
        import yaml  # noqa: F401  (imported before the clock, as helm_python is)

        import chartgen.repo.package  # noqa: F401
        from chartgen.repo.package import package_chart

        def run():
            for chart in charts:
                package_chart(chart, out_path)
    start = time.perf_counter()
    run()
    print(json.dumps({"seconds": time.perf_counter() - start}))


def measure(job: str, source: Path, out: Path) -> float:
    done = subprocess.run([sys.executable, __file__, "--worker", job, str(source), str(out)],
                          check=True, capture_output=True, text=True, cwd=REPO)
    return json.loads(done.stdout.strip().splitlines()[-1])["seconds"]


def digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*.tgz"))}


def helm_sees_the_folder(archive: Path, chart: Path) -> bool:
    """Helm loads the archive with the chart folder's templates and files, byte for byte."""
    import helm_python

    with helm_python.Chart.load(archive) as loaded:
        seen = {f["name"]: f["data"] for f in loaded.templates + loaded.files}
        name = loaded.metadata["name"]
    wanted = {str(p.relative_to(chart)): p.read_text() for p in chart.rglob("*") if p.is_file()
              and p.name not in (".chartgen", "Chart.yaml", "values.yaml", "values.schema.json")}
    return seen == wanted and name == chart.name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--counts", default="200,1000")
    parser.add_argument("--folders", default="ext4=/var/tmp,tmpfs=/dev/shm",
                        help="LABEL=FOLDER,... where the charts and archives are written")
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(*args.worker)
        return

    rows = []
    for spec in args.folders.split(","):
        label, _, folder = spec.partition("=")
        for count in (int(n) for n in args.counts.split(",")):
            work = Path(tempfile.mkdtemp(prefix="bench-package-", dir=folder))
            try:
                make_charts(work / "src", count)
                times: dict[str, list[float]] = {"helm": [], "chartgen": [], "chartgen, again": []}
                runs: list[dict[str, str]] = []
                for run in range(args.repeat):
                    times["helm"].append(measure("helm", work / "src", work / f"helm-{run}"))
                    out = work / f"chartgen-{run}"
                    times["chartgen"].append(measure("chartgen", work / "src", out))
                    times["chartgen, again"].append(measure("chartgen", work / "src", out))
                    runs.append(digests(out))
                    shutil.rmtree(work / f"helm-{run}")
                reproducible = len(runs[0]) == count and all(r == runs[0] for r in runs)
                last = work / f"chartgen-{args.repeat - 1}"
                loads = helm_sees_the_folder(last / "wf-0000-0.1.0-rc.4.tgz", work / "src" / "wf-0000")
                med = {job: statistics.median(t) for job, t in times.items()}
                rows.append((label, count, med, reproducible and loads))
                print(f"{label} {count}: " + ", ".join(f"{job} " + " ".join(f"{t:.2f}" for t in ts) + " s"
                                                       for job, ts in times.items()), flush=True)
            finally:
                shutil.rmtree(work, ignore_errors=True)

    print("\n| file system | charts | helm package | chartgen package | ratio | chartgen, again (unchanged) "
          "| ratio | reproducible, Helm loads it |")
    print("|---|---|---|---|---|---|---|---|")
    for label, count, med, ok in rows:
        print(f"| {label} | {count:,} | {med['helm']:.2f} s | {med['chartgen']:.2f} s | "
              f"{med['helm'] / med['chartgen']:.1f}x | {med['chartgen, again']:.2f} s | "
              f"{med['helm'] / med['chartgen, again']:.1f}x | {'yes' if ok else 'NO'} |")
    if not all(row[3] for row in rows):
        sys.exit("chartgen's archives differ between runs, or Helm does not load them as the folder")


if __name__ == "__main__":
    main()
