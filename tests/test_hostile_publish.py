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
import re
import shutil
import subprocess
import sys
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
from oci_registry import registry  # noqa: F401  (session fixture)
from publish_helpers import package
from tests.conftest import REPO, need

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


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["git", "oci"])
def test_publish_killed_at_any_point_recovers_and_leaves_nothing(kind, registry, tmp_path, monkeypatch):
    """`chartgen publish` to a git branch or an OCI registry killed at random moments (12
    each): the rerun succeeds, the target holds every archive whole and listed, and no
    private clone or registry login is left in the temporary folder."""
    from chartgen.repo.publish import claims

    from publish_helpers import init_bare, read_branch_file

    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch)}
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    monkeypatch.setattr(claims, "SETTLE_SECONDS", 0.3)
    project = tmp_path / "project"
    project.mkdir()
    (project / "chartgen.yaml").write_text("publish:\n  ociSettle: 0.3\n")
    if kind == "git":
        bare = init_bare(tmp_path / "pages.git")
        target = f"git:{bare}"
    else:
        target = f"oci://{registry}/killed-{tmp_path.name}"
    rng = random.Random(7)
    archives = []
    killed = 0

    def publish_args(archive):
        return ["--config", str(project / "chartgen.yaml"), "publish", str(archive), "--to", target]

    # How long a whole run takes here, with something new and with nothing new: the kills
    # are spread over that time (a fixed time would miss on a fast machine).
    first = package(tmp_path / "warm", tmp_path / "dist", "hello", "0.9.0", greeting="warm")
    durations = []
    for _ in range(2):
        started = time.monotonic()
        assert run_until_killed(publish_args(first), project, env) == 0
        durations.append(time.monotonic() - started)
    archives.append(first)
    for trial in range(12):
        archive = package(tmp_path / f"s{trial}", tmp_path / "dist", "hello", f"1.0.{trial // 2}",
                          greeting=f"v{trial // 2}")   # every second run has nothing new
        archives.append(archive)
        args = publish_args(archive)
        kill_after = rng.uniform(0.15, 0.9) * durations[trial % 2]
        killed += run_until_killed(args, project, env, kill_after=kill_after) == -9
        rerun = CliRunner().invoke(cli, args)
        assert rerun.exit_code == 0, (trial, rerun.output)
        assert leftovers(scratch) == [] and not any(scratch.iterdir()), (trial, list(scratch.iterdir()))
    for archive in archives:
        info = read_archive(archive)
        if kind == "git":
            index = yaml.safe_load(read_branch_file(bare, "gh-pages", "index.yaml"))
            entry = next(e for e in index["entries"]["hello"] if e["version"] == info.version)
            assert entry["digest"] == info.digest
            assert read_branch_file(bare, "gh-pages", archive.name) == archive.read_bytes()
        else:
            import helm_python

            with helm_python.RegistryClient(plain_http=True) as client:
                kept = claims.Registry(client, helm_python, True, tmp_path / "kept").read(
                    f"{target}/hello", info.version)
            assert kept.archive == info.digest
    assert killed >= 6, killed


def test_lost_chart_folder_takes_its_version_from_dist(tmp_path):
    """The issue's case: a build, a change, a build, then `charts/greeting` gone (`git checkout
    charts/` of an uncommitted chart): every rerun used to stop at [version-immutable]."""
    root = make_project(tmp_path / "project")
    args = ["--config", str(root / "chartgen.yaml"), "build", "--all"]
    assert CliRunner().invoke(cli, args).exit_code == 0
    set_description(root, "changed once")
    assert CliRunner().invoke(cli, args).exit_code == 0
    version, _ = chart_version(root / "charts" / "greeting")
    assert version == "0.1.0-rc.2"
    archive = root / "dist" / "greeting-0.1.0-rc.2.tgz"
    before = archive.read_bytes()
    shutil.rmtree(root / "charts" / "greeting")
    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 0, again.output
    assert chart_version(root / "charts" / "greeting")[0] == "0.1.0-rc.2"      # the archived one
    assert archive.read_bytes() == before
    shutil.rmtree(root / "charts" / "greeting")
    set_description(root, "changed twice")
    third = CliRunner().invoke(cli, args)
    assert third.exit_code == 0, third.output
    assert chart_version(root / "charts" / "greeting")[0] == "0.1.0-rc.3"      # above every archive


