"""Real image builds: buildah as root (vfs storage, chroot isolation) and a real registry.

The Red Hat builder and runtime images cannot be pulled here, so the session first builds
tiny stand-ins from /bin/busybox (tests/fixtures/image/standins) and pushes them to a
`docker-registry` on 127.0.0.1. Then `chartgen image build` builds the real Containerfile
against them, and the tests read the result back from the registry with skopeo.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from conftest import REPO, need, need_tool
from oci_registry import free_port, start_registry, write_htpasswd

FIXTURES = REPO / "tests" / "fixtures" / "image"
BUSYBOX = Path("/bin/busybox")
PUSH_PASSWORD = "image-push-pass-4321"
pytestmark = pytest.mark.slow


# --- session fixtures: registry, stand-in base images ---------------------------------------

def _buildah(storage: Path, *args: str) -> subprocess.CompletedProcess:
    argv = ["buildah", "--storage-driver", "vfs", "--root", str(storage / "root"),
            "--runroot", str(storage / "run"), *args]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{' '.join(argv)}\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="session")
def registry(tmp_path_factory):
    need_tool("buildah")
    need_tool("skopeo")
    need_tool("docker-registry")
    need(BUSYBOX.is_file(), "/bin/busybox is absent (Debian busybox-static)")
    host, stop = start_registry(tmp_path_factory.mktemp("registry"))
    yield host
    stop()


@pytest.fixture(scope="module")
def private_registry(tmp_path_factory, registry):
    """A registry that demands a login (htpasswd with a bcrypt hash, as docker-registry wants)."""
    folder = tmp_path_factory.mktemp("private-registry")
    write_htpasswd(folder / "htpasswd", "pusher", PUSH_PASSWORD)
    host, stop = start_registry(folder / "registry", htpasswd=folder / "htpasswd")
    yield host
    stop()


def build_standins(registry_host: str, storage: Path, workdir: Path) -> tuple[str, str]:
    """Build the stand-in builder and runtime images in `storage` and push them; (builder, runtime)."""
    refs = {}
    for kind in ("builder", "runtime"):
        context = workdir / f"standin-{kind}"
        shutil.copytree(FIXTURES / "standins" / kind, context, dirs_exist_ok=True)
        shutil.copy2(BUSYBOX, context / "busybox")
        ref = f"{registry_host}/standins/{kind}:1"
        _buildah(storage, "build", "--isolation", "chroot", "--layers", "-t", ref, str(context))
        _buildah(storage, "push", "--tls-verify=false", ref, f"docker://{ref}")
        refs[kind] = ref
    return refs["builder"], refs["runtime"]


@pytest.fixture(scope="session")
def standins(registry, tmp_path_factory):
    """(builder_ref, runtime_ref) pushed to the registry, built in a storage of their own."""
    started = time.monotonic()
    refs = build_standins(registry, tmp_path_factory.mktemp("standin-storage"),
                          tmp_path_factory.mktemp("standin-contexts"))
    print(f"stand-in base images built and pushed in {time.monotonic() - started:.1f}s", file=sys.stderr)
    return refs


@pytest.fixture(scope="session")
def build_storage(tmp_path_factory):
    """The image store chartgen's builds share (so the second build can reuse cached layers)."""
    return tmp_path_factory.mktemp("chartgen-storage")


def make_project(tmp: Path, registry_host: str, storage: Path, *, workflow: str = "greeting",
                 extra: str = "") -> Path:
    """A repository with chartgen.yaml and a copy of workflow_sources/<workflow> + shared."""
    sources = REPO / "workflow_sources"
    need((sources / workflow).is_dir(), f"workflow_sources/{workflow} is absent (samples not written yet)")
    project = tmp / "project"
    shutil.copytree(sources / workflow, project / "workflow_sources" / workflow)
    if (sources / "shared").is_dir():
        shutil.copytree(sources / "shared", project / "workflow_sources" / "shared")
    (project / "chartgen.yaml").write_text(
        "repository: https://example.test/org/workflows\n"
        "image:\n"
        f"  registry: {registry_host}/orchestrator\n"
        "  storageDriver: vfs\n"
        f"  storageRoot: {storage / 'root'}\n"
        f"  runRoot: {storage / 'run'}\n"
        "  isolation: chroot\n"
        "  tlsVerify: false\n"
        "  retries: 1\n"
        "  retryDelay: 0\n"
        "  quarkusExtensions: [org.kie:kie-addons-quarkus-persistence-jdbc]\n"
        "  logDir: logs\n" + extra, encoding="utf-8")
    return project


def chartgen(project: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "chartgen", *args], cwd=project, capture_output=True,
                          text=True, timeout=600, env={**os.environ, **(env or {})})


