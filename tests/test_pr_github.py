"""`--forge github` end to end against the local GitHub stand-in (API checked against GitHub's
OpenAPI description; git over smart HTTP through real `git http-backend`, token required)."""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from chartgen.config import default_config
from chartgen.gitops import engine
from chartgen.gitops.engine import open_pull_requests
from chartgen.gitops.forges import ForgeOptions
from chartgen.gitops.model import PrError
from chartgen.sources import load_workflow
from github_standin import GitHubStandin, running_standin
from github_standin.gitrepos import (fake_generator, git, log, make_chart_repo, race_pushes, rev, tree,
                                     write_workflow)

TOKEN = "ghp_" + "St4ndinT0ken" + "9f8e7d6c5b4a3210"
SOURCE = "89abcdef0123456789abcdef0123456789abcdef"
DIGEST = "sha256:" + "ab" * 32


@dataclass
class Hub:
    server: GitHubStandin
    bare: Path
    url: str
    sources: Path
    tmp: Path

    @property
    def pulls(self) -> dict:
        return self.server.repos["acme/charts"].pulls

    def run(self, names, *, lines=None, settings=None, options=None, **kwargs):
        config = default_config(self.sources)
        config = config.with_overrides(pr=replace(config.pr, **{"api_url": self.server.api_url,
                                                                "reviewers": ("alice",), **(settings or {})}))
        kwargs.setdefault("source_commit", SOURCE)
        kwargs.setdefault("source_ref", f"https://github.com/acme/flows/pull/42")
        kwargs.setdefault("forge_options", options or fast(self))
        folders = [load_workflow(self.sources / n) for n in names]
        return open_pull_requests(folders, config, config_repo=self.url, generator=fake_generator,
                                  log=(lines.append if lines is not None else None), **kwargs)

    def writes(self):
        return [(r.method, r.operation) for r in self.server.api_requests() if r.method != "GET"]


@pytest.fixture
def hub(tmp_path, monkeypatch):
    bare = make_chart_repo(tmp_path)
    sources = tmp_path / "src"
    write_workflow(sources, "greeting")
    write_workflow(sources, "mta", {"mta.yaml": "openapi: 3.0.0\n", "jira.yaml": "openapi: 3.0.1\n"})
    with running_standin(tmp_path, monkeypatch, TOKEN, bare) as (server, url):
        yield Hub(server, bare, url, sources, tmp_path)
    assert server.violations == [], "requests GitHub would reject"


def fast(hub, **kwargs):
    """Forge options for tests: no pacing between requests, short backoff."""
    values = dict(token=TOKEN, api_url=hub.server.api_url, retries=4, backoff_factor=0.05, max_rate_limit_wait=5,
                  seconds_between_requests=0, seconds_between_writes=0)
    values.update(kwargs)
    return ForgeOptions(**values)


def test_first_pull_request(hub):
    (result,) = hub.run(["greeting"], image_digest=DIGEST, image_tag="1.2.3")
    assert result.action == "created"
    assert result.url == f"{hub.server.base_url}/acme/charts/pull/1"
    pull = hub.pulls[1]
    assert pull["head"]["ref"] == "chartgen/greeting" and pull["base"]["ref"] == "main"
    assert pull["title"] == "chartgen: greeting chart 0.1.0"
    assert [label["name"] for label in pull["labels"]] == ["chartgen", "automated"]
    assert [r["login"] for r in pull["requested_reviewers"]] == ["alice"]
    body = pull["body"]
    assert "https://github.com/acme/flows/pull/42" in body and SOURCE in body
    assert f"quay.io/orchestrator/serverless-workflow-greeting:1.2.3@{DIGEST}" in body
    assert "| greeting | (new) 0.1.0 |" in body
    assert "- `charts/greeting/templates/specs_api.yaml.txt`" in body
    assert "| greeting | 0.1.0 | infrastructure | >=1.35 <1.37 |" in body          # compatibility table
    assert pull["head"]["sha"] == rev(hub.bare, "chartgen/greeting")
    # the token reached git only through the credential helper: first request unauthenticated
    assert hub.server.git_auth[0] == (False, "") and (True, "x-access-token") in hub.server.git_auth


