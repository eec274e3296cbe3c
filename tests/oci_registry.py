"""A real OCI registry for tests: Debian's `docker-registry` on 127.0.0.1.

Reusable by any test module:

    from oci_registry import registry  # noqa: F401  (session fixture: "127.0.0.1:PORT")

or `start_registry(folder) -> (host_port, stop)` for a private instance (e.g. one with
htpasswd authentication). Storage lives in the given folder; nothing listens beyond
127.0.0.1. Without docker-registry installed the fixture skips (fails under
CHARTGEN_REQUIRE_ALL=1, as in CI).
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable

import pytest

from conftest import need_tool

REGISTRY_BINARY = "docker-registry"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_htpasswd(path: Path, user: str, password: str) -> Path:
    """An htpasswd file as docker-registry wants it: bcrypt only (cost 4 keeps tests fast)."""
    import bcrypt

    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
    path.write_text(f"{user}:{hashed}\n")
    return path


def start_registry(folder: Path, *, htpasswd: Path | None = None,
                   timeout: float = 20.0) -> tuple[str, Callable[[], None]]:
    """Start `docker-registry serve` with storage in `folder`; returns ("127.0.0.1:PORT", stop)."""
    binary = need_tool(REGISTRY_BINARY)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    auth = ""
    if htpasswd is not None:
        auth = f"auth:\n  htpasswd:\n    realm: chartgen-test\n    path: {htpasswd}\n"
    config = folder / "config.yml"
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: error\n  accesslog:\n    disabled: true\n"
        f"storage:\n  filesystem:\n    rootdirectory: {folder / 'data'}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
        + auth)
    log = open(folder / "registry.log", "wb")
    process = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT,
                               env={**os.environ, "OTEL_TRACES_EXPORTER": "none"})
    host = f"127.0.0.1:{port}"

    def stop() -> None:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.close()

    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(f"http://{host}/v2/", timeout=1).close()
            break
        except urllib.error.HTTPError:
            break  # 401 with authentication: it is up
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                stop()
                output = (folder / "registry.log").read_text(errors="replace")[-2000:]
                pytest.fail(f"docker-registry did not start on {host}: {output}")
            time.sleep(0.05)
    return host, stop


@pytest.fixture(scope="session")
def registry(tmp_path_factory) -> str:
    """A registry shared by the whole session: "127.0.0.1:PORT" (plain HTTP, no auth)."""
    host, stop = start_registry(tmp_path_factory.mktemp("oci-registry"))
    yield host
    stop()
