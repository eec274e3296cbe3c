"""A local stand-in for GitHub: REST API subset + git smart HTTP, on 127.0.0.1.

- `/api/v3/...`: the endpoints chartgen's github forge uses (repos, pulls, labels, review
  requests, closing a pull request with a comment), with state. Branches are deleted
  over git (`git push --delete`), and an open pull request whose branch is gone is closed. EVERY request is first checked against GitHub's OpenAPI
  description (`openapi.py`); a request GitHub would reject is answered 404/422 and recorded
  in `violations` (tests assert the list is empty). An endpoint GitHub has but this stand-in
  does not implement answers 501 and is recorded too.
- `/<owner>/<repo>.git/...`: real `git http-backend` over bare repositories under `root`,
  requiring HTTP Basic auth whose password is the token (so tests prove the token reaches
  git, and only through headers), or a live installation token of a GitHub App for that
  repository with user `x-access-token`.
- GitHub Apps (`apps.py`, `hub.apps`): `GET /app`, `GET /repos/{owner}/{repo}/installation`
  and `POST /app/installations/{installation_id}/access_tokens` with the app's JWT (RS256,
  verified with the app's public key, its iat/exp window and iss); installation tokens
  expire (`hub.apps.token_lifetime`) and are accepted by the API and by git until then.
- `inject(...)`: answer the next matching API requests with a rate limit (403/429 with
  Retry-After or x-ratelimit-reset) or a 5xx.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from .apps import APP_OPERATIONS, Apps
from .openapi import checker

API_PREFIX = "/api/v3"
HTTP_BACKEND = "/usr/lib/git-core/git-http-backend"


@dataclass
class Injection:
    method: str
    pattern: re.Pattern
    status: int
    headers: dict
    body: dict
    times: int
    after: bool = False   # carry the request out, then answer with the failure (a lost response)


@dataclass
class RequestRecord:
    method: str
    path: str
    query: dict
    body: bytes
    headers: dict
    at: float
    operation: str = ""
    status: int = 0
    response: object = None     # the JSON answered (API requests)


@dataclass
class RepoState:
    owner: str
    name: str
    git_dir: Path
    pulls: dict = field(default_factory=dict)
    labels: dict = field(default_factory=dict)
    comments: dict = field(default_factory=dict)   # issue/pull number -> [comment, ...]


class GitHubStandin:
    def __init__(self, root: Path, openapi_path: Path, token: str | None) -> None:
        self.root = Path(root)
        self.token = token                           # the static token (None: GitHub App tokens only)
        self.clock = time.time                       # the server's time (JWT and token expiry)
        self.apps = Apps(self)
        self.git_passwords: list[str] = []           # password of each authorised git request
        self.checker = checker(str(openapi_path))
        self.repos: dict[str, RepoState] = {}
        self.requests: list[RequestRecord] = []
        self.violations: list[str] = []
        self.git_auth: list[tuple[bool, str]] = []   # (authorised?, username) per git request
        self.injections: list[Injection] = []
        self.lock = threading.RLock()
        self._next_id = 1
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    # -- lifecycle ---------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def api_url(self) -> str:
        return self.base_url + API_PREFIX

    def start(self) -> "GitHubStandin":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- state helpers -----------------------------------------------------------------
    def add_repo(self, owner: str, name: str, git_dir: Path) -> str:
        """Serve an existing bare repository as owner/name; returns its clone URL."""
        target = self.root / owner / f"{name}.git"
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            target.symlink_to(Path(git_dir).resolve())
        self.repos[f"{owner}/{name}"] = RepoState(owner, name, target)
        return f"{self.base_url}/{owner}/{name}.git"

    def inject(self, method: str, path_regex: str, status: int, *, headers: dict | None = None,
               body: dict | None = None, times: int = 1, after: bool = False) -> None:
        with self.lock:
            self.injections.append(Injection(method.upper(), re.compile(path_regex), status, headers or {},
                                             body or {"message": "injected failure"}, times, after))

    def api_requests(self, operation: str | None = None) -> list[RequestRecord]:
        return [r for r in self.requests if r.path.startswith(API_PREFIX) and
                (operation is None or r.operation == operation)]

    def ref(self, repo: RepoState, branch: str) -> str | None:
        proc = subprocess.run(["git", "--git-dir", str(repo.git_dir), "rev-parse", "--verify", "-q",
                               f"refs/heads/{branch}"], capture_output=True, text=True)
        return proc.stdout.strip() if proc.returncode == 0 else None

    def api_authorization(self, authorization: str, path: str) -> int:
        """0 when `authorization` may call `path`; else the status GitHub would answer."""
        kind, _, value = authorization.partition(" ")
        if kind not in ("token", "Bearer") or not value:
            return 401
        if self.token and value == self.token:
            return 0
        if self.apps.token_for(value, None, "api") is None:
            return 401
        segments = path.strip("/").split("/")
        if segments[0] == "repos" and len(segments) >= 3 and \
                self.apps.token_for(value, f"{segments[1]}/{segments[2]}", "api") is None:
            return 404          # a repository the installation token does not cover
        return 0

    def git_authorised(self, user: str, password: str, repository: str) -> bool:
        if self.token and password == self.token:
            return True
        return user == "x-access-token" and self.apps.token_for(password, repository, "git") is not None

    def _id(self) -> int:
        with self.lock:
            self._next_id += 1
            return self._next_id


def _handler(hub: GitHubStandin):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # quiet
            pass

        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks = []
                while True:
                    size = int(self.rfile.readline().strip().split(b";")[0], 16)
                    if size == 0:
                        self.rfile.readline()
                        break
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
                return b"".join(chunks)
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _send(self, status: int, payload, headers: dict | None = None, raw: bytes | None = None) -> None:
            data = raw if raw is not None else (b"" if payload is None else json.dumps(payload).encode())
            self.send_response(status)
            if raw is None:
                self.send_header("Content-Type", "application/json; charset=utf-8")
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _any(self):
            parts = urlsplit(self.path)
            body = self._body()
            record = RequestRecord(self.command, parts.path, parse_qs(parts.query), body, dict(self.headers),
                                   time.time())
            with hub.lock:
                hub.requests.append(record)
            if parts.path.startswith(API_PREFIX + "/") or parts.path == API_PREFIX:
                self._api(record, parts.path[len(API_PREFIX):] or "/")
            elif ".git/" in parts.path:
                self._git(record, parts)
            else:
                hub.violations.append(f"{self.command} {parts.path}: neither API nor git")
                self._send(404, {"message": "Not Found"})

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _any

        # -- git smart HTTP ----------------------------------------------------------------
        def _git(self, record: RequestRecord, parts) -> None:
            auth = self.headers.get("Authorization", "")
            ok, user = False, ""
            if auth.startswith("Basic "):
                user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
                repository = parts.path.strip("/").split(".git/", 1)[0]
                ok = hub.git_authorised(user, password, repository)
                if ok:
                    hub.git_passwords.append(password)
            hub.git_auth.append((ok, user))
            if not ok:
                self._send(401, {"message": "Requires authentication"},
                           {"WWW-Authenticate": 'Basic realm="github-standin"'})
                return
            env = {"GIT_PROJECT_ROOT": str(hub.root), "GIT_HTTP_EXPORT_ALL": "1", "PATH_INFO": parts.path,
                   "QUERY_STRING": parts.query, "REQUEST_METHOD": self.command, "REMOTE_USER": user,
                   "REMOTE_ADDR": "127.0.0.1", "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                   "CONTENT_LENGTH": str(len(record.body)), "PATH": "/usr/bin:/bin",
                   "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
                   "GIT_PROTOCOL": self.headers.get("Git-Protocol", "")}
            proc = subprocess.run([HTTP_BACKEND], input=record.body, env=env, capture_output=True)
            head, _, payload = proc.stdout.partition(b"\r\n\r\n")
            status, headers = 200, {}
            for line in head.decode("latin-1").split("\r\n"):
                key, _, value = line.partition(":")
                if key.lower() == "status":
                    status = int(value.strip().split()[0])
                elif key:
                    headers[key] = value.strip()
            record.status = status
            self._send(status, None, headers, raw=payload)

        # -- REST API ----------------------------------------------------------------------
        def _api(self, record: RequestRecord, path: str) -> None:
            match = hub.checker.check(self.command, path, record.query, record.body or None)
            record.operation = match.operation_id
            if match.status:
                with hub.lock:
                    hub.violations.extend(f"{self.command} {path}: {p}" for p in match.problems)
                record.status = match.status
                self._send(match.status, {"message": "Validation Failed" if match.status == 422 else "Not Found",
                                          "errors": list(match.problems)})
                return
            auth = self.headers.get("Authorization", "")
            app = None
            if match.operation_id in APP_OPERATIONS:
                app, problem = hub.apps.app_for_jwt(auth)
                if app is None:
                    record.status = 401
                    self._send(401, {"message": problem, "documentation_url": "https://docs.github.com/rest"})
                    return
            else:
                denied = hub.api_authorization(auth, path)
                if denied:
                    record.status = denied
                    self._send(denied, {"message": "Bad credentials" if denied == 401 else "Not Found"})
                    return
            failure = None
            with hub.lock:
                for injection in hub.injections:
                    if injection.times > 0 and injection.method == self.command and injection.pattern.search(path):
                        injection.times -= 1
                        failure = injection
                        break
            if failure is None or failure.after:
                try:
                    if app is not None:
                        status, payload = hub.apps.route(app, match.operation_id, path.strip("/").split("/"),
                                                         json.loads(record.body) if record.body else None)
                    else:
                        status, payload = self._route(match.operation_id, path, record)
                except KeyError as exc:
                    status, payload = 404, {"message": f"Not Found ({exc})"}
            if failure is not None:
                status, payload = failure.status, failure.body
            record.status, record.response = status, payload
            self._send(status, payload, failure.headers if failure else None)

        def _route(self, operation: str, path: str, record: RequestRecord):
            segments = path.strip("/").split("/")
            repo = hub.repos[f"{segments[1]}/{segments[2]}"]
            body = json.loads(record.body) if record.body else None
            query = {k: v[0] for k, v in record.query.items()}
            with hub.lock:
                if operation == "repos/get":
                    return 200, _repo_json(hub, repo)
                if operation == "pulls/list":
                    for pull in repo.pulls.values():
                        _fresh(hub, repo, pull)   # a deleted head branch closes its pull request
                    pulls = [p for p in repo.pulls.values()
                             if query.get("state", "open") in ("all", p["state"])
                             and (not query.get("head") or query["head"] == p["head"]["label"])
                             and (not query.get("base") or query["base"] == p["base"]["ref"])]
                    return 200, [_fresh(hub, repo, p) for p in sorted(pulls, key=lambda p: -p["number"])]
                if operation == "pulls/create":
                    return self._create_pull(repo, body)
                if operation in ("pulls/get", "pulls/update", "pulls/request-reviewers"):
                    pull = repo.pulls[int(segments[4])]
                    if operation == "pulls/update":
                        for key in ("title", "body", "state"):
                            if key in body:
                                pull[key] = body[key]
                    if operation == "pulls/request-reviewers":
                        pull["requested_reviewers"] += [{"login": r, "id": hub._id(), "type": "User"}
                                                        for r in body.get("reviewers", [])]
                        pull["requested_teams"] += [{"slug": t, "name": t, "id": hub._id()}
                                                    for t in body.get("team_reviewers", [])]
                        return 201, _fresh(hub, repo, pull)
                    return 200, _fresh(hub, repo, pull)
                if operation == "issues/list-comments":
                    number = int(segments[4])
                    if number not in repo.pulls:
                        return 404, {"message": "Not Found"}
                    return 200, list(repo.comments.get(number, []))
                if operation == "issues/create-comment":
                    number = int(segments[4])
                    if number not in repo.pulls:
                        return 404, {"message": "Not Found"}
                    comment = {"id": hub._id(), "node_id": f"IC_{number}", "body": body["body"],
                               "user": {"login": "chartgen-bot", "id": 1, "type": "Bot"},
                               "url": f"{hub.api_url}/repos/{repo.owner}/{repo.name}/issues/comments/{number}",
                               "html_url": f"{repo.pulls[number]['html_url']}#issuecomment-{number}",
                               "issue_url": repo.pulls[number]["issue_url"],
                               "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"}
                    repo.comments.setdefault(number, []).append(comment)
                    return 201, comment
                if operation in ("issues/add-labels", "issues/list-labels-on-issue"):
                    pull = repo.pulls[int(segments[4])]
                    if operation == "issues/add-labels":
                        names = body if isinstance(body, list) else body.get("labels", [])
                        for name in names:
                            name = name if isinstance(name, str) else name["name"]
                            label = repo.labels.setdefault(name, {"id": hub._id(), "name": name, "color": "ededed",
                                                                  "default": False, "description": None})
                            if label not in pull["labels"]:
                                pull["labels"].append(label)
                    return 200, pull["labels"]
            hub.violations.append(f"{self.command} {path}: valid GitHub request the stand-in does not implement "
                                  f"({operation})")
            return 501, {"message": f"stand-in does not implement {operation}"}

        def _create_pull(self, repo: RepoState, body: dict):
            head = body.get("head", "")
            branch = head.split(":", 1)[1] if ":" in head else head
            problems = []
            if not body.get("title") and "issue" not in body:
                problems.append({"resource": "PullRequest", "field": "title", "code": "missing_field"})
            head_sha = hub.ref(repo, branch)
            if head_sha is None:
                problems.append({"resource": "PullRequest", "field": "head", "code": "invalid"})
            if hub.ref(repo, body.get("base", "")) is None:
                problems.append({"resource": "PullRequest", "field": "base", "code": "invalid"})
            for pull in repo.pulls.values():
                if pull["state"] == "open" and pull["head"]["ref"] == branch and pull["base"]["ref"] == body["base"]:
                    return 422, {"message": "Validation Failed", "errors": [
                        {"resource": "PullRequest", "code": "custom",
                         "message": f"A pull request already exists for {repo.owner}:{branch}."}]}
            if problems:
                return 422, {"message": "Validation Failed", "errors": problems}
            number = len(repo.pulls) + 1
            api = f"{hub.api_url}/repos/{repo.owner}/{repo.name}"
            pull = {"id": hub._id(), "node_id": f"PR_{number}", "number": number, "state": "open",
                    "title": body["title"], "body": body.get("body"), "draft": bool(body.get("draft")),
                    "url": f"{api}/pulls/{number}", "issue_url": f"{api}/issues/{number}",
                    "html_url": f"{hub.base_url}/{repo.owner}/{repo.name}/pull/{number}",
                    "user": {"login": "chartgen-bot", "id": 1, "type": "Bot"}, "labels": [],
                    "requested_reviewers": [], "requested_teams": [], "merged": False,
                    "head": {"ref": branch, "label": f"{repo.owner}:{branch}", "sha": head_sha},
                    "base": {"ref": body["base"], "label": f"{repo.owner}:{body['base']}",
                             "sha": hub.ref(repo, body["base"])}}
            repo.pulls[number] = pull
            return 201, _fresh(hub, repo, pull)

    return Handler


def _fresh(hub: GitHubStandin, repo: RepoState, pull: dict) -> dict:
    """The pull with its head sha as the branch has it now (GitHub follows the branch; an open
    pull request whose head branch was deleted is closed, as GitHub does)."""
    sha = hub.ref(repo, pull["head"]["ref"])
    if sha:
        pull["head"]["sha"] = sha
    elif pull["state"] == "open":
        pull["state"] = "closed"
        pull["closed_by_branch_deletion"] = True
    return json.loads(json.dumps(pull))


def _repo_json(hub: GitHubStandin, repo: RepoState) -> dict:
    return {"id": 1, "name": repo.name, "full_name": f"{repo.owner}/{repo.name}",
            "owner": {"login": repo.owner, "id": 2, "type": "Organization"},
            "html_url": f"{hub.base_url}/{repo.owner}/{repo.name}",
            "url": f"{hub.api_url}/repos/{repo.owner}/{repo.name}",
            "clone_url": f"{hub.base_url}/{repo.owner}/{repo.name}.git", "default_branch": "main",
            "private": False}
