"""Packaging a large umbrella chart: one gzip member per sub-chart, the members and checks of
unchanged sub-charts kept in the package cache (chartgen.repo.packcache), the same bytes with
or without it."""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys
import tarfile
import time
import zlib
from pathlib import Path

import pytest

from chartgen.errors import ChartgenError
from chartgen.repo import packcache, tarball
from chartgen.repo.archive import make_entry, read_archive
from chartgen.repo.index import IndexFile
from chartgen.repo.package import chart_files, package_chart
from chartgen.repo.tarball import gzip_bytes, tar_bytes
from publish_helpers import make_chart

SETTLED = time.time() - 86400     # a day old: files as a checkout or an earlier build left them


def settle(folder: Path) -> None:
    """Files and folders a day old (folders after their files: setting a time changes none)."""
    for root, dirs, files in os.walk(folder, topdown=False):
        for name in files + dirs:
            os.utime(os.path.join(root, name), (SETTLED, SETTLED), follow_symlinks=False)


def write_new(path: Path, text: str) -> None:
    """Replace `path` with a new file, as chartgen writes a chart (a file changed in place
    with its size kept and its time set back is not seen: see chartgen.repo.packcache)."""
    fresh = path.with_name(f".{path.name}.new")
    fresh.write_text(text)
    os.replace(fresh, path)


def make_umbrella(root: Path, count: int = 6, *, large: bool = True) -> Path:
    """`root/workflows`: an umbrella embedding `count` sub-charts wf0.. (the first holding a
    1.2 MB file when `large`, which puts the chart over `SEGMENTED_FROM`), its files settled."""
    umbrella = root / "workflows"
    names = [f"wf{i}" for i in range(count)]
    for name in names:
        make_chart(umbrella / "charts", name, greeting=f"Hello from {name}")
    (umbrella / "templates").mkdir(parents=True)
    (umbrella / "templates" / "NOTES.txt").write_text("The workflows.\n")
    (umbrella / "Chart.yaml").write_text("apiVersion: v2\nname: workflows\nversion: 1.0.0\ndependencies:\n" + "".join(
        f"- name: {n}\n  version: 1.0.0\n  condition: {n}.enabled\n" for n in names))
    (umbrella / "values.yaml").write_text("".join(f"{n}:\n  enabled: false\n" for n in names))
    (umbrella / "README.md").write_text("Workflows.\n")
    if large:
        (umbrella / "charts" / "wf0" / "files").mkdir()
        (umbrella / "charts" / "wf0" / "files" / "data.txt").write_text(
            "".join(f"line {i:07d} of a large file\n" for i in range(48_000)))
    settle(umbrella)
    return umbrella


def gzip_members(data: bytes) -> list[bytes]:
    """The uncompressed content of each gzip member of `data`."""
    parts = []
    while data:
        reader = zlib.decompressobj(16 + zlib.MAX_WBITS)
        parts.append(reader.decompress(data) + reader.flush())
        data = reader.unused_data
    return parts


def tar_view(archive: Path) -> list:
    with tarfile.open(archive, "r:gz") as tar:
        return [(m.name, m.size, m.mode, m.mtime, m.uid, m.gid, m.uname, m.gname, m.type,
                 tar.extractfile(m).read() if m.isfile() else None) for m in tar.getmembers()]


def no_cache_digest(umbrella: Path, out: Path) -> str:
    return package_chart(umbrella, out).digest


# ------------------------------------------------------------------ the format


