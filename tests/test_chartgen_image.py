"""The chartgen image for real: pipelines/chartgen.Containerfile built with buildah, pushed to a
registry, and the chartgen-build Task's chartgen steps run inside it with no network.

The official python:3.11-slim base cannot be pulled here, so the build uses the Debian
stand-in of tests/python_standin.py through the Containerfile's PYTHON_IMAGE argument. The
wheels are built outside the image (`pip wheel`), as the release job does, and the build
context holds nothing but them: the Containerfile needs nothing else from the repository.

The steps run as Tekton runs them: variables substituted (tests/test_pipelines_run.py's
`substitute`), a fresh container per step from the image pulled by digest, the step's
workingDir, the stepTemplate env, uid 65532, the workspaces at /workspace/<name> and the
results at /tekton/results. buildah 1.28's chroot isolation refuses `--network none` and this
machine has no OCI runtime (runc/crun), so each `buildah run` is started inside
`unshare --net`: a network namespace with nothing but a down loopback. The kaniko step cannot
run (its image cannot be pulled): it runs on the host with a stand-in executor that records
its arguments and writes a digest, as in test_pipelines_run.py.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from conftest import REPO, need_tool
from oci_registry import start_registry
from python_standin import buildah, python_standin, remove_tree  # noqa: F401  (session fixture)
from tests.git_helpers import seeded_chart_repository
from tests.test_pipelines import CONTAINERFILE, TASK_FILE
from tests.test_pipelines_run import git, source_workspace, substitute

pytestmark = pytest.mark.slow

UID = 65532
KANIKO_DIGEST = "sha256:" + "cd" * 32
CHART_REPOSITORY = "/srv/git/charts.git"      # where the bare chart repository is mounted
WORKSPACE_ROOT = Path("/workspace")           # Tekton mounts workspace NAME at /workspace/NAME
RESULTS = Path("/tekton/results")
HOME = "/tekton/home"


@dataclass(frozen=True)
class BuiltImage:
    repository: str        # registry/chartgen/chartgen
    tag: str
    digest: str            # what `buildah push --digestfile` reported
    wheels: frozenset[str]  # file names of the wheels installed from

    @property
    def pinned(self) -> str:
        return f"{self.repository}@{self.digest}"


def pinned_task(folder: Path, image: str) -> dict:
    """A copy of the Task pinned to `image` the way the release job pins it
    (`chartgen tekton pin --image chartgen-image=REF@sha256:… -o COPY`)."""
    copy = folder / "chartgen-build-task.yaml"
    done = subprocess.run([sys.executable, "-m", "chartgen", "tekton", "pin", str(TASK_FILE),
                           "--image", f"chartgen-image={image}", "-o", str(copy)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "chartgen-image: " in done.stdout and done.stdout.rstrip().endswith(f"-> {image}")
    return yaml.safe_load(copy.read_text())


@pytest.fixture(scope="session")
def registry(tmp_path_factory):
    """A registry of this module's own, so its ~270 MB of blobs can be removed at the end."""
    folder = tmp_path_factory.mktemp("image-registry")
    host, stop = start_registry(folder)
    yield host
    stop()
    remove_tree(folder)


def skopeo(*args: str) -> dict:
    done = subprocess.run(["skopeo", *args], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="session")
def chartgen_image(registry, python_standin, tmp_path_factory) -> BuiltImage:
    """Wheels built outside, then `buildah build` of the Containerfile on the stand-in base,
    pushed to the registry. The build store is removed once the image is pushed."""
    need_tool("skopeo")
    workdir = tmp_path_factory.mktemp("chartgen-image")
    source, context = workdir / "source", workdir / "context"
    # The package's own files only: `pip wheel` writes build/ and *.egg-info next to them.
    shutil.copytree(REPO / "chartgen", source / "chartgen", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, source / name)
    started = time.monotonic()
    wheels = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--wheel-dir",
                             str(context / "dist" / "wheels"), str(source)],
                            capture_output=True, text=True, timeout=600)
    assert wheels.returncode == 0, wheels.stderr
    wheeled = time.monotonic()

    from chartgen import __version__

    repository, tag = f"{registry}/chartgen/chartgen", __version__
    storage = workdir / "storage"
    try:
        buildah(storage, "build", "--isolation", "chroot", "--tls-verify=false", "-f", str(CONTAINERFILE),
                "--build-arg", f"PYTHON_IMAGE={python_standin}", "--build-arg", f"VERSION={__version__}",
                "--build-arg", "REVISION=" + "1" * 40, "-t", f"{repository}:{tag}", str(context))
        built = time.monotonic()
        digestfile = workdir / "digest"
        buildah(storage, "push", "--tls-verify=false", "--digestfile", str(digestfile),
                f"{repository}:{tag}", f"docker://{repository}:{tag}")
        pushed = time.monotonic()
    finally:
        remove_tree(storage)
    print(f"chartgen image: pip wheel {wheeled - started:.1f}s, buildah build {built - wheeled:.1f}s, "
          f"push {pushed - built:.1f}s", file=sys.stderr)
    names = frozenset(path.name for path in (context / "dist" / "wheels").iterdir())
    yield BuiltImage(repository, tag, digestfile.read_text().strip(), names)
    remove_tree(workdir)


