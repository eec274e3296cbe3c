"""`chartgen pr` authenticated as a GitHub App: app id + private key -> JWT -> installation
token, for the API and for git, refreshed before it expires; against the GitHub stand-in
(app endpoints checked against GitHub's OpenAPI description, JWTs verified with the app's
public key) and a real git remote over smart HTTP that takes the installation token."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from chartgen.config import default_config
from chartgen.errors import UsageError
from chartgen.gitops import auth
from chartgen.gitops.engine import PrError, open_pull_requests
from chartgen.gitops.forges import ForgeOptions
from chartgen.settings import PrSettings
from chartgen.gitops.git import Git
from chartgen.sources import load_workflow
from conftest import GITHUB_OPENAPI, REPO, need, need_shared
from github_standin import GITHUB_VARIABLES, GitHubStandin
from github_standin.apps import key_secrets, rsa_key
from github_standin.gitrepos import fake_generator, log, make_chart_repo, rev, tree, write_workflow
from github_standin.leaks import assert_token_nowhere, snapshot_clones
from github_standin.server import HTTP_BACKEND

APP_ID = 31337
SOURCE = "89abcdef0123456789abcdef0123456789abcdef"


@pytest.fixture(scope="module")
def keys() -> dict:
    return {"app": rsa_key(), "other": rsa_key()}


@dataclass
class AppHub:
    server: GitHubStandin
    bare: Path
    url: str
    sources: Path
    tmp: Path
    private_key: str

    @property
    def pulls(self) -> dict:
        return self.server.repos["acme/charts"].pulls

    def settings(self, **extra) -> PrSettings:
        config = default_config(self.sources)
        return replace(config.pr, api_url=self.server.api_url, api_retries=2, **extra)

    def run(self, names, *, lines=None, settings=None, credentials=None, **kwargs):
        config = default_config(self.sources)
        pr = self.settings(**(settings or {}))
        config = config.with_overrides(pr=pr)
        credentials = credentials or auth.credentials_from_env(pr, self.url)
        kwargs.setdefault("source_commit", SOURCE)
        kwargs.setdefault("forge_options", ForgeOptions(
            credentials=credentials, api_url=self.server.api_url, retries=2, backoff_factor=0.05,
            max_rate_limit_wait=5, seconds_between_requests=0, seconds_between_writes=0))
        folders = [load_workflow(self.sources / n) for n in names]
        return open_pull_requests(folders, config, config_repo=self.url, generator=fake_generator,
                                  log=(lines.append if lines is not None else None), **kwargs)

    def minted(self) -> list[str]:
        return [t.value for t in self.server.apps.minted()]

    def jwts(self) -> list[str]:
        return [r.headers.get("Authorization", "")[len("Bearer "):] for r in self.server.api_requests()
                if r.operation.startswith("apps/")]

    def api_tokens(self) -> list[str]:
        """The token of every API request that is not an app request, in order."""
        return [r.headers.get("Authorization", "").partition(" ")[2] for r in self.server.api_requests()
                if not r.operation.startswith("apps/")]


@pytest.fixture
def hub(tmp_path, monkeypatch, keys):
    need_shared(GITHUB_OPENAPI)
    need(Path(HTTP_BACKEND).exists(), f"{HTTP_BACKEND} is absent (Debian package git)")
    for name in (*GITHUB_VARIABLES, "GITHUB_TOKEN", *auth.APP_ENV):
        monkeypatch.delenv(name, raising=False)
    private, public = keys["app"]
    monkeypatch.setenv(auth.APP_ID_ENV, str(APP_ID))
    monkeypatch.setenv(auth.APP_KEY_ENV, private)
    bare = make_chart_repo(tmp_path)
    sources = tmp_path / "src"
    write_workflow(sources, "greeting")
    write_workflow(sources, "mta", {"mta.yaml": "openapi: 3.0.0\n"})
    server = GitHubStandin(tmp_path / "srv", GITHUB_OPENAPI, None).start()   # no static token at all
    try:
        url = server.add_repo("acme", "charts", bare)
        server.apps.install(server.apps.add(public, app_id=APP_ID), "acme/charts")
        yield AppHub(server, bare, url, sources, tmp_path, private)
    finally:
        server.stop()
    assert server.violations == [], "requests GitHub would reject"


def test_pull_request_as_a_github_app(hub, monkeypatch):
    (hub.tmp / "work").mkdir()
    clone_files = snapshot_clones(monkeypatch, hub.tmp / "work")
    lines = []
    (result,) = hub.run(["greeting"], lines=lines, workdir=hub.tmp / "work")
    assert result.action == "created" and result.url.endswith("/acme/charts/pull/1")
    assert hub.pulls[1]["head"]["ref"] == "chartgen/greeting"
    assert hub.pulls[1]["head"]["sha"] == rev(hub.bare, "chartgen/greeting")
    assert [label["name"] for label in hub.pulls[1]["labels"]] == ["chartgen", "automated"]

    # the installation was looked up on the chart repository, one token minted for one repository
    operations = [r.operation for r in hub.server.api_requests() if r.operation.startswith("apps/")]
    assert operations == ["apps/get-repo-installation", "apps/create-installation-access-token"]
    (mint,) = hub.server.api_requests("apps/create-installation-access-token")
    assert json.loads(mint.body) == {"repositories": ["charts"], "permissions": auth.PERMISSIONS}
    (token,) = hub.minted()
    # the API and git used it: git as x-access-token, only through the credential helper
    assert set(hub.api_tokens()) == {token}
    assert hub.server.git_passwords and set(hub.server.git_passwords) == {token}
    assert (True, "x-access-token") in hub.server.git_auth and hub.server.git_auth[0] == (False, "")
    assert hub.server.apps.expired_uses == [] and hub.server.apps.jwt_refusals == []

    # the stand-in's app answers are what GitHub's description says they are
    for record in hub.server.api_requests():
        if record.operation.startswith("apps/"):
            assert hub.server.checker.response_problems(record.method, record.path[len("/api/v3"):],
                                                        record.status, record.response) == []

    secrets = [*key_secrets(hub.private_key), *hub.minted(), *hub.jwts()]
    assert_token_nowhere(secrets, lines=lines, results=[result], bare=hub.bare, server=hub.server,
                         clone_files=clone_files)
    for ref in ("chartgen/greeting", "main"):
        assert not [c for c in log(hub.bare, ref) if any(s in c for s in secrets)]


def test_installation_tokens_are_refreshed_before_they_expire(hub, monkeypatch):
    """Tokens live 6 seconds here (an hour on GitHub; chartgen renews at half their life when that
    is shorter than 5 minutes); each push is followed by 3.5 seconds of work, so the run outlives
    its first token. The stand-in refuses expired tokens, so every
    request succeeding proves each one carried a fresh token."""
    hub.server.apps.token_lifetime = 6
    real_push = Git.push

    def slow_push(self, *args, **kwargs):
        pushed = real_push(self, *args, **kwargs)
        time.sleep(3.5)           # e.g. a long image build between two workflows
        return pushed

    monkeypatch.setattr(Git, "push", slow_push)
    results = hub.run(["greeting", "mta"])
    assert [r.action for r in results] == ["created", "created"]
    minted = hub.minted()
    assert len(minted) >= 2, minted
    assert len(set(hub.server.git_passwords)) >= 2           # git got the new token at push time
    assert len(set(hub.api_tokens())) >= 2                   # so did the API
    assert set(hub.server.git_passwords) | set(hub.api_tokens()) <= set(minted)
    assert hub.server.apps.expired_uses == []
    # the first token has expired by now: the stand-in does enforce expiry
    assert _api_status(hub, minted[0]) == 401
    assert _api_status(hub, minted[-1]) == 200
    assert hub.server.apps.expired_uses == ["api"]


def _api_status(hub: AppHub, token: str) -> int:
    request = urllib.request.Request(f"{hub.server.api_url}/repos/acme/charts",
                                     headers={"Authorization": f"token {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_client_id_and_given_installation_id(hub, monkeypatch):
    app = hub.server.apps.apps[APP_ID]
    monkeypatch.setenv(auth.APP_ID_ENV, app.client_id)
    monkeypatch.setenv(auth.APP_INSTALLATION_ENV, str(app.installations["acme/charts"]))
    (result,) = hub.run(["greeting"])
    assert result.action == "created"
    assert hub.server.api_requests("apps/get-repo-installation") == []       # no lookup needed
    assert len(hub.minted()) == 1


def test_key_from_a_file_and_the_app_wins_over_a_token(hub, monkeypatch):
    key_file = hub.tmp / "app.pem"
    key_file.write_text(hub.private_key)
    monkeypatch.delenv(auth.APP_KEY_ENV)
    monkeypatch.setenv(auth.APP_KEY_FILE_ENV, str(key_file))
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_" + "notUsedByAnyone" + "0123456789ab")
    monkeypatch.setenv("GH_TOKEN", "ghp_" + "notUsedEither" + "0123456789abcd")
    (result,) = hub.run(["greeting"])
    assert result.action == "created" and set(hub.api_tokens()) == set(hub.minted())


def test_forge_none_pushes_with_the_installation_token(hub):
    (result,) = hub.run(["greeting"], forge="none")
    assert result.action == "pushed" and rev(hub.bare, "chartgen/greeting")
    assert {r.operation for r in hub.server.api_requests()} == {"apps/get-repo-installation",
                                                                "apps/create-installation-access-token"}
    assert set(hub.server.git_passwords) == set(hub.minted())


@pytest.mark.parametrize("case,code,says", [
    ("unknown app id", "github-app-auth", "Integration not found"),
    ("another app's key", "github-app-auth", "could not be decoded"),
    ("expired JWT", "github-app-auth", "clock"),
    ("not installed", "github-app-not-installed", "/apps/chartgen-bot/installations/new"),
    ("permissions not granted", "github-app-permissions", "pull_requests: write"),
    ("unknown installation", "github-app-not-installed", auth.APP_INSTALLATION_ENV),
])
def test_refused_app_credentials_fail_clearly(hub, monkeypatch, keys, case, code, says):
    apps = hub.server.apps
    if case == "unknown app id":
        monkeypatch.setenv(auth.APP_ID_ENV, "999")
    elif case == "another app's key":
        monkeypatch.setenv(auth.APP_KEY_ENV, keys["other"][0])
    elif case == "expired JWT":
        hub.server.clock = lambda: time.time() + 3600                    # this machine's clock is an hour late
    elif case == "not installed":
        apps.apps[APP_ID].installations.clear()
    elif case == "permissions not granted":
        apps.apps[APP_ID].permissions = {"contents": "write", "metadata": "read"}
    elif case == "unknown installation":
        monkeypatch.setenv(auth.APP_INSTALLATION_ENV, "77")
    lines = []
    with pytest.raises(PrError) as info:
        hub.run(["greeting", "mta"], lines=lines)
    error = info.value
    assert error.exit_code == 1 and {f.code for f in error.findings} == {code}, error.format()
    text = error.format()
    assert says in text
    assert rev(hub.bare, "chartgen/greeting") is None and rev(hub.bare, "chartgen/mta") is None
    assert hub.pulls == {} and hub.minted() == []
    # refused once, not asked again for the second workflow
    asked = [r for r in hub.server.api_requests() if r.status >= 400]
    assert len(asked) == 1, [(r.operation, r.status) for r in asked]
    secrets = [*key_secrets(keys["app"][0]), *key_secrets(keys["other"][0]), *hub.jwts()]
    assert not [s for s in secrets if s in text or any(s in line for line in lines)]


@pytest.mark.parametrize("key", [
    "not a key", "-----BEGIN RSA PRIVATE KEY-----\nbm90IGEga2V5\n-----END RSA PRIVATE KEY-----\n", "ec"])
def test_a_key_that_is_not_an_rsa_private_key_is_a_usage_error(hub, monkeypatch, key):
    if key == "ec":
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec

        key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    monkeypatch.setenv(auth.APP_KEY_ENV, key)
    with pytest.raises(UsageError) as info:
        hub.run(["greeting"])
    assert info.value.exit_code == 2 and info.value.code == "github-app-key"
    assert "PEM RSA private key" in info.value.format()
    assert not [line for line in key.splitlines() if len(line) > 8 and line in info.value.format()]
    assert hub.server.requests == [] and rev(hub.bare, "chartgen/greeting") is None


def test_settings_from_the_environment(monkeypatch, tmp_path, keys):
    for name in (*auth.APP_ENV, "GH_TOKEN", "GITHUB_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    settings = PrSettings(repository="", api_url="http://127.0.0.1:9/api/v3")
    url = "https://github.com/acme/charts.git"
    assert auth.credentials_from_env(settings, url) is None
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_fromgithubtoken1")
    monkeypatch.setenv("GH_TOKEN", "ghp_fromghtoken22")
    assert auth.credentials_from_env(settings, url).token() == "ghp_fromghtoken22"

    def refused(code: str) -> str:
        with pytest.raises(UsageError) as info:
            auth.credentials_from_env(settings, url)
        assert info.value.code == code and info.value.exit_code == 2
        return info.value.format()

    monkeypatch.setenv(auth.APP_ID_ENV, "12")
    assert auth.APP_KEY_ENV in refused("github-app-key")                   # an app id alone is a mistake
    monkeypatch.delenv(auth.APP_ID_ENV)
    private = keys["app"][0]
    monkeypatch.setenv(auth.APP_KEY_ENV, private)
    assert auth.APP_ID_ENV in refused("github-app-id")
    monkeypatch.setenv(auth.APP_ID_ENV, "12")
    key_file = tmp_path / "key.pem"
    key_file.write_text(private)
    monkeypatch.setenv(auth.APP_KEY_FILE_ENV, str(key_file))
    assert "not both" in refused("github-app-key")
    monkeypatch.delenv(auth.APP_KEY_ENV)
    monkeypatch.setenv(auth.APP_KEY_FILE_ENV, str(tmp_path / "missing.pem"))
    assert "missing.pem" in refused("github-app-key")
    monkeypatch.delenv(auth.APP_KEY_FILE_ENV)
    monkeypatch.setenv(auth.APP_KEY_ENV, private.strip().replace("\n", "\\n"))    # squeezed into one line
    monkeypatch.setenv(auth.APP_INSTALLATION_ENV, "forty-two")
    assert "installation id" in refused("github-app-installation-id")
    monkeypatch.setenv(auth.APP_INSTALLATION_ENV, "42")
    credentials = auth.credentials_from_env(settings, url)                    # the app wins over the tokens
    assert isinstance(credentials, auth.GitHubAppToken) and credentials.installation_id == 42
    assert credentials.repository == "acme/charts" and credentials.username == "x-access-token"
    assert "acme/charts" in repr(credentials) and private.splitlines()[1] not in repr(credentials)
    from chartgen.errors import redact

    assert private.splitlines()[3] not in redact(private) and redact(f"line: {private.splitlines()[3]}") == "line: ***"


def test_git_is_handed_the_current_token_at_each_remote_command(tmp_path):
    """Git asks the credentials at every command that talks to the remote, never before."""
    class Counting:
        username = "x-access-token"
        hint = "check the app"
        calls = 0

        def token(self):
            Counting.calls += 1
            return f"ghs_rotating{Counting.calls:04d}token"

    repo = Git.init(tmp_path / "r", "http://127.0.0.1:9/acme/charts.git", token=Counting())
    assert Counting.calls == 0
    first, second = (repo._env(True, None), repo._env(True, None))
    assert first["CHARTGEN_GIT_PASSWORD"] != second["CHARTGEN_GIT_PASSWORD"]
    assert "CHARTGEN_GIT_PASSWORD" not in repo._env(False, None) and Counting.calls == 2
    assert "Counting" not in repr(repo) and "ghs_" not in repr(repo)


# ---------------------------------------------------------------------------- the CLI

def _project(tmp_path: Path, api_url: str) -> Path:
    need((REPO / "workflow_sources" / "greeting").is_dir(), "workflow_sources/greeting is absent")
    proj = tmp_path / "proj"
    proj.mkdir()
    shutil.copytree(REPO / "workflow_sources", proj / "workflow_sources")
    shutil.copy(REPO / "chartgen.yaml", proj / "chartgen.yaml")
    with open(proj / "chartgen.yaml", "a") as handle:
        handle.write(f"pr:\n  apiUrl: {api_url}\n")
    return proj


def _chartgen(proj: Path, url: str, env_extra: dict) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if k not in (*GITHUB_VARIABLES, "GITHUB_TOKEN", "GITHUB_ACTIONS", *auth.APP_ENV)}
    env.update(env_extra)
    return subprocess.run([sys.executable, "-m", "chartgen", "--config", str(proj / "chartgen.yaml"), "pr",
                           "greeting", "--config-repo", url, "--format", "json"],
                          cwd=proj, capture_output=True, text=True, env=env, timeout=300)


def test_cli_pull_request_as_a_github_app(hub, tmp_path):
    """`chartgen pr` as users run it: the key in a file, the real chart generator."""
    key_file = tmp_path / "app.pem"
    key_file.write_text(hub.private_key)
    proj = _project(tmp_path, hub.server.api_url)
    done = _chartgen(proj, hub.url, {auth.APP_ID_ENV: str(APP_ID), auth.APP_KEY_FILE_ENV: str(key_file)})
    assert done.returncode == 0, done.stderr
    assert '"action": "created"' in done.stdout and "/acme/charts/pull/1" in done.stdout
    assert "charts/greeting/Chart.yaml" in tree(hub.bare, "chartgen/greeting")
    secrets = [*key_secrets(hub.private_key), *hub.minted(), *hub.jwts()]
    assert len(hub.minted()) == 1
    assert not [s for s in secrets if s in done.stdout + done.stderr]
    assert_token_nowhere(secrets, bare=hub.bare, server=hub.server)


@pytest.mark.parametrize("case,exit_code,code", [
    ("bad key", 2, "github-app-key"),
    ("unknown app id", 1, "github-app-auth"),
    ("expired JWT", 1, "github-app-auth"),
])
def test_cli_refused_app_credentials(hub, tmp_path, case, exit_code, code):
    proj = _project(tmp_path, hub.server.api_url)
    env = {auth.APP_ID_ENV: "999" if case == "unknown app id" else str(APP_ID),
           auth.APP_KEY_ENV: hub.private_key if case != "bad key" else hub.private_key[:400]}
    if case == "expired JWT":
        hub.server.clock = lambda: time.time() + 3600
    done = _chartgen(proj, hub.url, env)
    assert done.returncode == exit_code, done.stderr
    assert f"[{code}]" in done.stderr and "Traceback" not in done.stderr
    secrets = [*key_secrets(hub.private_key), *hub.jwts()]
    assert not [s for s in secrets if s in done.stdout + done.stderr]
    assert rev(hub.bare, "chartgen/greeting") is None


def test_standin_checks_jwts_the_way_github_does(hub):
    """The stand-in's app endpoints take only a JWT signed by the app's key, issued now and
    expiring within 10 minutes; and their answers follow GitHub's description."""
    import jwt

    from github_standin import apps

    now = int(time.time())

    def get_app(authorization: str) -> tuple[int, dict]:
        request = urllib.request.Request(f"{hub.server.api_url}/app", headers={"Authorization": authorization})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    def signed(claims: dict, key: str = "", algorithm: str = "RS256") -> str:
        return "Bearer " + jwt.encode({"iat": now - 60, "exp": now + 300, "iss": str(APP_ID), **claims},
                                      key or hub.private_key, algorithm=algorithm)

    status, body = get_app(signed({}))
    assert status == 200 and body["id"] == APP_ID and body["slug"] == "chartgen-bot"
    assert hub.server.checker.response_problems("GET", "/app", 200, body) == []
    app = hub.server.apps.apps[APP_ID]
    assert get_app(signed({"iss": app.client_id}))[0] == 200                  # the client id works too
    assert get_app(signed({"exp": now + 3600})) == (401, {"message": apps.FAR_EXP,
                                                          "documentation_url": "https://docs.github.com/rest"})
    assert get_app(signed({"exp": now - 120}))[1]["message"] == apps.BAD_EXP
    assert get_app(signed({"iat": now + 300}))[1]["message"] == apps.BAD_IAT
    assert get_app(signed({"iss": "4"}))[1]["message"] == apps.NO_APP
    assert get_app(signed({}, key="not-the-key" * 4, algorithm="HS256"))[1]["message"] == apps.NOT_DECODED
    hub.run(["greeting"], forge="none")
    (token,) = hub.minted()
    assert get_app(f"token {token}")[1]["message"] == apps.NOT_DECODED      # an installation token is no JWT
    assert get_app(f"Bearer {token}")[1]["message"] == apps.NOT_DECODED
    assert _api_status(hub, token) == 200 and _api_status(hub, "ghs_" + "x" * 36) == 401