def test_a_large_umbrella_is_one_member_per_sub_chart_read_as_one_archive(tmp_path):
    import helm_python

    umbrella = make_umbrella(tmp_path)
    result = package_chart(umbrella, tmp_path / "dist", cache=tmp_path / "cache")
    data = result.path.read_bytes()
    parts = gzip_members(data)
    single_tar = tar_bytes("workflows", chart_files(umbrella)[1])
    # the members are the tar of the chart cut at file boundaries: one per sub-chart, the
    # chart's own files before and after them, the end-of-archive blocks
    assert b"".join(parts) == single_tar == gzip.decompress(data)
    assert len(parts) == 6 + 2 + 1 and parts[-1] == b"\0" * 1024
    assert [p[:len("workflows/charts/wfN/")] for p in parts[1:7]] == [f"workflows/charts/wf{i}/".encode() for i in range(6)]
    assert all(len(p) % 512 == 0 for p in parts)
    assert data[:10] == b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
    # Python's tarfile and Helm read it as the one-member archive of the same tar
    single = tmp_path / "single" / "workflows-1.0.0.tgz"
    single.parent.mkdir()
    single.write_bytes(gzip_bytes(single_tar))
    assert tar_view(result.path) == tar_view(single)
    with helm_python.Chart.load(result.path) as multi, helm_python.Chart.load(single) as one:
        assert multi.metadata == one.metadata and multi.values == one.values
        assert sorted(d["name"] for d in multi.dependencies) == sorted(d["name"] for d in one.dependencies) \
            == [f"wf{i}" for i in range(6)]
        rendered = multi.render({"wf2": {"enabled": True}}, name="demo")
        assert rendered == one.render({"wf2": {"enabled": True}}, name="demo")
    assert any("Hello from wf2" in text for text in rendered.values())
    assert not any("Hello from wf3" in text for text in rendered.values())
    assert read_archive(result.path).name == "workflows"          # as the index reads it


def test_small_charts_stay_one_member_and_use_no_cache(tmp_path):
    small = make_umbrella(tmp_path / "small", large=False)
    plain = make_chart(tmp_path / "plain")
    for chart in (small, plain):
        result = package_chart(chart, tmp_path / "dist", cache=tmp_path / "cache")
        assert len(gzip_members(result.path.read_bytes())) == 1
        assert result.digest == no_cache_digest(chart, tmp_path / "dist-plain")
    assert not list((tmp_path / "cache").glob("pack-*")) if (tmp_path / "cache").exists() else True
    # the cut is a function of the content: size of the files, sub-chart folders present
    assert not tarball.is_segmented(tarball.SEGMENTED_FROM - 1, ["charts/a/"])
    assert tarball.is_segmented(tarball.SEGMENTED_FROM, ["charts/a/", None])
    assert not tarball.is_segmented(10 * tarball.SEGMENTED_FROM, [None])


def test_the_same_bytes_with_or_without_the_cache_wherever_the_chart_is(tmp_path, monkeypatch):
    import chartgen.repo.package as package

    umbrella = make_umbrella(tmp_path / "a")
    cache = tmp_path / "cache"
    reference = no_cache_digest(umbrella, tmp_path / "d0")
    compressed: list[int] = []
    real = package._compress
    monkeypatch.setattr(package, "_compress", lambda segments: compressed.append(len(segments)) or real(segments))
    cold = package_chart(umbrella, tmp_path / "d1", cache=cache)
    listed: list[str] = []
    real_scandir = os.scandir
    monkeypatch.setattr(os, "scandir", lambda path: listed.append(str(path)) or real_scandir(path))
    warm = package_chart(umbrella, tmp_path / "d2", cache=cache)
    monkeypatch.setattr(os, "scandir", real_scandir)
    assert compressed == [6 + 2, 2]            # warm: only the chart's own files, around the sub-charts
    assert listed and not [p for p in listed if "/charts/wf" in p]     # sub-chart folders: not listed again
    assert cold.digest == warm.digest == reference
    assert cold.path.read_bytes() == warm.path.read_bytes()
    again = package_chart(umbrella, tmp_path / "d2", cache=cache)
    assert again.unchanged and again.digest == reference
    # another checkout (other inodes and times): the same bytes, through the same cache folder
    elsewhere = shutil.copytree(umbrella, tmp_path / "b" / "workflows")
    assert package_chart(elsewhere, tmp_path / "d3", cache=cache).digest == reference
    assert package_chart(elsewhere, tmp_path / "d4", cache=cache).digest == reference


