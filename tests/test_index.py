"""Repository index: Helm-compatible, incremental, immutable versions, read back by Helm."""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from chartgen.errors import ChartgenError
from chartgen.repo.archive import read_archive
from chartgen.repo.html import render_html
from chartgen.repo.reading import load_index, parse_index
from chartgen.repo.update import update_index
from chartgen.repo.versions import sort_versions
from chartgen.repo.writing import dump_index
from publish_helpers import FIXTURES, package, serve_directory

T1, T2 = "2025-01-01T00:00:00.000001Z", "2025-06-01T00:00:00.000002Z"


def entries(path: Path) -> dict:
    return yaml.safe_load(path.read_text())["entries"]


def versions(path: Path, name: str) -> list[str]:
    return [e["version"] for e in entries(path)[name]]


def test_sort_is_newest_semver_first_with_unparsable_last():
    given = ["1.2.0", "junk", "1.10.0", "1.2.0-rc.9", "1.2.0-rc.10", "v2.0.0", "0.9", "1.2.0-rc1"]
    ordered = [e["version"] for e in sort_versions({"version": v} for v in given)]
    assert ordered == ["v2.0.0", "1.10.0", "1.2.0", "1.2.0-rc1", "1.2.0-rc.10", "1.2.0-rc.9", "0.9", "junk"]


def test_index_of_a_folder(tmp_path):
    dist = tmp_path / "dist"
    for version in ("1.0.0", "1.10.0", "1.2.0", "1.2.0-rc.1"):
        package(tmp_path / "src", dist, "hello", version)
    package(tmp_path / "src", dist, "other", "0.1.0")
    result = update_index(dist, "https://charts.example.test/repo/", now=T1)
    assert result.added and result.total == 5 and result.format == "json"
    data = json.loads((dist / "index.yaml").read_text())  # written as JSON ...
    assert yaml.safe_load((dist / "index.yaml").read_text()) == data  # ... which is YAML too
    assert data["apiVersion"] == "v1" and data["generated"] == T1
    assert sorted(data["entries"]) == ["hello", "other"]
    assert versions(dist / "index.yaml", "hello") == ["1.10.0", "1.2.0", "1.2.0-rc.1", "1.0.0"]
    entry = data["entries"]["hello"][0]
    archive = read_archive(dist / "hello-1.10.0.tgz")
    assert entry["digest"] == archive.digest
    assert entry["urls"] == ["https://charts.example.test/repo/hello-1.10.0.tgz"]
    assert entry["annotations"] == {"orchestrator.io/operator-versions": ">=1.5.0 <1.7.0",
                                    "orchestrator.io/workflow-id": "hello"}
    assert entry["created"] == T1 and entry["apiVersion"] == "v2" and entry["appVersion"] == "1.0.0"
    assert list(entry) == sorted(entry)
    page = (dist / "index.html").read_text()
    assert "helm install hello" in page and "--version 1.10.0" in page
    assert "&gt;=1.5.0 &lt;1.7.0" in page and archive.digest[:12] not in page  # no digest on the page
    assert "helm repo add repo https://charts.example.test/repo/" in page


def test_reindexing_keeps_created_and_bytes(tmp_path):
    dist = tmp_path / "dist"
    package(tmp_path / "src", dist, "hello", "1.0.0")
    update_index(dist, "", now=T1)
    first = (dist / "index.yaml").read_bytes()
    again = update_index(dist, "", now=T2)
    assert not again.added and (dist / "index.yaml").read_bytes() == first  # a no-op
    package(tmp_path / "src", dist, "hello", "1.1.0")
    added = update_index(dist, "", now=T2)
    assert added.added == (("hello", "1.1.0"),)
    data = json.loads((dist / "index.yaml").read_text())
    assert data["generated"] == T2
    assert [(e["version"], e["created"]) for e in data["entries"]["hello"]] == [("1.1.0", T2), ("1.0.0", T1)]
    assert data["entries"]["hello"][1]["urls"] == ["hello-1.0.0.tgz"]  # relative without --url


