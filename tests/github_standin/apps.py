"""GitHub Apps in the stand-in: registered apps (id, client id, public key, granted
permissions), their installations on repositories, JWT checks and installation tokens.

A JWT is accepted the way GitHub describes it: RS256, signed by the private key of the app
its `iss` names (the app id, or its client id), `iat` not in the future, `exp` in the future
and at most 10 minutes ahead (a little leeway for clock drift both ways). Installation
tokens carry `expires_at` and stop working when the stand-in's clock passes it; tests set a
short `token_lifetime` to prove a client refreshes them. The clock is `hub.clock`, so a test
can move the server's time (e.g. to make every JWT expired).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field

JWT_MAX_AHEAD = 600     # GitHub: exp no more than 10 minutes into the future
LEEWAY = 30             # clock drift tolerated on iat and exp
APP_OPERATIONS = ("apps/get-authenticated", "apps/get-repo-installation", "apps/create-installation-access-token")
CREATED = "2026-01-01T00:00:00Z"

# GitHub's messages for refused JWTs
NOT_DECODED = "A JSON web token could not be decoded"
BAD_IAT = "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued"
BAD_EXP = ("'Expiration time' claim ('exp') must be a numeric value representing the future time at which the "
           "assertion expires")
FAR_EXP = "'Expiration time' claim ('exp') is too far in the future"
NO_APP = "Integration not found"


@dataclass
class StandinApp:
    app_id: int
    client_id: str
    slug: str
    public_key_pem: bytes
    permissions: dict
    installations: dict = field(default_factory=dict)   # "owner/name" -> installation id


@dataclass(frozen=True)
class InstallationToken:
    value: str
    app_id: int
    installation_id: int
    expires_at: int
    repositories: tuple[str, ...]                       # "owner/name" the token may touch
    permissions: dict


class Apps:
    """The app side of one stand-in (`hub.apps`)."""

    def __init__(self, hub) -> None:
        self.hub = hub
        self.apps: dict[int, StandinApp] = {}
        self.tokens: dict[str, InstallationToken] = {}
        self.token_lifetime = 3600.0
        self.jwt_refusals: list[str] = []                # why each refused JWT was refused
        self.expired_uses: list[str] = []                # "api"/"git": an expired installation token presented
        self._next_installation = 40

    # -- setup ----------------------------------------------------------------------------
    def add(self, public_key_pem: bytes, *, app_id: int = 1234, slug: str = "chartgen-bot",
            client_id: str | None = None, permissions: dict | None = None) -> StandinApp:
        app = StandinApp(app_id, client_id or f"Iv23li{app_id:014d}", slug, public_key_pem,
                         dict(permissions or {"contents": "write", "pull_requests": "write", "metadata": "read"}))
        self.apps[app_id] = app
        return app

    def install(self, app: StandinApp, repository: str) -> int:
        owner = repository.split("/")[0]
        same_owner = [i for repo, i in app.installations.items() if repo.split("/")[0] == owner]
        if same_owner:
            installation = same_owner[0]
        else:
            self._next_installation += 1
            installation = self._next_installation
        app.installations[repository] = installation
        return installation

    def minted(self) -> list[InstallationToken]:
        return sorted(self.tokens.values(), key=lambda t: t.expires_at)

    # -- credentials ----------------------------------------------------------------------
    def app_for_jwt(self, authorization: str) -> tuple[StandinApp | None, str]:
        """(app, "") for a valid JWT, else (None, GitHub's message)."""
        import jwt

        app, problem = self._check_jwt(authorization, jwt)
        if problem:
            self.jwt_refusals.append(problem)
        return app, problem

    def _check_jwt(self, authorization: str, jwt):
        if not authorization.startswith("Bearer "):
            return None, NOT_DECODED
        value = authorization[len("Bearer "):]
        try:
            header = jwt.get_unverified_header(value)
            unverified = jwt.decode(value, options={"verify_signature": False})
        except jwt.PyJWTError:
            return None, NOT_DECODED
        if header.get("alg") != "RS256":
            return None, NOT_DECODED
        issuer = str(unverified.get("iss", ""))
        app = next((a for a in self.apps.values() if issuer in (str(a.app_id), a.client_id)), None)
        if app is None:
            return None, NO_APP
        try:
            claims = jwt.decode(value, app.public_key_pem, algorithms=["RS256"],
                                options={"verify_exp": False, "verify_iat": False, "verify_nbf": False,
                                         "require": ["iat", "exp", "iss"]})
        except jwt.PyJWTError:
            return None, NOT_DECODED
        now = self.hub.clock()
        iat, exp = claims["iat"], claims["exp"]
        if not isinstance(iat, int) or iat > now + LEEWAY:
            return None, BAD_IAT
        if not isinstance(exp, (int, float)) or exp <= now - LEEWAY:
            return None, BAD_EXP
        if exp > now + JWT_MAX_AHEAD + LEEWAY:
            return None, FAR_EXP
        return app, ""

    def token_for(self, value: str, repository: str | None, where: str) -> InstallationToken | None:
        """The live installation token `value` if it may touch `repository` (None: any)."""
        token = self.tokens.get(value)
        if token is None:
            return None
        if self.hub.clock() >= token.expires_at:
            self.expired_uses.append(where)
            return None
        if repository is not None and repository not in token.repositories:
            return None
        return token

    # -- endpoints --------------------------------------------------------------------------
    def route(self, app: StandinApp, operation: str, segments: list[str], body):
        if operation == "apps/get-authenticated":
            return 200, self._app_json(app)
        if operation == "apps/get-repo-installation":
            repository = f"{segments[1]}/{segments[2]}"
            if repository not in app.installations:
                return 404, {"message": "Not Found",
                             "documentation_url": "https://docs.github.com/rest/apps/apps#get-a-repository-"
                                                  "installation-for-the-authenticated-app"}
            return 200, self._installation_json(app, app.installations[repository], repository.split("/")[0])
        if operation == "apps/create-installation-access-token":
            return self._create_token(app, int(segments[2]), body or {})
        raise KeyError(operation)

    def _create_token(self, app: StandinApp, installation: int, body: dict):
        repositories = [r for r, i in app.installations.items() if i == installation]
        if not repositories:
            return 404, {"message": "Not Found"}
        owner = repositories[0].split("/")[0]
        if body.get("repositories"):
            wanted = [f"{owner}/{name}" for name in body["repositories"]]
            if any(w not in repositories for w in wanted):
                return 422, {"message": "There is at least one repository that does not exist or is not "
                                        "accessible to the parent installation."}
            repositories = wanted
        permissions = dict(body.get("permissions") or app.permissions)
        levels = {"read": 1, "write": 2, "admin": 3}
        for name, level in permissions.items():
            if levels.get(app.permissions.get(name, ""), 0) < levels.get(level, 9):
                return 422, {"message": "The permissions requested are not granted to this installation."}
        expires = int(self.hub.clock() + self.token_lifetime)
        token = InstallationToken("ghs_" + secrets.token_urlsafe(27).replace("-", "x").replace("_", "y"), app.app_id,
                                  installation, expires, tuple(repositories), permissions)
        with self.hub.lock:
            self.tokens[token.value] = token
        return 201, {"token": token.value, "expires_at": _iso(expires), "permissions": permissions,
                     "repository_selection": "selected"}

    def _user(self, login: str, user_id: int, kind: str) -> dict:
        api, web = self.hub.api_url, self.hub.base_url
        base = f"{api}/users/{login}"
        return {"login": login, "id": user_id, "node_id": f"U_{user_id}", "avatar_url": f"{web}/avatars/{login}",
                "gravatar_id": "", "url": base, "html_url": f"{web}/{login}", "followers_url": f"{base}/followers",
                "following_url": f"{base}/following{{/other_user}}", "gists_url": f"{base}/gists{{/gist_id}}",
                "starred_url": f"{base}/starred{{/owner}}{{/repo}}", "subscriptions_url": f"{base}/subscriptions",
                "organizations_url": f"{base}/orgs", "repos_url": f"{base}/repos",
                "events_url": f"{base}/events{{/privacy}}",
                "received_events_url": f"{base}/received_events", "type": kind, "site_admin": False}

    def _app_json(self, app: StandinApp) -> dict:
        return {"id": app.app_id, "slug": app.slug, "node_id": f"A_{app.app_id}", "client_id": app.client_id,
                "owner": self._user("acme", 2, "Organization"), "name": app.slug, "description": "chartgen test app",
                "external_url": "https://example.com", "html_url": f"{self.hub.base_url}/apps/{app.slug}",
                "created_at": CREATED, "updated_at": CREATED, "permissions": app.permissions, "events": [],
                "installations_count": len(set(app.installations.values()))}

    def _installation_json(self, app: StandinApp, installation: int, owner: str) -> dict:
        api = self.hub.api_url
        return {"id": installation, "account": self._user(owner, 2, "Organization"),
                "repository_selection": "selected",
                "access_tokens_url": f"{api}/app/installations/{installation}/access_tokens",
                "repositories_url": f"{api}/installation/repositories",
                "html_url": f"{self.hub.base_url}/organizations/{owner}/settings/installations/{installation}",
                "app_id": app.app_id, "client_id": app.client_id, "target_id": 2, "target_type": "Organization",
                "permissions": app.permissions, "events": [], "created_at": CREATED, "updated_at": CREATED,
                "single_file_name": None, "app_slug": app.slug, "suspended_by": None, "suspended_at": None}


def rsa_key() -> tuple[str, bytes]:
    """A new app key pair: (private key PEM as GitHub hands it out, PKCS#1 "RSA PRIVATE KEY";
    public key PEM, for `Apps.add`)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, public


def key_secrets(private_pem: str) -> list[str]:
    """The private key and each of its base64 lines: none may show anywhere."""
    return [private_pem.strip()] + [line for line in private_pem.splitlines()
                                    if not line.startswith("-----") and len(line) >= 16]


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
