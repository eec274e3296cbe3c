"""Packaging: real Helm, reproducible archives, immutable published versions."""

from __future__ import annotations

import os
import shutil
import tarfile
from pathlib import Path

import pytest

from chartgen.errors import ChartgenError
from chartgen.repo.archive import make_entry, read_archive
from chartgen.repo.index import IndexFile
from chartgen.repo.package import ARCHIVE_EPOCH, package_chart
from conftest import REPO
from publish_helpers import make_chart


def test_same_content_gives_same_bytes_whatever_the_file_times(tmp_path):
    first_copy = make_chart(tmp_path / "checkout-a")
    second_copy = make_chart(tmp_path / "checkout-b")
    # A fresh checkout elsewhere has other mtimes: the archive must not depend on them.
    for root, _dirs, files in os.walk(second_copy):
        for name in files:
            os.utime(os.path.join(root, name), (1_700_000_000, 1_700_000_000))
    a = package_chart(first_copy, tmp_path / "out-a")
    b = package_chart(second_copy, tmp_path / "out-b")
    assert a.path.name == b.path.name == "hello-1.0.0.tgz"
    assert a.path.read_bytes() == b.path.read_bytes()
    assert a.digest == b.digest == read_archive(a.path).digest
    with tarfile.open(a.path) as tar:
        members = tar.getmembers()
    assert {m.mtime for m in members} == {ARCHIVE_EPOCH}
    assert "hello/Chart.yaml" in {m.name for m in members}
    # gzip header: no timestamp, so it cannot vary either
    assert a.path.read_bytes()[4:8] == b"\0\0\0\0"


def test_other_content_gives_other_digest(tmp_path):
    a = package_chart(make_chart(tmp_path / "a"), tmp_path / "out-a")
    b = package_chart(make_chart(tmp_path / "b", greeting="Hi"), tmp_path / "out-b")
    assert a.digest != b.digest


