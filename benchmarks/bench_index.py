#!/usr/bin/env python3
"""Add one chart to a large existing Helm repository index: Helm vs chartgen.

The existing index has 400 charts x 50 versions (20,000 entries, ~8 MB of YAML, laid out
as `helm repo index` writes it). The job: index a folder holding one new chart archive,
merging the existing index (`helm repo index DIR --merge INDEX`). Both tools run in this
process on identical copies: helm-python-sdk's `repo_index_generate(dir, merge=...)`
(Helm 4 Go SDK) and chartgen's `update_index(dir, url, merge=...)`.

Two cases: the existing index as Helm's YAML, and as chartgen writes it (JSON in
index.yaml, which Helm >= 3.13 also reads). The resulting entry sets are checked equal
(digest, URLs, metadata; `created` compared as instants, except for the new entry).

Usage: python3 benchmarks/bench_index.py [--repeat N] [--charts 400] [--versions 50]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

BASE_URL = "https://charts.example.test"


def synthetic_entries(charts: int, versions: int) -> dict:
    entries = {}
    for c in range(charts):
        name = f"workflow-{c:03d}"
        items = []
        for v in range(versions - 1, -1, -1):
            items.append({
                "annotations": {"orchestrator.io/operator-versions": ">=1.5.0 <1.7.0"},
                "apiVersion": "v2", "appVersion": f"1.{v}.0",
                "created": f"2025-{1 + v % 12:02d}-{1 + c % 28:02d}T10:{v % 60:02d}:{c % 60:02d}.{c:03d}{v + 1:03d}Z",
                "description": f"Serverless workflow {name}",
                "digest": hashlib.sha256(f"{name}-{v}".encode()).hexdigest(),
                "name": name, "type": "application",
                "urls": [f"{BASE_URL}/{name}-0.{v}.0.tgz"], "version": f"0.{v}.0"})
        entries[name] = items
    return entries


def helm_style_yaml(entries: dict, generated: str) -> str:
    """The layout sigs.k8s.io/yaml gives `helm repo index` (keys sorted, indentless lists)."""
    out = ["apiVersion: v1\nentries:\n"]
    for name in sorted(entries):
        out.append(f"  {name}:\n")
        for e in entries[name]:
            out.append(
                "  - annotations:\n"
                + "".join(f"      {k}: '{v}'\n" if v[:1] in ">*&!" else f"      {k}: {v}\n"
                          for k, v in sorted(e["annotations"].items()))
                + f"    apiVersion: {e['apiVersion']}\n    appVersion: {e['appVersion']}\n"
                f"    created: \"{e['created']}\"\n    description: {e['description']}\n"
                f"    digest: {e['digest']}\n    name: {e['name']}\n    type: {e['type']}\n"
                f"    urls:\n    - {e['urls'][0]}\n    version: {e['version']}\n")
    out.append(f'generated: "{generated}"\n')
    return "".join(out)


def instant(text) -> tuple:
    """An RFC 3339 time as (UTC datetime to the second, nanoseconds): Helm rewrites
    `created` with trailing zeros trimmed, so compare instants, not text."""
    match = re.match(r"(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$", str(text))
    zone = "+00:00" if match.group(3) == "Z" else match.group(3)
    return datetime.fromisoformat(match.group(1) + zone), int((match.group(2) or "").ljust(9, "0"))


def entry_set(path: Path, new_name: str) -> set:
    import yaml

    text = path.read_text()
    data = json.loads(text) if text.lstrip().startswith("{") else yaml.load(text, Loader=yaml.CSafeLoader)
    result = set()
    for name, items in data["entries"].items():
        for e in items:
            created = None if name == new_name else instant(e["created"])
            rest = {k: v for k, v in e.items() if k != "created"}
            result.add((name, e["version"], created, json.dumps(rest, sort_keys=True)))
    return result


def median_time(fn, repeat: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(repeat):
        setup = fn()
        start = time.perf_counter()
        setup()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--charts", type=int, default=400)
    parser.add_argument("--versions", type=int, default=50)
    args = parser.parse_args()

    import helm_python

    from chartgen.repo.reading import parse_index
    from chartgen.repo.update import update_index
    from chartgen.repo.writing import dump_json_index
    from chartgen.repo.package import package_chart

    work = Path(tempfile.mkdtemp(prefix="bench-index-"))
    try:
        entries = synthetic_entries(args.charts, args.versions)
        existing_yaml = work / "existing.yaml"
        existing_yaml.write_text(helm_style_yaml(entries, "2025-12-01T00:00:00Z"))
        existing_json = work / "existing-json.yaml"
        existing_json.write_text(dump_json_index(parse_index(json.dumps(
            {"apiVersion": "v1", "entries": entries, "generated": "2025-12-01T00:00:00Z"}))))
        chart = work / "src" / "workflow-new"
        shutil.copytree(REPO / "tests" / "fixtures" / "publish" / "charts" / "hello", chart)
        (chart / "Chart.yaml").write_text((chart / "Chart.yaml").read_text().replace("name: hello", "name: workflow-new"))
        archive = package_chart(chart, work / "archive").path
        total = sum(len(v) for v in entries.values())
        print(f"existing index: {total} entries ({args.charts} charts x {args.versions} versions); "
              f"YAML {existing_yaml.stat().st_size / 1e6:.1f} MB, JSON {existing_json.stat().st_size / 1e6:.1f} MB; "
              f"new archive {archive.name}; {args.repeat} runs each\n")

        def fresh_dir(tag: str) -> Path:
            folder = work / f"run-{tag}-{time.perf_counter_ns()}"
            folder.mkdir()
            shutil.copy(archive, folder)
            return folder

        rows = []
        for label, existing in (("existing index as YAML (helm's layout)", existing_yaml),
                                ("existing index as JSON (chartgen's layout)", existing_json)):
            outputs = {}

            def helm_job(existing=existing, outputs=outputs):
                folder = fresh_dir("helm")
                outputs["helm"] = folder
                return lambda: helm_python.repo_index_generate(folder, base_url=BASE_URL, merge=existing)

            def chartgen_job(existing=existing, outputs=outputs, html=False):
                folder = fresh_dir("chartgen")
                outputs["chartgen" + ("-html" if html else "")] = folder
                return lambda: update_index(folder, BASE_URL, merge=existing, html=html)

            helm_median, helm_times = median_time(helm_job, args.repeat)
            ours_median, ours_times = median_time(chartgen_job, args.repeat)
            html_median, _ = median_time(lambda: chartgen_job(html=True), 1 if "YAML" in label else args.repeat)
            same = entry_set(outputs["helm"] / "index.yaml", "workflow-new") == \
                entry_set(outputs["chartgen"] / "index.yaml", "workflow-new")
            rows.append((label, helm_median, ours_median, html_median, same))
            print(f"{label}\n  helm-python-sdk repo_index_generate: median {helm_median:.3f} s "
                  f"({', '.join(f'{t:.2f}' for t in helm_times)})\n"
                  f"  chartgen update_index:               median {ours_median:.3f} s "
                  f"({', '.join(f'{t:.3f}' for t in ours_times)})\n"
                  f"  chartgen update_index + index.html:  median {html_median:.3f} s\n"
                  f"  same entries: {same}; speed-up {helm_median / ours_median:.1f}x\n")

        # The command as a user runs it (new interpreter, imports included), JSON case.
        folder = fresh_dir("cli")
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "chartgen", "index", str(folder), "--url", BASE_URL,
                        "--merge", str(existing_json), "--no-html"], check=True, capture_output=True, cwd=work)
        cli_json = time.perf_counter() - start
        folder = fresh_dir("cli")
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "chartgen", "index", str(folder), "--url", BASE_URL,
                        "--merge", str(existing_yaml), "--no-html"], check=True, capture_output=True, cwd=work)
        cli_yaml = time.perf_counter() - start

        print("| existing index | helm (s) | chartgen (s) | ratio | chartgen + html (s) | same entries |")
        print("|---|---|---|---|---|---|")
        for label, helm_median, ours_median, html_median, same in rows:
            print(f"| {label} | {helm_median:.3f} | {ours_median:.3f} | {helm_median / ours_median:.1f}x | "
                  f"{html_median:.3f} | {same} |")
        print(f"\n`chartgen index` CLI, one run incl. interpreter start: JSON {cli_json:.3f} s, YAML {cli_yaml:.3f} s")
        if not all(row[4] for row in rows):
            sys.exit("entry sets differ")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