def _rewrite_same_size(path: Path, *, in_place: bool, keep_time: bool) -> None:
    before = path.stat()
    text = path.read_bytes()
    changed = text.replace(b"Hello", b"HELLO")
    assert changed != text and len(changed) == len(text)
    if in_place:
        with open(path, "r+b") as handle:
            handle.write(changed)
    else:
        fresh = path.with_name(".new")
        fresh.write_bytes(changed)
        os.replace(fresh, path)
    if keep_time:
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_size == before.st_size


@pytest.mark.parametrize("how", ["new file, same size and time", "in place, same size",
                                 "just written, then in place with the same size and time"])
def test_a_changed_sub_chart_file_is_seen(tmp_path, how):
    umbrella = make_umbrella(tmp_path)
    values = umbrella / "charts" / "wf3" / "values.yaml"
    cache = tmp_path / "cache"
    if how.startswith("just written"):
        values.write_text(values.read_text())      # modified now: its time could be shared by the next edit
    before = package_chart(umbrella, tmp_path / "d0", cache=cache)
    _rewrite_same_size(values, in_place=not how.startswith("new file"), keep_time=how != "in place, same size")
    after = package_chart(umbrella, tmp_path / "d1", cache=cache)
    assert after.digest != before.digest
    assert after.digest == no_cache_digest(umbrella, tmp_path / "d2")
    with tarfile.open(after.path) as tar:
        assert b"HELLO" in tar.extractfile("workflows/charts/wf3/values.yaml").read()


def test_runs_cut_the_sorted_files_at_sub_chart_folders():
    import itertools

    names = {"Chart.yaml", "README.md", "charts/README", "charts/a.tgz", "charts/a-b/x", "charts/a/Chart.yaml",
             "charts/a/charts/n/Chart.yaml", "charts/a/z", "charts/a.b/y", "charts/ab/y", "charts/_p/y",
             "charts/.h/y", "charts/b/x", "charts/é/x", "ci/x", "templates/a", "charts/b c/x", "values.yaml"}
    groups = {rel: tarball.sub_chart_of(rel) for rel in names}
    expected = [(group, list(rels)) for group, rels in itertools.groupby(sorted(names), key=groups.get)]
    assert tarball.runs(groups) == expected
    assert [group for group, _ in expected if group] == ["charts/a-b/", "charts/a.b/", "charts/a/", "charts/ab/",
                                                          "charts/b c/", "charts/b/", "charts/é/"]


@pytest.mark.parametrize("how", ["added", "removed", "renamed", "made a folder", "linked elsewhere"])
def test_a_file_added_removed_or_renamed_in_a_sub_chart_is_seen(tmp_path, how):
    """Sub-chart folders are not listed again while their inode and time are the same; any
    entry made, removed or renamed changes the time (a folder's time set back by hand is not
    seen, as a file's: see chartgen.repo.packcache). A folder holding a link is always listed."""
    umbrella = make_umbrella(tmp_path)
    templates = umbrella / "charts" / "wf4" / "templates"
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "a.yaml").write_text("kind: A\n")
    (shared / "b.yaml").write_text("kind: B\n")
    if how == "linked elsewhere":
        (templates / "shared.yaml").symlink_to(shared / "a.yaml")
    settle(umbrella)
    cache = tmp_path / "cache"
    package_chart(umbrella, tmp_path / "d0", cache=cache)
    before = package_chart(umbrella, tmp_path / "d1", cache=cache)          # from the kept listings
    if how == "added":
        (templates / "extra.yaml").write_text("kind: Extra\n")
    elif how == "removed":
        (templates / "configmap.yaml").unlink()
    elif how == "renamed":
        os.rename(templates / "configmap.yaml", templates / "other.yaml")
    elif how == "made a folder":
        (templates / "configmap.yaml").unlink()
        (templates / "configmap.yaml").mkdir()
        (templates / "configmap.yaml" / "inner.yaml").write_text("kind: Inner\n")
    else:                       # the link now leads to a folder, the folder's time set back
        (templates / "shared.yaml").unlink()
        (templates / "shared.yaml").symlink_to(shared)
        os.utime(templates, (SETTLED, SETTLED))
    after = package_chart(umbrella, tmp_path / "d2", cache=cache)
    assert after.digest != before.digest
    assert after.digest == no_cache_digest(umbrella, tmp_path / "d3")
    assert package_chart(umbrella, tmp_path / "d4", cache=cache).digest == after.digest


