"""The pull request flow against real bare git repositories on disk (forge: none).

The chart generator is injected: these tests use a small deterministic fake (the gitops
logic is what they test); test_pr_e2e.py runs the real chartgen.chart.generate_chart.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from chartgen.config import default_config
from chartgen.errors import ChartgenError, UsageError
from chartgen.gitops import auth, body, propose
from chartgen.gitops.engine import open_pull_requests
from chartgen.gitops.git import Git, GitError
from chartgen.gitops.model import PrError
from chartgen.sources import load_workflow
from github_standin.gitrepos import (fake_generator, git, log, make_chart_repo, race_pushes, rev, tree,
                                     write_workflow)

SOURCE = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def env(tmp_path, monkeypatch):
    for name in ("GITHUB_TOKEN", "GH_TOKEN", "GITHUB_SHA", "GITHUB_REPOSITORY", "GITHUB_API_URL"):
        monkeypatch.delenv(name, raising=False)
    bare = make_chart_repo(tmp_path)
    sources = tmp_path / "src"
    write_workflow(sources, "greeting")
    write_workflow(sources, "mta", {"mta.yaml": "openapi: 3.0.0\n", "jira.yaml": "openapi: 3.0.1\n"})
    return tmp_path, bare, sources


def run(bare, sources, names, lines=None, settings=None, **kwargs):
    config = default_config(sources)
    if settings:
        config = config.with_overrides(pr=replace(config.pr, **settings))
    folders = [load_workflow(sources / name) for name in names]
    kwargs.setdefault("source_commit", SOURCE)
    kwargs.setdefault("source_ref", f"https://github.com/acme/flows/commit/{SOURCE}")
    return open_pull_requests(folders, config, config_repo=str(bare), forge="none", generator=fake_generator,
                              log=(lines.append if lines is not None else None), **kwargs)


def merge_branch(bare, branch):
    """What merging the pull request does: main takes the branch."""
    git("--git-dir", str(bare), "update-ref", "refs/heads/main", f"refs/heads/{branch}")


def test_first_run_pushes_stable_branch_with_one_commit(env):
    _tmp, bare, sources = env
    main_before = rev(bare, "main")
    lines = []
    (result,) = run(bare, sources, ["greeting"], lines)
    assert result.action == "pushed" and result.branch == "chartgen/greeting"
    assert result.workflows == ("greeting",)
    files = tree(bare, "chartgen/greeting")
    assert b"version: 0.1.0" in files["charts/greeting/Chart.yaml"]
    assert "charts/greeting/templates/specs_api.yaml.txt" in files
    assert "charts/workflows/charts/greeting/Chart.yaml" in files          # umbrella layout
    assert b"- name: greeting" in files["charts/workflows/Chart.yaml"]
    assert rev(bare, "main") == main_before                                 # never pushes to the base
    commits = log(bare, "chartgen/greeting")
    assert len(commits) == 2                                                # base + one generated commit
    author, committer, message = commits[0].split("|", 2)
    assert author == committer == "chartgen <chartgen@users.noreply.github.com>"
    assert message.startswith("chartgen: update chart greeting to 0.1.0")
    assert f"https://github.com/acme/flows/commit/{SOURCE}" in message
    assert any("pushed" in line and "chartgen/greeting" in line for line in lines)
    assert "open the pull request" in result.message


def test_second_run_without_changes_commits_and_pushes_nothing(env):
    _tmp, bare, sources = env
    run(bare, sources, ["greeting"])
    head = rev(bare, "chartgen/greeting")
    lines = []
    (result,) = run(bare, sources, ["greeting"], lines, source_commit="f" * 40)
    assert result.action == "unchanged"
    assert rev(bare, "chartgen/greeting") == head
    assert "nothing committed or pushed" in result.message
    assert any("already has these charts" in line for line in lines)


def test_change_updates_the_same_branch_and_bumps_once_against_the_base(env):
    _tmp, bare, sources = env
    run(bare, sources, ["greeting"])
    merge_branch(bare, "chartgen/greeting")                                 # main now has 0.1.0
    write_workflow(sources, "greeting", {"api.yaml": "openapi: 3.0.3\n"})
    (first,) = run(bare, sources, ["greeting"])
    assert first.charts[0].old_version == "0.1.0" and first.charts[0].new_version == "0.1.1"
    write_workflow(sources, "greeting", {"api.yaml": "openapi: 3.1.0\n"})
    (second,) = run(bare, sources, ["greeting"])
    assert second.action == "pushed" and second.branch == first.branch
    # regenerated from the base: still one bump (0.1.1), not one per run (0.1.2)
    assert second.charts[0].new_version == "0.1.1"
    files = tree(bare, "chartgen/greeting")
    assert files["charts/greeting/templates/specs_api.yaml.txt"] == b"openapi: 3.1.0\n"
    assert len(log(bare, "chartgen/greeting")) == 3                         # initial, merged, one new


def test_base_already_has_the_chart_nothing_to_propose(env):
    _tmp, bare, sources = env
    run(bare, sources, ["greeting"])
    merge_branch(bare, "chartgen/greeting")
    git("--git-dir", str(bare), "update-ref", "-d", "refs/heads/chartgen/greeting")
    (result,) = run(bare, sources, ["greeting"])
    assert result.action == "unchanged"
    assert "main already has these charts" in result.message
    assert rev(bare, "chartgen/greeting") is None


def test_two_workflows_get_two_branches(env):
    _tmp, bare, sources = env
    results = run(bare, sources, ["greeting", "mta"])
    assert [(r.workflows, r.branch, r.action) for r in results] == [
        (("greeting",), "chartgen/greeting", "pushed"), (("mta",), "chartgen/mta", "pushed")]
    greeting, mta = tree(bare, "chartgen/greeting"), tree(bare, "chartgen/mta")
    assert "charts/greeting/Chart.yaml" in greeting and "charts/mta/Chart.yaml" not in greeting
    assert "charts/mta/templates/specs_jira.yaml.txt" in mta and "charts/greeting/Chart.yaml" not in mta


def test_grouping_run_puts_all_workflows_on_one_branch(env):
    _tmp, bare, sources = env
    (result,) = run(bare, sources, ["greeting", "mta"], settings={"grouping": "run"})
    assert result.branch == "chartgen/workflows" and result.workflows == ("greeting", "mta")
    files = tree(bare, "chartgen/workflows")
    assert {"charts/greeting/Chart.yaml", "charts/mta/Chart.yaml"} <= set(files)
    assert log(bare, "chartgen/workflows")[0].split("|", 2)[2].startswith("chartgen: update charts greeting")


def test_deleted_spec_file_disappears_from_the_chart(env):
    _tmp, bare, sources = env
    run(bare, sources, ["mta"])
    merge_branch(bare, "chartgen/mta")
    write_workflow(sources, "mta", {"mta.yaml": "openapi: 3.0.0\n"})       # jira.yaml deleted
    (result,) = run(bare, sources, ["mta"])
    files = tree(bare, "chartgen/mta")
    assert not [p for p in files if "jira" in p]
    assert "charts/mta/templates/specs_mta.yaml.txt" in files
    assert "charts/mta/templates/specs_jira.yaml.txt" in result.diff
    assert "deleted file mode" in result.diff


def test_dry_run_shows_the_diff_and_pushes_nothing(env):
    _tmp, bare, sources = env
    refs_before = git("--git-dir", str(bare), "show-ref")
    (result,) = run(bare, sources, ["greeting"], dry_run=True)
    assert result.action == "dry-run"
    assert "+++ b/charts/greeting/Chart.yaml" in result.diff and "+version: 0.1.0" in result.diff
    assert "would push to chartgen/greeting" in result.message
    assert git("--git-dir", str(bare), "show-ref") == refs_before


@pytest.mark.parametrize("layout,present,absent", [
    (["standalone"], "charts/greeting/Chart.yaml", "charts/workflows/Chart.yaml"),
    (["umbrella"], "charts/workflows/charts/greeting/Chart.yaml", "charts/greeting/Chart.yaml"),
])
def test_layout(env, layout, present, absent):
    _tmp, bare, sources = env
    run(bare, sources, ["greeting"], settings={"layout": layout})
    files = tree(bare, "chartgen/greeting")
    assert present in files and absent not in files


def test_umbrella_only_layout_keeps_bumping_from_the_nested_chart(env):
    _tmp, bare, sources = env
    run(bare, sources, ["greeting"], settings={"layout": ["umbrella"]})
    merge_branch(bare, "chartgen/greeting")
    write_workflow(sources, "greeting", {"api.yaml": "openapi: 3.0.3\n"})
    (result,) = run(bare, sources, ["greeting"], settings={"layout": ["umbrella"]})
    assert (result.charts[0].old_version, result.charts[0].new_version) == ("0.1.0", "0.1.1")
    assert "charts/greeting/Chart.yaml" not in tree(bare, "chartgen/greeting")


def test_push_race_is_fetched_regenerated_and_retried(env, monkeypatch):
    tmp_path, bare, sources = env
    calls = race_pushes(monkeypatch, tmp_path, bare, times=1)
    lines = []
    (result,) = run(bare, sources, ["greeting"], lines)
    assert calls["n"] == 2 and result.action == "pushed"
    assert any("branch moved" in line and "attempt 2 of 3" in line for line in lines)
    files = tree(bare, "chartgen/greeting")
    assert "charts/greeting/Chart.yaml" in files and "charts/other1.txt" not in files
    assert len(log(bare, "chartgen/greeting")) == 2


def test_push_race_gives_up_after_the_configured_attempts(env, monkeypatch):
    tmp_path, bare, sources = env
    calls = race_pushes(monkeypatch, tmp_path, bare, times=10)
    with pytest.raises(PrError) as info:
        run(bare, sources, ["greeting"], settings={"push_attempts": 2})
    assert calls["n"] == 2
    assert info.value.code == "pr-push-race"
    assert b"someone else" in tree(bare, "chartgen/greeting")["charts/other2.txt"]


def test_failure_of_one_workflow_keeps_the_others(env):
    _tmp, bare, sources = env

    def generator(folder, config, **kwargs):
        if folder.name == "mta":
            raise ChartgenError("mta is broken", path="mta/mta.sw.yaml", line=3, code="broken")
        return fake_generator(folder, config, **kwargs)

    config = default_config(sources)
    folders = [load_workflow(sources / n) for n in ("greeting", "mta")]
    with pytest.raises(PrError) as info:
        open_pull_requests(folders, config, config_repo=str(bare), forge="none", generator=generator)
    assert [f.code for f in info.value.findings] == ["broken"]
    assert [r.branch for r in info.value.results] == ["chartgen/greeting"]
    assert rev(bare, "chartgen/greeting") and rev(bare, "chartgen/mta") is None


def test_missing_base_branch(env):
    _tmp, bare, sources = env
    with pytest.raises(PrError) as info:
        run(bare, sources, ["greeting"], base="release-9")
    assert info.value.code == "pr-no-base" and "release-9" in str(info.value)


def test_url_with_credentials_is_refused_without_echoing_them(env):
    _tmp, _bare, sources = env
    config = default_config(sources)
    with pytest.raises(UsageError) as info:
        open_pull_requests([load_workflow(sources / "greeting")], config,
                           config_repo="https://bot:hunter2secret@example.com/acme/charts.git", forge="none")
    assert info.value.code == "pr-url-credentials" and "hunter2secret" not in info.value.format()


def test_bad_branch_prefix_is_a_usage_error(env):
    _tmp, bare, sources = env
    with pytest.raises(PrError) as info:
        run(bare, sources, ["greeting"], settings={"branch_prefix": "bad..name/"})
    assert info.value.code == "pr-branch"


def test_github_forge_without_token_is_a_usage_error_before_any_work(env):
    _tmp, bare, sources = env
    config = default_config(sources)
    with pytest.raises(UsageError) as info:
        open_pull_requests([load_workflow(sources / "greeting")], config, config_repo=str(bare), forge="github",
                           generator=fake_generator)
    assert info.value.code == "pr-no-token" and "GITHUB_TOKEN" in str(info.value)
    assert rev(bare, "chartgen/greeting") is None


def test_git_errors_are_redacted(tmp_path):
    secret = "ghp_redactme0123456789"
    repo = Git.init(tmp_path / "r", "http://127.0.0.1:9/nowhere.git", token=secret)
    with pytest.raises(GitError) as info:
        repo.run("ls-remote", f"http://127.0.0.1:9/{secret}/x.git", remote=True)
    assert secret not in info.value.format() and secret not in str(info.value)
    assert "***" in info.value.format()


def test_compat_rows_accept_tuples_dicts_and_objects():
    class Row:
        name, version, workflow_type, operator_versions = "c", "1.0.0", "assessment", ">=1.36"

    assert body._row(("a", "1", "infrastructure", ">=1")) == ("a", "1", "infrastructure", ">=1")
    assert body._row({"chart": "b", "version": "2", "type": "assessment", "operator": "<2"}) == \
        ("b", "2", "assessment", "<2")
    assert body._row(Row()) == ("c", "1.0.0", "assessment", ">=1.36")


def test_only_provenance_differences_do_not_count():
    provenance = ("diff --git a/c/Chart.yaml b/c/Chart.yaml\nindex 1..2 100644\n--- a/c/Chart.yaml\n"
                  "+++ b/c/Chart.yaml\n@@ -19 +19 @@ annotations:\n"
                  "-  chartgen.io/source-commit: d00dfeed\n+  chartgen.io/source-commit: beefbeef\n"
                  "@@ -20 +20 @@\n-  chartgen.io/content-hash: sha256:aa\n+  chartgen.io/content-hash: sha256:bb\n")
    assert propose._only_provenance_differs(provenance)
    assert propose._only_provenance_differs("")
    assert not propose._only_provenance_differs(provenance + "@@ -3 +3 @@\n-version: 0.1.0\n+version: 0.1.1\n")
    # a removed content line starting with "-- " is content, not a file header
    assert not propose._only_provenance_differs("diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n--- a\n")


@pytest.mark.parametrize("url,web", [
    ("https://github.com/acme/charts.git", "https://github.com/acme/charts"),
    ("git@github.example.com:acme/charts.git", "https://github.example.com/acme/charts"),
    ("http://127.0.0.1:8080/acme/charts", "http://127.0.0.1:8080/acme/charts"),
    ("file:///srv/charts.git", ""),
])
def test_forge_none_tells_where_to_open_the_pull_request(url, web):
    from chartgen.gitops.forges import PullRequestSpec
    from chartgen.gitops.forges.none import NoForge, web_url

    assert web_url(url) == web
    result = NoForge().open_or_update(PullRequestSpec(url, "", "chartgen/mta", "main", "t", "b"), pushed=True)
    assert result.action == "pushed"
    assert result.url == (f"{web}/compare/main...chartgen/mta?expand=1" if web else "")
    assert "chartgen/mta" in result.message


def test_chart_repository_urls(tmp_path):
    from chartgen.gitops.git import check_url, needs_token

    assert check_url(str(tmp_path)) == tmp_path.resolve().as_uri()       # file:// so --depth applies
    assert check_url("git@github.com:acme/charts.git") == "git@github.com:acme/charts.git"
    assert check_url("https://github.com/acme/charts.git") == "https://github.com/acme/charts.git"
    assert needs_token("https://github.com/acme/charts.git") and not needs_token("git@github.com:acme/c.git")
    assert not needs_token(tmp_path.as_uri())
    with pytest.raises(UsageError) as info:
        check_url("")
    assert info.value.code == "pr-no-repo"


def test_clone_is_shallow_and_removed(env, monkeypatch):
    tmp_path, bare, sources = env
    for i in range(3):                                                       # some history on main
        merge_base = tmp_path / f"more{i}"
        git("clone", "-q", str(bare), str(merge_base))
        (merge_base / f"f{i}.txt").write_text(str(i))
        git("add", "-A", cwd=merge_base)
        git("commit", "-q", "-m", f"more {i}", cwd=merge_base)
        git("push", "-q", "origin", "HEAD:main", cwd=merge_base)
    depths = []
    real_commit = Git.commit

    def commit(self, message, name, email):
        depths.append(int(self.out("rev-list", "--count", "HEAD")))
        return real_commit(self, message, name, email)

    monkeypatch.setattr(Git, "commit", commit)
    work = tmp_path / "work"
    work.mkdir()
    run(bare, sources, ["greeting"], workdir=work)
    assert depths == [1]                                                     # only the base tip was fetched
    assert list(work.iterdir()) == []


def test_concurrent_run_that_pushed_the_same_charts_makes_ours_a_no_op(env, monkeypatch):
    """Two CI jobs for the same change: the other one pushes first; ours is rejected, fetches,
    regenerates, finds the branch already has the charts and pushes nothing."""
    _tmp, bare, sources = env
    real_push = Git.push
    state = {"other_ran": False}

    def push(self, remote_name, branch, expected):
        if not state["other_ran"]:
            state["other_ran"] = True
            run(bare, sources, ["greeting"], source_ref="refs/heads/other-job")     # same charts, other commit
        return real_push(self, remote_name, branch, expected)

    monkeypatch.setattr(Git, "push", push)
    lines = []
    (result,) = run(bare, sources, ["greeting"], lines)
    assert result.action == "unchanged" and "already has these charts" in result.message
    assert any("branch moved" in line for line in lines)
    assert len(log(bare, "chartgen/greeting")) == 2


def test_concurrent_run_that_pushed_the_identical_commit(env, monkeypatch):
    """Same content, same message, same second: the same commit id; the push is a no-op."""
    _tmp, bare, sources = env
    real_push = Git.push
    state = {"other_ran": False, "results": []}

    def push(self, remote_name, branch, expected):
        if not state["other_ran"]:
            state["other_ran"] = True
            state["results"] += run(bare, sources, ["greeting"])
        return real_push(self, remote_name, branch, expected)

    monkeypatch.setattr(Git, "push", push)
    (result,) = run(bare, sources, ["greeting"])
    assert state["results"][0].action == "pushed"
    assert result.action == "unchanged"
    assert len(log(bare, "chartgen/greeting")) == 2


@pytest.mark.parametrize("name,line,text", [
    ("unknown-key.yaml", 4, "unknown setting 'pr.lables'"),
    ("bad-forge.yaml", 2, "'gitlab' is not one of ['github', 'none']"),
    ("bad-branch-prefix.yaml", 2, "pr.branchPrefix"),
    ("bad-layout.yaml", 2, "'flat' is not one of"),
    ("bad-repository.yaml", 2, "pr.repository"),
])
def test_bad_pr_settings_are_reported_with_their_line(name, line, text, tmp_path):
    from chartgen.config import load_config
    from conftest import REPO

    source = REPO / "tests" / "fixtures" / "pr" / name
    target = tmp_path / "chartgen.yaml"
    target.write_bytes(source.read_bytes())
    with pytest.raises(UsageError) as info:
        load_config(target)
    finding = info.value.findings[0]
    assert finding.line == line and text in finding.message, info.value.format()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chartgen.yaml"]      # nothing left behind


def test_token_precedence_follows_gh(monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_fromgithubtoken1")
    monkeypatch.setenv("GH_TOKEN", "ghp_fromghtoken22")
    assert auth.token_from_env() == "ghp_fromghtoken22"
    monkeypatch.delenv("GH_TOKEN")
    assert auth.token_from_env() == "ghp_fromgithubtoken1"
    monkeypatch.delenv("GITHUB_TOKEN")
    assert auth.token_from_env() is None