def skopeo_inspect(ref: str) -> dict:
    done = subprocess.run(["skopeo", "inspect", "--tls-verify=false", f"docker://{ref}"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def layer_files(ref: str, dest: Path) -> dict[str, dict[str, bytes]]:
    """layer digest -> {path: content} of the image's regular files (via skopeo copy to oci:)."""
    done = subprocess.run(["skopeo", "copy", "--src-tls-verify=false", f"docker://{ref}", f"oci:{dest}:img"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    index = json.loads((dest / "index.json").read_text())
    manifest_digest = index["manifests"][0]["digest"].split(":", 1)[1]
    manifest = json.loads((dest / "blobs" / "sha256" / manifest_digest).read_text())
    layers = {}
    for layer in manifest["layers"]:
        blob = dest / "blobs" / "sha256" / layer["digest"].split(":", 1)[1]
        opener = gzip.open if "gzip" in layer["mediaType"] else open
        files = {}
        with opener(blob, "rb") as raw, tarfile.open(fileobj=raw, mode="r|") as tar:
            for member in tar:
                if member.isfile():
                    files[member.name.lstrip("./")] = tar.extractfile(member).read()
        layers[layer["digest"]] = files
    return layers


def layer_with(layers: dict[str, dict[str, bytes]], path: str) -> str:
    found = [digest for digest, files in layers.items() if path in files]
    assert len(found) == 1, f"{path} in {len(found)} layers"
    return found[0]


# --- the tests --------------------------------------------------------------------------------

def test_build_push_inspect_and_rebuild_reuses_lib_layer(registry, standins, build_storage, tmp_path):
    builder_ref, runtime_ref = standins
    project = make_project(tmp_path, registry, build_storage)
    greeting = project / "workflow_sources" / "greeting"
    args = ["image", "build", "greeting", "--push", "--builder", "buildah", "--tag", "build1",
            "--tag", "latest", "--source-commit", "1" * 40,
            "--builder-image", builder_ref, "--runtime-image", runtime_ref]

    started = time.monotonic()
    first = chartgen(project, *args)
    first_seconds = time.monotonic() - started
    assert first.returncode == 0, first.stderr
    repository = f"{registry}/orchestrator/serverless-workflow-greeting"
    out = first.stdout.splitlines()
    assert out[0] == f"{repository}:build1"
    assert out[1].startswith(f"{repository}@sha256:")
    digest = out[1].split("@", 1)[1]

    inspected = skopeo_inspect(f"{repository}:build1")
    assert inspected["Digest"] == digest
    assert skopeo_inspect(f"{repository}:latest")["Digest"] == digest
    labels = inspected["Labels"]
    assert labels["org.opencontainers.image.revision"] == "1" * 40
    assert labels["org.opencontainers.image.source"] == "https://example.test/org/workflows"
    assert labels["org.opencontainers.image.title"] == "Greeting"
    assert labels["org.opencontainers.image.version"] == "1.0.0"
    assert labels["org.opencontainers.image.description"].startswith("Greets a person")

    # The runtime image holds the workflow's resources as the (stand-in) builder processed them.
    layers1 = layer_files(f"{repository}:build1", tmp_path / "oci1")
    merged = {path: content for files in layers1.values() for path, content in files.items()}
    app = "deployments/app/resources/"
    assert merged[app + "greeting.sw.yaml"] == (greeting / "greeting.sw.yaml").read_bytes()
    assert merged[app + "application.properties"] == (greeting / "application.properties").read_bytes()
    shared_schema = project / "workflow_sources" / "shared" / "schemas" / "workflow-result-schema.json"
    assert merged[app + "shared/schemas/workflow-result-schema.json"] == shared_schema.read_bytes()
    assert not any("secret.properties" in p or "README" in p or "argfile" in p for p in merged)
    index = merged["deployments/quarkus/generated-index.txt"].decode()
    assert "./greeting.sw.yaml" in index and "./schemas/greeting-input-schema.json" in index
    assert merged["deployments/quarkus/extensions.txt"].decode().strip() == \
        "org.kie:kie-addons-quarkus-persistence-jdbc"
    assert merged["deployments/quarkus-run.jar"].startswith(b"Main-Class:")
    assert len(merged["deployments/lib/main/dependencies.jar"]) == 2_000_000

    # A change to the workflow definition alone: the lib layer is reused, the app layer is not.
    path = greeting / "greeting.sw.yaml"
    path.write_text(path.read_text() + "# a comment changes the workflow only\n")
    args[args.index("build1")] = "build2"
    started = time.monotonic()
    second = chartgen(project, *args)
    second_seconds = time.monotonic() - started
    assert second.returncode == 0, second.stderr
    layers2 = layer_files(f"{repository}:build2", tmp_path / "oci2")
    lib = "deployments/lib/main/dependencies.jar"
    assert layer_with(layers1, lib) == layer_with(layers2, lib)
    assert layer_with(layers1, app + "greeting.sw.yaml") != layer_with(layers2, app + "greeting.sw.yaml")
    second_digest = second.stdout.splitlines()[1].split("@")[1]
    assert skopeo_inspect(f"{repository}:latest")["Digest"] == second_digest

    # Reproducible: the same sources built on a fresh machine (an empty image store) give the
    # same layers and the same digest, so a chart pinning it does not change.
    fresh = tmp_path / "fresh-storage"
    config = project / "chartgen.yaml"
    config.write_text(config.read_text().replace(str(build_storage), str(fresh)))
    args[args.index("build2")] = "build3"
    third = chartgen(project, *args)
    assert third.returncode == 0, third.stderr
    assert third.stdout.splitlines()[1].split("@")[1] == second_digest
    assert skopeo_inspect(f"{repository}:build3")["Created"].startswith("1970-01-01T00:00:00")
    print(f"stand-in build: first {first_seconds:.1f}s, rebuild after a workflow change {second_seconds:.1f}s",
          file=sys.stderr)


def test_failing_build_step_is_one_clear_error_with_the_log(registry, standins, build_storage, tmp_path):
    builder_ref, runtime_ref = standins
    project = make_project(tmp_path, registry, build_storage)
    main = project / "workflow_sources" / "greeting" / "greeting.sw.yaml"
    main.write_text(main.read_text() + "# BROKEN-WORKFLOW\n")
    done = chartgen(project, "image", "build", "greeting", "--builder", "buildah", "--quiet",
                    "--builder-image", builder_ref, "--runtime-image", runtime_ref, "--tag", "broken")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if "error:" in line]
    assert len(lines) == 1 and "[image-build-step-failed]" in lines[0]
    assert "build-app.sh" in lines[0] and "does not compile (stand-in builder)" in lines[0]
    log = Path(lines[0].split("builder log: ", 1)[1].split(")")[0])
    assert log.is_file() and "does not compile (stand-in builder)" in log.read_text()
    assert done.stdout == ""


def test_missing_base_image_is_reported(registry, standins, build_storage, tmp_path):
    _, runtime_ref = standins
    project = make_project(tmp_path, registry, build_storage)
    missing = f"{registry}/standins/builder:does-not-exist"
    done = chartgen(project, "image", "build", "greeting", "--builder", "buildah", "--quiet",
                    "--builder-image", missing, "--runtime-image", runtime_ref, "--tag", "x")
    assert done.returncode == 1
    assert "[image-base-missing]" in done.stderr and missing in done.stderr
    assert "builder log: " in done.stderr


def test_push_with_credentials_from_the_environment(private_registry, standins, build_storage, tmp_path):
    builder_ref, runtime_ref = standins
    project = make_project(tmp_path, private_registry, build_storage)
    args = ["image", "build", "greeting", "--builder", "buildah", "--quiet", "--push",
            "--builder-image", builder_ref, "--runtime-image", runtime_ref, "--tag", "private"]

    wrong = "wrong-password-9876"
    refused = chartgen(project, *args, env={"CHARTGEN_REGISTRY_USERNAME": "pusher",
                                            "CHARTGEN_REGISTRY_PASSWORD": wrong})
    assert refused.returncode == 1, refused.stderr
    assert "[image-push-refused]" in refused.stderr and "check credentials" in refused.stderr
    assert "attempt" not in refused.stderr  # a refusal is not retried
    assert refused.stdout.strip() == ""

    done = chartgen(project, *args, env={"CHARTGEN_REGISTRY_USERNAME": "pusher",
                                         "CHARTGEN_REGISTRY_PASSWORD": PUSH_PASSWORD})
    assert done.returncode == 0, done.stderr
    pinned = done.stdout.splitlines()[1]
    assert pinned.startswith(f"{private_registry}/orchestrator/serverless-workflow-greeting@sha256:")
    logs = "".join(p.read_text() for p in (project / "logs").glob("*.log"))
    for text in (refused.stderr, done.stderr, done.stdout, logs):
        assert wrong not in text and PUSH_PASSWORD not in text


def test_unreachable_registry_is_retried_then_reported(registry, standins, build_storage, tmp_path):
    builder_ref, runtime_ref = standins
    project = make_project(tmp_path, f"127.0.0.1:{free_port()}", build_storage)
    done = chartgen(project, "image", "build", "greeting", "--builder", "buildah", "--push",
                    "--builder-image", builder_ref, "--runtime-image", runtime_ref, "--tag", "offline",
                    env={"CHARTGEN_REGISTRY_USERNAME": "robot", "CHARTGEN_REGISTRY_PASSWORD": "s3cret-pass"})
    assert done.returncode == 1
    assert "[image-push-unreachable]" in done.stderr and "gave up after 2 attempts" in done.stderr
    assert "push attempt 1 failed" in done.stderr
    log = Path(done.stderr.split("builder log: ")[-1].split(")")[0])
    for text in (done.stderr, done.stdout, log.read_text()):
        assert "s3cret-pass" not in text