@pytest.mark.parametrize("how", ["in place, longer", "in place, same size", "a folder added",
                                 "a file added deep down", ".helmignore of the umbrella"])
def test_a_sub_chart_kept_whole_gives_the_bytes_of_a_cold_build_after_a_hand_edit(tmp_path, monkeypatch, how):
    """A warm run keeps an unchanged sub-chart whole (`PackageCache.kept_group`: its folders and
    files stat'ed, none listed or read); after a hand edit of one of its files the archive is
    byte for byte the one an empty cache gives."""
    umbrella = make_umbrella(tmp_path)
    deep = umbrella / "charts" / "wf2" / "templates" / "deep"
    deep.mkdir()
    (deep / "more.yaml").write_text("kind: Deep\n")
    settle(umbrella)
    cache = tmp_path / "cache"
    package_chart(umbrella, tmp_path / "d0", cache=cache)                   # cold: records the sub-charts
    kept: list[str] = []
    real = packcache.PackageCache.kept_group
    monkeypatch.setattr(packcache.PackageCache, "kept_group",
                        lambda self, prefix: (lambda hit: hit is not None and kept.append(prefix) or hit)(real(self, prefix)))
    warm = package_chart(umbrella, tmp_path / "d1", cache=cache)
    assert sorted(kept) == [f"charts/wf{i}/" for i in range(6)]
    assert warm.digest == no_cache_digest(umbrella, tmp_path / "d2")
    values = umbrella / "charts" / "wf2" / "values.yaml"
    if how == "in place, longer":
        with open(values, "a") as handle:
            handle.write("extra: 1\n")
    elif how == "in place, same size":
        with open(deep / "more.yaml", "r+b") as handle:                   # same inode and size, a new time
            handle.write(b"kind: DEEP\n")
    elif how == "a folder added":
        (deep / "inner").mkdir()
        (deep / "inner" / "x.yaml").write_text("kind: X\n")
    elif how == "a file added deep down":
        (deep / "added.yaml").write_text("kind: Added\n")
    else:
        with open(umbrella / ".helmignore", "a") as handle:
            handle.write("more.yaml\n")
    kept.clear()
    after = package_chart(umbrella, tmp_path / "d3", cache=cache)
    if how.startswith(".helmignore"):
        assert kept == []                       # what a sub-chart puts in the archive may differ
    else:
        assert "charts/wf2/" not in kept and "charts/wf1/" in kept
    cold = package_chart(umbrella, tmp_path / "d4", cache=tmp_path / "empty")
    assert after.path.read_bytes() == cold.path.read_bytes()
    assert after.digest != warm.digest
    assert package_chart(umbrella, tmp_path / "d5", cache=cache).digest == cold.digest


def test_a_sub_chart_kept_whole_whose_member_is_gone_is_walked_again(tmp_path):
    umbrella = make_umbrella(tmp_path)
    cache = tmp_path / "cache"
    reference = package_chart(umbrella, tmp_path / "d0", cache=cache).digest
    for pack in cache.glob("pack-*.gz"):
        pack.write_bytes(b"not a pack")
    assert package_chart(umbrella, tmp_path / "d1", cache=cache).digest == reference
    for name in ("wf1", "wf2", "wf3", "wf4", "wf5"):               # now under SEGMENTED_FROM: one member
        shutil.rmtree(umbrella / "charts" / name)
    (umbrella / "Chart.yaml").write_text("apiVersion: v2\nname: workflows\nversion: 1.0.0\n")
    (umbrella / "charts" / "wf0" / "files" / "data.txt").write_text("small\n")
    settle(umbrella)
    assert package_chart(umbrella, tmp_path / "d2", cache=cache).digest == no_cache_digest(umbrella, tmp_path / "d3")


