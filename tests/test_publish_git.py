"""Publishing to a git branch (gh-pages pattern): bare repositories on disk as remotes,
concurrent publishers, a refusing remote, and smart HTTP with a token (git http-backend)."""

from __future__ import annotations

import base64
import subprocess
import threading
from pathlib import Path

import pytest
import yaml

from chartgen.errors import ChartgenError, UsageError
from chartgen.repo.archive import read_archive
from chartgen.repo.publish import publish
from conftest import need_tool
from publish_helpers import FIXTURES, GitHTTPServer, init_bare, package, read_branch_file


@pytest.fixture(autouse=True)
def _git():
    need_tool("git")


def branch_index(bare: Path, branch: str = "gh-pages") -> dict:
    return yaml.safe_load(read_branch_file(bare, branch, "index.yaml"))


def commits(bare: Path, branch: str = "gh-pages") -> int:
    out = subprocess.run(["git", "-C", str(bare), "rev-list", "--count", f"refs/heads/{branch}"],
                         capture_output=True, text=True)
    return int(out.stdout.strip() or 0)


def test_publish_to_a_new_branch_then_add_a_version(tmp_path):
    bare = init_bare(tmp_path / "charts.git")
    dist = tmp_path / "dist"
    first = publish([package(tmp_path / "s", dist, "hello", "1.0.0")], f"git:{bare}")
    assert first.added == (("hello", "1.0.0"),) and len(first.location) == 40
    assert read_branch_file(bare, "gh-pages", "hello-1.0.0.tgz") == (dist / "hello-1.0.0.tgz").read_bytes()
    assert b"helm install hello" in read_branch_file(bare, "gh-pages", "index.html")
    again = publish([dist / "hello-1.0.0.tgz"], f"git:{bare}")
    assert again.unchanged == (("hello", "1.0.0"),) and commits(bare) == 1  # nothing to commit
    publish([package(tmp_path / "s", dist, "hello", "1.1.0")], f"git:{bare}#gh-pages", base_url="https://e.test/c")
    index = branch_index(bare)
    assert [e["version"] for e in index["entries"]["hello"]] == ["1.1.0", "1.0.0"]
    assert index["entries"]["hello"][1]["urls"] == ["hello-1.0.0.tgz"]  # the old entry is kept as it was
    assert index["entries"]["hello"][0]["urls"] == ["https://e.test/c/hello-1.1.0.tgz"]
    assert commits(bare) == 2


def test_repository_in_a_folder_of_the_branch(tmp_path):
    bare = init_bare(tmp_path / "charts.git")
    publish([package(tmp_path / "s", tmp_path / "d", "hello", "1.0.0")], f"git:{bare}#pages:docs")
    assert read_branch_file(bare, "pages", "docs/hello-1.0.0.tgz") is not None
    assert yaml.safe_load(read_branch_file(bare, "pages", "docs/index.yaml"))["entries"]["hello"]
    assert read_branch_file(bare, "pages", "index.yaml") is None


def test_four_concurrent_publishers_lose_nothing(tmp_path):
    bare = init_bare(tmp_path / "charts.git")
    publish([package(tmp_path / "seed", tmp_path / "seed-dist", "common", "0.1.0")], f"git:{bare}")
    # each publisher: its own chart plus a version of a shared chart, and one archive all share
    shared = package(tmp_path / "shared", tmp_path / "shared-dist", "shared", "1.0.0")
    jobs = []
    for i in range(4):
        dist = tmp_path / f"dist{i}"
        jobs.append([package(tmp_path / f"s{i}", dist, f"chart{i}", "1.0.0"),
                     package(tmp_path / f"s{i}", dist, "common", f"1.{i}.0"), shared])
    results, errors = [], []
    barrier = threading.Barrier(4)

    def run(archives):
        barrier.wait()
        try:
            # allow_older: the four versions of `common` race; a lower one arriving last is
            # otherwise refused as [version-older] (test_publish_refuses_older_versions)
            results.append(publish(archives, f"git:{bare}", allow_older=True))
        except Exception as exc:  # asserted below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    index = branch_index(bare)
    pairs = [(name, e["version"]) for name, items in index["entries"].items() for e in items]
    expected = {("common", "0.1.0"), ("shared", "1.0.0")} | {(f"chart{i}", "1.0.0") for i in range(4)} | \
        {("common", f"1.{i}.0") for i in range(4)}
    assert sorted(pairs) == sorted(expected)  # every version exactly once
    assert [e["version"] for e in index["entries"]["common"]] == ["1.3.0", "1.2.0", "1.1.0", "1.0.0", "0.1.0"]
    for name, version in expected:
        archive = read_branch_file(bare, "gh-pages", f"{name}-{version}.tgz")
        entry = next(e for e in index["entries"][name] if e["version"] == version)
        import hashlib
        assert hashlib.sha256(archive).hexdigest() == entry["digest"]
    assert sum(r.added.count(("shared", "1.0.0")) for r in results) == 1
    assert commits(bare) == 5


