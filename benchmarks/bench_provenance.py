#!/usr/bin/env python3
"""What signing costs next to packaging: the charts of ../shared/corpus are packaged, then each
archive is signed (`chartgen package --sign`: the key loaded once per archive, as the build's
package stage does, and once for all, as `chartgen package` does) and verified (`chartgen verify`).
A throwaway RSA-2048 key is made with gpg in a temporary GNUPGHOME.

Prints per-archive medians (ms) over --repeat runs and the ratio to packaging.
Timing lives here, never in a pass/fail test.
Usage: python3 benchmarks/bench_provenance.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from chartgen.chart import generate_charts  # noqa: E402
from chartgen.config import load_config  # noqa: E402
from chartgen.repo.package import package_chart  # noqa: E402
from chartgen.repo.provenance import SignOptions, Signer, sign_archives, verify_archive  # noqa: E402
from chartgen.sources import load_workflow  # noqa: E402

sys.path.insert(0, str(REPO / "benchmarks"))
from bench_charts import CORPUS, renderable  # noqa: E402


def make_key(folder: Path) -> tuple[str, Path]:
    """(armored secret key, binary public keyring) of a new key without passphrase."""
    home = folder / "gnupg"
    home.mkdir(mode=0o700)
    env = {**os.environ, "GNUPGHOME": str(home)}
    gpg = ["gpg", "--batch", "--pinentry-mode", "loopback", "--passphrase", ""]
    subprocess.run(gpg + ["--quick-gen-key", "Bench <bench@example.test>", "rsa2048", "sign", "never"],
                   env=env, check=True, capture_output=True)
    secret = subprocess.run(gpg + ["--armor", "--export-secret-keys"], env=env, check=True, capture_output=True)
    public = folder / "pubring.gpg"
    public.write_bytes(subprocess.run(gpg + ["--export"], env=env, check=True, capture_output=True).stdout)
    subprocess.run(["gpgconf", "--kill", "gpg-agent"], env=env, capture_output=True)
    return secret.stdout.decode(), public


def per_archive(seconds: float, count: int) -> float:
    return 1000 * seconds / count


def one_run(chart_dirs: list[Path], options: SignOptions, public: Path, work: Path) -> dict[str, float]:
    dist = work / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    times = {}
    start = time.perf_counter()
    archives = [package_chart(d, dist).path for d in chart_dirs]
    times["package"] = time.perf_counter() - start
    start = time.perf_counter()
    for archive in archives:                      # the build: one package stage per workflow
        sign_archives([archive], options)
    times["sign (key per archive)"] = time.perf_counter() - start
    start = time.perf_counter()
    with Signer(options) as signer:               # chartgen package --sign: the key loaded once
        for archive in archives:
            signer.sign(archive)
    times["sign (key once)"] = time.perf_counter() - start
    start = time.perf_counter()
    for archive in archives:
        verify_archive(archive, public)
    times["verify"] = time.perf_counter() - start
    return {k: per_archive(v, len(archives)) for k, v in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if not CORPUS.is_dir() or not shutil.which("gpg"):
        raise SystemExit(f"needs {CORPUS} and gpg")
    config = load_config(REPO / "chartgen.yaml")
    if not config.image.tag:
        config = config.with_overrides(image=replace(config.image, tag="bench"))
    with tempfile.TemporaryDirectory(prefix="bench-prov-") as tmp:
        work = Path(tmp)
        out = work / "charts"
        generate_charts([load_workflow(f) for f in renderable(config)], config, out_dir=out)
        chart_dirs = [p for p in sorted(out.iterdir()) if (p / "Chart.yaml").is_file()]
        armored, public = make_key(work)
        options = SignOptions(env={"CHARTGEN_SIGNING_KEY": armored})
        one_run(chart_dirs, options, public, work)  # warm-up
        runs = [one_run(chart_dirs, options, public, work) for _ in range(args.repeat)]
    median = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
    print(f"{len(chart_dirs)} archives (corpus charts + umbrella), {args.repeat} runs, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"{'step':<24} {'ms/archive':>11} {'x package':>10}")
    for key, value in median.items():
        print(f"{key:<24} {value:>11.1f} {value / median['package']:>10.2f}")


if __name__ == "__main__":
    main()