# ------------------------------------------------------------------ the checks


@pytest.mark.parametrize("text", ["", "# only a comment\n", "a: 1\n", "- 1\n", "x\n", "null\n", "~\n", "''\n",
                                  "!!null ''\n", "a: 1\n---\nb: 2\n", "---\na: 1\n", "a: [1\n", "--- !!map\na: 1\n",
                                  "!!str x\n", "a: &x 1\nb: *x\n", "*x\n", "a: 1\n...\n", "a: 1\n---\n", "{a: 1}\n",
                                  "[1]\n", "a:\n  - b\n c: d\n", "%YAML 1.1\n---\na: 1\n", "a: b: c\n", "--- a\n--- b\n"])
def test_values_yaml_is_judged_as_composing_it_judges(text):
    """values.yaml is read as libyaml's events (no nodes built); what passes, what fails and
    the message are those of `yaml.compose`."""
    import yaml

    from chartgen.repo.chartcheck import _check_values
    from chartgen.yamlio import _syntax_error

    try:
        node = yaml.compose(text, Loader=yaml.CSafeLoader)
        wanted = None if node is None or isinstance(node, yaml.MappingNode) or node.tag == "tag:yaml.org,2002:null" \
            else "values.yaml is not a mapping of values"
    except yaml.YAMLError as exc:
        wanted = f"values.yaml: {_syntax_error('values.yaml', exc)}"
    try:
        _check_values(text.encode(), Path("values.yaml"))
        found = None
    except ChartgenError as exc:
        found = str(exc)
    assert found == wanted


def _error(umbrella: Path, out: Path, cache: Path | None) -> ChartgenError:
    with pytest.raises(ChartgenError) as caught:
        package_chart(umbrella, out, cache=cache)
    return caught.value


def test_the_checks_say_the_same_with_a_warm_cache(tmp_path):
    umbrella = make_umbrella(tmp_path)
    cache = tmp_path / "cache"
    reference = package_chart(umbrella, tmp_path / "d0", cache=cache).digest

    values = umbrella / "charts" / "wf2" / "values.yaml"
    good = values.read_text()
    values.write_text("greeting: [unclosed\n")
    kept, plain = _error(umbrella, tmp_path / "d1", cache), _error(umbrella, tmp_path / "d1", None)
    assert str(kept) == str(plain) and kept.code == "package-failed"
    assert kept.findings[0].path.endswith("charts/wf2/values.yaml")
    values.write_text(good)

    chart_yaml = umbrella / "charts" / "wf1" / "Chart.yaml"
    chart_yaml.write_text(chart_yaml.read_text() + "dependencies:\n- name: absent\n  version: 1.0.0\n")
    kept, plain = _error(umbrella, tmp_path / "d1", cache), _error(umbrella, tmp_path / "d1", None)
    assert str(kept) == str(plain) and "missing in charts/ directory: absent" in str(kept)
    assert kept.findings[0].path.endswith("charts/wf1/Chart.yaml")
    chart_yaml.write_text(chart_yaml.read_text().split("dependencies:")[0])
    settle(umbrella)
    assert package_chart(umbrella, tmp_path / "d2", cache=cache).digest == reference

    # a sub-chart's name is its Chart.yaml's, also when kept: a folder of another name still counts
    os.rename(umbrella / "charts" / "wf5", umbrella / "charts" / "renamed")
    assert package_chart(umbrella, tmp_path / "d3", cache=cache).digest == no_cache_digest(umbrella, tmp_path / "d4")
    shutil.rmtree(umbrella / "charts" / "renamed")
    kept, plain = _error(umbrella, tmp_path / "d5", cache), _error(umbrella, tmp_path / "d5", None)
    assert str(kept) == str(plain) and "missing in charts/ directory: wf5" in str(kept)