def test_version_decided_against_the_archives():
    from chartgen.chart.recovery import ArchivedVersions, Decision, reconcile

    archives = {"0.1.0": {"chartgen.io/content-hash": "A", "chartgen.io/source-commit": "aaaa1111"},
                "0.1.1-rc.1": {"chartgen.io/content-hash": "B"}}
    archived = ArchivedVersions(archives.get, lambda: archives)

    def decide(version, digest, missing):
        return reconcile(Decision(version, True, "c0ffee12"), digest, archived, folder_missing=missing,
                         previous_version=None, source_commit="c0ffee12", policy="prerelease", label="rc")
    assert decide("0.1.0", "A", True) == Decision("0.1.0", True, "aaaa1111")          # rebuilt as archived
    assert decide("0.1.0", "B", True) == Decision("0.1.1-rc.1", True, None)
    assert decide("0.1.0", "C", True) == Decision("0.1.1-rc.2", True, "c0ffee12")     # above every archive
    assert decide("0.1.1-rc.1", "C", False) == Decision("0.1.1-rc.2", True, "c0ffee12")   # a clash
    assert decide("0.1.1-rc.1", "A", False).version == "0.1.1-rc.2"   # a folder never goes back
    assert decide("0.2.0", "C", False) == Decision("0.2.0", True, "c0ffee12")          # nothing to do
    assert decide("0.1.1-rc.1", "B", False) == Decision("0.1.1-rc.1", True, "c0ffee12")


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


def test_a_reused_process_id_does_not_protect_a_leftover():
    """In a new container the next run often gets the same small pid as the killed one: a
    name last changed before its process started is not that process's."""
    started = fsutil.process_start_time(os.getpid())
    if started is None:
        pytest.skip("no /proc: process start times are unknown here")
    assert fsutil.owner_is_gone(os.getpid(), started - 60)
    assert not fsutil.owner_is_gone(os.getpid(), started + 5)
    assert not fsutil.owner_is_gone(os.getppid(), time.time())
    assert fsutil.owner_is_gone(dead_pid(), time.time())


def test_helms_own_temporary_folders_of_a_killed_run_are_removed(tmp_path, monkeypatch):
    """Helm's Go code names its temporary folders without a process id (`helm-c-pull-N`): a
    run killed during a pull leaves one. The watch file of the dead run lets the next run
    remove what appeared during that run's call, and nothing a live run or anybody else may own."""
    monkeypatch.setattr(fsutil, "startup_temp_dir", lambda: tmp_path)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    older = tmp_path / "helm-c-pull-111"          # there before the dead run began: not its
    older.mkdir()
    dead = tmp_path / f"chartgen-watch-{dead_pid()}-abcd"
    dead.write_text("helm-c-pull-111")
    left = tmp_path / "helm-c-pull-222"           # made during the dead run's pull
    (left / "chart").mkdir(parents=True)
    live = tmp_path / f"chartgen-watch-{os.getpid()}-efgh"
    live.write_text("helm-c-pull-111\nhelm-c-pull-222")   # a live run began before helm-c-pull-333
    maybe_live = tmp_path / "helm-c-pull-333"
    maybe_live.mkdir()
    unrelated = tmp_path / "helm-other"
    unrelated.mkdir()
    fsutil.sweep_foreign_watches()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [older.name, live.name, maybe_live.name, unrelated.name])
    live.unlink()
    with fsutil.foreign_temps_watched():             # a watch of our own while the call runs
        watches = [p.name for p in tmp_path.iterdir() if p.name.startswith("chartgen-watch-")]
        assert [w.startswith(f"chartgen-watch-{os.getpid()}-") for w in watches] == [True]
    assert not any(p.name.startswith("chartgen-watch-") for p in tmp_path.iterdir())


