#!/usr/bin/env python3
"""Add one chart to a large existing Helm repository index: Helm vs chartgen, with and without index.html.

The existing index has CHARTS x VERSIONS entries (default two sizes: 400 x 50 = 20,000 and
2,000 x 50 = 100,000), laid out as `helm repo index` writes it (YAML) or as chartgen writes
it (JSON in index.yaml, which Helm >= 3.13 also reads). The job: index a folder holding one
new chart archive, merging the existing index (`helm repo index DIR --merge INDEX`):

- helm: helm-python-sdk's `repo_index_generate(dir, merge=...)` (Helm 4's Go SDK);
- chartgen: `update_index(dir, url, merge=..., html=False)`;
- chartgen + html: the same with index.html (the default), the previous run's
  catalogue.json lying next to the merged index as a publication finds it;
- html, cold: index.html with no previous catalogue.json (the first run on an index made by
  another tool: every chart's card is made from its block).

Each run is a fresh Python process (modules imported before the clock starts, on both sides);
the table gives medians of the call's wall time and the process's peak memory (VmHWM, the
peak resident set; ru_maxrss would carry the parent's over).
The entry sets of Helm's and chartgen's results are checked equal (digest, URLs, metadata;
`created` compared as instants, except for the new entry).

Usage: python3 benchmarks/bench_index.py [--repeat N] [--sizes 400x50,2000x50]
"""

from __future__ import annotations

import argparse
import gzip
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
NEW_CHART = "workflow-new"


def synthetic_entries(charts: int, versions: int) -> dict:
    entries = {}
    for c in range(charts):
        name = f"workflow-{c:03d}"
        items = []
        for v in range(versions - 1, -1, -1):
            items.append({
                "annotations": {"chartgen.io/operator-versions": ">=1.36.0 <1.38.0",
                                "chartgen.io/workflow-type": "assessment" if c % 3 == 0 else "infrastructure"},
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


# --- one measured run, in its own process -------------------------------------------------

def worker(job: str, folder: str, existing: str) -> None:
    """Run one job and print {"seconds", "maxrss_mb"} as JSON."""
    folder_path, existing_path = Path(folder), Path(existing)
    if job == "helm":
        import helm_python

        def run():
            helm_python.repo_index_generate(folder_path, base_url=BASE_URL, merge=existing_path)
    else:
        import jinja2  # noqa: F401  (imported before the clock, as helm_python is)
        import semver  # noqa: F401
        import yaml  # noqa: F401

        import chartgen.repo.pages  # noqa: F401
        from chartgen.repo.update import update_index

        def run():
            update_index(folder_path, BASE_URL, merge=existing_path, html=job != "chartgen")
    start = time.perf_counter()
    run()
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "maxrss_mb": peak_memory_mb()}))