# ------------------------------------------------------------------ the cache folder


def test_the_cache_folder_is_pruned(tmp_path, monkeypatch):
    umbrella = make_umbrella(tmp_path)
    cache = tmp_path / "cache"
    values = umbrella / "charts" / "wf1" / "values.yaml"
    package_chart(umbrella, tmp_path / "d0", cache=cache)
    assert len(list(cache.glob("pack-*.gz"))) == 1
    for run in range(1, 4):
        values.write_text(f"greeting: change {run}\n")
        package_chart(umbrella, tmp_path / f"d{run}", cache=cache)
    packs = sorted(cache.glob("pack-*.gz"), key=lambda p: p.stat().st_mtime_ns)
    assert len(packs) == 4         # packs no longer named are kept an hour (a run at the same time may need them)
    for pack in packs[1:3]:
        os.utime(pack, (time.time() - 7200, time.time() - 7200))
    other_memo = cache / "files-0123456789abcdef01234567.memo"          # a chart folder long gone
    other_memo.write_text(f"{packcache._MEMO_HEAD}\t/nowhere\n")
    os.utime(other_memo, (time.time() - 40 * 86400, time.time() - 40 * 86400))
    values.write_text("greeting: change 3\n")                          # as in the last run
    settle(umbrella)
    result = package_chart(umbrella, tmp_path / "d9", cache=cache)
    assert sorted(cache.glob("pack-*.gz")) == sorted([packs[0], packs[3]])
    assert len(list(cache.glob("files-*.memo"))) == 1
    # spread over too many packs: one pack of them all, the same bytes
    monkeypatch.setattr(packcache, "MAX_PACKS", 1)
    values.write_text("greeting: change 4\n")
    changed = package_chart(umbrella, tmp_path / "d10", cache=cache)
    named = packcache._memo_packs(str(next(cache.glob("files-*.memo"))))
    assert len(named) == 1 and (cache / next(iter(named))).stat().st_size > 1000
    assert changed.digest == no_cache_digest(umbrella, tmp_path / "d11") != result.digest
    assert package_chart(umbrella, tmp_path / "d12", cache=cache).digest == changed.digest