def test_update_of_the_same_pull_request(hub):
    hub.run(["greeting"])
    git("--git-dir", str(hub.bare), "update-ref", "refs/heads/main", "refs/heads/chartgen/greeting")
    write_workflow(hub.sources, "greeting", {"api.yaml": "openapi: 3.0.3\n"})
    hub.server.inject("PATCH", r"/pulls/1$", 503, body={"message": "Service Unavailable"})
    (result,) = hub.run(["greeting"], source_ref="https://github.com/acme/flows/pull/43")
    assert [r.status for r in hub.server.api_requests("pulls/update")] == [503, 200]   # PATCH retried too
    # PR 1's branch was merged into main but the PR is still open in the stand-in: updated, not duplicated
    assert result.action == "updated" and result.url.endswith("/pull/1")
    assert len(hub.pulls) == 1
    body = hub.pulls[1]["body"]
    assert "| greeting | 0.1.0 → 0.1.1 |" in body and "pull/43" in body
    assert "**Modified** (" in body and "charts/greeting/templates/specs_api.yaml.txt" in body
    assert hub.pulls[1]["head"]["sha"] == rev(hub.bare, "chartgen/greeting")
    assert [label["name"] for label in hub.pulls[1]["labels"]] == ["chartgen", "automated"]


def test_no_change_run_writes_nothing(hub):
    hub.run(["greeting"])
    head = rev(hub.bare, "chartgen/greeting")
    writes = hub.writes()
    lines = []
    (result,) = hub.run(["greeting"], lines=lines, source_commit="1" * 40)
    assert result.action == "unchanged" and result.url.endswith("/pull/1")
    assert rev(hub.bare, "chartgen/greeting") == head
    assert hub.writes() == writes                                   # no POST/PATCH at all
    assert any("nothing committed or pushed" in line for line in lines)


def test_branch_without_open_pull_request_gets_one(hub):
    """A run that pushed but died before opening the PR heals on the next run."""
    hub.run(["greeting"], forge="none")
    assert hub.pulls == {}
    (result,) = hub.run(["greeting"])
    assert result.action == "created" and len(hub.pulls) == 1


def test_two_workflows_two_pull_requests(hub):
    results = hub.run(["greeting", "mta"])
    assert [(r.branch, r.action) for r in results] == [("chartgen/greeting", "created"), ("chartgen/mta", "created")]
    assert sorted(p["head"]["ref"] for p in hub.pulls.values()) == ["chartgen/greeting", "chartgen/mta"]
    assert "charts/mta/templates/specs_jira.yaml.txt" in hub.pulls[2]["body"]


def test_deleted_spec_is_listed_as_removed(hub):
    hub.run(["mta"])
    git("--git-dir", str(hub.bare), "update-ref", "refs/heads/main", "refs/heads/chartgen/mta")
    write_workflow(hub.sources, "mta", {"mta.yaml": "openapi: 3.0.0\n"})
    (result,) = hub.run(["mta"])
    assert result.action == "updated"
    body = hub.pulls[1]["body"]
    removed = body.split("**Removed**", 1)[1].split("**", 1)[0]
    assert "charts/mta/templates/specs_jira.yaml.txt" in removed
    assert not [p for p in tree(hub.bare, "chartgen/mta") if "jira" in p]


def test_rate_limits_and_5xx_are_retried(hub):
    reset = int(time.time()) + 1
    hub.server.inject("GET", r"/pulls$", 429, headers={"Retry-After": "1"},
                      body={"message": "You have exceeded a secondary rate limit."})
    hub.server.inject("POST", r"/pulls$", 403, headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)},
                      body={"message": "API rate limit exceeded for user ID 1."})
    hub.server.inject("POST", r"/labels$", 502, times=2, body={"message": "Server Error"})
    (result,) = hub.run(["greeting"], options=fast(hub))
    assert result.action == "created" and len(hub.pulls) == 1
    lists = [r for r in hub.server.api_requests("pulls/list")]
    assert [r.status for r in lists] == [429, 200]
    assert lists[1].at - lists[0].at >= 0.9                       # Retry-After honoured
    creates = hub.server.api_requests("pulls/create")
    assert [r.status for r in creates] == [403, 201]
    assert creates[1].at >= reset - 0.05                           # x-ratelimit-reset honoured
    assert [r.status for r in hub.server.api_requests("issues/add-labels")] == [502, 502, 200]