def test_remote_that_rejects_the_push(tmp_path):
    bare = init_bare(tmp_path / "charts.git")
    dist = tmp_path / "dist"
    publish([package(tmp_path / "s", dist, "hello", "1.0.0")], f"git:{bare}")
    before = read_branch_file(bare, "gh-pages", "index.yaml")
    hook = bare / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'publishing is frozen for the release' >&2\nexit 1\n")
    hook.chmod(0o755)
    with pytest.raises(ChartgenError) as caught:
        publish([package(tmp_path / "s", dist, "hello", "1.1.0")], f"git:{bare}", max_attempts=3)
    assert caught.value.code == "publish-git-rejected"
    assert "publishing is frozen" in str(caught.value)
    assert read_branch_file(bare, "gh-pages", "index.yaml") == before and commits(bare) == 1


def test_changed_version_is_refused_and_the_branch_stays(tmp_path):
    bare = init_bare(tmp_path / "charts.git")
    publish([package(tmp_path / "a", tmp_path / "d1", "hello", "1.0.0")], f"git:{bare}")
    before = read_branch_file(bare, "gh-pages", "index.yaml")
    changed = package(tmp_path / "b", tmp_path / "d2", "hello", "1.0.0", greeting="Other")
    with pytest.raises(ChartgenError) as caught:
        publish([changed], f"git:{bare}")
    assert caught.value.code == "version-immutable" and "immutable" in str(caught.value)
    assert read_branch_file(bare, "gh-pages", "index.yaml") == before and commits(bare) == 1
    for bad, code in ((FIXTURES / "corrupt-1.0.0.tgz", "archive-corrupt"),
                      (FIXTURES / "wrong-name-1.0.0.tgz", "archive-name-mismatch")):
        with pytest.raises(ChartgenError) as caught:
            publish([bad], f"git:{bare}")
        assert caught.value.code == code
    assert commits(bare) == 1


def test_unreachable_remote_is_a_clear_error(tmp_path):
    with pytest.raises(ChartgenError) as caught:
        publish([package(tmp_path / "s", tmp_path / "d", "hello", "1.0.0")], f"git:{tmp_path / 'missing.git'}")
    assert caught.value.code == "publish-git-remote"


class _KeptTemporaryDirectory:
    """Stands in for chartgen.fsutil.temp_directory so the test can inspect the clone."""

    def __init__(self, keep: Path):
        self.keep = keep

    def __call__(self, *args, **kwargs):
        return self

    def __enter__(self):
        self.keep.mkdir(parents=True, exist_ok=True)
        return str(self.keep)

    def __exit__(self, *exc):
        return False


