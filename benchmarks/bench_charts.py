#!/usr/bin/env python3
"""Generate and lint the Helm charts of all of ../shared/corpus (the issue's budget: < 5 s).

Every corpus folder that `chartgen render` accepts gets a chart (the others cannot have
one: several main workflows, ids that are no Kubernetes names); all charts go into one
charts folder with the umbrella chart over them. Phases, in one process:

  load      load_workflow of every folder (sources stage)
  generate  generate_charts: render, templates, values, schema, README, write, umbrella
  lint      lint_charts of every chart + the umbrella: helm lint --strict, yamllint,
            Chart.yaml schema, duplicate objects (no git check: a temp folder)
  again     generate_charts once more with nothing changed (every version kept)

Prints medians over --repeat runs (fresh folder each) and the ratio of load+generate+lint
to the 5 s budget. Timing lives here, never in a pass/fail test.
Usage: python3 benchmarks/bench_charts.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from chartgen.chart import generate_charts, lint_charts  # noqa: E402
from chartgen.config import load_config  # noqa: E402
from chartgen.errors import ChartgenError  # noqa: E402
from chartgen.manifests import render_manifests, render_options  # noqa: E402
from chartgen.sources import load_workflow  # noqa: E402

CORPUS = Path(os.environ.get("CHARTGEN_SHARED", REPO.parent / "shared")) / "corpus"
BUDGET = 5.0


def renderable(config) -> list[Path]:
    folders = [p for p in sorted(CORPUS.glob("*/*")) if p.is_dir() and not p.name.startswith(("_", "."))]
    good = []
    for folder in folders:
        try:
            render_manifests(load_workflow(folder), render_options(config.render))
            good.append(folder)
        except ChartgenError:
            pass
    return good


class Phase:
    """Wall and CPU time (all threads of the process, Helm's Go threads included) of a block."""

    def __init__(self, times: dict, name: str) -> None:
        self.times, self.name = times, name

    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def __exit__(self, *exc):
        self.times[self.name] = time.perf_counter() - self.wall
        self.times[self.name + " cpu"] = time.process_time() - self.cpu


def one_run(config, folders: list[Path]) -> dict[str, float]:
    times: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-charts-") as tmp:
        out = Path(tmp) / "charts"
        with Phase(times, "load"):
            loaded = [load_workflow(folder) for folder in folders]
        with Phase(times, "generate"):
            results = generate_charts(loaded, config, out_dir=out)
        chart_dirs = [p for p in sorted(out.iterdir()) if (p / "Chart.yaml").is_file()]
        with Phase(times, "lint"):
            findings = lint_charts(chart_dirs, config, since=None)
        with Phase(times, "lint-build"):    # the build's lint stage: no run per ci/*-values.yaml
            lint_charts(chart_dirs, config, since=None, ci_values=False)
        if findings:
            raise SystemExit("lint findings:\n" + "\n".join(f.format() for f in findings[:20]))
        with Phase(times, "again"):
            again = generate_charts([load_workflow(folder) for folder in folders], config, out_dir=out)
        assert not any(r.changed for r in again) and len(results) == len(folders)
        times["charts"] = len(chart_dirs)
        times["files"] = sum(1 for _ in out.rglob("*") if _.is_file())
        shutil.rmtree(out)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if not CORPUS.is_dir():
        raise SystemExit(f"{CORPUS} is absent")
    config = load_config(REPO / "chartgen.yaml")
    if not config.image.tag:   # corpus workflows without a `version` need a default image tag
        from dataclasses import replace

        config = config.with_overrides(image=replace(config.image, tag="bench"))
    folders = renderable(config)
    one_run(config, folders)  # warm-up: imports, Helm library load
    runs = [one_run(config, folders) for _ in range(args.repeat)]
    median = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
    total = median["load"] + median["generate"] + median["lint"]
    total_cpu = median["load cpu"] + median["generate cpu"] + median["lint cpu"]
    print(f"corpus: {len(folders)} renderable folders -> {int(median['charts']) - 1} charts "
          f"(+ umbrella), {int(median['files'])} files; {args.repeat} runs, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f} (other work on the machine slows the wall times)")
    print(f"{'phase':<10} {'wall s':>8} {'cpu s':>8} {'wall ms/chart':>14}")
    for key in ("load", "generate", "lint", "lint-build", "again"):
        print(f"{key:<10} {median[key]:>8.3f} {median[key + ' cpu']:>8.3f} {1000 * median[key] / len(folders):>14.1f}")
    print(f"{'total':<10} {total:>8.3f} {total_cpu:>8.3f} {1000 * total / len(folders):>14.1f}   "
          f"(load+generate+lint, wall: {total / BUDGET:.0%} of the {BUDGET:.0f} s budget)")


if __name__ == "__main__":
    main()