def test_chartgen_marker_and_vcs_files_stay_out_of_the_archive(tmp_path):
    chart = make_chart(tmp_path)
    (chart / ".chartgen").write_text("written by chartgen\n")
    (chart / ".git").mkdir()
    (chart / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    result = package_chart(chart, tmp_path / "out")
    with tarfile.open(result.path) as tar:
        names = tar.getnames()
    assert not [n for n in names if ".chartgen" in n or ".git/" in n]
    plain = package_chart(make_chart(tmp_path / "plain"), tmp_path / "out-plain")
    assert plain.digest == result.digest


def test_repackaging_the_same_version_is_a_no_op(tmp_path):
    chart = make_chart(tmp_path)
    first = package_chart(chart, tmp_path / "dist")
    again = package_chart(chart, tmp_path / "dist")
    assert again.unchanged and again.digest == first.digest


def test_changed_content_under_a_published_version_is_refused(tmp_path):
    dist = tmp_path / "dist"
    original = package_chart(make_chart(tmp_path / "v1"), dist)
    before = original.path.read_bytes()
    changed = make_chart(tmp_path / "v1-changed", greeting="Changed")
    with pytest.raises(ChartgenError) as caught:
        package_chart(changed, dist)
    assert caught.value.code == "version-immutable"
    assert "immutable" in str(caught.value) and "hello 1.0.0" in str(caught.value)
    assert original.path.read_bytes() == before
    assert sorted(p.name for p in dist.iterdir()) == ["hello-1.0.0.tgz"]  # no temp leftovers
    forced = package_chart(changed, dist, force=True)
    assert forced.digest != original.digest and forced.path.read_bytes() != before


def test_version_in_the_published_index_is_checked_too(tmp_path):
    published_archive = package_chart(make_chart(tmp_path / "pub"), tmp_path / "published")
    info = read_archive(published_archive.path)
    index = IndexFile({"hello": (make_entry(info, "hello-1.0.0.tgz", "2025-01-01T00:00:00Z"),)},
                      path="index.yaml")
    fresh_dist = tmp_path / "dist"
    same = package_chart(make_chart(tmp_path / "same"), fresh_dist, published=index)
    assert same.digest == info.digest
    with pytest.raises(ChartgenError, match="already published in index.yaml"):
        package_chart(make_chart(tmp_path / "other", greeting="Other"), tmp_path / "dist2", published=index)
    assert not (tmp_path / "dist2" / "hello-1.0.0.tgz").exists()


def test_invalid_chart_is_a_clear_error(tmp_path):
    chart = make_chart(tmp_path)
    (chart / "values.yaml").write_text("greeting: [unclosed\n")
    with pytest.raises(ChartgenError) as caught:
        package_chart(chart, tmp_path / "out")
    assert caught.value.code == "package-failed" and "values.yaml" in str(caught.value)
    assert not list((tmp_path / "out").glob("*.tgz"))
    with pytest.raises(ChartgenError, match="no Chart.yaml"):
        package_chart(tmp_path / "missing", tmp_path / "out")


def test_cli_package_prints_digests(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from chartgen.cli import cli

    make_chart(tmp_path / "charts")
    make_chart(tmp_path / "charts", "other", "0.2.0")
    (tmp_path / "chartgen.yaml").write_text("charts: charts\ndist: dist\n")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["package"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert [os.path.basename(line.split()[0]) for line in lines] == ["hello-1.0.0.tgz", "other-0.2.0.tgz"]
    digest = read_archive(tmp_path / "dist" / "hello-1.0.0.tgz").digest
    assert f"sha256:{digest}" in lines[0]
    again = CliRunner().invoke(cli, ["package", "hello"], catch_exceptions=False)
    assert again.exit_code == 0 and again.output.rstrip().endswith("(unchanged)")


def test_local_file_dependencies_are_vendored_like_helm_dependency_build(tmp_path):
    import helm_python

    charts = tmp_path / "charts"
    make_chart(charts, "hello", "1.0.0")
    umbrella = charts / "workflows"
    (umbrella / "templates").mkdir(parents=True)
    (umbrella / "Chart.yaml").write_text(
        "apiVersion: v2\nname: workflows\nversion: 0.1.0\ndependencies:\n"
        "- name: hello\n  version: 1.0.0\n  repository: file://../hello\n  condition: hello.enabled\n")
    (umbrella / "values.yaml").write_text("hello:\n  enabled: true\n")
    result = package_chart(umbrella, tmp_path / "dist")
    with tarfile.open(result.path) as tar:
        assert "workflows/charts/hello/templates/configmap.yaml" in tar.getnames()
    assert not (umbrella / "charts").exists()  # the chart folder itself is untouched
    with helm_python.Chart.load(result.path) as chart:
        rendered = chart.render(name="demo")
    assert any("demo-hello" in text for text in rendered.values())
    # the same umbrella from another checkout: the same bytes
    copy = tmp_path / "elsewhere"
    shutil.copytree(charts, copy)
    assert package_chart(copy / "workflows", tmp_path / "dist2").digest == result.digest
    (umbrella / "Chart.yaml").write_text((umbrella / "Chart.yaml").read_text().replace("version: 1.0.0", "version: 2.0.0"))
    with pytest.raises(ChartgenError) as caught:
        package_chart(umbrella, tmp_path / "dist3")
    assert caught.value.code == "package-dependency"


def test_umbrella_with_several_subcharts_gives_one_digest(tmp_path):
    """Helm writes embedded sub-charts in map order; the archive is rewritten sorted."""
    umbrella = tmp_path / "workflows"
    dependencies = []
    for name in ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot"):
        make_chart(umbrella / "charts", name=name)
        dependencies.append(f"- name: {name}\n  version: 1.0.0\n  condition: {name}.enabled\n")
    (umbrella / "templates").mkdir(parents=True)
    (umbrella / "Chart.yaml").write_text("apiVersion: v2\nname: workflows\nversion: 1.0.0\n"
                                         "dependencies:\n" + "".join(dependencies))
    (umbrella / "values.yaml").write_text("".join(f"{n}:\n  enabled: false\n" for n in
                                                  ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot")))
    digests = {package_chart(umbrella, tmp_path / f"dist{i}").digest for i in range(6)}
    assert len(digests) == 1
    with tarfile.open(next((tmp_path / "dist0").glob("*.tgz"))) as tar:
        names = [m.name for m in tar.getmembers()]
    assert names == sorted(names) and "workflows/charts/foxtrot/Chart.yaml" in names


# ------------------------------------------------------------- chartgen's own archive writer

GREETING = REPO / "charts" / "greeting"


def _members(archive):
    with tarfile.open(archive) as tar:
        return [(m, tar.extractfile(m).read()) for m in tar.getmembers()]


def _helm_view(archive) -> dict:
    """What Helm loads from an archive: metadata, values, schema, templates and files."""
    import helm_python

    with helm_python.Chart.load(archive) as chart:
        return {"metadata": chart.metadata, "values": chart.values,
                "schema": chart.schema,
                "files": {f["name"]: f["data"] for f in chart.templates + chart.files}}


def test_a_generated_chart_gives_the_same_bytes_in_every_run(tmp_path):
    chart = tmp_path / "greeting"
    shutil.copytree(GREETING, chart)
    runs = [package_chart(chart, tmp_path / f"dist{i}") for i in range(3)]
    assert len({r.path.read_bytes() for r in runs}) == 1
    assert len({r.digest for r in runs}) == 1 and not any(r.unchanged for r in runs)
    members = _members(runs[0].path)
    names = [m.name for m, _ in members]
    assert names == sorted(names) and all(m.isfile() for m, _ in members)   # no folder entries
    assert {(m.mode, m.mtime, m.uid, m.gid, m.uname, m.gname) for m, _ in members} == {(0o644, ARCHIVE_EPOCH, 0, 0, "", "")}
    assert runs[0].path.read_bytes()[:10] == b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"  # no time, no name
    # the archive holds the folder's files as they are (Chart.yaml too), minus the marker
    on_disk = {str(p.relative_to(chart)): p.read_bytes() for p in chart.rglob("*") if p.is_file()}
    on_disk.pop(".chartgen", None)
    assert {m.name[len("greeting/"):]: data for m, data in members} == on_disk


def test_helm_loads_the_archive_as_it_loads_the_chart_folder(tmp_path):
    import helm_python

    chart = tmp_path / "greeting"
    shutil.copytree(GREETING, chart)
    result = package_chart(chart, tmp_path / "dist")
    ours = _helm_view(result.path)
    folder = _helm_view(chart)
    assert ours == folder and ours["files"] and ours["metadata"]["name"] == "greeting"
    # and as it loads its own archive of the folder: the same chart
    assert _helm_view(helm_python.package(chart, destination=tmp_path / "helm")) == ours
    with helm_python.Chart.load(result.path) as loaded:
        assert loaded.render(name="demo")


def test_helmignore_leaves_out_what_helm_leaves_out(tmp_path):
    import helm_python

    chart = make_chart(tmp_path / "src")
    (chart / ".helmignore").write_text(
        "# comment\n\n*.swp\n/top-only.txt\nsecrets/\ndocs/*.draft\n[a-c]?.tmp\ntemplates/skip-?.yaml\n")
    extra = {"notes.swp": "x", "sub/deep.swp": "x", "top-only.txt": "x", "sub/top-only.txt": "kept",
             "secrets/key": "x", "other/secrets": "file, not a folder", "docs/a.draft": "x",
             "docs/a.md": "kept", "templates/.hidden.yaml": "x", "templates/sub/.hidden": "kept",
             "templates/skip-1.yaml": "x", "templates/skip-10.yaml": "kept", "b1.tmp": "x", "d1.tmp": "kept"}
    for rel, text in extra.items():
        (chart / rel).parent.mkdir(parents=True, exist_ok=True)
        (chart / rel).write_text(text)
    ours = {m.name for m, _ in _members(package_chart(chart, tmp_path / "dist").path)}
    helms = {m.name for m, _ in _members(helm_python.package(chart, destination=tmp_path / "helm"))}
    assert ours == helms
    assert {f"hello/{rel}" for rel, text in extra.items() if text != "x"} <= ours
    assert not {f"hello/{rel}" for rel, text in extra.items() if text == "x"} & ours


def test_an_archive_of_an_older_chartgen_with_the_same_content_is_kept(tmp_path):
    """Before chartgen wrote archives itself they were Helm's: the same content under the
    same version is no changed chart (in dist/, nor in a published index)."""
    from chartgen.repo.package import _helm_archive

    chart = make_chart(tmp_path / "src")
    older = _helm_archive(chart, tmp_path / "work")
    dist = tmp_path / "dist"
    dist.mkdir()
    shutil.copy(older, dist / older.name)
    kept = package_chart(chart, dist)
    assert kept.unchanged and kept.digest == read_archive(dist / older.name).digest
    assert (dist / older.name).read_bytes() == older.read_bytes()
    index = IndexFile({"hello": (make_entry(read_archive(older), "hello-1.0.0.tgz", "2025-01-01T00:00:00Z"),)},
                      path="index.yaml")
    fresh = package_chart(chart, tmp_path / "fresh", published=index)
    assert fresh.digest == kept.digest and fresh.path.read_bytes() == older.read_bytes()
    with pytest.raises(ChartgenError) as caught:     # other content is still refused
        package_chart(make_chart(tmp_path / "other", greeting="Other"), dist)
    assert caught.value.code == "version-immutable"


def test_odd_chart_folders_are_clear_errors(tmp_path):
    chart = make_chart(tmp_path / "loop")
    (chart / "templates" / "again").symlink_to(chart)
    with pytest.raises(ChartgenError, match="loops back") as caught:
        package_chart(chart, tmp_path / "out")
    assert caught.value.code == "package-failed"

    chart = make_chart(tmp_path / "fifo")
    os.mkfifo(chart / "templates" / "pipe")
    with pytest.raises(ChartgenError, match="not a regular file"):
        package_chart(chart, tmp_path / "out")

    chart = make_chart(tmp_path / "broken")
    (chart / "dangling").symlink_to(tmp_path / "nowhere")
    with pytest.raises(ChartgenError, match="broken symbolic link"):
        package_chart(chart, tmp_path / "out")

    chart = make_chart(tmp_path / "bytes")
    with open(os.fsencode(chart / "templates") + b"/caf\xe9.yaml", "wb") as handle:
        handle.write(b"x: 1\n")
    with pytest.raises(ChartgenError, match="not UTF-8"):
        package_chart(chart, tmp_path / "out")

    chart = make_chart(tmp_path / "escape")
    (chart / "Chart.yaml").write_text((chart / "Chart.yaml").read_text().replace("name: hello", "name: ../up"))
    with pytest.raises(ChartgenError, match="not a valid file name"):
        package_chart(chart, tmp_path / "out")

    chart = make_chart(tmp_path / "deps")
    (chart / "Chart.yaml").write_text((chart / "Chart.yaml").read_text() + "dependencies:\n- name: absent\n  version: 1.0.0\n")
    with pytest.raises(ChartgenError, match="missing in charts/ directory: absent"):
        package_chart(chart, tmp_path / "out")

    chart = make_chart(tmp_path / "deplist")
    (chart / "Chart.yaml").write_text((chart / "Chart.yaml").read_text() + "dependencies: 5\n")
    with pytest.raises(ChartgenError, match="dependencies is not a list"):
        package_chart(chart, tmp_path / "out")

    chart = make_chart(tmp_path / "schema")
    (chart / "values.schema.json").write_text("{not json")
    with pytest.raises(ChartgenError, match="values.schema.json"):
        package_chart(chart, tmp_path / "out")
    assert not list((tmp_path / "out").glob("*.tgz"))   # nothing written for any of them


def test_symlinked_files_and_folders_are_packaged_with_their_content(tmp_path):
    shared = tmp_path / "shared"
    (shared / "inner").mkdir(parents=True)
    (shared / "inner" / "data.txt").write_text("shared data\n")
    chart = make_chart(tmp_path / "src")
    (chart / "files").mkdir()
    (chart / "files" / "linked").symlink_to(shared)
    (chart / "LICENSE").symlink_to(shared / "inner" / "data.txt")
    members = dict((m.name, data) for m, data in _members(package_chart(chart, tmp_path / "dist").path))
    assert members["hello/files/linked/inner/data.txt"] == members["hello/LICENSE"] == b"shared data\n"


def test_long_and_non_ascii_names_survive(tmp_path):
    chart = make_chart(tmp_path / "src")
    long_name = "files/" + "d" * 120 + "/" + "f" * 90 + ".txt"
    for rel in (long_name, "files/naïve-café.txt"):
        (chart / rel).parent.mkdir(parents=True, exist_ok=True)
        (chart / rel).write_text(rel)
    result = package_chart(chart, tmp_path / "dist")
    members = dict((m.name, data) for m, data in _members(result.path))
    assert members[f"hello/{long_name}"] == long_name.encode()
    assert members["hello/files/naïve-café.txt"] == "files/naïve-café.txt".encode()
    assert {f for f in _helm_view(result.path)["files"]} >= {long_name, "files/naïve-café.txt"}


def test_a_leftover_of_a_killed_run_is_swept(tmp_path):
    import subprocess

    process = subprocess.Popen(["true"])
    process.wait()
    dist = tmp_path / "dist"
    dist.mkdir()
    leftover = dist / f".hello-1.0.0.tgz.tmp-{process.pid}-k2j3"
    leftover.write_bytes(b"half an archive")
    package_chart(make_chart(tmp_path / "src"), dist)
    assert sorted(p.name for p in dist.iterdir()) == ["hello-1.0.0.tgz"]


def test_todays_archive_gives_way_to_the_published_older_layout(tmp_path):
    from chartgen.repo.package import _helm_archive

    chart = make_chart(tmp_path / "src")
    older = _helm_archive(chart, tmp_path / "work")
    dist = tmp_path / "dist"
    today = package_chart(chart, dist)
    assert today.digest != read_archive(older).digest
    index = IndexFile({"hello": (make_entry(read_archive(older), "hello-1.0.0.tgz", "2025-01-01T00:00:00Z"),)},
                      path="index.yaml")
    result = package_chart(chart, dist, published=index)
    assert not result.unchanged and result.path.read_bytes() == older.read_bytes()


def test_publishing_again_over_an_older_chartgens_archive_keeps_it(tmp_path):
    """A folder or branch published by an older chartgen holds Helm's bytes: the same chart
    packaged today is already published (the older archive and its entry stay), a changed one
    is still refused."""
    from chartgen.repo.archive import same_chart_content
    from chartgen.repo.package import _helm_archive
    from chartgen.repo.publish import publish

    chart = make_chart(tmp_path / "src")
    older = _helm_archive(chart, tmp_path / "work")
    site = tmp_path / "site"
    publish([older], f"dir:{site}")
    index_before = (site / "index.yaml").read_bytes()
    today = package_chart(chart, tmp_path / "dist")
    assert today.digest != read_archive(older).digest and same_chart_content(older, today.path)
    again = publish([today.path], f"dir:{site}")
    assert again.unchanged == (("hello", "1.0.0"),) and not again.added
    assert (site / "hello-1.0.0.tgz").read_bytes() == older.read_bytes()
    assert (site / "index.yaml").read_bytes() == index_before
    changed = package_chart(make_chart(tmp_path / "changed", greeting="Changed"), tmp_path / "dist2")
    assert not same_chart_content(older, changed.path)
    with pytest.raises(ChartgenError) as caught:
        publish([changed.path], f"dir:{site}")
    assert caught.value.code == "version-immutable"
