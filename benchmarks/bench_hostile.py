#!/usr/bin/env python3
"""Every hostile input of tests/test_hostile_inputs.py through the real CLI: wall time and
peak memory of each `chartgen validate/render/chart/build` run.

Target (issue 11): every run answers in < 5 s and < 300 MB, with exit 0, 1 or 2 (never 70,
never a signal, never the timeout). Prints one row per case and command (median wall time
of --runs runs, the highest peak RSS), then the worst case. Peak RSS is the child's own
(`os.wait4`), which includes the processes it waited for. Usage:

    python3 benchmarks/bench_hostile.py [--runs 3] [--timeout 60] [--only alias-bomb] [--source DIR]

`--source DIR` runs another checkout's chartgen (e.g. /work/main) on the same inputs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from test_hostile_inputs import HOSTILE, command_line, make_project  # noqa: E402

TIME_TARGET = 5.0
MEMORY_TARGET_MB = 300


def run_once(root: Path, args: list[str], env: dict, timeout: float) -> tuple[int | str, float, float]:
    """(exit status or "timeout"/"signal N", wall seconds, peak RSS in MB) of one CLI run."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "chartgen", *args], cwd=root, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = start + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            proc.kill()
            _, status, usage = os.wait4(proc.pid, 0)
            return "timeout", time.perf_counter() - start, usage.ru_maxrss / 1024
        time.sleep(0.005)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    code: int | str = proc.returncode if proc.returncode >= 0 else f"signal {-proc.returncode}"
    return code, elapsed, usage.ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--only", default="", help="Cases whose name contains this text.")
    parser.add_argument("--source", type=Path, default=REPO, help="Checkout whose chartgen runs (default: this one).")
    args = parser.parse_args()

    env = {k: v for k, v in os.environ.items()
           if k not in ("GITHUB_ACTIONS", "CI", "CHARTGEN_CONFIG", "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY")}
    env["PYTHONPATH"] = str(args.source.resolve())
    rows = []
    print(f"chartgen from {args.source}; target < {TIME_TARGET:g} s and < {MEMORY_TARGET_MB} MB per run, "
          f"median of {args.runs} runs")
    print(f"{'case':<22} {'command':<9} {'exit':>9} {'wall s':>8} {'peak MB':>8}  verdict")
    with tempfile.TemporaryDirectory(prefix="bench-hostile-") as scratch:
        for name, hostile in HOSTILE.items():
            if args.only not in name:
                continue
            for command, (expected, _code) in hostile.expect.items():
                times, peaks, codes = [], [], []
                for index in range(args.runs):
                    root = make_project(Path(scratch) / f"{name}-{command}-{index}")
                    hostile.make(root)
                    code, elapsed, peak = run_once(root, command_line(command, hostile.workflow),
                                                   {**env, **hostile.env}, args.timeout)
                    times.append(elapsed)
                    peaks.append(peak)
                    codes.append(code)
                wall, peak = statistics.median(times), max(peaks)
                code = codes[0] if len(set(map(str, codes))) == 1 else "/".join(map(str, codes))
                good = code in (0, 1, 2) and wall < TIME_TARGET and peak < MEMORY_TARGET_MB
                verdict = "ok" if good else "MISSED"
                if good and code != expected:
                    verdict = f"ok (expected exit {expected})"
                rows.append((name, command, code, wall, peak, good))
                print(f"{name:<22} {command:<9} {str(code):>9} {wall:>8.2f} {peak:>8.0f}  {verdict}", flush=True)
    if not rows:
        print("no case matched")
        return 2
    slowest = max(rows, key=lambda r: r[3])
    biggest = max(rows, key=lambda r: r[4])
    missed = [r for r in rows if not r[5]]
    print(f"\nslowest: {slowest[0]} {slowest[1]} {slowest[3]:.2f} s ({slowest[3] / TIME_TARGET:.0%} of the target); "
          f"biggest: {biggest[0]} {biggest[1]} {biggest[4]:.0f} MB ({biggest[4] / MEMORY_TARGET_MB:.0%} of the target)")
    print(f"{len(rows) - len(missed)} of {len(rows)} runs within the target")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
