"""Packaging: real Helm, reproducible archives, immutable published versions."""

from __future__ import annotations

import os
import shutil
import tarfile

import pytest

from chartgen.errors import ChartgenError
from chartgen.repo.archive import make_entry, read_archive
from chartgen.repo.index import IndexFile
from chartgen.repo.package import ARCHIVE_EPOCH, package_chart
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
