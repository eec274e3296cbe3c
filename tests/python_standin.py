"""A stand-in for `docker.io/library/python:3.11-slim`, made from real Debian.

The chartgen image (pipelines/chartgen.Containerfile) is based on the official
python:3.11-slim image, pinned by digest, which cannot be pulled here (no internet, only
package mirrors). Base images we cannot pull are the one thing the project allows a
stand-in for, so this module makes one from the same distribution the official image is
built on: `debootstrap --variant=minbase` of Debian bookworm (Python 3.11, pip, venv) from
Debian's mirror, then the few things the official image has that Debian's layout lacks:
a `python` command, no EXTERNALLY-MANAGED marker (pip installs into the system Python),
PATH and LANG as the official image sets them, and no apt lists or package cache.

The root file system goes into a buildah image (vfs storage, `buildah from scratch`) which
is pushed to the test registry and returned pinned by digest, the way the Containerfile
pins the real one: `<registry>/standins/python:3.11-slim@sha256:…`.

    from python_standin import python_standin  # noqa: F401  (session fixture)

Skips (fails under CHARTGEN_REQUIRE_ALL=1) without debootstrap or buildah. The mirror can be
changed with CHARTGEN_DEBIAN_MIRROR; CHARTGEN_PYTHON_IMAGE names a real base to use instead
(see the fixture). All big directories are removed at the end.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import need, need_tool

DEBIAN_MIRROR = os.environ.get("CHARTGEN_DEBIAN_MIRROR", "http://deb.debian.org/debian")
SUITE = "bookworm"
PACKAGES = ("python3", "python3-pip", "python3-venv")
# As in the official image's config (docker-library/python, 3.11/slim-bookworm).
IMAGE_ENV = ("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8")


def buildah(storage: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    """`buildah` as root on a vfs store of its own under `storage` (no daemon, no overlay)."""
    argv = ["buildah", "--storage-driver", "vfs", "--root", str(storage / "root"),
            "--runroot", str(storage / "run"), *args]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(argv)}\n{done.stdout}\n{done.stderr}"
    return done


def remove_tree(path: Path) -> None:
    """Remove a root file system or vfs store (root-owned, read-only dirs included)."""
    if not path.exists():
        return
    # A debootstrap that failed half-way may leave /proc or /sys mounted in its root.
    prefix = str(path.resolve()) + "/"
    mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    for mountpoint in sorted((m for m in mounts if m.startswith(prefix)), reverse=True):
        subprocess.run(["umount", "-l", mountpoint], check=False, capture_output=True)
    subprocess.run(["rm", "-rf", "--one-file-system", str(path)], check=False)


def debootstrap_root(root: Path) -> None:
    """A minimal Debian with Python, laid out like python:3.11-slim."""
    argv = ["debootstrap", "--variant=minbase", "--include=" + ",".join(PACKAGES), SUITE, str(root),
            DEBIAN_MIRROR]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=900)
    need(done.returncode == 0, f"debootstrap of Debian {SUITE} from {DEBIAN_MIRROR} failed: "
                               f"{(done.stdout + done.stderr)[-1500:]}")
    (root / "usr/bin/python").symlink_to("python3")
    (root / "usr/lib/python3.11/EXTERNALLY-MANAGED").unlink()
    # The official image ships no package lists or cache; /dev is the runtime's business.
    for folder in ("var/lib/apt/lists", "var/cache/apt", "dev", "debootstrap"):
        for child in (root / folder).glob("*"):
            remove_tree(child) if child.is_dir() and not child.is_symlink() else child.unlink()


def import_root(root: Path, storage: Path, ref: str) -> None:
    """Commit the directory tree `root` as the single-layer image `ref` in `storage`."""
    container = buildah(storage, "from", "scratch").stdout.strip()
    mountpoint = buildah(storage, "mount", container).stdout.strip()
    copy = subprocess.run(f"tar -C {root} -cf - . | tar -C {mountpoint} -xpf -", shell=True,
                          capture_output=True, text=True)
    assert copy.returncode == 0, copy.stderr
    buildah(storage, "umount", container)
    config = ["config", "--cmd", "python3", "--label", "org.opencontainers.image.title=python:3.11-slim stand-in",
              "--label", f"org.opencontainers.image.description=Debian {SUITE} minbase with {' '.join(PACKAGES)}"]
    for env in IMAGE_ENV:
        config += ["--env", env]
    buildah(storage, *config, container)
    buildah(storage, "commit", "--rm", "--format", "oci", container, ref)


def make_python_standin(registry_host: str, workdir: Path) -> str:
    """Debootstrap, import and push the stand-in; returns it pinned by digest."""
    root, storage = workdir / "rootfs", workdir / "storage"
    ref = f"{registry_host}/standins/python:3.11-slim"
    started = time.monotonic()
    debootstrap_root(root)
    bootstrapped = time.monotonic()
    try:
        import_root(root, storage, ref)
        digestfile = workdir / "digest"
        buildah(storage, "push", "--tls-verify=false", "--digestfile", str(digestfile), ref, f"docker://{ref}")
    finally:
        remove_tree(root)
        remove_tree(storage)
    print(f"python:3.11-slim stand-in: debootstrap {bootstrapped - started:.1f}s, "
          f"import and push {time.monotonic() - bootstrapped:.1f}s", file=sys.stderr)
    return f"{ref}@{digestfile.read_text().strip()}"


@pytest.fixture(scope="session")
def python_standin(registry, tmp_path_factory) -> str:
    """`<registry>/standins/python:3.11-slim@sha256:…`: the base for chartgen.Containerfile.

    With CHARTGEN_PYTHON_IMAGE set (e.g. the Containerfile's own pinned default, on a
    machine that can pull it), that image is used instead and nothing is debootstrapped."""
    if os.environ.get("CHARTGEN_PYTHON_IMAGE"):
        yield os.environ["CHARTGEN_PYTHON_IMAGE"]
        return
    need_tool("debootstrap")
    need_tool("buildah")
    need(os.geteuid() == 0, "debootstrap and buildah (vfs, chroot) need root")
    workdir = tmp_path_factory.mktemp("python-standin")
    try:
        yield make_python_standin(registry, workdir)
    finally:
        remove_tree(workdir)