def test_merge_keeps_other_entries_and_refuses_a_changed_version(tmp_path):
    site, new = tmp_path / "site", tmp_path / "new"
    package(tmp_path / "src", site, "hello", "1.0.0")
    update_index(site, "", now=T1)
    package(tmp_path / "src2", new, "hello", "1.1.0")
    update_index(new, "", merge=site / "index.yaml", now=T2)
    assert versions(new / "index.yaml", "hello") == ["1.1.0", "1.0.0"]
    assert entries(new / "index.yaml")["hello"][1]["created"] == T1
    # Same version, other content: refused, the index left alone.
    conflict = tmp_path / "conflict"
    package(tmp_path / "src3", conflict, "hello", "1.0.0", greeting="Changed")
    before = (site / "index.yaml").read_bytes()
    with pytest.raises(ChartgenError) as caught:
        update_index(conflict, "", merge=site / "index.yaml")
    assert caught.value.code == "version-immutable"
    assert not (conflict / "index.yaml").exists() and (site / "index.yaml").read_bytes() == before
    forced = update_index(conflict, "", merge=site / "index.yaml", force=True, now=T2)
    assert forced.replaced == (("hello", "1.0.0"),)
    assert entries(conflict / "index.yaml")["hello"][0]["digest"] == read_archive(conflict / "hello-1.0.0.tgz").digest


@pytest.fixture
def helm_yaml_index(tmp_path) -> Path:
    """An index.yaml written by real Helm (`helm repo index`), with two charts."""
    import helm_python

    folder = tmp_path / "helm"
    package(tmp_path / "src", folder, "alpha", "1.0.0")
    package(tmp_path / "src", folder, "hello", "1.0.0")
    package(tmp_path / "src", folder, "zulu", "2.0.0")
    helm_python.repo_index_generate(folder, base_url="https://example.test/charts")
    return folder / "index.yaml"


def test_yaml_index_is_updated_in_place_touching_only_the_changed_charts(tmp_path, helm_yaml_index):
    original = helm_yaml_index.read_text()
    assert not original.lstrip().startswith("{")
    new = tmp_path / "new"
    package(tmp_path / "src-new", new, "hello", "1.1.0")
    package(tmp_path / "src-new", new, "beta", "0.1.0")
    result = update_index(new, "https://example.test/charts", merge=helm_yaml_index, now=T2)
    assert result.format == "yaml" and result.total == 5
    written = (new / "index.yaml").read_text()
    # untouched chart blocks are byte-for-byte what Helm wrote
    for name in ("alpha", "zulu"):
        block = original[original.index(f"  {name}:\n"):]
        block = block[:block.index("\n  ", 1) if name == "alpha" else block.index("\ngenerated:") + 1]
        assert block in written
    data = yaml.safe_load(written)
    full = yaml.safe_load(original)
    assert list(data["entries"]) == ["alpha", "beta", "hello", "zulu"]
    assert [e["version"] for e in data["entries"]["hello"]] == ["1.1.0", "1.0.0"]
    assert data["entries"]["hello"][1] == full["entries"]["hello"][0]  # created kept
    assert data["entries"]["alpha"] == full["entries"]["alpha"]
    assert data["generated"] == T2
    # the same result as parsing everything (the slow path)
    slow = parse_index(original.replace("entries:\n", "entries:\n  # comment: forces nothing\n"))
    assert slow.source_format == "yaml"


def test_irregular_yaml_index_falls_back_to_a_full_parse(tmp_path, helm_yaml_index):
    data = yaml.safe_load(helm_yaml_index.read_text())
    irregular = tmp_path / "irregular.yaml"
    # four-space indentation and an anchor: not the regular layout
    text = yaml.safe_dump(data, indent=4).replace("apiVersion: v1", "apiVersion: &api v1", 1)
    irregular.write_text(text)
    index = load_index(irregular)
    assert index._spans == {} and sorted(index.entries) == ["alpha", "hello", "zulu"]
    new = tmp_path / "new"
    package(tmp_path / "src", new, "hello", "1.1.0")
    update_index(new, "", merge=irregular, now=T2)
    assert versions(new / "index.yaml", "hello") == ["1.1.0", "1.0.0"]
    assert versions(new / "index.yaml", "zulu") == ["2.0.0"]


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_helm_reads_the_index_and_pulls_the_chart(tmp_path, fmt):
    import helm_python

    site = tmp_path / "site"
    package(tmp_path / "src", site, "hello", "1.0.0")
    package(tmp_path / "src", site, "hello", "1.1.0")
    update_index(site, "", fmt=fmt)  # relative URLs: Helm resolves them against the repository URL
    assert (site / "index.yaml").read_text().lstrip().startswith("{") == (fmt == "json")
    with serve_directory(site) as url:
        index = helm_python.repo_index(url)
        assert [e["version"] for e in index["entries"]["hello"]] == ["1.1.0", "1.0.0"]
        pulled_dir = tmp_path / "pulled"
        pulled_dir.mkdir()
        helm_python.pull("hello", repo_url=url, version="1.0.0", destination=str(pulled_dir))
    pulled = pulled_dir / "hello-1.0.0.tgz"
    assert pulled.read_bytes() == (site / "hello-1.0.0.tgz").read_bytes()
    assert read_archive(pulled).digest == index["entries"]["hello"][1]["digest"]


