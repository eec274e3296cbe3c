#!/usr/bin/env python3
"""A synthetic repository of N workflows, for the scale benchmarks and the slow tests.

Each workflow is a copy of one of the samples in workflow_sources/ (round robin) with its
workflow ids (main workflow and subflows) made unique and DNS-1123: `<id>-<nnnn>`; the
shared folder (workflow_sources/shared) is copied once, as the samples use it.

Usage: python3 benchmarks/synthetic.py ROOT [--count 1000]
"""

from __future__ import annotations

import argparse
import re
import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "workflow_sources"
WORKFLOW_SUFFIXES = (".sw.yaml", ".sw.yml", ".sw.json")
CONFIG = "sources: workflow_sources\nshared: workflow_sources/shared\n"


def samples() -> list[Path]:
    return [p for p in sorted(SAMPLES.iterdir()) if p.is_dir() and p.name != "shared"]


def _workflow_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name.endswith(WORKFLOW_SUFFIXES))


def _ids(folder: Path) -> list[str]:
    found = []
    for path in _workflow_files(folder):
        match = re.search(r"^id:\s*['\"]?([A-Za-z0-9._-]+)", path.read_text(encoding="utf-8"), re.M)
        if match:
            found.append(match.group(1))
    return found


def workflow_name(sample: Path, number: int) -> str:
    return f"{sample.name.lower()}-{number:04d}"


def add_workflow(sources: Path, sample: Path, number: int) -> Path:
    """Copy `sample` as workflow number `number`; its ids get the suffix `-<nnnn>`."""
    suffix = f"-{number:04d}"
    target = sources / workflow_name(sample, number)
    shutil.copytree(sample, target, symlinks=True)
    ids = _ids(sample)
    pattern = re.compile(r"^(\s*(?:id|workflowId):\s*['\"]?)(" + "|".join(map(re.escape, ids)) + r")(['\"]?\s*)$",
                         re.M) if ids else None
    for path in _workflow_files(target):
        text = path.read_text(encoding="utf-8")
        if pattern is not None:
            text = pattern.sub(lambda m: m.group(1) + m.group(2) + suffix + m.group(3), text)
        path.write_text(text, encoding="utf-8")
        stem = path.name.split(".", 1)[0]
        if stem in ids:     # the file is named after its id: keep it so
            path.rename(path.with_name(stem + suffix + path.name[len(stem):]))
    return target


def make_repository(root: Path, count: int, *, config: str = CONFIG) -> list[Path]:
    """`root`/workflow_sources with `count` workflows and the shared folder; chartgen.yaml."""
    sources = root / "workflow_sources"
    sources.mkdir(parents=True, exist_ok=True)
    shutil.copytree(SAMPLES / "shared", sources / "shared", dirs_exist_ok=True)
    originals = samples()
    folders = [add_workflow(sources, originals[i % len(originals)], i) for i in range(count)]
    (root / "chartgen.yaml").write_text(config, encoding="utf-8")
    return folders


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("--count", type=int, default=1000)
    args = parser.parse_args()
    make_repository(args.root, args.count)
    print(f"{args.count} workflows in {args.root / 'workflow_sources'}")


if __name__ == "__main__":
    main()
