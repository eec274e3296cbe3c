"""The GitHub stand-in is honest: requests GitHub's OpenAPI description rejects are refused
and recorded, valid ones are served; git over HTTP needs the token."""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request

from pathlib import Path

import pytest

from conftest import GITHUB_OPENAPI, need, need_shared
from github_standin import GitHubStandin
from github_standin.server import HTTP_BACKEND
from github_standin.gitrepos import make_chart_repo
from github_standin.openapi import _to_json_schema, checker

TOKEN = "ghp_standinhonesty0123456789"


@pytest.fixture
def server(tmp_path):
    need_shared(GITHUB_OPENAPI)
    need(Path(HTTP_BACKEND).exists(), f"{HTTP_BACKEND} is absent (Debian package git)")
    hub = GitHubStandin(tmp_path / "srv", GITHUB_OPENAPI, TOKEN).start()
    hub.add_repo("acme", "charts", make_chart_repo(tmp_path))
    yield hub
    hub.stop()


def call(hub, method, path, body=None, token=TOKEN):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(hub.api_url + path, data=data, method=method,
                                     headers={"Authorization": f"token {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


@pytest.mark.parametrize("method,path,body,status,problem", [
    ("POST", "/repos/acme/charts/pulls", {"title": 5, "head": "x", "base": "main"}, 422, "title: 5 is not of type"),
    ("POST", "/repos/acme/charts/pulls", None, 422, "request body is required"),
    ("GET", "/repos/acme/charts/pulls?state=merged", None, 422, "state='merged' not one of"),
    ("GET", "/repos/acme/charts/pulls?per_page=many", None, 422, "is not an integer"),
    ("PATCH", "/repos/acme/charts/pulls/1", {"state": "merged"}, 422, "'merged' is not one of"),
    ("POST", "/repos/acme/charts/issues/1/comments", {"text": "closed"}, 422, "'body' is a required property"),
    ("GET", "/repos/acme/charts/pullz", None, 404, "no such path"),
    ("PUT", "/repos/acme/charts/pulls", {"title": "t"}, 404, "method not allowed"),
    # PyGithub's add_to_labels sends a bare list; the description only specifies {"labels": [...]}
    ("POST", "/repos/acme/charts/issues/1/labels", ["chartgen"], 422, "is not valid under any of the given schemas"),
    # GitHub App endpoints (tests/test_pr_github_app.py)
    ("POST", "/app/installations/abc/access_tokens", {}, 404, "installation_id='abc' is not an integer"),
    ("POST", "/app/installations/41/access_tokens", {"permissions": {"contents": "owner"}}, 422,
     "'owner' is not one of"),
    ("POST", "/app/installations/41/access_tokens", {"repositories": "charts"}, 422, "is not of type 'array'"),
])
def test_requests_github_would_reject_are_refused_and_recorded(server, method, path, body, status, problem):
    got, payload = call(server, method, path, body)
    assert got == status
    assert len(server.violations) == 1 and problem in server.violations[0]
    assert any(problem in e for e in payload["errors"])


def test_valid_requests_are_served_with_state(server):
    status, pull = call(server, "POST", "/repos/acme/charts/pulls",
                        {"title": "t", "head": "main", "base": "main", "body": "b", "draft": False})
    assert status == 201 and pull["number"] == 1
    status, again = call(server, "POST", "/repos/acme/charts/pulls", {"title": "t", "head": "main", "base": "main"})
    assert status == 422 and "already exists" in again["errors"][0]["message"]      # like GitHub
    status, _ = call(server, "POST", "/repos/acme/charts/pulls", {"title": "t", "head": "nope", "base": "main"})
    assert status == 422                                                           # head must exist
    assert call(server, "POST", "/repos/acme/charts/issues/1/labels", {"labels": ["a", "b"]})[0] == 200
    status, pulls = call(server, "GET", "/repos/acme/charts/pulls?state=open&head=acme:main&base=main")
    assert status == 200 and [p["number"] for p in pulls] == [1]
    assert [label["name"] for label in pulls[0]["labels"]] == ["a", "b"]
    assert call(server, "GET", "/repos/acme/charts/pulls?state=closed")[1] == []
    assert server.violations == []


def test_unimplemented_but_valid_endpoint_is_recorded(server):
    status, _ = call(server, "GET", "/repos/acme/charts/issues")
    assert status == 501 and "does not implement" in server.violations[0]
    server.violations.clear()


def test_api_needs_the_token(server):
    assert call(server, "GET", "/repos/acme/charts", token="wrong")[0] == 401
    assert call(server, "GET", "/repos/acme/charts")[0] == 200


def test_injected_failures_carry_their_headers(server):
    server.inject("GET", r"/pulls$", 429, headers={"Retry-After": "7"})
    request = urllib.request.Request(server.api_url + "/repos/acme/charts/pulls",
                                     headers={"Authorization": f"token {TOKEN}"})
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=10)
    assert info.value.code == 429 and info.value.headers["Retry-After"] == "7"
    assert call(server, "GET", "/repos/acme/charts/pulls")[0] == 200


def test_git_over_http_requires_the_token(server, tmp_path):
    url = f"{server.base_url}/acme/charts.git"
    env = {"GIT_TERMINAL_PROMPT": "0", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    denied = subprocess.run(["git", "ls-remote", url], capture_output=True, text=True, env=env)
    assert denied.returncode != 0 and server.git_auth == [(False, "")]
    header = "Authorization: Basic " + __import__("base64").b64encode(f"x:{TOKEN}".encode()).decode()
    allowed = subprocess.run(["git", "-c", f"http.extraHeader={header}", "ls-remote", url],
                             capture_output=True, text=True, env=env)
    assert allowed.returncode == 0 and "refs/heads/main" in allowed.stdout


def test_nullable_becomes_json_schema():
    assert _to_json_schema({"type": "string", "nullable": True}) == {"type": ["string", "null"]}
    assert _to_json_schema({"$ref": "#/components/schemas/x", "nullable": True}) == \
        {"anyOf": [{"$ref": "urn:github-openapi#/components/schemas/x"}, {"type": "null"}]}


def test_description_is_loaded_once_per_process():
    need_shared(GITHUB_OPENAPI)
    assert checker(str(GITHUB_OPENAPI)) is checker(str(GITHUB_OPENAPI))