def test_same_entries_as_helm_repo_index(tmp_path):
    import helm_python

    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    for name, version in (("hello", "1.0.0"), ("hello", "1.2.0-rc.1"), ("other", "0.3.0")):
        package(tmp_path / "src", ours, name, version)
    shutil.copytree(ours, theirs)
    update_index(ours, "https://example.test/c")
    helm_python.repo_index_generate(theirs, base_url="https://example.test/c")

    def comparable(path):
        return {name: [{k: v for k, v in e.items() if k != "created"} for e in items]
                for name, items in entries(path).items()}

    assert comparable(ours / "index.yaml") == comparable(theirs / "index.yaml")


def test_corrupt_archive_is_a_clear_error_and_the_index_stays(tmp_path):
    dist = tmp_path / "dist"
    package(tmp_path / "src", dist, "hello", "1.0.0")
    update_index(dist, "")
    before = (dist / "index.yaml").read_bytes()
    shutil.copy(FIXTURES / "corrupt-1.0.0.tgz", dist)
    with pytest.raises(ChartgenError) as caught:
        update_index(dist, "")
    assert caught.value.code == "archive-corrupt" and "corrupt-1.0.0.tgz" in caught.value.format()
    assert (dist / "index.yaml").read_bytes() == before


def test_archive_whose_name_does_not_match_is_refused(tmp_path):
    dist = tmp_path / "dist"
    dist.mkdir()
    shutil.copy(FIXTURES / "wrong-name-1.0.0.tgz", dist)
    with pytest.raises(ChartgenError) as caught:
        update_index(dist, "")
    assert caught.value.code == "archive-name-mismatch"
    assert "expected 'hello-1.0.0.tgz'" in str(caught.value)
    assert not (dist / "index.yaml").exists()


def test_index_that_is_not_yaml_is_a_clear_error(tmp_path):
    dist = tmp_path / "dist"
    package(tmp_path / "src", dist, "hello", "1.1.0")
    broken = tmp_path / "index.yaml"
    shutil.copy(FIXTURES / "not-yaml-index.yaml", broken)
    with pytest.raises(ChartgenError) as caught:
        update_index(dist, "", merge=broken)
    finding = caught.value.findings[0]
    assert finding.path == str(broken) and finding.line >= 5 and caught.value.code in ("yaml-syntax", "index-syntax")
    assert not (dist / "index.yaml").exists()
    for text, code in ((b"\xff\xfe\x00garbage", "index-syntax"), (b"just a string\n", "index-invalid"),
                       (b"entries: {}\n", "index-invalid"), (b'{"apiVersion": "v1", "entries": []}', "index-invalid")):
        with pytest.raises(ChartgenError) as caught:
            parse_index(text, "index.yaml")
        assert caught.value.code == code, text


def test_html_escapes_and_lists_versions():
    index = parse_index(json.dumps({"apiVersion": "v1", "generated": T1, "entries": {"x<y": [
        {"name": "x<y", "version": "1.0.0", "description": "<script>", "urls": ["x-1.0.0.tgz"],
         "annotations": {"chartgen.io/operator-versions": "a&b"}}]}}))
    page = render_html(index, title="Repo", base_url="https://e.test/charts")
    assert page.count("<script") == 2 and "&lt;script&gt;" in page and "a&amp;b" in page  # hostile text: tests/test_catalogue.py
    assert "x-1.0.0.tgz" in page


