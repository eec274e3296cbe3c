#!/usr/bin/env python3
"""Workflow image builds with buildah (vfs storage, chroot isolation) against stand-in base images.

Starts a docker-registry on 127.0.0.1, builds and pushes the busybox stand-ins for the
SonataFlow builder and the JDK runtime (tests/fixtures/image/standins), then times
`chartgen.image.build_image` on workflow_sources/greeting (in-process, with --push):

  cold      fresh image store: pulls the base images, every step runs
  workflow  the same store after a change to greeting.sw.yaml only (lib/ layer reused)
  nothing   the same store, nothing changed (every step cached)

Prints medians over --repeat runs and the ratios to the cold build. Timing lives here, never
in a pass/fail test. Usage: python3 benchmarks/bench_image.py [--repeat 3] [--driver vfs]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from oci_registry import start_registry  # noqa: E402
from test_image_build import build_standins  # noqa: E402

from chartgen.config import load_config  # noqa: E402
from chartgen.image import build_image  # noqa: E402
from chartgen.sources import load_workflow  # noqa: E402


def project(tmp: Path, registry: str, storage: Path, driver: str) -> Path:
    root = tmp / "project"
    shutil.copytree(REPO / "workflow_sources" / "greeting", root / "workflow_sources" / "greeting")
    shutil.copytree(REPO / "workflow_sources" / "shared", root / "workflow_sources" / "shared")
    (root / "chartgen.yaml").write_text(
        f"image:\n  registry: {registry}/bench\n  storageDriver: {driver}\n  storageRoot: {storage}/root\n"
        f"  runRoot: {storage}/run\n  isolation: chroot\n  tlsVerify: false\n  logDir: logs\n")
    return root


def timed_build(root: Path, refs: tuple[str, str], tag: str) -> float:
    config = load_config(root / "chartgen.yaml")
    folder = load_workflow(root / "workflow_sources" / "greeting")
    started = time.perf_counter()
    result = build_image(folder, config, builder="buildah", tags=[tag], push=True,
                         builder_image=refs[0], runtime_image=refs[1], source_commit="0" * 40)
    elapsed = time.perf_counter() - started
    assert result.digest, "no digest"
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--driver", default="vfs", help="buildah storage driver (vfs, overlay)")
    args = parser.parse_args()
    times: dict[str, list[float]] = {"cold": [], "workflow": [], "nothing": []}
    with tempfile.TemporaryDirectory(prefix="bench-image-") as scratch:
        tmp = Path(scratch)
        registry, stop = start_registry(tmp / "registry")
        try:
            started = time.perf_counter()
            refs = build_standins(registry, tmp / "standin-storage", tmp)
            standin_seconds = time.perf_counter() - started
            for run in range(args.repeat):
                work = tmp / f"run{run}"
                root = project(work, registry, work / "storage", args.driver)
                times["cold"].append(timed_build(root, refs, f"r{run}-cold"))
                main_file = root / "workflow_sources" / "greeting" / "greeting.sw.yaml"
                main_file.write_text(main_file.read_text() + f"# change {run}\n")
                times["workflow"].append(timed_build(root, refs, f"r{run}-workflow"))
                times["nothing"].append(timed_build(root, refs, f"r{run}-nothing"))
                shutil.rmtree(work / "storage", ignore_errors=True)
        finally:
            stop()
    cold = statistics.median(times["cold"])
    print(f"buildah {args.driver}/chroot, stand-in base images (built + pushed once in {standin_seconds:.1f}s); "
          f"{args.repeat} runs, build + push of one tag")
    print(f"{'case':<10} {'median s':>9} {'min s':>7} {'max s':>7} {'vs cold':>8}")
    for case, values in times.items():
        median = statistics.median(values)
        print(f"{case:<10} {median:>9.2f} {min(values):>7.2f} {max(values):>7.2f} {median / cold:>8.2f}")


if __name__ == "__main__":
    main()
