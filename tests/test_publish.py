"""Publishing to a folder, target parsing, and the `chartgen publish` command."""

from __future__ import annotations

import json
import shutil
import threading

import pytest
import yaml

from chartgen.errors import ChartgenError, UsageError
from chartgen.repo.archive import read_archive
from chartgen.repo.publish import Target, parse_target, publish
from publish_helpers import FIXTURES, package, serve_directory


@pytest.mark.parametrize("text, expected", [
    ("dir:site", Target("dir", "site")),
    ("dir:/srv/charts", Target("dir", "/srv/charts")),
    ("git:../charts.git", Target("git", "../charts.git", "gh-pages")),
    ("git:https://git.example.test/org/charts.git#pages", Target("git", "https://git.example.test/org/charts.git", "pages")),
    ("git:/srv/charts.git#gh-pages:docs/", Target("git", "/srv/charts.git", "gh-pages", "docs")),
    ("oci://127.0.0.1:5000/charts/", Target("oci", "127.0.0.1:5000/charts")),
])
def test_parse_target(text, expected):
    assert parse_target(text) == expected


@pytest.mark.parametrize("text", ["", "site", "ftp:x", "dir:", "git:", "git:#main", "git:r.git#b:../up", "oci://", "oci://host"])
def test_bad_targets_are_usage_errors(text):
    with pytest.raises(UsageError) as caught:
        parse_target(text)
    assert caught.value.exit_code == 2
    assert any(hint in str(caught.value) for hint in ("dir:PATH", "oci://REGISTRY/PATH", "git:REMOTE[#BRANCH", "relative path"))


def test_publish_to_a_folder_then_serve_it_to_helm(tmp_path):
    import helm_python

    dist, site = tmp_path / "dist", tmp_path / "site"
    first = [package(tmp_path / "src", dist, "hello", "1.0.0"), package(tmp_path / "src", dist, "other", "0.1.0")]
    result = publish(first, "dir:" + str(site))
    assert result.added == (("hello", "1.0.0"), ("other", "0.1.0"))
    assert sorted(p.name for p in site.iterdir()) == ["catalogue.json", "hello", "hello-1.0.0.tgz", "index.html",
                                                      "index.yaml", "other", "other-0.1.0.tgz"]
    before = (site / "index.yaml").read_bytes()
    again = publish(first, "dir:" + str(site))
    assert again.unchanged == result.added and not again.added
    assert (site / "index.yaml").read_bytes() == before
    publish([package(tmp_path / "src", dist, "hello", "1.1.0")], "dir:" + str(site))
    with serve_directory(site) as url:
        index = helm_python.repo_index(url)
        helm_python.pull("hello", repo_url=url, version="1.1.0", destination=str(tmp_path))
    assert [e["version"] for e in index["entries"]["hello"]] == ["1.1.0", "1.0.0"]
    assert read_archive(tmp_path / "hello-1.1.0.tgz").digest == index["entries"]["hello"][0]["digest"]


def test_bad_archives_leave_the_published_folder_unchanged(tmp_path):
    dist, site = tmp_path / "dist", tmp_path / "site"
    publish([package(tmp_path / "src", dist, "hello", "1.0.0")], "dir:" + str(site))
    def files():
        return {str(p.relative_to(site)): p.read_bytes() for p in site.rglob("*") if p.is_file()}

    snapshot = files()
    good = package(tmp_path / "src", dist, "good", "1.0.0")
    changed = package(tmp_path / "changed", tmp_path / "dist2", "hello", "1.0.0", greeting="Changed")
    for archive, code in ((FIXTURES / "corrupt-1.0.0.tgz", "archive-corrupt"),
                          (FIXTURES / "wrong-name-1.0.0.tgz", "archive-name-mismatch"),
                          (changed, "version-immutable")):
        with pytest.raises(ChartgenError) as caught:
            publish([good, archive], "dir:" + str(site))
        assert caught.value.code == code
        assert files() == snapshot


def test_broken_published_index_is_reported_not_overwritten(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    shutil.copy(FIXTURES / "not-yaml-index.yaml", site / "index.yaml")
    with pytest.raises(ChartgenError) as caught:
        publish([package(tmp_path / "src", tmp_path / "dist", "hello", "1.1.0")], "dir:" + str(site))
    assert caught.value.findings[0].line > 0
    assert (site / "index.yaml").read_bytes() == (FIXTURES / "not-yaml-index.yaml").read_bytes()
    assert not (site / "hello-1.1.0.tgz").exists()


def test_concurrent_folder_publishers_lose_nothing(tmp_path):
    site = tmp_path / "site"
    archives = [package(tmp_path / f"src{i}", tmp_path / f"dist{i}", f"chart{i}", f"1.{i}.0") for i in range(4)]
    errors = []

    def run(archive):
        try:
            publish([archive], "dir:" + str(site))
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(a,)) for a in archives]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    data = json.loads((site / "index.yaml").read_text())
    assert sorted((n, e["version"]) for n, items in data["entries"].items() for e in items) == \
        [(f"chart{i}", f"1.{i}.0") for i in range(4)]


def test_cli_publish_packages_chart_folders_and_reports(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from chartgen.cli import cli
    from publish_helpers import make_chart

    make_chart(tmp_path / "charts", "hello", "1.0.0")
    (tmp_path / "chartgen.yaml").write_text("publish:\n  target: dir:site\n  url: https://e.test/charts\n")
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    result = runner.invoke(cli, ["publish", "hello"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "published hello 1.0.0" in result.output
    assert (tmp_path / "dist" / "hello-1.0.0.tgz").is_file()
    entry = yaml.safe_load((tmp_path / "site" / "index.yaml").read_text())["entries"]["hello"][0]
    assert entry["urls"] == ["https://e.test/charts/hello-1.0.0.tgz"]
    again = runner.invoke(cli, ["publish"], catch_exceptions=False)  # every archive in dist
    assert again.exit_code == 0 and "already published hello 1.0.0" in again.output
    bad = runner.invoke(cli, ["publish", "--to", "nowhere:x"])
    assert bad.exit_code != 0


def test_cli_publish_warns_about_versions_an_older_tool_listed_twice(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from chartgen.cli import cli
    from publish_helpers import make_chart

    make_chart(tmp_path / "charts", "hello", "1.0.0")
    created = "2026-01-01T00:00:00Z"
    twice = [{"name": "hello", "version": "0.9.0", "digest": d * 64, "urls": ["hello-0.9.0.tgz"], "created": created}
             for d in "ab"]
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "index.yaml").write_text(yaml.safe_dump({"apiVersion": "v1", "generated": created,
                                                                  "entries": {"hello": twice}}))
    (tmp_path / "chartgen.yaml").write_text("publish:\n  target: dir:site\n")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["publish", "hello"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert ("dir:site: warning: hello 0.9.0 is listed 2 times in the index (left by an older tool); "
            "clients may pick any of them [index-duplicate]") in result.stderr