def test_the_temporary_folder_is_chosen_without_a_probe_file(tmp_path, monkeypatch):
    """Python's own choice creates and deletes a randomly named probe file: a run killed in
    between would leave it. chartgen's entry point chooses by access checks instead."""
    from chartgen import entry

    def probe():
        raise AssertionError("tempfile probed the folder with a file")

    monkeypatch.setattr(tempfile, "tempdir", None)
    monkeypatch.setattr(tempfile, "_get_default_tempdir", probe)
    monkeypatch.setenv("TMPDIR", str(tmp_path / "missing"))
    monkeypatch.setenv("TEMP", str(tmp_path))
    entry.settle_temp_dir()
    assert tempfile.gettempdir() == str(tmp_path) and list(tmp_path.iterdir()) == []


def test_startup_temp_dir_is_what_go_code_sees(monkeypatch):
    """Go reads the environment the process started with; later changes do not reach it."""
    started = dict(item.split("=", 1) for item in
                   Path("/proc/self/environ").read_bytes().decode(errors="replace").split("\0") if "=" in item)
    monkeypatch.setenv("TMPDIR", "/nonexistent-later")
    assert str(fsutil.startup_temp_dir()) == (started.get("TMPDIR") or "/tmp")


def test_the_lint_cache_sheds_a_killed_runs_temporary_files(tmp_path):
    from chartgen.chart.lintcache import prune

    lint = tmp_path / ".chartgen" / "lint"
    lint.mkdir(parents=True)
    stale = lint / f".{'a' * 64}.json.tmp-{dead_pid()}-w9fm3b0i"
    stale.write_text("{")
    kept = lint / f"{'b' * 64}.json"
    kept.write_text("{}")
    prune(lint)
    assert [p.name for p in lint.iterdir()] == [kept.name]


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


# ------------------------------------------------------------------------ OCI: one version, two contents


@pytest.fixture
def quick_settle(monkeypatch):
    from chartgen.repo.publish import claims

    monkeypatch.setattr(claims, "SETTLE_SECONDS", 0.5)
    return 0.5


def test_oci_claim_catches_the_overwrite_no_check_can_see(registry, tmp_path, quick_settle):
    """The interleaving that made both publishers report success: B checks the tag (free),
    A checks (free), pushes and reads its archive back, then B pushes over it. Only the
    confirmation after the settling time tells A that the registry kept B's archive."""
    import threading

    import helm_python

    from chartgen.repo.publish.claims import Registry, claim, confirm

    a = read_archive(package(tmp_path / "a", tmp_path / "da", "contested", "1.0.0"))
    b = read_archive(package(tmp_path / "b", tmp_path / "db", "contested", "1.0.0", greeting="Other"))
    remote = f"oci://{registry}/race"
    reference = f"{remote}/contested"
    b_checked, a_done = threading.Event(), threading.Event()
    outcome = {}

    def publisher(name, info, before_push, after_claim):
        with helm_python.RegistryClient(plain_http=True) as client:
            registry_ = Registry(client, helm_python, True, tmp_path / f"pulled-{name}")

            def push():
                before_push()
                client.push(str(info.path), remote, plain_http=True)
            try:
                made = claim(registry_, reference, info, None, force=False, push=push)
                after_claim()
                outcome[name] = confirm(registry_, [made], quick_settle)
            except Exception as exc:   # reported below
                outcome[name] = exc

    first = threading.Thread(target=publisher, args=("a", a, lambda: b_checked.wait(10), a_done.set))
    second = threading.Thread(target=publisher, args=("b", b, lambda: (b_checked.set(), a_done.wait(10)),
                                                      lambda: None))
    second.start()
    first.start()
    first.join()
    second.join()
    assert outcome["b"] == []                                   # B's push is the one kept ...
    assert [f.code for f in outcome["a"]] == ["version-immutable"]   # ... and A says so
    assert "by someone else while this run published it" in outcome["a"][0].message
    with helm_python.RegistryClient(plain_http=True) as client:
        kept = Registry(client, helm_python, True, tmp_path / "kept").read(reference, "1.0.0")
    assert kept.archive == b.digest