def test_http_remote_with_a_token_never_stored_or_printed(tmp_path, monkeypatch):
    need_tool("git")
    root = tmp_path / "served"
    root.mkdir()
    init_bare(root / "charts.git", http_push=True)
    token = "s3cr3t-token-for-chartgen-tests"
    header = "Basic " + base64.b64encode(f"x-access-token:{token}".encode()).decode()
    archive = package(tmp_path / "s", tmp_path / "d", "hello", "1.0.0")
    with GitHTTPServer(root, authorization=header) as server:
        remote = f"{server.url}/charts.git"
        # wrong token: a clear error that does not show it
        wrong = "wrong-token-value-123"
        with pytest.raises(ChartgenError) as caught:
            publish([archive], f"git:{remote}", env={"CHARTGEN_GIT_TOKEN": wrong, "PATH": "/usr/bin:/bin"})
        assert wrong not in caught.value.format() and caught.value.code == "publish-git-remote"
        # credentials in the URL are refused before anything is sent
        with pytest.raises(UsageError):
            publish([archive], f"git:http://user:{token}@127.0.0.1:1/charts.git")
        kept = tmp_path / "kept"
        import chartgen.repo.publish.git as git_backend

        monkeypatch.setattr(git_backend, "temp_directory", _KeptTemporaryDirectory(kept))
        result = publish([archive], f"git:{remote}#pages",
                         env={"CHARTGEN_GIT_TOKEN": token, "PATH": "/usr/bin:/bin"})
        monkeypatch.undo()
        assert result.added == (("hello", "1.0.0"),)
        assert any(h.get("Authorization") == header for h in server.seen_headers)
    assert token not in repr(result) and token not in str(result.target)
    assert read_branch_file(root / "charts.git", "pages", "hello-1.0.0.tgz") == archive.read_bytes()
    leaked = [p for p in kept.rglob("*") if p.is_file() and (token.encode() in p.read_bytes()
                                                              or header.encode() in p.read_bytes())]
    assert leaked == []
    assert (kept / "repo" / ".git" / "config").is_file()
    assert read_archive(archive).digest == branch_index(root / "charts.git", "pages")["entries"]["hello"][0]["digest"]


def test_only_the_index_and_the_new_archives_are_downloaded(tmp_path, monkeypatch):
    import os

    import chartgen.repo.publish.git as git_backend

    bare = init_bare(tmp_path / "charts.git")
    subprocess.run(["git", "-C", str(bare), "config", "uploadpack.allowFilter", "true"], check=True)
    publish([package(tmp_path / "s", tmp_path / "d", "hello", "1.0.0")], f"git:{bare}")
    # someone else's big file on the branch (think: thousands of published archives)
    other = tmp_path / "other"
    subprocess.run(["git", "clone", "--quiet", "--branch", "gh-pages", str(bare), str(other)], check=True)
    (other / "legacy-9.9.9.tgz").write_bytes(os.urandom(3_000_000))
    subprocess.run(["git", "-C", str(other), "add", "."], check=True)
    subprocess.run(["git", "-C", str(other), "-c", "user.name=o", "-c", "user.email=o@e", "commit", "-qm", "big"],
                   check=True)
    subprocess.run(["git", "-C", str(other), "push", "--quiet", "origin", "gh-pages"], check=True)
    kept = tmp_path / "kept"
    monkeypatch.setattr(git_backend, "temp_directory", _KeptTemporaryDirectory(kept))
    publish([package(tmp_path / "s", tmp_path / "d", "hello", "1.1.0")], f"git:{bare}")
    monkeypatch.undo()
    downloaded = sum(p.stat().st_size for p in (kept / "repo" / ".git" / "objects").rglob("*") if p.is_file())
    assert downloaded < 1_000_000, downloaded
    assert not (kept / "repo" / "legacy-9.9.9.tgz").exists()
    names = subprocess.run(["git", "-C", str(bare), "ls-tree", "--name-only", "gh-pages"], capture_output=True,
                           text=True).stdout.split()
    assert sorted(names) == ["catalogue.json", "hello", "hello-1.0.0.tgz", "hello-1.1.0.tgz", "index.html", "index.yaml",
                     "legacy-9.9.9.tgz"]
    pages = subprocess.run(["git", "-C", str(bare), "ls-tree", "-r", "--name-only", "gh-pages", "hello"],
                           capture_output=True, text=True).stdout.split()
    assert pages == ["hello/1.0.0/index.html", "hello/1.0.0/values.yaml", "hello/1.1.0/index.html",
                     "hello/1.1.0/values.yaml"]  # the earlier version's page is kept, never checked out
    assert [e["version"] for e in branch_index(bare)["entries"]["hello"]] == ["1.1.0", "1.0.0"]
