"""Removed workflows and stale pull requests (`chartgen pr --prune`, `chartgen build --pr --all`).

Real bare chart repositories, the real chart generator (the removal regenerates the real
umbrella chart and compatibility table), and the GitHub stand-in whose every request is
checked against GitHub's OpenAPI description.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from chartgen.config import default_config
from chartgen.errors import ChartgenError, UsageError
from chartgen.gitops.engine import open_pull_requests
from chartgen.gitops.forges import ForgeOptions
from chartgen.gitops.prune import prunes_in_build
from chartgen.sources import load_workflow
from chartgen.yamlio import load_data
from github_standin import GitHubStandin, running_standin
from github_standin.gitrepos import git, log, make_chart_repo, rev, tree, write_workflow
from github_standin.leaks import assert_token_nowhere, snapshot_clones

SOURCE_REPO = "https://github.com/acme/flows"
OTHER_REPO = "https://github.com/someone/else"
TOKEN = "ghp_" + "Pr0neT0ken" + "0123456789abcdef"
SOURCE = "fedcba9876543210fedcba9876543210fedcba98"
WORKFLOWS = ("greeting", "legacy", "mta")


def make_project(root: Path) -> Path:
    proj = root / "proj"
    sources = proj / "workflow_sources"
    write_workflow(sources, "greeting")
    write_workflow(sources, "legacy", {"legacy.yaml": "openapi: 3.0.0\n"})
    write_workflow(sources, "mta", {"mta.yaml": "openapi: 3.0.0\n"})
    return proj


def project_config(proj: Path, **pr):
    config = default_config(proj).with_overrides(repository=SOURCE_REPO)
    return config.with_overrides(pr=replace(config.pr, **pr))


def folders_of(proj: Path, names) -> list:
    return [load_workflow(proj / "workflow_sources" / name) for name in names]


def propose(proj: Path, url: str, names=(), *, lines=None, settings=None, **kwargs):
    kwargs.setdefault("source_commit", SOURCE)
    kwargs.setdefault("source_ref", f"{SOURCE_REPO}/commit/{SOURCE}")
    kwargs.setdefault("forge", "none")
    return open_pull_requests(folders_of(proj, names), project_config(proj, **(settings or {})), config_repo=url,
                              log=(lines.append if lines is not None else None), **kwargs)


def seed(bare: Path, proj: Path, tmp: Path, layout=("standalone", "umbrella"), foreign: bool = True) -> None:
    """main gets the charts of every workflow (one grouped run, merged), plus a chart of another
    source repository and a hand-written chart when `foreign`."""
    propose(proj, str(bare), WORKFLOWS, settings={"grouping": "run", "layout": list(layout)})
    git("--git-dir", str(bare), "update-ref", "refs/heads/main", "refs/heads/chartgen/workflows")
    git("--git-dir", str(bare), "update-ref", "-d", "refs/heads/chartgen/workflows")
    if not foreign:
        return
    work = tmp / "foreign"
    git("clone", "-q", str(bare), str(work))
    other = work / "charts" / "other"
    shutil.copytree(work / "charts" / "greeting", other)
    chart = (other / "Chart.yaml").read_text()
    chart = chart.replace("name: greeting", "name: other").replace(SOURCE_REPO, OTHER_REPO) \
        .replace("workflow_sources/greeting", "workflow_sources/other").replace("workflow-id: greeting", "workflow-id: other")
    (other / "Chart.yaml").write_text(chart)
    handmade = work / "charts" / "handmade"
    handmade.mkdir()
    (handmade / "Chart.yaml").write_text(
        "apiVersion: v2\nname: handmade\nversion: 1.0.0\nannotations:\n"
        f"  chartgen.io/source-repository: {SOURCE_REPO}\n  chartgen.io/source-path: workflow_sources/handmade\n")
    from chartgen.chart.umbrella import generate_umbrella

    generate_umbrella(project_config(proj).with_overrides(charts=str(work / "charts")), work / "charts")
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "a chart of another repository and a hand-written one", cwd=work)
    git("push", "-q", "origin", "HEAD:main", cwd=work)


def changed(bare: Path, base: str, ref: str) -> dict[str, list[str]]:
    out = git("--git-dir", str(bare), "diff", "--name-status", "--no-renames", base, ref)
    status: dict[str, list[str]] = {}
    for line in out.splitlines():
        code, path = line.split("\t", 1)
        status.setdefault(code, []).append(path)
    return status


def dependencies(files: dict[str, bytes]) -> list[str]:
    return [d["name"] for d in load_data(files["charts/workflows/Chart.yaml"].decode(), "Chart.yaml")["dependencies"]]


def same_subtree(a: dict[str, bytes], b: dict[str, bytes], prefix: str) -> bool:
    return {k: v for k, v in a.items() if k.startswith(prefix)} == {k: v for k, v in b.items() if k.startswith(prefix)}


# --------------------------------------------------------------------------- GitHub stand-in

@dataclass
class Hub:
    server: GitHubStandin
    bare: Path
    url: str
    proj: Path
    tmp: Path

    @property
    def pulls(self) -> dict:
        return self.server.repos["acme/charts"].pulls

    @property
    def comments(self) -> dict:
        return self.server.repos["acme/charts"].comments

    def run(self, names=(), **kwargs):
        settings = {"api_url": self.server.api_url, **kwargs.pop("settings", {})}
        kwargs.setdefault("forge", "github")
        kwargs.setdefault("forge_options", ForgeOptions(token=TOKEN, api_url=self.server.api_url, retries=2,
                                                        backoff_factor=0.05, max_rate_limit_wait=5,
                                                        seconds_between_requests=0, seconds_between_writes=0))
        return propose(self.proj, self.url, names, settings=settings, **kwargs)

    def writes(self):
        return [(r.method, r.operation) for r in self.server.api_requests() if r.method != "GET"]


@pytest.fixture
def hub(tmp_path, monkeypatch):
    bare = make_chart_repo(tmp_path)
    proj = make_project(tmp_path)
    seed(bare, proj, tmp_path)
    with running_standin(tmp_path, monkeypatch, TOKEN, bare) as (server, url):
        yield Hub(server, bare, url, proj, tmp_path)
    assert server.violations == [], "requests GitHub would reject"


def open_update_pr_for_legacy(hub: Hub) -> None:
    write_workflow(hub.proj / "workflow_sources", "legacy", {"legacy.yaml": "openapi: 3.0.3\n"})
    (result,) = hub.run(["legacy"])
    assert result.action == "created" and hub.pulls[1]["head"]["ref"] == "chartgen/legacy"


def test_removed_workflow_gets_a_removal_pull_request_and_its_stale_one_is_closed(hub, monkeypatch):
    open_update_pr_for_legacy(hub)
    shutil.rmtree(hub.proj / "workflow_sources" / "legacy")
    main_before = tree(hub.bare, "main")
    (hub.tmp / "work").mkdir()
    clone_files = snapshot_clones(monkeypatch, hub.tmp / "work")
    lines = []
    results = hub.run([], prune=True, lines=lines, workdir=hub.tmp / "work")
    assert [(r.kind, r.workflows, r.branch, r.action) for r in results] == [
        ("remove", ("legacy",), "chartgen/remove-legacy", "created"),
        ("close", ("legacy",), "chartgen/legacy", "closed")]

    # the removal commit deletes exactly the chart, in both places, and regenerates the rest
    status = changed(hub.bare, "main", "chartgen/remove-legacy")
    assert set(status) == {"D", "M"}
    assert status["D"] and all(p.startswith(("charts/legacy/", "charts/workflows/charts/legacy/"))
                               for p in status["D"])
    assert {"charts/legacy/Chart.yaml", "charts/legacy/.chartgen",
            "charts/workflows/charts/legacy/Chart.yaml"} <= set(status["D"])
    assert set(p for p in main_before if p.startswith(("charts/legacy/", "charts/workflows/charts/legacy/"))) \
        == set(status["D"])
    assert set(status["M"]) <= {"charts/README.md", "charts/workflows/Chart.yaml", "charts/workflows/values.yaml",
                                "charts/workflows/values.schema.json", "charts/workflows/README.md",
                                "charts/workflows/templates/NOTES.txt", "charts/workflows/ci/all-values.yaml",
                                "charts/workflows/.chartgen"}   # the marker records the files written
    files = tree(hub.bare, "chartgen/remove-legacy")
    assert dependencies(main_before) == ["greeting", "legacy", "mta", "other"]
    assert dependencies(files) == ["greeting", "mta", "other"]              # other is a chart too: kept
    values = load_data(files["charts/workflows/values.yaml"].decode(), "values.yaml")
    assert "legacy" not in values and {"greeting", "mta", "other"} <= set(values)
    assert b"| legacy |" in main_before["charts/README.md"] and b"| legacy |" not in files["charts/README.md"]
    assert b"| greeting |" in files["charts/README.md"] and b"| other |" in files["charts/README.md"]
    # another source repository's chart and the hand-written chart are untouched
    assert same_subtree(main_before, files, "charts/other/") and "charts/other/Chart.yaml" in files
    assert same_subtree(main_before, files, "charts/handmade/") and "charts/handmade/Chart.yaml" in files
    assert same_subtree(main_before, files, "charts/mta/") and same_subtree(main_before, files, "charts/greeting/")
    (message,) = [m for m in log(hub.bare, "chartgen/remove-legacy")[:1]]
    assert "chartgen: remove chart legacy" in message and "workflow_sources/legacy" in message
    assert len(log(hub.bare, "chartgen/remove-legacy")) == len(log(hub.bare, "main")) + 1

    # the removal pull request says why
    removal = hub.pulls[2]
    assert removal["state"] == "open" and removal["head"]["ref"] == "chartgen/remove-legacy"
    assert removal["title"] == "chartgen: remove chart legacy (workflow deleted)"
    body = removal["body"]
    assert "workflow folder `workflow_sources/legacy` is no longer in the sources of <" + SOURCE_REPO + ">" in body
    assert "| legacy | 0.1.0-rc.1 → (removed) |" in body
    assert "- `charts/legacy/Chart.yaml`" in body.split("**Removed**", 1)[1]
    assert [label["name"] for label in removal["labels"]] == ["chartgen", "automated"]

    # the update pull request of the deleted workflow: closed, with a comment, branch deleted
    stale = hub.pulls[1]
    assert stale["state"] == "closed" and not stale.get("closed_by_branch_deletion")
    (comment,) = hub.comments[1]
    assert "Closed by chartgen: workflow legacy was removed from the sources (workflow_sources/legacy)" \
        in comment["body"]
    assert "chartgen/remove-legacy" in comment["body"]
    assert rev(hub.bare, "chartgen/legacy") is None
    assert results[1].url.endswith("/pull/1") and "deleted branch chartgen/legacy" in results[1].message
    assert hub.comments.keys() == {1}                                       # the removal PR got no comment
    assert tree(hub.bare, "main") == main_before

    # reruns change nothing: no commit, no push, no API write
    head, writes = rev(hub.bare, "chartgen/remove-legacy"), hub.writes()
    again = hub.run([], prune=True, lines=lines, source_commit="1" * 40)
    assert [(r.kind, r.action) for r in again] == [("remove", "unchanged")]
    assert "already has this removal" in again[0].message
    assert rev(hub.bare, "chartgen/remove-legacy") == head and hub.writes() == writes and len(hub.pulls) == 2

    assert_token_nowhere(TOKEN, lines=lines, results=[*results, *again], bare=hub.bare, server=hub.server,
                         clone_files=clone_files)


def test_merged_removal_closes_its_pull_request_and_then_nothing_happens(hub):
    shutil.rmtree(hub.proj / "workflow_sources" / "legacy")
    (first,) = hub.run([], prune=True)
    assert first.action == "created"
    git("--git-dir", str(hub.bare), "update-ref", "refs/heads/main", "refs/heads/chartgen/remove-legacy")
    main = rev(hub.bare, "main")
    lines = []
    (closed,) = hub.run([], prune=True, lines=lines)
    assert (closed.kind, closed.branch, closed.action) == ("close", "chartgen/remove-legacy", "closed")
    assert hub.pulls[1]["state"] == "closed"
    assert "main no longer has chart legacy: its removal was merged or done another way" in \
        hub.comments[1][0]["body"]
    assert rev(hub.bare, "chartgen/remove-legacy") is None and rev(hub.bare, "main") == main
    writes = hub.writes()
    assert hub.run([], prune=True, lines=lines) == ()                       # nothing left to do
    assert hub.writes() == writes and len(hub.pulls) == 1
    assert any("nothing to remove or close" in line for line in lines)


def test_base_that_already_has_the_charts_closes_the_open_pull_request(hub):
    """No --prune needed: the workflow's PR was superseded (main got the same charts another way)."""
    write_workflow(hub.proj / "workflow_sources", "greeting", {"api.yaml": "openapi: 3.0.3\n"})
    (opened,) = hub.run(["greeting"])
    assert opened.action == "created"
    git("--git-dir", str(hub.bare), "update-ref", "refs/heads/main", "refs/heads/chartgen/greeting")
    lines = []
    dry = hub.run(["greeting"], dry_run=True)
    assert "would close the pull request of chartgen/greeting" in dry[0].message
    assert hub.pulls[1]["state"] == "open" and rev(hub.bare, "chartgen/greeting")
    (result,) = hub.run(["greeting"], lines=lines)
    assert (result.kind, result.action) == ("update", "closed")
    assert hub.pulls[1]["state"] == "closed"
    assert "main already has these charts (merged another way, or superseded)" in hub.comments[1][0]["body"]
    assert rev(hub.bare, "chartgen/greeting") is None
    writes = hub.writes()
    (again,) = hub.run(["greeting"])
    assert again.action == "unchanged" and hub.writes() == writes