def test_oci_push_slower_than_the_settling_time_is_not_vouched_for(registry, tmp_path):
    import helm_python

    from chartgen.repo.publish.claims import Registry, claim, confirm

    info = read_archive(package(tmp_path / "a", tmp_path / "da", "slowpoke", "1.0.0"))
    remote = f"oci://{registry}/slow"
    with helm_python.RegistryClient(plain_http=True) as client:
        registry_ = Registry(client, helm_python, True, tmp_path / "pulled")

        def push():
            time.sleep(0.4)
            client.push(str(info.path), remote, plain_http=True)
        made = claim(registry_, f"{remote}/slowpoke", info, None, force=False, push=push)
        problems = confirm(registry_, [made], 0.2)
    assert [p.code for p in problems] == ["publish-oci-unverified"]
    assert "publish.ociSettle" in problems[0].message


def test_oci_same_archive_from_two_publishers_at_once_is_fine(registry, tmp_path, monkeypatch):
    import threading

    from chartgen.repo.publish import claims, publish

    # The default settling time: a check-to-push slower than a short one (a busy machine)
    # is rightly reported as unverified, which is not what this test is about.
    monkeypatch.setattr(claims, "SETTLE_SECONDS", 3.0)

    archive = package(tmp_path / "a", tmp_path / "da", "twins", "1.0.0")
    copy = tmp_path / "copy" / archive.name
    copy.parent.mkdir()
    shutil.copy(archive, copy)
    results, errors = [], []

    def run(path):
        try:
            results.append(publish([path], f"oci://{registry}/twins"))
        except Exception as exc:   # asserted below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(p,)) for p in (archive, copy)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(results) == 2


def test_oci_version_taken_between_check_and_push_stops_the_rest(registry, tmp_path, monkeypatch, quick_settle):
    """Three archives; while the first is pushed, someone else publishes the second with
    other content: the first stays published, the second is refused, the third is not
    pushed, and the error says which is which."""
    import helm_python

    from chartgen.errors import ChartgenError
    from chartgen.repo.publish import publish

    ours = [package(tmp_path / f"o{i}", tmp_path / "ours", f"part{i}", "1.0.0") for i in range(3)]
    theirs = package(tmp_path / "t", tmp_path / "theirs", "part1", "1.0.0", greeting="Theirs")
    remote = f"oci://{registry}/partial"
    real_push = helm_python.RegistryClient.push

    def push(self, chart_path, target, **kwargs):
        if Path(chart_path).name == "part0-1.0.0.tgz":
            real_push(self, str(theirs), target, **kwargs)     # the rival, just now
        return real_push(self, chart_path, target, **kwargs)
    monkeypatch.setattr(helm_python.RegistryClient, "push", push)
    with pytest.raises(ChartgenError) as caught:
        publish(ours, remote)
    text = caught.value.format()
    assert "part1 1.0.0 was published to" in text and "[version-immutable]" in text
    assert f"{remote}: published: part0 1.0.0" in text
    monkeypatch.undo()
    with helm_python.RegistryClient(plain_http=True) as client:
        from chartgen.repo.publish.claims import Registry

        reader = Registry(client, helm_python, True, tmp_path / "read")
        assert reader.read(f"{remote}/part0", "1.0.0").archive == read_archive(ours[0]).digest
        assert reader.read(f"{remote}/part1", "1.0.0").archive == read_archive(theirs).digest
        assert reader.read(f"{remote}/part2", "1.0.0") is None