@pytest.fixture(scope="module")
def run_storage(tmp_path_factory):
    """The store the step containers run from (the image is pulled into it by digest, as a
    node pulls the step image)."""
    storage = tmp_path_factory.mktemp("step-storage")
    yield storage
    remove_tree(storage)


def run_in_image(storage: Path, image: str, argv: list[str], *, volumes: tuple[str, ...] = (),
                 workdir: str | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """argv in a fresh container of `image` as uid 65532, without network (see the module
    docstring); `volumes` as `HOST:INSIDE[:ro]`."""
    container = buildah(storage, "from", "--quiet", "--tls-verify=false", image).stdout.strip()
    try:
        # As `runAsUser: 65532` without runAsGroup: the group comes from the image's /etc/passwd.
        options = ["--isolation", "chroot", "--user", str(UID)]
        options += [f"--volume={volume}" for volume in volumes]
        options += [f"--env={key}={value}" for key, value in (env or {}).items()]
        if workdir:
            options += ["--workingdir", workdir]
        argv = ["unshare", "--net", "buildah", "--storage-driver", "vfs", "--root", str(storage / "root"),
                "--runroot", str(storage / "run"), "run", *options, container, "--", *argv]
        return subprocess.run(argv, capture_output=True, text=True, timeout=600)
    finally:
        buildah(storage, "rm", container)


# --- the tests --------------------------------------------------------------------------------

def test_image_is_pinned_non_root_and_self_contained(chartgen_image, run_storage, registry):
    need_tool("unshare")
    from chartgen import __version__

    tagged = skopeo("inspect", "--tls-verify=false", f"docker://{chartgen_image.repository}:{chartgen_image.tag}")
    assert tagged["Digest"] == chartgen_image.digest
    config = skopeo("inspect", "--config", "--tls-verify=false", f"docker://{chartgen_image.pinned}")["config"]
    assert config["User"] == f"{UID}:{UID}"
    assert config["Entrypoint"] == ["chartgen"] and config["WorkingDir"] == "/workspace"
    labels = config["Labels"]
    assert labels["org.opencontainers.image.version"] == __version__
    assert labels["org.opencontainers.image.revision"] == "1" * 40
    assert labels["org.opencontainers.image.source"] == "https://github.com/chartgen/chartgen"
    manifest = skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{chartgen_image.pinned}")
    size = sum(layer["size"] for layer in manifest["layers"])
    print(f"chartgen image: {len(manifest['layers'])} layers, {size / 1e6:.0f} MB compressed", file=sys.stderr)

    # Offline, as the step user: chartgen and git work; no pip or index is needed, the wheels
    # were bind-mounted for the build only, and the network really is absent.
    port = int(registry.rsplit(":", 1)[1])
    probe = f"""set -e
chartgen --version
git --version
ssh -V 2>&1
id -u
id -g
echo HOME=$HOME
echo $(find / -xdev -name '*.whl' -printf '%f\\n')
test ! -e /wheels
python - <<'EOF'
import socket
s = socket.socket()
s.settimeout(3)
try:
    s.connect(("127.0.0.1", {port}))
    print("network: reachable")
except OSError as e:
    print("network:", e.strerror)
EOF
"""
    done = run_in_image(run_storage, chartgen_image.pinned, ["sh", "-c", probe])
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"chartgen {__version__}"
    assert lines[1].startswith("git version ") and lines[2].startswith("OpenSSH_")
    assert lines[3:6] == [str(UID), str(UID), "HOME=/home/chartgen"]   # a user of its own, with a home
    assert any(name.startswith("chartgen-") for name in chartgen_image.wheels)
    assert not chartgen_image.wheels & set(lines[6].split())    # the base's own pip/setuptools wheels may be there
    assert lines[7] == "network: Network is unreachable"


def run_task_in_image(tmp_path: Path, storage: Path, image: str, params: dict, source: Path,
                      bare: Path) -> tuple[Path, dict[str, float]]:
    """The Task, pinned to `image`, run step by step: chartgen steps in the image, kaniko on the host."""
    spec = pinned_task(tmp_path, image)["spec"]
    values = {p["name"]: p.get("default", "") for p in spec["params"]} | params
    assert values["chartgen-image"] == image
    results, home, scripts = (tmp_path / name for name in ("results", "home", "scripts"))
    for folder in (results, home, scripts):
        folder.mkdir(exist_ok=True)
        folder.chmod(0o777)   # emptyDirs, writable by every step user
    volumes = (f"{source}:{WORKSPACE_ROOT / 'source'}", f"{results}:{RESULTS}", f"{home}:{HOME}",
               f"{scripts}:/tekton/scripts:ro", f"{bare}:{CHART_REPOSITORY}")
    inside = {"workspaces": {"source": WORKSPACE_ROOT / "source"}, "results": RESULTS}
    host = {"workspaces": {"source": source}, "results": results}

    executor = tmp_path / "kaniko-executor"
    executor.write_text("#!/bin/sh\nprintf '%s\\n' \"$@\" > \"$KANIKO_LOG\"\n"
                        "for a in \"$@\"; do case \"$a\" in --digest-file=*) "
                        f"printf '{KANIKO_DIGEST}' > \"${{a#--digest-file=}}\";; esac; done\n")
    executor.chmod(0o755)

    seconds = {}
    for step in spec["steps"]:
        started = time.monotonic()
        in_image = step["image"] == "$(params.chartgen-image)"
        where = inside if in_image else host
        env = {item["name"]: substitute(item["value"], values, where["workspaces"], where["results"])
               for item in spec["stepTemplate"]["env"] + step.get("env", [])}
        script = substitute(step["script"], values, where["workspaces"], where["results"])
        workdir = substitute(step.get("workingDir", "/"), values, where["workspaces"], where["results"])
        if in_image:
            assert step["securityContext"]["runAsUser"] == UID
            path = scripts / step["name"]
            path.write_text(script)
            path.chmod(0o755)
            proc = run_in_image(storage, image, [f"/tekton/scripts/{step['name']}"], volumes=volumes,
                                workdir=workdir, env=env)
        else:
            assert "kaniko" in values["kaniko-image"]
            script = script.replace("/kaniko/executor", str(executor)).replace("#!/busybox/sh", "#!/bin/sh")
            env = {"PATH": os.environ["PATH"]} | env | {"HOME": str(home), "KANIKO_LOG": str(tmp_path / "kaniko.log")}
            proc = subprocess.run(["sh", "-c", script], cwd=workdir, env=env, capture_output=True, text=True)
        assert proc.returncode == 0, (step["name"], proc.stdout, proc.stderr)
        seconds[step["name"]] = time.monotonic() - started
    return results, seconds


def test_task_steps_run_in_the_image_offline(chartgen_image, run_storage, tmp_path):
    need_tool("git")
    need_tool("unshare")
    source = source_workspace(tmp_path)
    bare = seeded_chart_repository(tmp_path)
    commit = git("rev-parse", "HEAD", cwd=source).strip()
    # As the catalog's git-clone (uid 65532) leaves the workspace; the chart repository is
    # a remote the step user may push to.
    for tree in (source, bare):
        subprocess.run(["chown", "-R", f"{UID}:{UID}", str(tree)], check=True)
    before = {p.relative_to(source) for p in source.rglob("*")}
    params = {"workflow": "greeting", "config-repository": f"file://{CHART_REPOSITORY}",
              "registry": "registry.example.com/team", "forge": "none", "source-commit": commit}

    results, first = run_task_in_image(tmp_path, run_storage, chartgen_image.pinned, params, source, bare)

    image_url = f"registry.example.com/team/serverless-workflow-greeting:{commit}"
    assert (results / "IMAGE_URL").read_text() == image_url
    assert (results / "IMAGE_DIGEST").read_text() == KANIKO_DIGEST
    assert re.fullmatch(r"\d+\.\d+\.\d+(-rc\.\d+)?", (results / "CHART_VERSION").read_text())
    assert (results / "PR_URL").read_text() == ""          # forge none: the branch only
    # The build context and kaniko's arguments were written inside the image, at the
    # workspace path every step of the pod sees.
    kaniko_args = (tmp_path / "kaniko.log").read_text().splitlines()
    assert f"--destination={image_url}" in kaniko_args
    assert "--dockerfile=/workspace/source/.chartgen/kaniko/greeting/Containerfile" in kaniko_args
    assert (source / ".chartgen/kaniko/greeting/Containerfile").is_file()
    # Everything the chart step wrote in the workspace belongs to the step user (and its group).
    written = sorted({p.relative_to(source) for p in source.rglob("*")} - before)
    assert Path("charts/greeting/Chart.yaml") in written and any(p.suffix == ".tgz" for p in written)
    for relative in written:
        assert ((source / relative).lstat().st_uid, (source / relative).lstat().st_gid) == (UID, UID), relative
    # The PR step pushed the workflow's branch to the chart repository: the chart, pinned to the digest.
    branch = "chartgen/greeting"
    files = git("--git-dir", str(bare), "ls-tree", "-r", "--name-only", branch)
    assert "charts/greeting/Chart.yaml" in files.splitlines()
    values = git("--git-dir", str(bare), "show", f"{branch}:charts/greeting/values.yaml")
    assert KANIKO_DIGEST in values
    head = git("--git-dir", str(bare), "rev-parse", branch).strip()

    # A second run with nothing changed succeeds and changes nothing in the chart repository.
    shutil.rmtree(results)
    (tmp_path / "kaniko.log").unlink()
    results, second = run_task_in_image(tmp_path, run_storage, chartgen_image.pinned, params, source, bare)
    assert git("--git-dir", str(bare), "rev-parse", branch).strip() == head
    assert (results / "PR_URL").read_text() == "" and (results / "IMAGE_DIGEST").read_text() == KANIKO_DIGEST
    for name, seconds in (("first", first), ("second", second)):
        print(f"Task steps, {name} run: " + ", ".join(f"{step} {s:.1f}s" for step, s in seconds.items()),
              file=sys.stderr)
