"""Credentials for the chart repository: a token, or a GitHub App's installation token.

One small interface, used by the forge (every API request) and by git (every command that
talks to the remote): `credentials.token()` answers a token that is valid now, and
`credentials.username` is git's user name for it. A `StaticToken` is what the user gave
(GH_TOKEN, GITHUB_TOKEN). A `GitHubAppToken` signs a JWT with the app's private key (PyGithub's
`Auth.AppAuth`), finds the app's installation on the chart repository (`GithubIntegration`,
`GET /repos/{owner}/{repo}/installation`) unless its id is given, and asks for an installation
token scoped to that one repository and to the permissions chartgen needs. Installation tokens
last an hour; a new one is minted when the current one is within `REFRESH_MARGIN` of its
expiry, so a long run (or a push after a long image build) never presents an expired token.

Why not PyGithub's `Auth.AppInstallationAuth`: it refreshes only 20 seconds before expiry,
keeps the expiry private and cannot scope the token to one repository; git needs the same
token as the API, so chartgen keeps one token for both.

The private key, every JWT and every installation token are registered with
`chartgen.errors.register_secret`, so no message can show them; none of them is ever put in
a URL, an argv, a log line or `.git/config` (git gets the token from its credential helper,
see `chartgen.gitops.git`).

Which credentials (`credentials_from_env`), first match wins:
1. a GitHub App, when a private key is given: `CHARTGEN_GITHUB_APP_PRIVATE_KEY` (the PEM) or
   `CHARTGEN_GITHUB_APP_PRIVATE_KEY_FILE` (its path), with `CHARTGEN_GITHUB_APP_ID` (the app id
   or its client id) and optionally `CHARTGEN_GITHUB_APP_INSTALLATION_ID`;
2. `GH_TOKEN`, then `GITHUB_TOKEN` (the order the gh CLI uses).
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from chartgen.errors import ChartgenError, UsageError, redact, register_secret

if TYPE_CHECKING:
    from chartgen.settings import PrSettings

APP_ID_ENV = "CHARTGEN_GITHUB_APP_ID"
APP_KEY_ENV = "CHARTGEN_GITHUB_APP_PRIVATE_KEY"
APP_KEY_FILE_ENV = "CHARTGEN_GITHUB_APP_PRIVATE_KEY_FILE"
APP_INSTALLATION_ENV = "CHARTGEN_GITHUB_APP_INSTALLATION_ID"
APP_ENV = (APP_ID_ENV, APP_KEY_ENV, APP_KEY_FILE_ENV, APP_INSTALLATION_ENV)
TOKEN_ENV = ("GH_TOKEN", "GITHUB_TOKEN")
# What chartgen asks an installation token for: push branches, open/update/close pull
# requests (labels, review requests and comments go through the pull request permission).
PERMISSIONS = {"contents": "write", "pull_requests": "write", "metadata": "read"}
REFRESH_MARGIN = 300.0          # seconds before expiry a new installation token is minted
MAX_KEY_BYTES = 64 * 1024       # a GitHub App key is ~1.7 KB
NO_CREDENTIALS = (f"credentials: a GitHub App ({APP_ID_ENV} and {APP_KEY_ENV} or {APP_KEY_FILE_ENV}, "
                  "see docs/github-app.md) or a token (GITHUB_TOKEN or GH_TOKEN)")


class Credentials(Protocol):
    username: str               # git's user name for the token (GitHub: x-access-token)

    def token(self) -> str:
        """A token valid now (minted or refreshed if needed)."""

    @property
    def hint(self) -> str:
        """What to check when the forge or git refuses the token."""


@dataclass(frozen=True)
class StaticToken:
    """A token the user gave: used as it is, never refreshed."""

    value: str = field(repr=False)
    source: str = "GITHUB_TOKEN or GH_TOKEN"
    username: str = "x-access-token"

    def __post_init__(self) -> None:
        register_secret(self.value)

    def token(self) -> str:
        return self.value

    @property
    def hint(self) -> str:
        return f"the chart repository needs a token with write access: set {self.source}"


class GitHubAppToken:
    """Installation tokens of a GitHub App for one repository, minted on first use and
    refreshed `refresh_margin` seconds before they expire (at most half their lifetime)."""

    username = "x-access-token"

    def __init__(self, app_id: str, private_key: str, *, repository: str, repo_url: str = "",
                 api_url: str = "", installation_id: int | None = None,
                 refresh_margin: float = REFRESH_MARGIN, retry=None, timeout: int = 60) -> None:
        self.app_id = str(app_id)
        self.installation_id = installation_id
        self.refresh_margin = refresh_margin
        self.minted = 0                         # installation tokens minted so far
        self._repository, self._repo_url = repository, repo_url
        self._api_url, self._retry, self._timeout = api_url, retry, timeout
        self._app_auth = _app_auth(self.app_id, private_key)
        self._integration = None
        self._token: str | None = None
        self._refresh_at = 0.0
        self._failure: ChartgenError | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"GitHubAppToken(app_id={self.app_id!r}, repository={self.repository!r})"

    @property
    def repository(self) -> str:
        from chartgen.gitops.github_api import slug

        return slug(self._repository, self._repo_url)

    @property
    def hint(self) -> str:
        return (f"the GitHub App {self.app_id} needs Contents: write and Pull requests: write on "
                f"{self.repository}, and must be installed on it (docs/github-app.md)")

    def token(self) -> str:
        with self._lock:
            if self._failure is not None:       # bad credentials stay bad: do not ask GitHub again
                raise self._failure
            if self._token is None or time.time() >= self._refresh_at:
                try:
                    self._mint()
                except ChartgenError as exc:
                    if exc.code != "github-app":  # transient (network, 5xx): the next call may work
                        self._failure = exc
                    raise
            return self._token

    # -- minting ------------------------------------------------------------------------
    def _client(self):
        if self._integration is None:
            import github

            from chartgen.gitops.github_api import api_url

            self._api_url = api_url(self._api_url)
            self._integration = github.GithubIntegration(base_url=self._api_url, auth=self._app_auth,
                                                         retry=self._retry, timeout=self._timeout)
        return self._integration

    def _mint(self) -> None:
        from github import GithubException

        repository = self.repository
        owner, _, name = repository.partition("/")
        integration = self._client()
        step = "find its installation on"
        try:
            if self.installation_id is None:
                self.installation_id = integration.get_repo_installation(owner, name).id
            step = "get an installation token for"
            asked = time.time()
            _headers, data = integration.requester.requestJsonAndCheck(
                "POST", f"/app/installations/{self.installation_id}/access_tokens",
                input={"repositories": [name], "permissions": PERMISSIONS})
        except GithubException as exc:
            raise self._refused(exc, step, repository) from None
        except ChartgenError:
            raise
        except Exception as exc:        # connection errors, timeouts: transient
            raise ChartgenError(f"GitHub App {self.app_id}: could not {step} {repository} at {self._api_url}: "
                                f"{redact(str(exc))[:300]}", code="github-app") from None
        token = data.get("token") if isinstance(data, dict) else None
        expires = _timestamp(data.get("expires_at")) if isinstance(data, dict) else None
        if not token or expires is None:
            raise ChartgenError(f"GitHub App {self.app_id}: the installation token answer from {self._api_url} "
                                "has no token or expires_at", code="github-app")
        register_secret(token)
        self._token = token
        self.minted += 1
        self._refresh_at = expires - min(self.refresh_margin, max(0.0, expires - asked) / 2)

    def _refused(self, exc, step: str, repository: str) -> ChartgenError:
        status = getattr(exc, "status", None)
        data = getattr(exc, "data", None)
        message = redact(str(data.get("message", "")) if isinstance(data, dict) else "")[:300]
        said = f"GitHub answered {status}" + (f": {message}" if message else "")
        if status == 401:
            return ChartgenError(
                f"GitHub refused the GitHub App's signed token (JWT) while trying to {step} {repository} "
                f"({said}). Check {APP_ID_ENV} ({self.app_id}: the app id or client id) and that the private "
                "key is this app's; the JWT is valid for a few minutes from this machine's clock, so check "
                "the clock too", code="github-app-auth")
        if status == 404 and self.installation_id is None:
            return ChartgenError(f"the GitHub App {self.app_id} is not installed on {repository} ({said}); "
                                 f"install it there{self._install_url()} (docs/github-app.md)",
                                 code="github-app-not-installed")
        if status == 404:
            return ChartgenError(f"the GitHub App {self.app_id} has no installation {self.installation_id} "
                                 f"({said}); check {APP_INSTALLATION_ENV} or leave it empty to look the "
                                 f"installation up on {repository}", code="github-app-not-installed")
        if status == 422:
            wanted = ", ".join(f"{k}: {v}" for k, v in PERMISSIONS.items())
            return ChartgenError(f"GitHub would not give the GitHub App {self.app_id} a token for {repository} "
                                 f"with {wanted} ({said}); grant the app these repository permissions and "
                                 "install it on the repository (docs/github-app.md)", code="github-app-permissions")
        transient = status is None or status >= 500 or status == 429    # the next call may work
        return ChartgenError(f"GitHub App {self.app_id}: could not {step} {repository} ({said})",
                             code="github-app" if transient else "github-app-refused")

    def _install_url(self) -> str:
        """Where to install the app (GET /app), or nothing if that is not known."""
        try:
            html_url = self._client().get_app().html_url
        except Exception:  # only a better message: never fail on it
            return ""
        return f": {html_url}/installations/new" if html_url else ""


def _timestamp(value) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _app_auth(app_id: str, private_key: str):
    """PyGithub's AppAuth; every JWT it signs is registered as a secret. Signs one JWT now,
    so a key that is not a usable RSA private key is a usage error before anything runs."""
    import github

    class RedactedAppAuth(github.Auth.AppAuth):
        def create_jwt(self, expiration: int | None = None) -> str:
            value = super().create_jwt(expiration)
            register_secret(value)
            return value

    if not app_id.strip():
        raise UsageError(f"{APP_ID_ENV} is empty: set it to the GitHub App's id or client id", code="github-app-id")
    auth = RedactedAppAuth(app_id.strip(), private_key)
    try:
        auth.create_jwt()
    except NotImplementedError:         # PyJWT without cryptography
        raise UsageError("signing GitHub App tokens (RS256) needs the cryptography package "
                         "(pip install 'pyjwt[crypto]')", code="github-app-key") from None
    except Exception as exc:            # ValueError, TypeError, PyJWT's InvalidKeyError: never the key's text
        raise UsageError(f"the GitHub App private key is not a PEM RSA private key ({type(exc).__name__}); "
                         f"use the .pem file GitHub generated for the app ({APP_KEY_ENV} or {APP_KEY_FILE_ENV})",
                         code="github-app-key") from None
    return auth


def private_key_from_env(env=None) -> str | None:
    """The PEM from CHARTGEN_GITHUB_APP_PRIVATE_KEY or the file CHARTGEN_GITHUB_APP_PRIVATE_KEY_FILE
    names (None when neither is set), registered as a secret line by line."""
    env = os.environ if env is None else env
    text, path = env.get(APP_KEY_ENV) or "", env.get(APP_KEY_FILE_ENV) or ""
    if text and path:
        raise UsageError(f"set {APP_KEY_ENV} or {APP_KEY_FILE_ENV}, not both", code="github-app-key")
    if path:
        file = Path(path)
        try:
            if not file.is_file():
                raise UsageError(f"{APP_KEY_FILE_ENV}: {path} is not a file", path=path, code="github-app-key")
            if file.stat().st_size > MAX_KEY_BYTES:
                raise UsageError(f"{APP_KEY_FILE_ENV}: {path} is larger than {MAX_KEY_BYTES} bytes; not a "
                                 "GitHub App private key", path=path, code="github-app-key")
            text = file.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise UsageError(f"{APP_KEY_FILE_ENV}: cannot read {path}: {exc.strerror}", path=path,
                             code="github-app-key") from None
    if not text:
        return None
    if "\n" not in text.strip() and "\\n" in text:
        text = text.replace("\\n", "\n")    # a PEM squeezed into one line with literal \n
    text = text.strip() + "\n"
    register_secret(text)
    for line in text.splitlines():
        if not line.startswith("-----") and len(line.strip()) >= 16:
            register_secret(line.strip())   # a single line of it must not show either (a short last
                                            # line alone would blank out unrelated text)
    return text


def token_from_env() -> str | None:
    """GH_TOKEN, else GITHUB_TOKEN: the order the gh CLI uses."""
    token = next((os.environ[name] for name in TOKEN_ENV if os.environ.get(name)), None)
    register_secret(token)
    return token


def credentials_from_env(settings: "PrSettings", repo_url: str) -> Credentials | None:
    """The GitHub App when its private key is given, else GH_TOKEN / GITHUB_TOKEN, else None.
    `settings` is chartgen.yaml's `pr` section (repository, api_url, api_retries, max_rate_limit_wait).
    Nothing is asked of GitHub here: the first installation token is minted on first use."""
    key = private_key_from_env()
    app_id = os.environ.get(APP_ID_ENV, "").strip()
    if key is None:
        if app_id:
            raise UsageError(f"{APP_ID_ENV} is set but no private key: set {APP_KEY_ENV} (the PEM) or "
                             f"{APP_KEY_FILE_ENV} (its path)", code="github-app-key")
        token = token_from_env()
        return StaticToken(token) if token else None
    if not app_id:
        raise UsageError(f"a GitHub App private key is given but {APP_ID_ENV} is empty: set it to the app's id "
                         "or client id", code="github-app-id")
    installation = os.environ.get(APP_INSTALLATION_ENV, "").strip()
    if installation and not (installation.isdigit() and int(installation) > 0):
        raise UsageError(f"{APP_INSTALLATION_ENV} must be a number (the installation id), or empty to look it "
                         "up on the chart repository", code="github-app-installation-id")
    from chartgen.gitops.github_api import make_retry

    retry = make_retry(settings.api_retries, settings.max_rate_limit_wait)
    return GitHubAppToken(app_id, key, repository=settings.repository, repo_url=repo_url,
                          api_url=settings.api_url, installation_id=int(installation) if installation
                          else None, retry=retry)


def pygithub_auth(credentials: Credentials):
    """A PyGithub Auth that asks `credentials` for the token at every request."""
    import github

    if isinstance(credentials, StaticToken):
        return github.Auth.Token(credentials.value)

    class CurrentToken(github.Auth.Auth):
        @property
        def token_type(self) -> str:
            return "token"

        @property
        def token(self) -> str:
            return credentials.token()

        @property
        def _masked_token(self) -> str:
            return "token (removed)"

    return CurrentToken()


def push_credentials(settings: "PrSettings", remote: str, config_repo: str = "") -> Credentials | None:
    """The GitHub App's credentials for publishing to the git remote `remote` (`chartgen
    publish --to git:…`, `build --publish`), or None (CHARTGEN_GIT_TOKEN applies).

    The app is used when its private key is configured, `remote` is an http(s) URL, and
    `remote` is the chart repository (the repository of `pr.repository`, else of
    `config_repo` / `pr.configRepo`): its installation token then pushes the gh-pages branch
    as it pushes the pull request branches. With no chart repository configured, the app is
    used for the remote when CHARTGEN_GIT_TOKEN is not set."""
    from urllib.parse import urlsplit

    from chartgen.gitops.github_api import slug

    if urlsplit(remote).scheme not in ("http", "https") or private_key_from_env() is None:
        return None
    try:
        wanted = slug(settings.repository, config_repo or settings.config_repo) \
            if (settings.repository or config_repo or settings.config_repo) else ""
        target = slug("", remote)
    except UsageError:
        return None
    if wanted:
        if wanted.lower() != target.lower():
            return None
    elif os.environ.get("CHARTGEN_GIT_TOKEN"):
        return None
    from dataclasses import replace

    return credentials_from_env(replace(settings, repository=target), remote)


def target_credentials(settings: "PrSettings", target: str, config_repo: str = "") -> Credentials | None:
    """`push_credentials` for a publish target (`git:REMOTE#…`); None for other targets."""
    from chartgen.repo.publish import parse_target

    if not str(target or "").startswith("git:"):
        return None
    return push_credentials(settings, parse_target(target).location, config_repo)