@pytest.mark.slow
def test_concurrent_cli_publishers_of_one_version_never_both_succeed(registry, tmp_path):
    """Two `chartgen publish` processes push one chart version with different content to the
    same OCI repository, 24 rounds (three at a time): at most one succeeds per round and the
    registry then holds its archive (before the claims, both succeeded in 7 of 10 rounds)."""
    import helm_python

    from chartgen.repo.publish.claims import Registry

    project = tmp_path / "project"
    project.mkdir()
    (project / "chartgen.yaml").write_text("publish:\n  ociSettle: 1\n")
    rounds, batch = 24, 3
    counts = {"one": 0, "none": 0, "race seen after the push": 0}
    for start in range(0, rounds, batch):
        runs = []
        for r in range(start, start + batch):
            pair = [package(tmp_path / f"{side}{r}", tmp_path / f"d{side}{r}", f"contest{r}", "1.0.0",
                            greeting=side) for side in ("a", "b")]
            runs.append((r, pair, [subprocess.Popen(
                [sys.executable, "-m", "chartgen", "publish", str(path), "--to", f"oci://{registry}/rounds"],
                cwd=project, env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, text=True) for path in pair]))
        for r, pair, processes in runs:
            errors = [p.communicate(timeout=120)[1] for p in processes]
            winners = [path for path, p in zip(pair, processes) if p.returncode == 0]
            assert all(p.returncode in (0, 1) for p in processes), errors
            assert len(winners) <= 1, (r, errors)
            counts["race seen after the push"] += any("while this run published it" in e for e in errors)
            with helm_python.RegistryClient(plain_http=True) as client:
                kept = Registry(client, helm_python, True, tmp_path / "kept").read(
                    f"oci://{registry}/rounds/contest{r}", "1.0.0")
            if winners:
                counts["one"] += 1
                assert kept.archive == read_archive(winners[0]).digest
            else:   # only when a push was too slow to vouch for (a loaded machine): it says so
                counts["none"] += 1
                assert any("[publish-oci-unverified]" in e for e in errors), errors
    print(f"\nOCI publish rounds ({rounds}): {counts}")
    assert counts["one"] >= rounds - 2


# ------------------------------------------------------------------------ text in pull requests and commits

HOSTILE_TEXT = [
    "![pixel](https://evil.example/track.png)", "<img src=x onerror=alert(1)>", "[click](javascript:alert(1))",
    "a`b``c", "<!-- hidden -->", "</details><details open>", "@octocat hi", "cc @acme/admins", "fixes #1",
    "acme/flows#2", "GH-3", "a | b | c", "$$\\alpha$$ and $x$", "**bold** _it_ ~~gone~~", "line\nbreak\rx",
    "> quote", "# heading", "- item", "1. item", "&lt;img&gt; &amp;", "\\*not\\*", "x\u2028y\x1b[31m",
    "https://evil.example/![a](https://evil.example/i.png)",
]
MARKUP = ("<img", "<a ", "<a>", "<!--", "<details", "<em>", "<strong>", "<del>", "<h1", "<li", "<ol",
          "<blockquote", "<script", "<ul")


def render(markdown: str) -> str:
    """GitHub's own Markdown parser (cmark-gfm), raw HTML let through: what is not escaped shows."""
    try:
        import cmarkgfm
        from cmarkgfm.cmark import Options
    except ImportError:
        need(False, "cmarkgfm (GitHub's Markdown parser, a test extra) is not installed")

    return cmarkgfm.github_flavored_markdown_to_html(markdown, options=Options.CMARK_OPT_UNSAFE)


def visible_text(html: str) -> str:
    import html as html_module

    return html_module.unescape(re.sub(r"<[^>]+>", "", html)).strip()


def outside_code(html: str) -> str:
    return re.sub(r"<code>.*?</code>", "", html, flags=re.S)


