#!/usr/bin/env python3
"""The review section of pull request bodies (chartgen.gitops.review) at scale.

N workflow charts (copies of the committed charts/escalation and charts/greeting under new
names) are committed as the base of a local git repository; the working tree then changes
each one (a retry setting, a property, a state's data), as a `pr.grouping: run` pull request
regenerating N workflows would. Phases, in one process, per N:

  base      base_snapshots of every chart: one git archive of the base's charts + Helm renders
  new       new_snapshot of every chart: Helm render of the working tree's chart
  diff      diff_workflow + workflow_section (semantic diff, diagram, unified diffs)
  fit       fit() into the room GitHub's limit leaves
  review    review_section end to end (all of the above)
  helm      helm-python-sdk alone: render every chart twice (base and new), the floor

Prints medians over --repeat runs, milliseconds per workflow, the section's size and what was
cut, and the ratio of review to the helm floor. Timing lives here, never in a pass/fail test.
Usage: python3 benchmarks/bench_pr_review.py [--sizes 1,10,100,1000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from chartgen.gitops.git import Git  # noqa: E402
from chartgen.gitops.model import BODY_LIMIT, ChartChange  # noqa: E402
from chartgen.gitops.review import fit, review_section, workflow_section  # noqa: E402
from chartgen.gitops.semantic import diff_workflow  # noqa: E402
from chartgen.gitops.snapshot import base_snapshots, new_snapshot  # noqa: E402

TEMPLATES = ("escalation", "greeting")
EDITS = {"escalation": [("files/flow.yaml", "maxAttempts: 4", "maxAttempts: 5"),
                        ("files/application.properties", "jira_project=${JIRA_PROJECT:OPS}",
                         "jira_project=${JIRA_PROJECT:OPS2}")],
         "greeting": [("files/flow.yaml", "greeting: Hello", "greeting: Hi"),
                      ("files/application.properties", "quarkus.log.level=INFO", "quarkus.log.level=DEBUG")]}


def git(*args, cwd: Path) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                   env={"GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@x", "GIT_COMMITTER_NAME": "b",
                        "GIT_COMMITTER_EMAIL": "b@x", "PATH": "/usr/bin:/bin"})


def copy_chart(template: str, name: str, charts: Path) -> None:
    target = charts / name
    shutil.copytree(REPO / "charts" / template, target)
    for path in target.rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            if template in text:
                path.write_text(text.replace(template, name), encoding="utf-8")


def make_repo(root: Path, count: int) -> tuple[Git, list[ChartChange]]:
    repo = root / "repo"
    charts = repo / "charts"
    charts.mkdir(parents=True)
    names = []
    for index in range(count):
        template = TEMPLATES[index % len(TEMPLATES)]
        name = f"{template}{index:04d}"
        copy_chart(template, name, charts)
        names.append((template, name))
    git("init", "-q", "-b", "main", cwd=repo)
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "base", cwd=repo)
    git("update-ref", "refs/remotes/origin/main", "HEAD", cwd=repo)
    for template, name in names:
        for rel, old, new in EDITS[template]:
            path = charts / name / rel
            path.write_text(path.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")
    return Git(repo), [ChartChange(name, "0.1.0", "0.1.1") for _t, name in names]


def run_once(count: int) -> dict[str, float | str]:
    import helm_python

    times: dict[str, float | str] = {}
    with tempfile.TemporaryDirectory(prefix="bench-review-") as tmp:
        repo, changes = make_repo(Path(tmp), count)
        run = SimpleNamespace(git=repo, base="main", charts_dir="charts")
        start = time.perf_counter()
        by_name = base_snapshots(repo, "refs/remotes/origin/main", "charts", [c.name for c in changes])
        olds = [by_name[c.name]() for c in changes]
        times["base"] = time.perf_counter() - start
        start = time.perf_counter()
        news = [new_snapshot(repo, "charts", c.name) for c in changes]
        times["new"] = time.perf_counter() - start
        start = time.perf_counter()
        sections = [workflow_section(diff_workflow(c.name, o, n), (o.objects, n.objects), ("", ""))
                    for c, o, n in zip(changes, olds, news)]
        times["diff"] = time.perf_counter() - start
        budget = BODY_LIMIT - 4000
        start = time.perf_counter()
        text = fit(sections, budget)
        times["fit"] = time.perf_counter() - start
        start = time.perf_counter()
        section = review_section(run, changes, budget)
        times["review"] = time.perf_counter() - start
        start = time.perf_counter()
        for change in changes:
            for _ in range(2):
                with helm_python.Chart.load(str(repo.cwd / "charts" / change.name)) as chart:
                    chart.render({}, name=change.name, namespace="default")
        times["helm"] = time.perf_counter() - start
        times["size"] = len(section)
        first = text.split("\n", 1)[0]
        times["cut"] = first[first.index(":") + 2:first.index(". The")] if first.startswith("*Shortened") else "-"
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1,10,100,1000")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"| workflows | base s | new s | diff s | fit s | review s | ms/workflow | helm floor s | review/helm | "
          f"section chars | cut |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for count in (int(n) for n in args.sizes.split(",")):
        runs = [run_once(count) for _ in range(args.repeat)]
        med = {k: statistics.median(r[k] for r in runs) for k in ("base", "new", "diff", "fit", "review", "helm")}
        print(f"| {count} | {med['base']:.2f} | {med['new']:.2f} | {med['diff']:.2f} | {med['fit']:.3f} | "
              f"{med['review']:.2f} | {1000 * med['review'] / count:.1f} | {med['helm']:.2f} | "
              f"{med['review'] / med['helm']:.1f} | {runs[0]['size']} | {runs[0]['cut']} |", flush=True)


if __name__ == "__main__":
    main()