def test_lost_create_response_does_not_open_a_second_pull_request(hub):
    hub.server.inject("POST", r"/pulls$", 502, after=True)
    (result,) = hub.run(["greeting"], options=fast(hub))
    assert result.action == "created" and list(hub.pulls) == [1]
    assert [r.status for r in hub.server.api_requests("pulls/create")] == [502, 422]


def test_rate_limit_longer_than_allowed_fails_clearly(hub):
    hub.server.inject("GET", r"/pulls$", 429, headers={"Retry-After": "3600"})
    started = time.monotonic()
    with pytest.raises(PrError) as info:
        hub.run(["greeting"], options=fast(hub, max_rate_limit_wait=30))
    assert time.monotonic() - started < 30
    assert info.value.code == "pr-rate-limit" and "3600" in str(info.value)


def test_persistent_5xx_gives_a_clear_error(hub):
    hub.server.inject("GET", r"/pulls$", 500, times=10)
    with pytest.raises(PrError) as info:
        hub.run(["greeting"], options=fast(hub, retries=2))
    assert info.value.code == "pr-github" and "500" in str(info.value)
    assert len(hub.server.api_requests("pulls/list")) == 3


def test_github_api_url_from_the_environment(hub, monkeypatch):
    monkeypatch.setenv("GITHUB_API_URL", hub.server.api_url)
    (result,) = hub.run(["greeting"], settings={"api_url": ""}, options=fast(hub, api_url=""))
    assert result.action == "created"


def test_wrong_token_fails_with_a_redacted_git_error(hub, monkeypatch):
    wrong = "ghp_wrongwrongwrong0123456789"
    monkeypatch.setenv("GITHUB_TOKEN", wrong)
    with pytest.raises(PrError) as info:
        hub.run(["greeting"], options=fast(hub, token=wrong))
    text = info.value.format()
    assert info.value.code == "git-auth" and "Authentication failed" in text and "GITHUB_TOKEN" in text
    assert wrong not in text and TOKEN not in text
    assert rev(hub.bare, "chartgen/greeting") is None


def test_token_never_leaks(hub, monkeypatch):
    """Every log line, result, commit, object and file of the pushed repository, the clone's
    .git (config included, checked while it exists), every git argv and every request URL."""
    calls = []
    real_run = subprocess.run

    def recording_run(argv, *args, **kwargs):
        calls.append((list(argv), dict(kwargs.get("env") or {})))
        return real_run(argv, *args, **kwargs)

    monkeypatch.setattr(subprocess, "run", recording_run)
    clone_files = {}
    real_get_forge = engine.get_forge

    def snapshot_forge(name, options):
        forge = real_get_forge(name, options)
        real_open = forge.open_or_update

        def open_or_update(spec, *, pushed):
            for path in _scratch_clones():
                for file in path.rglob("*"):
                    if file.is_file():
                        clone_files[str(file)] = file.read_bytes()
            return real_open(spec, pushed=pushed)

        forge.open_or_update = open_or_update
        return forge

    def _scratch_clones():
        return [p for p in (hub.tmp / "work").glob("chartgen-pr-*")]

    (hub.tmp / "work").mkdir()
    monkeypatch.setattr(engine, "get_forge", snapshot_forge)
    lines = []
    results = list(hub.run(["greeting", "mta"], lines=lines, workdir=hub.tmp / "work"))
    write_workflow(hub.sources, "greeting", {"api.yaml": "openapi: 3.0.3\n"})
    results += hub.run(["greeting"], lines=lines, workdir=hub.tmp / "work", dry_run=True)
    results += hub.run(["greeting"], lines=lines, workdir=hub.tmp / "work")
    assert {r.action for r in results} == {"created", "dry-run", "updated"}
    secret = TOKEN.encode()

    assert any(f.endswith(".git/config") for f in clone_files), "the clone was scanned while it existed"
    assert [f for f, data in clone_files.items() if secret in data] == []
    config_text = next(data for f, data in clone_files.items() if f.endswith(".git/config")).decode()
    assert "url = http://127.0.0.1" in config_text and "@" not in config_text
    assert "helper" not in config_text and "extraheader" not in config_text.lower()
    assert lines and [line for line in lines if TOKEN in line] == []
    assert [r for r in results if TOKEN in repr(r)] == []
    for ref in ("chartgen/greeting", "chartgen/mta", "main"):
        assert all(TOKEN not in c for c in log(hub.bare, ref))
    objects = subprocess.run(["git", "--git-dir", str(hub.bare), "cat-file", "--batch-all-objects", "--batch"],
                             capture_output=True, check=True).stdout
    assert len(objects) > 1000 and secret not in objects
    for file in hub.bare.rglob("*"):
        if file.is_file():
            assert secret not in file.read_bytes(), file
    for record in hub.server.requests:
        assert TOKEN not in record.path and secret not in record.body
    git_calls = [(argv, env) for argv, env in calls if argv and argv[0] == "git"]
    assert git_calls and [argv for argv, _env in git_calls if any(TOKEN in a for a in argv)] == []
    with_token = {argv[1] for argv, env in git_calls if TOKEN in env.values()}
    assert with_token <= {"ls-remote", "fetch", "push"}, with_token        # only the remote commands see it
    assert {"ls-remote", "fetch", "push"} <= with_token
    assert not list((hub.tmp / "work").iterdir()), "scratch clone removed"
    home_store = Path.home() / ".git-credentials"
    assert not home_store.exists() or secret not in home_store.read_bytes()