def test_closing_comment_is_posted_once_even_when_responses_are_lost(hub):
    """GitHub keeps every comment POSTed: a lost response is not retried blindly (the comments
    are read back instead), and a rerun after a failed close does not comment again."""
    write_workflow(hub.proj / "workflow_sources", "greeting", {"api.yaml": "openapi: 3.0.3\n"})
    (opened,) = hub.run(["greeting"])
    git("--git-dir", str(hub.bare), "update-ref", "refs/heads/main", "refs/heads/chartgen/greeting")
    hub.server.inject("POST", r"/issues/1/comments$", 502, after=True)     # stored, then the answer is lost
    hub.server.inject("PATCH", r"/pulls/1$", 503, times=10)                   # and the close keeps failing
    with pytest.raises(ChartgenError) as caught:
        hub.run(["greeting"])
    assert "503 injected failure" in caught.value.findings[0].message
    assert len(hub.comments[1]) == 1 and hub.pulls[1]["state"] == "open"
    hub.server.injections.clear()                                             # GitHub is back
    (result,) = hub.run(["greeting"])
    assert result.action == "closed" and hub.pulls[1]["state"] == "closed"
    assert len(hub.comments[1]) == 1
    assert len(hub.server.api_requests("issues/create-comment")) == 1


def test_removal_the_base_already_has_opens_nothing(hub):
    """The chart was removed from main by hand: no candidate, no branch, no pull request."""
    work = hub.tmp / "by-hand"
    git("clone", "-q", str(hub.bare), str(work))
    git("rm", "-rq", "charts/legacy", "charts/workflows/charts/legacy", cwd=work)
    git("commit", "-q", "-m", "remove legacy by hand", cwd=work)
    git("push", "-q", "origin", "HEAD:main", cwd=work)
    shutil.rmtree(hub.proj / "workflow_sources" / "legacy")
    assert hub.run([], prune=True) == ()
    assert hub.pulls == {} and rev(hub.bare, "chartgen/remove-legacy") is None