@pytest.mark.parametrize("text", HOSTILE_TEXT)
def test_escaped_text_renders_as_itself_and_nothing_else(text):
    from chartgen.errors import printable
    from chartgen.markdown import cell, code, escape

    paragraph = render(f"- {escape(text)}\n")
    assert not any(tag in paragraph.replace("<li>", "", 1).replace("<ul>", "", 1) for tag in MARKUP), paragraph
    assert visible_text(paragraph) == printable(text)
    table = render(f"| a | b |\n| --- | --- |\n| {cell(text)} | {code(text, in_table=True)} |\n")
    assert table.count("<td>") == 2, table
    assert not any(tag in table for tag in MARKUP), table
    cells = re.findall(r"<td>(.*?)</td>", table, flags=re.S)
    assert [visible_text(c) for c in cells] == [printable(text), printable(text)]
    # GitHub turns @name and #123 outside code into notifications and cross-references
    for html in (paragraph, table):
        assert not re.search(r"(?<![\w`])@[A-Za-z0-9]|#\d|GH-\d", outside_code(html)), html


def test_code_spans_hold_any_backticks():
    from chartgen.markdown import code

    for text in ("`", "``", "a ``` b", "`x`", " padded "):
        assert visible_text(render(code(text))) == text.strip() or text.strip() == ""


def test_source_references_are_urls_or_git_refs():
    from chartgen.errors import UsageError
    from chartgen.gitops.git import check_commit, check_source_ref

    for good in ("https://github.com/acme/flows/pull/43", "https://github.com/acme/flows/commit/" + "a" * 40,
                 "main", "refs/heads/feature/x", "v1.2.3", "a" * 40):
        assert check_source_ref(good) == good
    for bad in ("![x](https://e/i.png)", "<img src=x>", "https://user:pw@github.com/x", "javascript:alert(1)",
                "the other job", "a`b", "x..y", "-rf", "refs/heads/x.lock", "https://e/a b", "", "ref\nname",
                'https://e/"x"', "x$(id)"):
        with pytest.raises(UsageError) as caught:
            check_source_ref(bad)
        assert caught.value.code == "pr-source-ref"
    assert check_commit("c0ffee12") == "c0ffee12"
    for bad in ("main", "abc", "a" * 65, "c0ffee 12", "`c0ffee`"):
        with pytest.raises(UsageError):
            check_commit(bad)


@pytest.mark.parametrize("args, code", [
    (["pr", "greeting", "--source-ref", "![x](https://evil.example/i.png)", "--dry-run"], "pr-source-ref"),
    (["pr", "greeting", "--source-ref", "<img src=x onerror=alert(1)>", "--dry-run"], "pr-source-ref"),
    (["pr", "greeting", "--source-commit", "`rm -rf`", "--dry-run"], "bad-commit"),
    (["pr", "greeting", "--image-tag", "x`y", "--dry-run"], "image-bad-tag"),
    (["pr", "greeting", "--image-digest", "sha256:<img>", "--dry-run"], "image-bad-digest"),
    (["build", "greeting", "--source-commit", "@octocat"], "bad-commit"),
    (["chart", "greeting", "--commit", "#1"], "bad-commit"),
])
def test_cli_refuses_user_text_that_is_not_what_it_claims(tmp_path, capsys, args, code):
    from chartgen.cli import main

    root = make_project(tmp_path / "project")
    with pytest.raises(SystemExit) as exited:
        main(["--config", str(root / "chartgen.yaml"), *args])
    assert exited.value.code == 2
    assert f"[{code}]" in capsys.readouterr().err
    assert not (root / "charts").exists() and not (root / "dist").exists()