def test_a_configured_credential_store_never_receives_the_token(hub, monkeypatch, tmp_path):
    """`credential.helper=store` in the user's git config would save a token git used; the
    helper list is reset for chartgen's remote commands, so nothing is stored."""
    home = tmp_path / "home"
    home.mkdir()
    (home / ".gitconfig").write_text("[credential]\n\thelper = store\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    (result,) = hub.run(["greeting"])
    assert result.action == "created"
    assert not (home / ".git-credentials").exists()
    assert [p.name for p in home.iterdir()] == [".gitconfig"]


def test_forge_none_over_http_pushes_with_the_token_and_calls_no_api(hub):
    (result,) = hub.run(["greeting"], forge="none")
    assert result.action == "pushed" and hub.server.api_requests() == []
    assert result.url == f"{hub.server.base_url}/acme/charts/compare/main...chartgen/greeting?expand=1"
    assert rev(hub.bare, "chartgen/greeting")


def test_http_remote_without_token_says_what_is_missing(hub, monkeypatch):
    monkeypatch.delenv("GITHUB_TOKEN")
    with pytest.raises(PrError) as info:
        hub.run(["greeting"], forge="none", options=fast(hub, token=None))
    assert info.value.code == "git-auth" and "GITHUB_TOKEN" in str(info.value)


def test_push_race_over_http_then_one_pull_request(hub, monkeypatch):
    calls = race_pushes(monkeypatch, hub.tmp, hub.bare, times=1)
    lines = []
    (result,) = hub.run(["greeting"], lines=lines)
    assert calls["n"] == 2 and result.action == "created" and len(hub.pulls) == 1
    assert any("branch moved" in line for line in lines)
    files = tree(hub.bare, "chartgen/greeting")
    assert "charts/other1.txt" not in files and "charts/greeting/Chart.yaml" in files
    assert hub.pulls[1]["head"]["sha"] == rev(hub.bare, "chartgen/greeting")


def test_permission_denied_is_not_retried_and_says_why(hub):
    hub.server.inject("POST", r"/pulls$", 403, body={"message": "Resource not accessible by integration"})
    with pytest.raises(PrError) as info:
        hub.run(["greeting"], options=fast(hub))
    assert info.value.code == "pr-github" and "Resource not accessible by integration" in str(info.value)
    assert [r.status for r in hub.server.api_requests("pulls/create")] == [403]
    assert TOKEN not in info.value.format()