# --------------------------------------------------------------------------- bare repositories, forge none

@pytest.fixture
def plain(tmp_path, monkeypatch):
    for name in ("GITHUB_TOKEN", "GH_TOKEN", "GITHUB_SHA", "GITHUB_REPOSITORY", "GITHUB_API_URL"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path, make_chart_repo(tmp_path), make_project(tmp_path)


def test_partial_workflow_list_prunes_only_what_is_gone(plain):
    """`chartgen pr greeting --prune`: mta is not in the list but is in the sources: kept."""
    tmp, bare, proj = plain
    seed(bare, proj, tmp)
    write_workflow(proj / "workflow_sources", "greeting", {"api.yaml": "openapi: 3.0.3\n"})
    shutil.rmtree(proj / "workflow_sources" / "legacy")
    results = propose(proj, str(bare), ["greeting"], prune=True)
    assert [(r.kind, r.branch, r.action) for r in results] == [
        ("update", "chartgen/greeting", "pushed"), ("remove", "chartgen/remove-legacy", "pushed")]
    assert sorted(p for p in changed(bare, "main", "chartgen/remove-legacy")["D"]
                  if p.endswith("/Chart.yaml")) == ["charts/legacy/Chart.yaml",
                                                     "charts/workflows/charts/legacy/Chart.yaml"]
    assert rev(bare, "chartgen/remove-mta") is None and rev(bare, "chartgen/remove-other") is None
    assert rev(bare, "chartgen/remove-handmade") is None


def test_forge_none_deletes_the_stale_branch_and_says_to_close_by_hand(plain):
    tmp, bare, proj = plain
    seed(bare, proj, tmp, foreign=False)
    write_workflow(proj / "workflow_sources", "legacy", {"legacy.yaml": "openapi: 3.1.0\n"})
    propose(proj, str(bare), ["legacy"])
    assert rev(bare, "chartgen/legacy")
    shutil.rmtree(proj / "workflow_sources" / "legacy")
    dry = propose(proj, str(bare), [], prune=True, dry_run=True)
    assert [(r.kind, r.action) for r in dry] == [("remove", "dry-run"), ("close", "dry-run")]
    assert "-  condition: legacy.enabled" in dry[0].diff
    assert rev(bare, "chartgen/legacy") and rev(bare, "chartgen/remove-legacy") is None
    removal, closed = propose(proj, str(bare), [], prune=True)
    assert removal.action == "pushed" and closed.action == "closed"
    assert "close any pull request still open from chartgen/legacy by hand" in closed.message
    assert rev(bare, "chartgen/legacy") is None


def test_branches_that_are_not_ours_are_left_alone(plain):
    """Under the prefix but not chartgen's from this repository: a hand-made branch, the branch
    of another source repository's workflow (its chart's source-path is absent here too), and
    the branch of a hand-written chart."""
    tmp, bare, proj = plain
    seed(bare, proj, tmp)
    for branch in ("chartgen/fix-docs", "chartgen/other", "chartgen/handmade"):
        git("--git-dir", str(bare), "update-ref", f"refs/heads/{branch}", "refs/heads/main")
    lines = []
    assert propose(proj, str(bare), [], prune=True, lines=lines) == ()
    assert all(rev(bare, b) for b in ("chartgen/fix-docs", "chartgen/other", "chartgen/handmade"))
    assert any("nothing to remove or close" in line for line in lines)


def test_workflow_that_comes_back_withdraws_its_removal(plain):
    tmp, bare, proj = plain
    seed(bare, proj, tmp, foreign=False)
    kept = tmp / "kept-legacy"
    shutil.copytree(proj / "workflow_sources" / "legacy", kept)
    shutil.rmtree(proj / "workflow_sources" / "legacy")
    (removal,) = propose(proj, str(bare), [], prune=True)
    assert removal.action == "pushed" and rev(bare, "chartgen/remove-legacy")
    shutil.copytree(kept, proj / "workflow_sources" / "legacy")
    (closed,) = propose(proj, str(bare), [], prune=True)
    assert (closed.kind, closed.branch, closed.action) == ("close", "chartgen/remove-legacy", "closed")
    assert "back in the sources (workflow_sources/legacy); its removal is withdrawn" in closed.message
    assert rev(bare, "chartgen/remove-legacy") is None


def test_stale_branch_that_moved_meanwhile_is_left_alone(plain, monkeypatch):
    from chartgen.gitops.git import Git

    tmp, bare, proj = plain
    seed(bare, proj, tmp, foreign=False)
    write_workflow(proj / "workflow_sources", "legacy", {"legacy.yaml": "openapi: 3.1.0\n"})
    propose(proj, str(bare), ["legacy"])
    shutil.rmtree(proj / "workflow_sources" / "legacy")
    real_delete = Git.delete_branch

    def someone_pushes_first(self, remote_name, branch, expected):
        other = tmp / "someone"
        git("clone", "-q", "-b", branch, str(bare), str(other))
        (other / "note.txt").write_text("work in progress\n")
        git("add", "-A", cwd=other)
        git("commit", "-q", "-m", "wip", cwd=other)
        git("push", "-q", "origin", f"HEAD:{branch}", cwd=other)
        return real_delete(self, remote_name, branch, expected)

    monkeypatch.setattr(Git, "delete_branch", someone_pushes_first)
    _removal, closed = propose(proj, str(bare), [], prune=True)
    assert "moved meanwhile and is left alone" in closed.message
    assert "note.txt" in tree(bare, "chartgen/legacy")


@pytest.mark.parametrize("layout", [["umbrella"], ["standalone"]])
def test_removal_in_other_layouts(plain, layout):
    tmp, bare, proj = plain
    seed(bare, proj, tmp, layout=layout, foreign=False)
    before = tree(bare, "main")
    shutil.rmtree(proj / "workflow_sources" / "legacy")
    (result,) = propose(proj, str(bare), [], prune=True, settings={"layout": layout})
    assert result.kind == "remove" and result.action == "pushed"
    files = tree(bare, "chartgen/remove-legacy")
    assert not [p for p in files if "/legacy/" in p]
    assert b"| legacy |" not in files["charts/README.md"] and b"| mta |" in files["charts/README.md"]
    if layout == ["umbrella"]:
        assert "charts/greeting/Chart.yaml" not in files and "charts/mta/Chart.yaml" not in files
        assert dependencies(before) == ["greeting", "legacy", "mta"] and dependencies(files) == ["greeting", "mta"]
        assert same_subtree(before, files, "charts/workflows/charts/mta/")
    else:
        assert "charts/workflows/Chart.yaml" not in files
        assert same_subtree(before, files, "charts/mta/") and same_subtree(before, files, "charts/greeting/")


def test_update_in_umbrella_only_layout_keeps_the_other_charts(plain):
    """The umbrella is regenerated from <charts>/<name>/; with the umbrella-only layout those are
    copied out of the umbrella for the generation, so one workflow's update keeps the others."""
    tmp, bare, proj = plain
    seed(bare, proj, tmp, layout=["umbrella"], foreign=False)
    write_workflow(proj / "workflow_sources", "greeting", {"api.yaml": "openapi: 3.0.3\n"})
    (result,) = propose(proj, str(bare), ["greeting"], settings={"layout": ["umbrella"]})
    assert result.action == "pushed"
    before, files = tree(bare, "main"), tree(bare, "chartgen/greeting")
    assert dependencies(files) == ["greeting", "legacy", "mta"]
    assert same_subtree(before, files, "charts/workflows/charts/mta/")
    assert "charts/greeting/Chart.yaml" not in files and "charts/mta/Chart.yaml" not in files


def test_moved_sources_keep_their_charts(plain):
    """Every source-path is gone (the sources folder was renamed) but the same workflows make
    the same charts: their updates regenerate them; removing them would fight those updates."""
    tmp, bare, proj = plain
    seed(bare, proj, tmp, foreign=False)
    (proj / "workflow_sources").rename(proj / "flows")
    config = project_config(proj).with_overrides(sources="flows")
    lines = []
    assert open_pull_requests([], config, config_repo=str(bare), forge="none", prune=True, log=lines.append) == ()
    assert any("nothing to remove or close" in line for line in lines)


# --------------------------------------------------------------------------- bad input, build policy

@pytest.mark.parametrize("case,code", [
    ("no-sources", "pr-prune-no-sources"),
    ("empty-sources", "pr-prune-no-sources"),
    ("no-repository", "pr-prune-no-repository"),
    ("outside", "pr-prune-outside-sources"),
])
def test_prune_refuses_when_the_comparison_could_be_wrong(plain, case, code):
    tmp, bare, proj = plain
    seed(bare, proj, tmp, foreign=False)
    refs = git("--git-dir", str(bare), "show-ref")
    config = project_config(proj)
    folders = []
    if case == "no-sources":
        shutil.rmtree(proj / "workflow_sources")
    elif case == "empty-sources":
        for folder in (proj / "workflow_sources").iterdir():
            shutil.rmtree(folder)
    elif case == "no-repository":
        config = config.with_overrides(repository="")
    else:
        folders = [load_workflow(write_workflow(tmp / "elsewhere", "stray"))]
    work = tmp / "work"
    work.mkdir()
    with pytest.raises(UsageError) as info:
        open_pull_requests(folders, config, config_repo=str(bare), forge="none", prune=True, workdir=work)
    assert info.value.code == code, info.value.format()
    assert git("--git-dir", str(bare), "show-ref") == refs                  # nothing pushed
    assert list(work.iterdir()) == []                                       # nothing left behind


def test_removal_branch_clashing_with_a_workflow_branch_is_an_error(plain):
    from chartgen.gitops.model import PrError

    tmp, bare, proj = plain
    seed(bare, proj, tmp, foreign=False)
    shutil.rmtree(proj / "workflow_sources" / "legacy")
    write_workflow(proj / "workflow_sources", "remove-legacy")
    with pytest.raises(PrError) as info:
        propose(proj, str(bare), [], prune=True)
    assert info.value.code == "pr-branch-clash" and "workflow remove-legacy" in str(info.value)
    assert rev(bare, "chartgen/remove-legacy") is None


def test_build_prunes_only_on_a_full_run(plain):
    tmp, _bare, proj = plain
    config = project_config(proj)
    everything = folders_of(proj, WORKFLOWS)
    assert prunes_in_build(config, everything)
    assert prunes_in_build(config, [f.root for f in everything])             # paths work too
    assert not prunes_in_build(config, everything[:2])                     # build greeting legacy / --since
    assert not prunes_in_build(project_config(proj, prune=False), everything)
    assert not prunes_in_build(config.with_overrides(repository=""), everything)


def chartgen(proj, *args):
    env = {k: v for k, v in os.environ.items()
           if k not in ("GITHUB_TOKEN", "GH_TOKEN", "GITHUB_SHA", "GITHUB_REPOSITORY", "GITHUB_API_URL",
                        "GITHUB_ACTIONS")}
    return subprocess.run([sys.executable, "-m", "chartgen", "--config", str(proj / "chartgen.yaml"), *args],
                          cwd=proj, capture_output=True, text=True, env=env, timeout=300)


@pytest.mark.slow
def test_cli_prune_and_build_all(plain):
    """As a user: `chartgen pr --prune` and `chartgen build --all --pr` (forge none)."""
    tmp, bare, proj = plain
    seed(bare, proj, tmp, foreign=False)
    (proj / "chartgen.yaml").write_text(f"repository: {SOURCE_REPO}\npr:\n  configRepo: {bare}\n  forge: none\n")
    usage = chartgen(proj, "pr")
    assert usage.returncode == 2 and "--prune" in usage.stderr and "Traceback" not in usage.stderr
    shutil.rmtree(proj / "workflow_sources" / "legacy")

    partial = chartgen(proj, "build", "greeting", "--pr", "--no-cache")
    assert partial.returncode == 0, partial.stdout + partial.stderr
    assert rev(bare, "chartgen/remove-legacy") is None                       # a partial run never prunes

    full = chartgen(proj, "build", "--all", "--pr", "--no-cache")
    assert full.returncode == 0, full.stdout + full.stderr
    assert "remove legacy: pushed" in full.stdout
    assert rev(bare, "chartgen/remove-legacy")
    head = rev(bare, "chartgen/remove-legacy")

    rerun = chartgen(proj, "pr", "--prune")
    assert rerun.returncode == 0, rerun.stderr
    assert rerun.stdout.strip() == "remove legacy: unchanged"
    assert rev(bare, "chartgen/remove-legacy") == head

    shutil.rmtree(proj / "workflow_sources")
    (proj / "workflow_sources").mkdir()
    refused = chartgen(proj, "pr", "--prune")
    assert refused.returncode == 2 and "[pr-prune-no-sources]" in refused.stderr
    assert "Traceback" not in refused.stderr


@pytest.mark.slow
def test_build_reports_the_workflows_prs_when_a_removal_fails(plain):
    """The chart repository refuses the removal branch (a server-side hook): the build fails on
    that, but still reports each workflow's own pull request result."""
    tmp, bare, proj = plain
    seed(bare, proj, tmp, foreign=False)
    (proj / "chartgen.yaml").write_text(f"repository: {SOURCE_REPO}\npr:\n  configRepo: {bare}\n  forge: none\n")
    hook = bare / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\nwhile read old new ref; do\n  case \"$ref\" in refs/heads/chartgen/remove-*)\n"
                    "    echo \"removals need a maintainer\" >&2; exit 1;; esac\ndone\n")
    hook.chmod(0o755)
    shutil.rmtree(proj / "workflow_sources" / "legacy")
    write_workflow(proj / "workflow_sources", "greeting", {"api.yaml": "openapi: 3.0.3\n"})

    proc = chartgen(proj, "build", "--all", "--pr", "--no-cache", "--format", "json")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    (pr_stage,) = [s for s in report["repository"] if s["stage"] == "pr"]
    assert pr_stage["status"] == "failed" and "remove" in json.dumps(pr_stage["findings"])
    stages = {w["name"]: {s["stage"]: s for s in w["stages"]} for w in report["workflows"]}
    assert stages["greeting"]["pr"]["status"] == "ok"
    assert stages["greeting"]["pr"]["outputs"]["pr_action"] in ("pushed", "created", "updated")
    assert stages["mta"]["pr"]["status"] == "ok"
    assert rev(bare, "chartgen/greeting") and rev(bare, "chartgen/remove-legacy") is None