def test_a_broken_cache_only_costs_time(tmp_path):
    umbrella = make_umbrella(tmp_path)
    cache = tmp_path / "cache"
    reference = package_chart(umbrella, tmp_path / "d0", cache=cache).digest
    pack = next(cache.glob("pack-*.gz"))
    pack.write_bytes(pack.read_bytes()[: pack.stat().st_size // 2])          # cut short
    assert package_chart(umbrella, tmp_path / "d1", cache=cache).digest == reference
    memo = next(cache.glob("files-*.memo"))
    text = memo.read_text()
    memo.write_text(text.replace("\t0\t", "\t7\t", 1))                         # a member's place wrong
    assert package_chart(umbrella, tmp_path / "d2", cache=cache).digest == reference
    memo.write_bytes(os.urandom(5000))                                          # not a memo at all
    assert package_chart(umbrella, tmp_path / "d3", cache=cache).digest == reference
    memo.write_text(text.replace("\tf\t", "\tf", 3).replace("\nf\t", "\nf", 5))   # file lines that do not read
    assert package_chart(umbrella, tmp_path / "d4", cache=cache).digest == reference


def test_a_killed_run_leaves_nothing_broken(tmp_path):
    from kill_helpers import count_changes, leftovers, run_until_killed

    root = tmp_path / "repo"
    (root / "charts").mkdir(parents=True)
    (root / "chartgen.yaml").write_text("charts: charts\ndist: dist\n")
    umbrella = make_umbrella(root / "charts")
    env = dict(os.environ)
    args = ["package", "workflows"]
    values = umbrella / "charts" / "wf1" / "values.yaml"

    def one_change(number: int) -> None:     # the next run has one sub-chart to compress
        shutil.rmtree(root / "dist", ignore_errors=True)
        write_new(values, f"greeting: run {number}\n")
        settle(umbrella)

    assert count_changes(args, root, env, tmp_path / "count0")[1].returncode == 0       # the cache is warm
    one_change(0)
    changes, done = count_changes(args, root, env, tmp_path / "count")
    assert done.returncode == 0, done.stderr
    for number, kill_at in enumerate(sorted({1, changes // 3, changes // 2, changes - 1}), start=1):
        one_change(number)
        assert run_until_killed(args, root, env, kill_at=kill_at) == -9
        finished = subprocess.run([sys.executable, "-m", "chartgen", *args], cwd=root, env=env,
                                  capture_output=True, text=True)
        assert finished.returncode == 0, finished.stderr
        assert read_archive(root / "dist" / "workflows-1.0.0.tgz").digest == \
            no_cache_digest(umbrella, tmp_path / f"r{number}")
        assert not leftovers(root)
        assert len(list((root / ".chartgen" / "package").glob("files-*.memo"))) == 1


# ------------------------------------------------------------------ archives written before


def test_an_older_one_member_archive_of_the_same_content_is_kept(tmp_path, monkeypatch):
    import chartgen.repo.package as package

    umbrella = make_umbrella(tmp_path)
    single = gzip_bytes(tar_bytes("workflows", chart_files(umbrella)[1]))
    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / "workflows-1.0.0.tgz").write_bytes(single)
    monkeypatch.setattr(package, "_legacy_archive", lambda chart_dir: pytest.fail("Helm's layout was tried"))
    kept = package_chart(umbrella, dist, cache=tmp_path / "cache")
    assert kept.unchanged and (dist / "workflows-1.0.0.tgz").read_bytes() == single
    index = IndexFile({"workflows": (make_entry(read_archive(dist / "workflows-1.0.0.tgz"), "workflows-1.0.0.tgz",
                                                "2025-01-01T00:00:00Z"),)}, path="index.yaml")
    fresh = package_chart(umbrella, tmp_path / "fresh", published=index, cache=tmp_path / "cache")
    assert fresh.path.read_bytes() == single and not fresh.unchanged
    monkeypatch.undo()
    (umbrella / "charts" / "wf1" / "values.yaml").write_text("greeting: changed\n")
    with pytest.raises(ChartgenError) as caught:                # other content is still refused
        package_chart(umbrella, dist, cache=tmp_path / "cache")
    assert caught.value.code == "version-immutable"


# ------------------------------------------------------------------ in a build


def test_a_build_keeps_the_umbrella_members_in_the_package_cache(tmp_path, monkeypatch):
    from chartgen.build.options import BuildOptions
    from chartgen.build.runner import build
    from chartgen.config import load_config
    from conftest import REPO

    monkeypatch.setattr(tarball, "SEGMENTED_FROM", 1)           # the sample umbrella is small
    root = tmp_path / "repo"
    shutil.copytree(REPO / "workflow_sources", root / "workflow_sources")
    (root / "chartgen.yaml").write_text("build:\n  executor: thread\n")
    config = load_config(root / "chartgen.yaml")
    report = build([root / "workflow_sources" / n for n in ("greeting", "mta")], config, BuildOptions(until="package"))
    assert report.ok, report.to_dict()
    archive = next((root / "dist").glob("workflows-*.tgz"))
    assert list((root / ".chartgen" / "package").glob("pack-*.gz"))
    assert len(gzip_members(archive.read_bytes())) > 3
    assert read_archive(archive).digest == no_cache_digest(root / "charts" / "workflows", tmp_path / "again")