def hostile_run(tmp_path, source_ref: str):
    """A pull request run whose chart repository holds hostile text: a chart version, the
    workflow type and operator annotations, a removed chart's folder and source path."""
    from types import SimpleNamespace

    from chartgen.gitops.model import Run, Sources
    from chartgen.settings import PrSettings

    charts = tmp_path / "clone" / "charts" / "greeting"
    charts.mkdir(parents=True)
    (charts / "Chart.yaml").write_text(yaml.safe_dump({
        "name": "greeting", "version": "1.0.0 <img src=x>",
        "annotations": {"example.com/workflow-type": "@octocat ![t](https://evil.example/t.png)",
                        "example.com/operator": "<!-- x --> #4"}}))
    sources = Sources(tmp_path, "https://github.com/acme/flows", frozenset(), frozenset())
    return Run(config=None, url="https://github.com/acme/charts", base="main", settings=PrSettings(),
               dry_run=True, forge=None, generator=None, meta={"source_commit": "c0ffee12"}, log=print,
               source_ref=source_ref, git=SimpleNamespace(cwd=tmp_path / "clone", run=_no_git), sources=sources)


def _no_git(*args, **kwargs):
    raise OSError("no chart repository clone in this test")   # the review section says "not compared"


def test_pull_request_bodies_titles_and_commits_carry_hostile_text_as_text(tmp_path):
    from chartgen.gitops.body import commit_message, removal_message, removal_spec, update_spec
    from chartgen.gitops.model import ChartChange, Removal

    run = hostile_run(tmp_path, "refs/heads/@octocat")
    changes = (ChartChange("greeting", "0.9.0 ![x](https://evil.example/x.png) @octocat", "1.0.0",
                           "quay.io/x/greeting:1`<img src=x>`"),)
    status = {"added": ["charts/greeting/files/a`b <img src=x>.json"], "removed": [], "modified": ["#5 @bob"]}
    spec = update_spec(run, "chartgen/greeting", changes, status)
    removal = Removal("legacy\n## injected <img src=x>", "1.0.0 @octocat", "workflow_sources/[x](javascript:1)",
                      ("charts/legacy",))
    gone = removal_spec(run, "chartgen/remove-legacy", removal, {"added": [], "removed": ["charts/legacy"],
                                                                    "modified": []})
    for body in (spec.body, gone.body):
        html = render(body)
        assert html.count("<!--") == 1          # chartgen's own marker only
        assert not any(tag in html for tag in ("<img", "<a href=\"javascript", "<details", "<h2"))
        assert not re.search(r"(?<![\w`])@[A-Za-z0-9]|#\d", outside_code(html).replace("<!-- chartgen:pull-request -->", "")), html
    for text in (spec.title, gone.title, commit_message(run, changes), removal_message(run, removal)):
        assert not any(ord(c) < 32 and c != "\n" for c in text)
    assert "\n## injected" not in gone.title and len(gone.title) <= 256
    long = update_spec(run, "b", tuple(ChartChange(f"chart-{i:03}", None, "1.0.0") for i in range(60)), status)
    assert len(long.title) == 256 and long.title.endswith("…")


def test_leftovers_without_a_process_id_go_once_they_are_old(tmp_path):
    """Names chartgen made before it recorded the process id: removed after an hour; a
    hidden file that could be the user's own is never touched."""
    site = tmp_path / "site"
    site.mkdir()
    old_archive = site / ".hello-1.0.0.tgz.k2j3h4g5"
    fresh_archive = site / ".hello-1.1.0.tgz.a1b2c3d4"
    package_dir = site / ".chartgen-package-q1w2e3r4"
    users = site / ".index.yaml.original"
    for path in (old_archive, fresh_archive, users):
        path.write_text("x")
    package_dir.mkdir()
    hour_ago = time.time() - 3700
    real_lstat = Path.lstat

    def aged_lstat(self):
        result = real_lstat(self)
        if self.name in (old_archive.name, package_dir.name, users.name):
            return os.stat_result(result[:9] + (hour_ago,))   # st_ctime
        return result
    import unittest.mock

    with unittest.mock.patch.object(Path, "lstat", aged_lstat):
        swept = fsutil.sweep_leftovers(site)
    assert sorted(swept) == sorted([old_archive, package_dir])
    assert fresh_archive.exists() and users.exists()
