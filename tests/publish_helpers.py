"""Helpers for the packaging/index/publishing tests: chart copies, a static HTTP server
for a chart repository, and a git smart-HTTP server (git http-backend behind a tiny
Python CGI wrapper) that can demand a token. Everything listens on 127.0.0.1 only."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from contextlib import contextmanager
from functools import partial
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

from conftest import REPO

FIXTURES = REPO / "tests" / "fixtures" / "publish"
HELLO = FIXTURES / "charts" / "hello"
HTTP_BACKEND = "/usr/lib/git-core/git-http-backend"


def make_chart(root: Path, name: str = "hello", version: str = "1.0.0", *, greeting: str = "Hello") -> Path:
    """A copy of the `hello` fixture chart named `name` at `version` under `root`."""
    dest = Path(root) / name
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(HELLO, dest)
    chart_yaml = dest / "Chart.yaml"
    text = chart_yaml.read_text().replace("name: hello", f"name: {name}").replace("version: 1.0.0", f"version: {version}")
    chart_yaml.write_text(text)
    (dest / "values.yaml").write_text(f"greeting: {greeting}\n")
    return dest


def package(root: Path, out: Path, name: str = "hello", version: str = "1.0.0", **kwargs) -> Path:
    from chartgen.repo.package import package_chart

    return package_chart(make_chart(root, name, version, **kwargs), out).path


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep test output clean
        pass


@contextmanager
def serve_directory(folder: Path) -> Iterator[str]:
    """Serve `folder` over HTTP on 127.0.0.1; yields the base URL (no trailing slash)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def init_bare(path: Path, *, http_push: bool = False) -> Path:
    subprocess.run(["git", "init", "--quiet", "--bare", "--initial-branch=main", str(path)], check=True)
    if http_push:
        subprocess.run(["git", "-C", str(path), "config", "http.receivepack", "true"], check=True)
    return path


def read_branch_file(bare: Path, branch: str, name: str) -> bytes | None:
    result = subprocess.run(["git", "-C", str(bare), "show", f"refs/heads/{branch}:{name}"],
                            capture_output=True)
    return result.stdout if result.returncode == 0 else None


class GitHTTPServer:
    """git's smart HTTP protocol via `git http-backend` (CGI) for repositories under
    `root`. With `authorization` set, requests without exactly that header get 401."""

    def __init__(self, root: Path, authorization: str | None = None) -> None:
        self.root = Path(root)
        self.authorization = authorization
        self.seen_headers: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *args):
                pass

            def do_GET(self):
                self._cgi()

            def do_POST(self):
                self._cgi()

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks = []
                    while True:
                        size = int(self.rfile.readline().strip() or b"0", 16)
                        if size == 0:
                            self.rfile.readline()
                            return b"".join(chunks)
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _cgi(self):
                outer.seen_headers.append(dict(self.headers))
                if outer.authorization and self.headers.get("Authorization") != outer.authorization:
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="chartgen-test"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                path, _, query = self.path.partition("?")
                body = self._body() if self.command == "POST" else b""
                env = {
                    "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                    "GIT_PROJECT_ROOT": str(outer.root), "GIT_HTTP_EXPORT_ALL": "1",
                    "REQUEST_METHOD": self.command, "PATH_INFO": path, "QUERY_STRING": query,
                    "CONTENT_TYPE": self.headers.get("Content-Type", ""), "CONTENT_LENGTH": str(len(body)),
                    "REMOTE_USER": "tester", "REMOTE_ADDR": "127.0.0.1",
                    "GATEWAY_INTERFACE": "CGI/1.1", "SERVER_PROTOCOL": "HTTP/1.0",
                }
                if self.headers.get("Git-Protocol"):
                    env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
                result = subprocess.run([HTTP_BACKEND], input=body, env=env, capture_output=True)
                head, _, payload = result.stdout.partition(b"\r\n\r\n")
                status, headers = 200, []
                for line in head.decode("latin-1").split("\r\n"):
                    key, _, value = line.partition(":")
                    if key.lower() == "status":
                        status = int(value.strip().split()[0])
                    elif key:
                        headers.append((key, value.strip()))
                self.send_response(status)
                for key, value in headers:
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> "GitHTTPServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()
