#!/usr/bin/env python3
"""`chartgen pr` (chartgen.gitops.open_pull_requests) against a local chart repository.

Scenarios, each timed in-process over --repeat runs (median):

  real-first      the workflows of workflow_sources/, real chart generator, a fresh bare
                  repository (file://), forge none: clone, generate, commit, push per workflow
  real-unchanged  the same again: nothing to push (the idempotent path)
  github-first    the same against the GitHub stand-in (git smart HTTP + API, token, no pacing)
  github-again    and again (nothing pushed, open pull requests found)
  fake-first/N    N synthetic workflows with the tests' fake generator: git overhead per workflow

Prints a table with medians, per-workflow figures and ratios to real-first. Timing lives
here, never in a pass/fail test. Usage: python3 benchmarks/bench_pr.py [--repeat 3] [--fake 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from conftest import GITHUB_OPENAPI as OPENAPI  # noqa: E402
from github_standin import GitHubStandin  # noqa: E402
from github_standin.gitrepos import fake_generator, make_chart_repo, write_workflow  # noqa: E402

from chartgen.config import default_config, load_config  # noqa: E402
from chartgen.gitops.engine import open_pull_requests  # noqa: E402
from chartgen.gitops.forges import ForgeOptions  # noqa: E402
from chartgen.sources import discover, load_workflow  # noqa: E402

TOKEN = "ghp_benchmarktoken0123456789"


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--fake", type=int, default=20)
    args = parser.parse_args()
    os.environ["GITHUB_TOKEN"] = TOKEN
    config = load_config(REPO / "chartgen.yaml")
    folders = [load_workflow(p, shared_dir=config.shared_dir) for p in discover(config.sources_dir, config.shared_dir)]
    times: dict[str, list[float]] = {}
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            bare = make_chart_repo(tmp / "plain")

            def local():
                open_pull_requests(folders, config, config_repo=str(bare), forge="none")

            times.setdefault("real-first", []).append(timed(local))
            times.setdefault("real-unchanged", []).append(timed(local))

            hub = GitHubStandin(tmp / "srv", OPENAPI, TOKEN).start()
            try:
                url = hub.add_repo("acme", "charts", make_chart_repo(tmp / "hub"))
                options = ForgeOptions(token=TOKEN, api_url=hub.api_url, seconds_between_requests=0,
                                       seconds_between_writes=0)

                def github():
                    open_pull_requests(folders, config, config_repo=url, forge="github", forge_options=options)

                times.setdefault("github-first", []).append(timed(github))
                times.setdefault("github-again", []).append(timed(github))
                assert not hub.violations, hub.violations
            finally:
                hub.stop()

            sources = tmp / "src"
            for i in range(args.fake):
                write_workflow(sources, f"wf{i:02d}")
            fake_folders = [load_workflow(sources / f"wf{i:02d}") for i in range(args.fake)]
            fake_bare = make_chart_repo(tmp / "fake")
            fake_config = default_config(sources)
            times.setdefault(f"fake-first/{args.fake}", []).append(timed(lambda: open_pull_requests(
                fake_folders, fake_config, config_repo=str(fake_bare), forge="none", generator=fake_generator)))
    base = statistics.median(times["real-first"])
    print(f"{'scenario':<16} {'workflows':>9} {'median s':>9} {'per wf s':>9} {'ratio':>7}")
    for name, values in times.items():
        count = args.fake if name.startswith("fake") else len(folders)
        median = statistics.median(values)
        print(f"{name:<16} {count:>9} {median:>9.2f} {median / count:>9.3f} {median / base:>7.2f}")


if __name__ == "__main__":
    main()
