#!/usr/bin/env python3
"""The cost of continuing the published history, at 1,000 workflows.

1. Before writing charts, `chartgen build` reads the newest published version of every chart
   it builds from the published index. Here: an index of 1,000 charts x 20 versions (20,000
   entries, chart-releaser's YAML and chartgen's JSON) served over HTTP on 127.0.0.1, asked
   for all 1,000 charts: chartgen's `read_published` vs Helm's own index reader
   (helm-python-sdk `repo_index`, the Go SDK's download + parse) followed by the same newest-
   version pick in Python. The answers are checked equal.
2. `chartgen adopt` on a chart repository of 1,000 hand-made charts (a local bare git
   repository, one SonataFlow template each) for 1,000 workflow folders: clone, read every
   chart, match, plan (no chartgen.yaml written).

Usage: python3 benchmarks/bench_adoption.py [--repeat N] [--charts 1000] [--versions 20]
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import http.server
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def index_yaml(charts: int, versions: int) -> str:
    out = ["apiVersion: v1\nentries:\n"]
    for c in range(charts):
        name = f"workflow-{c:04d}"
        out.append(f"  {name}:\n")
        for v in range(versions - 1, -1, -1):
            digest = hashlib.sha256(f"{name}-{v}".encode()).hexdigest()
            out.append(f"  - apiVersion: v2\n    created: \"2024-12-01T10:00:{v % 60:02d}.000000000Z\"\n"
                       f"    description: {name}\n    digest: {digest}\n    name: {name}\n    urls:\n"
                       f"    - https://github.com/acme/charts/releases/download/{name}-1.{v}.0-rc0/"
                       f"{name}-1.{v}.0-rc0.tgz\n    version: 1.{v}.0-rc0\n")
    out.append("generated: \"2024-12-18T10:00:00Z\"\n")
    return "".join(out)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def serve(folder: Path):
    handler = functools.partial(_Quiet, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def timed(function, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def helm_newest(url: str, names: list[str]) -> dict:
    import helm_python

    from chartgen.repo.index import newest_version

    data = helm_python.repo_index(url)
    found = {}
    for name in names:
        versions = data["entries"].get(name) or []
        version = newest_version(versions)
        if version is not None:
            found[name] = version
    return found


def chart_repository(root: Path, charts: int) -> Path:
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@x", "GIT_COMMITTER_NAME": "b",
           "GIT_COMMITTER_EMAIL": "b@x"}
    seed, bare = root / "seed", root / "charts.git"
    subprocess.run(["git", "init", "-q", "-b", "main", str(seed)], check=True)
    for c in range(charts):
        chart = seed / "charts" / f"flow-{c:04d}.x"
        (chart / "templates").mkdir(parents=True)
        (chart / "Chart.yaml").write_text(f"apiVersion: v2\nname: flow-{c:04d}\nversion: 1.4.0-rc0\n")
        (chart / "templates" / f"04-sonataflow_flow{c}.yaml").write_text(
            f"apiVersion: sonataflow.org/v1alpha08\nkind: SonataFlow\nmetadata:\n  name: flow{c}\nspec: {{}}\n")
    subprocess.run(["git", "add", "-A"], cwd=seed, check=True, env=env)
    subprocess.run(["git", "commit", "-q", "-m", "charts"], cwd=seed, check=True, env=env)
    subprocess.run(["git", "clone", "-q", "--bare", str(seed), str(bare)], check=True)
    return bare


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--charts", type=int, default=1000)
    parser.add_argument("--versions", type=int, default=20)
    args = parser.parse_args()

    from chartgen.repo.published import read_published
    from chartgen.repo.writing import write_repository_files
    from chartgen.repo.reading import parse_index

    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-adoption-") as tmp:
        tmp = Path(tmp)
        text = index_yaml(args.charts, args.versions)
        names = [f"workflow-{c:04d}" for c in range(args.charts)]
        (tmp / "yaml").mkdir()
        (tmp / "yaml" / "index.yaml").write_text(text)
        (tmp / "json").mkdir()
        write_repository_files(parse_index(text), tmp / "json", fmt="json", html=False)
        server, url = serve(tmp)
        try:
            for layout in ("yaml", "json"):
                place = f"{url}/{layout}"
                ours, published = timed(lambda: read_published([place], names), args.repeat)
                helm, found = timed(lambda: helm_newest(place, names), args.repeat)
                assert {n: v for n, (v, _h) in published.versions.items()} == found, "different answers"
                size = (tmp / layout / "index.yaml").stat().st_size
                rows.append((f"newest of {args.charts} charts, {args.charts * args.versions} entries, "
                             f"{layout} ({size // 1024} KiB)", ours, helm))
        finally:
            server.shutdown()

        from chartgen.adopt import adopt_repository
        from chartgen.config import load_config

        bare = chart_repository(tmp / "charts", args.charts)
        src = tmp / "src"
        for c in range(args.charts):
            folder = src / "workflows" / f"flow-{c:04d}.x"
            folder.mkdir(parents=True)
            (folder / "flow.sw.yaml").write_text(f"id: flow{c}\nversion: '1.0'\nspecVersion: '0.8'\nstart: A\n"
                                                 "states:\n  - name: A\n    type: inject\n    data: {}\n    end: true\n")
        (src / "chartgen.yaml").write_text("sources: workflows\n")
        config = load_config(src / "chartgen.yaml")
        adopt, result = timed(lambda: adopt_repository(config, str(bare), dry_run=True), max(1, args.repeat // 2))
        mapped = sum(1 for a in result.plan.adoptions if a.existing is not None)
        assert mapped == args.charts and len(result.plan.mapping) == args.charts
        rows.append((f"adopt: {args.charts} workflows x {args.charts} charts (clone, read, match)", adopt, None))

    print(f"| case | chartgen (median of {args.repeat}) | helm-python-sdk + pick | ratio |")
    print("| --- | --- | --- | --- |")
    for label, ours, helm in rows:
        ratio = f"{helm / ours:.1f}x" if helm else "—"
        print(f"| {label} | {ours * 1000:.0f} ms | {helm * 1000:.0f} ms | {ratio} |" if helm else
              f"| {label} | {ours * 1000:.0f} ms | — | — |")


if __name__ == "__main__":
    main()
