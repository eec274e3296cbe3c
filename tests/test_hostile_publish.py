"""Hostile and broken publishing (issue 11, items 7-9): runs killed at any point, leftovers,
concurrent publishers of one version, and user-given text in pull requests and commits.

Recovery: `chartgen build` (and `chartgen publish`) is killed with SIGKILL at many points
(tests/kill_helpers.py: at its k-th file-system change, or after a random delay); the next
run must succeed, leave no temporary name behind and leave chart folder, dist/ and the
published repository consistent with each other.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from chartgen import fsutil
from chartgen.cli import cli
from chartgen.repo.archive import read_archive, sha256_file
from kill_helpers import count_changes, leftovers, run_until_killed
from tests.conftest import REPO

CONFIG = "sources: workflow_sources\nshared: workflow_sources/shared\ncharts: charts\ndist: dist\n"
DESCRIPTION = "description: Greets a person in the language they choose; the smallest infrastructure workflow"


def make_project(root: Path) -> Path:
    sources = root / "workflow_sources"
    sources.mkdir(parents=True)
    shutil.copytree(REPO / "workflow_sources" / "greeting", sources / "greeting")
    shutil.copytree(REPO / "workflow_sources" / "shared", sources / "shared")
    (root / "chartgen.yaml").write_text(CONFIG)
    return root


def set_description(root: Path, text: str) -> None:
    flow = root / "workflow_sources" / "greeting" / "greeting.sw.yaml"
    lines = flow.read_text().splitlines(keepends=True)
    lines = [f"description: {text}\n" if line.startswith("description:") else line for line in lines]
    flow.write_text("".join(lines))


def chart_version(chart: Path) -> tuple[str, str]:
    data = yaml.safe_load((chart / "Chart.yaml").read_text())
    return str(data["version"]), data["annotations"]["chartgen.io/content-hash"]


def assert_consistent(root: Path, site: Path) -> None:
    """Chart folders, their archives in dist/ and the published folder agree."""
    published = json.loads((site / "index.yaml").read_text())["entries"]
    for name in ("greeting", "workflows"):
        version, content = chart_version(root / "charts" / name)
        archive = root / "dist" / f"{name}-{version}.tgz"
        info = read_archive(archive)
        assert info.metadata["annotations"]["chartgen.io/content-hash"] == content, name
        entry = next(e for e in published[name] if e["version"] == version)
        assert entry["digest"] == info.digest
        assert sha256_file(site / f"{name}-{version}.tgz") == info.digest
    for name, entries in published.items():        # every indexed archive is there, whole
        for entry in entries:
            assert sha256_file(site / entry["urls"][0]) == entry["digest"]
    local = json.loads((root / "dist" / "index.yaml").read_text())["entries"]
    archives = [read_archive(p) for p in (root / "dist").glob("*.tgz")]
    assert {(n, e["version"]) for n, es in local.items() for e in es} == {(a.name, a.version) for a in archives}


# ------------------------------------------------------------------------ recovery: build


@pytest.mark.slow
def test_build_killed_at_any_point_recovers_and_leaves_nothing(tmp_path, monkeypatch):
    """SIGKILL at many points of `chartgen build --publish dir:` (every kind of file-system
    change, spread over a whole run, plus random delays that land inside Helm), with the
    workflow changing between runs and, now and then, `charts/greeting` deleted as by
    `git checkout charts/`: the next run always succeeds, leaves no temporary name in the
    project or the temporary folder, and the charts, dist/ and the published folder agree."""
    root = make_project(tmp_path / "project")
    site, scratch = tmp_path / "site", tmp_path / "tmp"
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch)}
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    args = ["--config", str(root / "chartgen.yaml"), "build", "--all", "--publish", f"dir:{site}"]
    assert CliRunner().invoke(cli, args).exit_code == 0
    set_description(root, "counting")
    started = time.monotonic()
    changes, counted = count_changes(args, root, env, tmp_path / "count")
    duration = time.monotonic() - started
    assert counted.returncode == 0, counted.stdout + counted.stderr
    assert changes > 100
    rng = random.Random(11)
    trials, killed = 54, 0
    for trial in range(trials):
        if trial % 9 == 8:
            kill = {"kill_at": 1 + rng.randrange(4)}    # a run with nothing new to do (5 changes)
        else:
            set_description(root, f"trial {trial}")
            if trial % 6 == 5:    # anywhere, Helm's Go code included
                kill = {"kill_after": rng.uniform(0.1, 0.9) * duration}
            else:                 # spread over the whole run
                kill = {"kill_at": 1 + (trial * changes) // trials + rng.randrange(max(1, changes // trials))}
        status = run_until_killed(args, root, env, **kill)
        killed += status == -9
        if trial % 7 == 3:
            shutil.rmtree(root / "charts" / "greeting", ignore_errors=True)   # `git checkout charts/`
        rerun = CliRunner().invoke(cli, args)
        assert rerun.exit_code == 0, (trial, kill, rerun.output)
        assert leftovers(root, site, scratch) == [], (trial, kill)
        assert_consistent(root, site)
    assert killed >= 50, killed


# ------------------------------------------------------------------------ leftovers


def dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def test_leftovers_of_dead_runs_are_swept_and_live_ones_kept(tmp_path):
    folder = tmp_path / "charts"
    (folder / "mta").mkdir(parents=True)
    dead, alive = dead_pid(), os.getppid()
    stale = [folder / f".mta.old-{dead}", folder / f".mta.tmp-{dead}-abc123", folder / f".x.tgz.tmp-{dead}-k2j3",
             folder / f".chartgen-package-{dead}-q1w2", folder / f".mta.removed-{dead}-zz"]
    live = [folder / f".mta.tmp-{alive}-abc123", folder / f".mta.old-{alive}"]
    users = [folder / ".mta.old", folder / ".hidden", folder / "notes.tmp-1-2"]
    for path in stale + live + users:
        path.mkdir() if "tgz" not in path.name else path.write_text("x")
    swept = fsutil.sweep_leftovers(folder)
    assert sorted(swept) == sorted(stale)
    assert sorted(p.name for p in folder.iterdir()) == sorted(["mta"] + [p.name for p in live + users])


def test_a_folder_moved_aside_by_an_interrupted_swap_is_put_back(tmp_path):
    folder = tmp_path / "charts"
    folder.mkdir()
    aside = folder / f".mta.old-{dead_pid()}"
    aside.mkdir()
    (aside / fsutil.MARKER).write_text("written by chartgen\n")
    (aside / "Chart.yaml").write_text("name: mta\n")
    fsutil.sweep_leftovers(folder)
    assert (folder / "mta" / "Chart.yaml").read_text() == "name: mta\n" and not aside.exists()


def test_a_reused_process_id_does_not_protect_a_leftover(tmp_path):
    """In a new container the next run often gets the same small pid as the killed one."""
    folder = tmp_path / "dist"
    folder.mkdir()
    mine = folder / f".chartgen-package-{os.getpid()}-old1"
    mine.mkdir()
    started = fsutil.process_start_time(os.getpid())
    if started is None:
        pytest.skip("no /proc: process start times are unknown here")
    os.utime(mine, (started - 60, started - 60))     # ctime cannot be set; fake it through the check
    assert fsutil.owner_is_gone(os.getpid(), started - 60)
    assert not fsutil.owner_is_gone(os.getpid(), started + 5)


def test_temporary_folders_carry_the_process_id(tmp_path):
    with fsutil.temp_directory("chartgen-publish-", dir=tmp_path) as made:
        assert made.name.startswith(f"chartgen-publish-{os.getpid()}-")
    stale = tmp_path / f"chartgen-publish-{dead_pid()}-abcd"
    stale.mkdir()
    other = tmp_path / f"chartgen-oci-{dead_pid()}-abcd"
    other.mkdir()
    with fsutil.temp_directory("chartgen-publish-", dir=tmp_path):
        pass
    assert not stale.exists() and other.exists()   # only the prefix asked for
