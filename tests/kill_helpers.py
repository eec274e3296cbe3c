"""Killing chartgen at a chosen point, for the recovery tests (tests/test_hostile_publish.py).

`run_until_killed(args, ...)` runs `python -m chartgen ARGS` in a subprocess that counts its
file-system changes made from Python (rename, replace, unlink, rmdir, mkdir, link, chmod,
utime, files opened for writing) and sends itself SIGKILL just before the `kill_at`-th one:
no handler, no `finally`, no atexit runs, as when a CI runner is cancelled or the machine
dies. With `kill_at=0` the run completes and reports how many changes it made, so a test can
choose kill points across a whole run. Work done by helpers outside Python (Helm's Go code,
git) is reached with `kill_after` (seconds) instead.

`leftovers(*folders)` lists the temporary names chartgen makes (see chartgen.fsutil) found
anywhere under the folders.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
COUNT_ENV = "CHARTGEN_TEST_KILL_AT"
REPORT_ENV = "CHARTGEN_TEST_KILL_REPORT"
# Every temporary name chartgen makes: `.<name>.tmp-<pid>-X`, `.<name>.old-<pid>`,
# `.<name>.removed-<pid>-X`, `.chartgen-package-<pid>-X`, `chartgen-<what>-<pid>-X`.
LEFTOVER = re.compile(r"^(?:\..+\.(?:tmp|removed)-\d+-\w+|\..+\.old-\d+|\.chartgen-[a-z]+-.+|chartgen-[a-z]+-.+)$")

_BOOT = f"""
import os, signal, sys, builtins, shutil
sys.path.insert(0, {str(REPO)!r})
kill_at = int(os.environ.pop({COUNT_ENV!r}, "0"))
report = os.environ.pop({REPORT_ENV!r}, "")
count = [0]
def step():
    count[0] += 1
    if kill_at and count[0] >= kill_at:
        os.kill(os.getpid(), signal.SIGKILL)
def counted(function):
    def wrapper(*args, **kwargs):
        step()
        return function(*args, **kwargs)
    return wrapper
for name in ("rename", "replace", "unlink", "remove", "rmdir", "mkdir", "link", "symlink", "chmod", "utime"):
    setattr(os, name, counted(getattr(os, name)))
real_open, real_os_open = builtins.open, os.open
def open_(file, mode="r", *args, **kwargs):
    if any(c in mode for c in "wax+"):
        step()
    return real_open(file, mode, *args, **kwargs)
def os_open(path, flags, *args, **kwargs):
    if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
        step()
    return real_os_open(path, flags, *args, **kwargs)
builtins.open, os.open = open_, os_open
if report:
    import atexit
    atexit.register(lambda: real_open(report, "w").write(str(count[0])))
sys.argv = ["chartgen"] + sys.argv[1:]
from chartgen.entry import main
main()
"""


def chartgen_process(args: list[str], cwd: Path, env: dict, *, kill_at: int = 0,
                     report: Path | None = None) -> subprocess.Popen:
    environ = {**env, COUNT_ENV: str(kill_at), "PYTHONPATH": str(REPO)}
    if report is not None:
        environ[REPORT_ENV] = str(report)
    return subprocess.Popen([sys.executable, "-c", _BOOT, *args], cwd=cwd, env=environ,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def count_changes(args: list[str], cwd: Path, env: dict, report: Path) -> tuple[int, subprocess.CompletedProcess]:
    """Run to the end; returns (file-system changes made, the completed process)."""
    process = chartgen_process(args, cwd, env, report=report)
    out, err = process.communicate(timeout=300)
    return int(report.read_text() or 0), subprocess.CompletedProcess(process.args, process.returncode, out, err)


def run_until_killed(args: list[str], cwd: Path, env: dict, *, kill_at: int = 0,
                     kill_after: float | None = None) -> int:
    """Run chartgen and kill it (at its `kill_at`-th change, or after `kill_after` seconds);
    returns its exit status (-9 when killed)."""
    process = chartgen_process(args, cwd, env, kill_at=kill_at)
    if kill_after is not None:
        deadline = time.monotonic() + kill_after
        while process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
    process.communicate(timeout=300)
    return process.returncode


def leftovers(*folders: Path) -> list[Path]:
    found = []
    for folder in folders:
        for dirpath, dirnames, filenames in os.walk(folder):
            for name in dirnames + filenames:
                if LEFTOVER.match(name):
                    found.append(Path(dirpath) / name)
            dirnames[:] = [d for d in dirnames if d != ".git"]
    return sorted(found)