def peak_memory_mb() -> float:
    """This process's peak resident memory: VmHWM, not ru_maxrss, which Linux carries over
    from the parent across fork and exec (a large parent would set every child's figure)."""
    import resource

    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(job: str, folder: Path, existing: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, "--worker", job, str(folder), str(existing)],
                         check=True, capture_output=True, text=True, cwd=REPO)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sizes", default="400x50,2000x50", help="CHARTSxVERSIONS,... (default: 20k and 100k entries)")
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(*args.worker)
        return

    from chartgen.repo.html import PageOptions
    from chartgen.repo.package import package_chart
    from chartgen.repo.pages import write_catalogue
    from chartgen.repo.reading import load_index, parse_index
    from chartgen.repo.writing import dump_json_index

    work = Path(tempfile.mkdtemp(prefix="bench-index-"))
    rows, pages = [], []
    try:
        chart = work / "src" / NEW_CHART
        shutil.copytree(REPO / "tests" / "fixtures" / "publish" / "charts" / "hello", chart)
        (chart / "Chart.yaml").write_text((chart / "Chart.yaml").read_text().replace("name: hello", f"name: {NEW_CHART}"))
        archive = package_chart(chart, work / "archive").path
        for size in args.sizes.split(","):
            charts, versions = (int(n) for n in size.split("x"))
            entries = synthetic_entries(charts, versions)
            total = charts * versions
            texts = {"YAML (helm's layout)": helm_style_yaml(entries, "2025-12-01T00:00:00Z"),
                     "JSON (chartgen's layout)": dump_json_index(parse_index(json.dumps(
                         {"apiVersion": "v1", "entries": entries, "generated": "2025-12-01T00:00:00Z"})))}
            del entries
            for label, text in texts.items():
                warm, cold = work / f"warm-{size}-{label[:4]}", work / f"cold-{size}-{label[:4]}"
                for folder in (warm, cold):
                    folder.mkdir()
                    (folder / "index.yaml").write_text(text)
                # the previous run's page data, as a publication finds it next to the index
                write_catalogue(load_index(warm / "index.yaml"), warm, PageOptions(base_url=BASE_URL))
                results: dict[str, list[dict]] = {}
                outputs: dict[str, Path] = {}
                jobs = (("helm", warm), ("chartgen", warm), ("chartgen-html", warm), ("chartgen-html-cold", cold))
                for run in range(args.repeat):
                    for job, existing in jobs:  # interleaved, so that load from others hits all alike
                        folder = work / f"out-{job}-{size}-{label[:4]}-{run}"
                        folder.mkdir()
                        shutil.copy(archive, folder)
                        results.setdefault(job, []).append(measure(job.replace("-cold", ""), folder,
                                                                   existing / "index.yaml"))
                        outputs[job] = folder
                same = entry_set(outputs["helm"] / "index.yaml", NEW_CHART) == \
                    entry_set(outputs["chartgen-html"] / "index.yaml", NEW_CHART)
                med = {job: statistics.median(r["seconds"] for r in runs) for job, runs in results.items()}
                mem = {job: statistics.median(r["maxrss_mb"] for r in runs) for job, runs in results.items()}
                rows.append((f"{total:,}", label, len(text) / 1e6, med, mem, same))
                page = outputs["chartgen-html"]
                html, data = (page / "index.html").read_bytes(), (page / "catalogue.json").read_bytes()
                pages.append((f"{total:,}", label, len(html), len(gzip.compress(html)), len(data),
                              len(gzip.compress(data))))
                times = {job: " ".join("%.2f" % r["seconds"] for r in runs) for job, runs in results.items()}
                print(f"{total:,} entries, {label}: " + ", ".join(f"{job} {t} s" for job, t in times.items()), flush=True)
            del texts

        print("\n| entries | existing index | helm merge | chartgen | ratio | chartgen + index.html | ratio "
              "| html, no previous catalogue | ratio | peak memory helm | peak memory chartgen + html | memory ratio "
              "| peak memory, no previous catalogue | same entries |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for total, label, megabytes, med, mem, same in rows:
            print(f"| {total} | {label}, {megabytes:.1f} MB | {med['helm']:.2f} s | {med['chartgen']:.2f} s | "
                  f"{med['helm'] / med['chartgen']:.0f}x | {med['chartgen-html']:.2f} s | "
                  f"{med['helm'] / med['chartgen-html']:.0f}x | {med['chartgen-html-cold']:.2f} s | "
                  f"{med['helm'] / med['chartgen-html-cold']:.1f}x | "
                  f"{mem['helm']:.0f} MB | {mem['chartgen-html']:.0f} MB | "
                  f"1/{mem['helm'] / mem['chartgen-html']:.1f} | {mem['chartgen-html-cold']:.0f} MB | {same} |")
        print("\n| entries | existing index | index.html | gzip | catalogue.json | gzip |")
        print("|---|---|---|---|---|---|")
        for total, label, html, html_gz, data, data_gz in pages:
            print(f"| {total} | {label} | {html / 1e3:,.0f} kB | {html_gz / 1e3:,.0f} kB | {data / 1e3:,.0f} kB "
                  f"| {data_gz / 1e3:,.0f} kB |")

        # The command as a user runs it (new interpreter, imports included), JSON case, with html.
        last = work / f"warm-{args.sizes.split(',')[-1]}-JSON"
        folder = work / "cli"
        folder.mkdir()
        shutil.copy(archive, folder)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "chartgen", "index", str(folder), "--url", BASE_URL,
                        "--merge", str(last / "index.yaml")], check=True, capture_output=True, cwd=work)
        print(f"\n`chartgen index --merge` CLI with index.html ({last.name}), one run incl. interpreter start: "
              f"{time.perf_counter() - start:.2f} s")
        if not all(row[5] for row in rows):
            sys.exit("entry sets differ")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