def test_dump_round_trip_both_formats():
    index = parse_index(json.dumps({"apiVersion": "v1", "generated": T1, "annotations": {"a": "b"},
                                    "entries": {"b": [{"name": "b", "version": "1.0.0"}], "a": []}}))
    for fmt in ("json", "yaml"):
        again = parse_index(dump_index(index, fmt))
        assert dict(again.entries) == {"a": (), "b": ({"name": "b", "version": "1.0.0"},)}
        assert again.extra == {"annotations": {"a": "b"}} and again.generated == T1


def test_cli_index(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from chartgen.cli import cli

    package(tmp_path / "src", tmp_path / "dist", "hello", "1.0.0")
    (tmp_path / "chartgen.yaml").write_text("publish:\n  url: https://e.test/charts\n  html: false\n")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["index", "dist"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "added hello 1.0.0" in result.output and "1 chart versions (json)" in result.output
    assert entries(tmp_path / "dist" / "index.yaml")["hello"][0]["urls"] == ["https://e.test/charts/hello-1.0.0.tgz"]
    assert not (tmp_path / "dist" / "index.html").exists()
    assert datetime.fromisoformat(json.loads((tmp_path / "dist" / "index.yaml").read_text())["generated"].rstrip("Z"))


def test_adding_to_a_large_folder_reads_only_the_new_archive(tmp_path, monkeypatch):
    import chartgen.repo.update as index_module

    dist = tmp_path / "dist"
    for version in ("1.0.0", "1.1.0", "1.2.0"):
        package(tmp_path / "src", dist, "hello", version)
    package(tmp_path / "src", dist, "hello-extra", "0.1.0")  # a name that is a prefix-sharing neighbour
    update_index(dist, "", now=T1)
    package(tmp_path / "src", dist, "hello", "1.3.0")
    opened = []
    real = index_module.read_archive
    monkeypatch.setattr(index_module, "read_archive", lambda path: opened.append(path.name) or real(path))
    result = update_index(dist, "", now=T2)
    assert opened == ["hello-1.3.0.tgz"] and result.known == 4 and result.added == (("hello", "1.3.0"),)
    # an indexed file whose bytes changed is read again, and refused
    opened.clear()
    package(tmp_path / "other", tmp_path / "elsewhere", "hello", "1.0.0", greeting="Changed")
    shutil.copy(tmp_path / "elsewhere" / "hello-1.0.0.tgz", dist / "hello-1.0.0.tgz")
    with pytest.raises(ChartgenError, match="immutable"):
        update_index(dist, "")
    assert opened == ["hello-1.0.0.tgz"]


def test_json_index_is_updated_in_place_touching_only_the_changed_charts(tmp_path):
    site = tmp_path / "site"
    for name, version in (("alpha", "1.0.0"), ("hello", "1.0.0"), ("zulu", "2.0.0")):
        package(tmp_path / "src", site, name, version)
    update_index(site, "", now=T1)
    original = (site / "index.yaml").read_text()
    index = load_index(site / "index.yaml")
    assert index.source_format == "json" and sorted(index._spans) == ["alpha", "hello", "zulu"]
    assert dump_index(index) == original  # lazily read, byte-identical
    package(tmp_path / "src", site, "hello", "1.1.0")
    package(tmp_path / "src", site, "beta", "0.1.0")
    update_index(site, "", now=T2)
    written = (site / "index.yaml").read_text()
    data = json.loads(written)
    assert list(data["entries"]) == ["alpha", "beta", "hello", "zulu"] and data["generated"] == T2
    assert [e["version"] for e in data["entries"]["hello"]] == ["1.1.0", "1.0.0"]
    for name in ("alpha", "zulu"):  # untouched lines are kept as they were
        line = next(line for line in original.splitlines() if f'"name": "{name}"' in line)
        assert line in written.splitlines() or line.rstrip(",") in [w.rstrip(",") for w in written.splitlines()]
    # a full parse of the same text gives the same entries
    assert {k: list(v) for k, v in load_index(site / "index.yaml").entries.items()} == \
        {k: list(v) for k, v in json.loads(written)["entries"].items()}


def test_helm_json_index_is_read(tmp_path):
    import helm_python

    folder = tmp_path / "helm"
    package(tmp_path / "src", folder, "hello", "1.0.0")
    helm_python.repo_index_generate(folder, json_index=True)
    for candidate in (folder / "index.yaml", folder / "index.json"):
        if candidate.is_file() and candidate.read_text().lstrip().startswith("{"):
            index = load_index(candidate)
            assert [e["version"] for e in index.entries["hello"]] == ["1.0.0"]


def test_syntax_error_inside_a_json_chart_block_is_reported_with_its_line(tmp_path):
    site = tmp_path / "site"
    package(tmp_path / "src", site, "hello", "1.0.0")
    update_index(site, "", now=T1)
    text = (site / "index.yaml").read_text().replace('"digest": "', '"digest": ', 1)
    (site / "index.yaml").write_text(text)
    package(tmp_path / "src", site, "hello", "1.1.0")
    with pytest.raises(ChartgenError) as caught:
        update_index(site, "")
    assert caught.value.code == "index-syntax" and caught.value.findings[0].line == 5
    assert (site / "index.yaml").read_text() == text


def test_cli_reports_bad_input_as_one_line_and_exit_1(tmp_path):
    import subprocess
    import sys

    dist = tmp_path / "dist"
    dist.mkdir()
    shutil.copy(FIXTURES / "corrupt-1.0.0.tgz", dist)
    run = subprocess.run([sys.executable, "-m", "chartgen", "index", str(dist)], capture_output=True,
                         text=True, cwd=tmp_path)
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert run.stderr.strip().startswith(f"{dist / 'corrupt-1.0.0.tgz'}: error: not a readable chart archive")
    assert run.stderr.strip().endswith("[archive-corrupt]")
    shutil.copy(FIXTURES / "not-yaml-index.yaml", tmp_path / "old.yaml")
    (dist / "corrupt-1.0.0.tgz").unlink()
    run = subprocess.run([sys.executable, "-m", "chartgen", "index", str(dist), "--merge", "old.yaml"],
                         capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert run.stderr.startswith("old.yaml:") and "syntax" in run.stderr


def test_legacy_duplicates_are_reported_not_multiplied(tmp_path):
    """chart-releaser left `(chart, version)` pairs with several digests (pipelines.md §3.4)."""
    from click.testing import CliRunner

    from chartgen.cli import cli

    legacy = {"apiVersion": "v1", "generated": T1, "entries": {"hello": [
        {"name": "hello", "version": "1.0.0-rc1", "digest": "a" * 64, "urls": ["hello-1.0.0-rc1.tgz"], "created": T1},
        {"name": "hello", "version": "1.0.0-rc1", "digest": "b" * 64, "urls": ["hello-1.0.0-rc1.tgz"], "created": T1}]}}
    old = tmp_path / "old.yaml"
    old.write_text(yaml.safe_dump(legacy))
    dist = tmp_path / "dist"
    package(tmp_path / "src", dist, "hello", "1.0.0")
    result = CliRunner().invoke(cli, ["index", str(dist), "--merge", str(old), "--no-html"])
    assert result.exit_code == 0, result.output
    assert "hello 1.0.0-rc1 is listed 2 times" in result.stderr and "[index-duplicate]" in result.stderr
    assert versions(dist / "index.yaml", "hello") == ["1.0.0", "1.0.0-rc1", "1.0.0-rc1"]


def test_published_index_from_a_url(tmp_path):
    from chartgen.repo.reading import fetch_index
    from chartgen.repo.package import package_chart
    from publish_helpers import make_chart

    site = tmp_path / "site"
    package(tmp_path / "src", site, "hello", "1.0.0")
    update_index(site, "")
    with serve_directory(site) as url:
        index = fetch_index(url)
        assert [e["version"] for e in index.versions("hello")] == ["1.0.0"]
        assert len(load_index(url + "/nothing-here/")) == 0  # 404: nothing published yet
        with pytest.raises(ChartgenError, match="already published"):
            package_chart(make_chart(tmp_path / "changed", greeting="Changed"), tmp_path / "dist",
                          published=load_index(url))
    with pytest.raises(ChartgenError) as caught:
        fetch_index(url)  # the server is gone
    assert caught.value.code == "index-unreadable"
