"""Workflow images without running a builder: context, Containerfile, settings, kaniko, auth, retries."""

from __future__ import annotations

import base64
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO

from chartgen.config import load_config
from chartgen.errors import ChartgenError, UsageError, redact
from chartgen.image import (ImageSettings, authfile_for, build_image, build_timestamp, image_repository,
                            push_with_retries)
from chartgen.image.builders import PushError, backend_class, resolve
from chartgen.image.builders.base import BuilderOptions, classify, step_cause
from chartgen.image.builders.buildah import BuildahBuilder
from chartgen.image.builders.podman import PodmanBuilder
from chartgen.image.context import (CONTEXT_MTIME, ContainerfileSpec, context_files, dockerquote,
                                    parse_argfile, render_containerfile, write_context)
from chartgen.sources import load_workflow

FIXTURES = REPO / "tests" / "fixtures" / "image"
DIGEST = "sha256:" + "ab" * 32


@pytest.fixture
def project(tmp_path):
    """A repository: chartgen.yaml + the orders fixture workflow and its shared folder."""
    shutil.copytree(FIXTURES / "sources", tmp_path / "workflow_sources")
    (tmp_path / "chartgen.yaml").write_text(
        "repository: https://example.test/org/workflows\n"
        "image:\n"
        "  registry: registry.example.test/team\n"
        "  builderImage: registry.example.test/swf-builder:1\n"
        "  runtimeImage: registry.example.test/openjdk-17:1\n"
        "  quarkusExtensions: [org.kie:kie-addons-quarkus-persistence-jdbc, io.quarkus:quarkus-agroal]\n"
        "  mavenArgsAppend: -Dquarkus.package.type=fast-jar\n"
        "  logDir: logs\n", encoding="utf-8")
    return tmp_path


def chartgen(cwd: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "chartgen", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env={**os.environ, **(env or {})})


def orders(project: Path):
    return load_workflow(project / "workflow_sources" / "orders")


def spec_for(project: Path, **overrides) -> ContainerfileSpec:
    values = dict(workflow="orders", builder_image="b:1", runtime_image="r:1")
    values.update(overrides)
    return ContainerfileSpec(**values)


# --- build context ----------------------------------------------------------------------------

def test_context_holds_exactly_what_the_image_needs(project):
    files = context_files(orders(project), "FROM x\n")
    assert sorted(files) == [
        "Containerfile",
        "resources/application.properties",
        "resources/orders.sw.yaml",
        "resources/schemas/orders-input.json",
        "resources/shared/schemas/common-result.json",   # referenced shared file travels with it
        "resources/specs/orders-api.yaml",
    ]  # no secret.properties, README, argfile.conf, or unused shared files
    source = project / "workflow_sources" / "orders"
    assert files["resources/specs/orders-api.yaml"] == (source / "specs" / "orders-api.yaml").read_bytes()
    assert b"do-not-ship-me" not in b"".join(files.values())


def test_context_is_written_deterministically(project, tmp_path):
    folder = orders(project)
    first, second = tmp_path / "one", tmp_path / "two"
    for dest in (first, second):
        dest.mkdir()
        write_context(dest, context_files(folder, render_containerfile(spec_for(project))))

    def snapshot(root: Path):
        return sorted((p.relative_to(root).as_posix(), stat.S_IMODE(p.stat().st_mode), int(p.stat().st_mtime),
                       p.read_bytes() if p.is_file() else b"") for p in root.rglob("*"))
    assert snapshot(first) == snapshot(second)
    assert {mtime for _, _, mtime, _ in snapshot(first)} == {CONTEXT_MTIME}
    assert {mode for _, mode, _, _ in snapshot(first)} == {0o644, 0o755}


# --- Containerfile -----------------------------------------------------------------------------

def test_containerfile_two_stages_four_layers_lib_first():
    text = render_containerfile(spec_for(None, labels={"org.opencontainers.image.title": "Orders"}))
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert lines[0] == "FROM b:1 AS builder"
    assert "COPY --chown=1001 resources/ ./resources/" in lines
    assert "RUN /home/kogito/launch/build-app.sh ./resources" in lines
    assert "FROM r:1" in lines
    copies = [line.split()[3] for line in lines if line.startswith("COPY --from=builder")]
    app = "/home/kogito/serverless-workflow-project/target/quarkus-app/"
    assert copies == [app + "lib/", app + "*.jar", app + "app/", app + "quarkus/"]
    # the revision label changes every commit, so labels come after every cached step
    assert lines[-1].strip().startswith("org.opencontainers.image.title=") and lines[-2] == "LABEL \\"
    assert text == render_containerfile(spec_for(None, labels={"org.opencontainers.image.title": "Orders"}))


def test_containerfile_quotes_values_and_omits_empty_labels():
    assert dockerquote('a "b" $HOME \\x\nnext') == '"a \\"b\\" \\$HOME \\\\x next"'
    text = render_containerfile(spec_for(None, quarkus_extensions="g:a:1,g:b:2", maven_args_append="-Dx=$y"))
    assert 'ARG QUARKUS_EXTENSIONS="g:a:1,g:b:2"' in text
    assert 'ARG MAVEN_ARGS_APPEND="-Dx=\\$y"' in text
    assert "LABEL" not in text
    with pytest.raises(ChartgenError, match="not an image reference"):
        render_containerfile(spec_for(None, builder_image="bad ref"))


def test_extensions_and_maven_args_merge_config_and_argfile(project):
    result = chartgen(project, "image", "build", "orders", "--builder", "kaniko", "--context-out", "ctx",
                      "--tag", "t1", "-q")
    assert result.returncode == 0, result.stderr
    text = (project / "ctx" / "Containerfile").read_text()
    # chartgen.yaml first, then argfile.conf; the duplicate jdbc extension appears once
    assert ('ARG QUARKUS_EXTENSIONS="org.kie:kie-addons-quarkus-persistence-jdbc,io.quarkus:quarkus-agroal,'
            'io.quarkus:quarkus-smallrye-openapi"') in text
    assert 'ARG MAVEN_ARGS_APPEND="-Dquarkus.package.type=fast-jar -DmaxYamlCodePoints=35000000"' in text
    assert 'org.opencontainers.image.title="Orders"' in text
    assert 'org.opencontainers.image.version="0.3.1"' in text
    assert 'org.opencontainers.image.source="https://example.test/org/workflows"' in text
    assert '"quoted\\" words, a \\$DOLLAR and a back\\\\slash' in text
    assert "FROM registry.example.test/swf-builder:1 AS builder" in text


# --- argfile.conf ------------------------------------------------------------------------------

def test_parse_argfile():
    parsed = parse_argfile("# c\n\nA=1\nQUARKUS_EXTENSIONS='x:y, z:w'\nMAVEN_ARGS_APPEND=-Da=b\n", "argfile.conf")
    assert parsed.values["A"] == "1"
    assert parsed.quarkus_extensions == ["x:y", "z:w"]
    assert parsed.maven_args_append == "-Da=b"


def test_bad_argfile_is_an_error_with_its_line_and_leaves_nothing(tmp_path):
    shutil.copytree(FIXTURES / "bad-argfile" / "sources", tmp_path / "workflow_sources")
    (tmp_path / "chartgen.yaml").write_text("image:\n  logDir: logs\n")
    result = chartgen(tmp_path, "image", "build", "argbad", "--builder", "kaniko", "--context-out", "ctx")
    assert result.returncode == 1
    assert "argfile.conf:3:1: error: expected KEY=VALUE" in result.stderr
    assert "[image-argfile-syntax]" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "ctx").exists() and not (tmp_path / "logs").exists()
    assert result.stdout == ""


# --- settings and command line -------------------------------------------------------------------

def test_settings_defaults_are_the_red_hat_images(tmp_path):
    settings = load_config(start=tmp_path).image
    assert settings.builder_image == "registry.redhat.io/openshift-serverless-1/logic-swf-builder-rhel9:1.37.0-19"
    assert settings.runtime_image == "registry.access.redhat.com/ubi9/openjdk-17:1.21-2"
    assert settings.builder == "auto" and settings.retries == 3 and settings.tls_verify is True


def test_unknown_image_setting_is_a_usage_error_with_its_line(project):
    (project / "chartgen.yaml").write_text("image:\n  registry: r.test/x\n  buidler: buildah\n")
    result = chartgen(project, "image", "build", "orders", "--builder", "kaniko")
    assert result.returncode == 2
    assert "chartgen.yaml:3:" in result.stderr and "unknown setting 'image.buidler'" in result.stderr


def test_bad_tag_is_a_usage_error(project):
    result = chartgen(project, "image", "build", "orders", "--builder", "kaniko", "--tag", "-bad")
    assert result.returncode == 2 and "[image-bad-tag]" in result.stderr


def test_unknown_workflow_is_a_usage_error(project):
    result = chartgen(project, "image", "build", "nope", "--builder", "kaniko")
    assert result.returncode == 2 and "[unknown-workflow]" in result.stderr


def test_default_tags_are_the_source_commit_and_the_workflow_version(project):
    """The version is the tag the workflow's chart defaults to; never `latest` by default."""
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.test"]
    subprocess.run(git + ["init", "-q", str(project)], check=True)
    subprocess.run(git + ["-C", str(project), "add", "-A"], check=True)
    subprocess.run(git + ["-C", str(project), "commit", "-qm", "init"], check=True)
    head = subprocess.run(["git", "-C", str(project), "rev-parse", "HEAD"], capture_output=True,
                          text=True).stdout.strip()
    result = chartgen(project, "image", "build", "orders", "--builder", "kaniko", "--context-out", "ctx",
                      "--format", "json", "-q")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["tags"] == [head, "0.3.1"]
    assert data["reference"] == f"registry.example.test/team/serverless-workflow-orders:{head}"
    assert f'org.opencontainers.image.revision="{head}"' in (project / "ctx" / "Containerfile").read_text()
    assert "uncommitted changes" not in result.stderr
    main = project / "workflow_sources" / "orders" / "orders.sw.yaml"
    main.write_text(main.read_text() + "# edited\n")
    dirty = chartgen(project, "image", "build", "orders", "--builder", "kaniko", "--context-out", "ctx")
    assert dirty.returncode == 0 and "has uncommitted changes" in dirty.stderr


# --- kaniko: the Tekton step's command and context ----------------------------------------------

def test_kaniko_writes_the_context_and_the_executor_command(project):
    result = chartgen(project, "image", "build", "orders", "--builder", "kaniko", "--context-out", "ctx",
                      "--tag", "v1", "--tag", "latest", "--push", "-q")
    assert result.returncode == 0, result.stderr
    ctx = (project / "ctx").resolve()
    args = json.loads((ctx / "kaniko-args.json").read_text())
    repo = "registry.example.test/team/serverless-workflow-orders"
    assert args[:2] == [f"--context=dir://{ctx}", f"--dockerfile={ctx}/Containerfile"]
    assert f"--destination={repo}:v1" in args and f"--destination={repo}:latest" in args
    assert "--digest-file=$(results.IMAGE_DIGEST.path)" in args and "--no-push" not in args
    assert "--reproducible" in args and "--insecure" not in args
    out = result.stdout.splitlines()
    assert out[0] == f"{repo}:v1"
    assert out[1].startswith("/kaniko/executor --context=dir://")
    # the context is the one the command names, complete
    assert (ctx / "resources" / "orders.sw.yaml").is_file()
    assert (ctx / "resources" / "shared" / "schemas" / "common-result.json").is_file()
    assert not (ctx / "resources" / "secret.properties").exists()
    # a second run replaces the context as a whole
    again = chartgen(project, "image", "build", "orders", "--builder", "kaniko", "--context-out", "ctx",
                     "--tag", "v2", "-q")
    assert again.returncode == 0
    assert "--no-push" in json.loads((ctx / "kaniko-args.json").read_text())
    assert f"--destination={repo}:v1" not in (ctx / "kaniko-args.json").read_text()


def test_kaniko_context_defaults_to_a_kept_folder(project):
    config = load_config(project / "chartgen.yaml")
    result = build_image(orders(project), config, builder="kaniko", tags=["v1"])
    assert result.context_dir == (project / ".chartgen" / "context" / "orders").resolve()
    assert (result.context_dir / "Containerfile").is_file()
    assert f"--context=dir://{result.context_dir}" in result.command
    assert result.digest is None and result.log_path.is_file()


def test_kaniko_without_tls_verification(project):
    result = chartgen(project, "image", "build", "orders", "--builder", "kaniko", "--context-out", "ctx",
                      "--tag", "v1", "--no-tls-verify", "-q")
    assert result.returncode == 0, result.stderr
    args = json.loads((project / "ctx" / "kaniko-args.json").read_text())
    assert {"--insecure", "--insecure-pull", "--skip-tls-verify"} <= set(args)


def test_context_out_refuses_a_foreign_folder(project):
    (project / "mine").mkdir()
    (project / "mine" / "keep.txt").write_text("user data")
    result = chartgen(project, "image", "build", "orders", "--builder", "kaniko", "--context-out", "mine")
    assert result.returncode == 1 and "[output-not-ours]" in result.stderr
    assert (project / "mine" / "keep.txt").read_text() == "user data"


# --- builders ----------------------------------------------------------------------------------

def test_buildah_command_line_uses_configured_storage_and_isolation(tmp_path):
    options = BuilderOptions(storage_driver="vfs", storage_root="/s/root", run_root="/s/run", isolation="chroot",
                             tls_verify=False, authfile="/a/auth.json", timestamp=0, platform="linux/amd64")
    argv = BuildahBuilder(options).build_command(tmp_path, tmp_path / "Containerfile", ["r/x:1", "r/x:latest"],
                                                 {"K": "V"})
    assert argv[:8] == ["buildah", "--storage-driver", "vfs", "--root", "/s/root", "--runroot", "/s/run", "build"]
    joined = " ".join(argv)
    for part in ("--layers", "--isolation chroot", "--tls-verify=false", "--authfile /a/auth.json",
                 "-t r/x:1 -t r/x:latest", "--build-arg K=V", f"-f {tmp_path}/Containerfile", "--timestamp 0",
                 "--platform linux/amd64"):
        assert part in joined
    push = BuildahBuilder(options).push_command("r/x:1", Path("/d/digest"))
    assert push[-2:] == ["r/x:1", "docker://r/x:1"] and "--digestfile" in push and "--retry" in push
    podman = PodmanBuilder(options).build_command(tmp_path, tmp_path / "Containerfile", ["r/x:1"], {})
    assert podman[0] == "podman" and "--layers" in podman


def test_reproducible_builds_use_a_fixed_timestamp(monkeypatch):
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    assert build_timestamp(ImageSettings()) == 0
    assert build_timestamp(ImageSettings(reproducible=False)) is None
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    assert build_timestamp(ImageSettings()) == 1700000000
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    with pytest.raises(UsageError, match="SOURCE_DATE_EPOCH"):
        build_timestamp(ImageSettings())
    argv = BuildahBuilder(BuilderOptions()).build_command(Path("c"), Path("c/Containerfile"), ["r/x:1"], {})
    assert "--timestamp" not in argv


def test_missing_builder_is_a_clear_error(project):
    if backend_class("podman").available():
        pytest.skip("podman is installed here")
    with pytest.raises(ChartgenError, match="image builder podman is not available") as caught:
        resolve("podman")
    assert caught.value.code == "image-builder-missing"
    result = chartgen(project, "image", "build", "orders", "--builder", "podman")
    assert result.returncode == 1 and "[image-builder-missing]" in result.stderr
    assert "workflow_sources/orders: error:" in result.stderr


def test_docker_needs_an_engine_not_just_the_cli():
    if shutil.which("docker") is None:
        pytest.skip("no docker CLI here")
    engine = subprocess.run(["docker", "info"], capture_output=True).returncode == 0
    assert backend_class("docker").available() == engine


def test_unknown_builder_name():
    with pytest.raises(UsageError, match="unknown image builder"):
        resolve("nerdctl")


def test_step_cause_is_the_failing_steps_error_line():
    output = ("[1/2] STEP 6/6: RUN /home/kogito/launch/build-app.sh ./resources\n[INFO] Building\n"
              "[ERROR] Failed to execute goal io.quarkus:quarkus-maven-plugin:build\n[INFO] done\n"
              "subprocess exited with status 1\n"
              'Error: building at STEP "RUN /home/kogito/launch/build-app.sh ./resources": exit status 1')
    assert step_cause(output) == "[ERROR] Failed to execute goal io.quarkus:quarkus-maven-plugin:build"
    assert step_cause("[1/2] STEP 1/2: RUN true\nsubprocess exited with status 1") == ""


@pytest.mark.parametrize("output, kind", [
    ('Error: pushing image "x" to "docker://x": writing blob: initiating layer upload to /v2/x/blobs/uploads/ '
     'in 127.0.0.1:5000: StatusCode: 405, Method not allowed', "refused"),
    ("Error: x: unauthorized: authentication required", "refused"),
    ('Error: creating build container: initializing source docker://r/b:9: reading manifest 9 in r/b: '
     'manifest unknown: manifest unknown', "not-found"),
    ('Error: pushing image: trying to reuse blob at destination: pinging container registry 127.0.0.1:1: '
     'Get "http://127.0.0.1:1/v2/": dial tcp 127.0.0.1:1: connect: connection refused', "transient"),
    ("Error: received unexpected HTTP status: 503 Service Unavailable", "transient"),
    ("Error: something else entirely", "failed"),
])
def test_classify_registry_failures(output, kind):
    assert classify(output) == kind


# --- credentials and retries ---------------------------------------------------------------------

def test_credentials_from_the_environment_become_a_private_authfile(tmp_path, monkeypatch):
    existing = tmp_path / "existing.json"
    existing.write_text(json.dumps({"auths": {"registry.redhat.io": {"auth": "cHVsbDpzZWNyZXQ="}}}))
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(existing))
    monkeypatch.setenv("CHARTGEN_REGISTRY_USERNAME", "robot")
    monkeypatch.setenv("CHARTGEN_REGISTRY_PASSWORD", "pa55-word-xyz")
    path = Path(authfile_for("quay.example.test/org/serverless-workflow-a", tmp_path))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    auths = json.loads(path.read_text())["auths"]
    assert base64.b64decode(auths["quay.example.test"]["auth"]) == b"robot:pa55-word-xyz"
    assert "registry.redhat.io" in auths  # the pull secret for the builder image is kept
    assert redact("token pa55-word-xyz and " + auths["quay.example.test"]["auth"]) == "token *** and ***"


def test_credentials_need_both_halves(tmp_path, monkeypatch):
    monkeypatch.delenv("CHARTGEN_REGISTRY_PASSWORD", raising=False)
    monkeypatch.delenv("REGISTRY_AUTH_FILE", raising=False)
    monkeypatch.setenv("CHARTGEN_REGISTRY_USERNAME", "robot")
    with pytest.raises(UsageError, match="set both"):
        authfile_for("quay.example.test/org/x", tmp_path)


def test_no_credentials_means_the_tools_defaults(tmp_path, monkeypatch):
    for name in ("CHARTGEN_REGISTRY_USERNAME", "CHARTGEN_REGISTRY_PASSWORD", "REGISTRY_AUTH_FILE", "DOCKER_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    assert authfile_for("quay.example.test/org/x", tmp_path) is None
    (tmp_path / "docker").mkdir()
    (tmp_path / "docker" / "config.json").write_text("{}")
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
    assert authfile_for("quay.example.test/org/x", tmp_path) == str(tmp_path / "docker" / "config.json")


class ScriptedPush:
    """Stands in for a backend's push only (the retry policy); real pushes are in test_image_build."""

    def __init__(self, *outcomes):
        self.outcomes = list(outcomes)
        self.calls = 0

    def push(self, ref, log):
        self.calls += 1
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


class NullLog:
    def note(self, text):
        pass


def test_transient_push_failures_are_retried_with_backoff():
    sleeps = []
    flaky = ScriptedPush(PushError("503", code="image-push-unreachable", transient=True),
                         PushError("503", code="image-push-unreachable", transient=True), DIGEST)
    settings = ImageSettings(retries=3, retry_delay=1.5)
    assert push_with_retries(flaky, "r/x:1", NullLog(), settings, sleeps.append) == DIGEST
    assert sleeps == [1.5, 3.0] and flaky.calls == 3


def test_retries_are_bounded_and_refusals_are_not_retried():
    sleeps = []
    down = ScriptedPush(*[PushError("down", code="image-push-unreachable", transient=True)] * 3)
    with pytest.raises(ChartgenError, match="gave up after 3 attempts"):
        push_with_retries(down, "r/x:1", NullLog(), ImageSettings(retries=2, retry_delay=0), sleeps.append)
    refused = ScriptedPush(PushError("denied", code="image-push-refused", transient=False))
    with pytest.raises(PushError):
        push_with_retries(refused, "r/x:1", NullLog(), ImageSettings(retries=5), sleeps.append)
    assert refused.calls == 1 and len(sleeps) == 2


def test_build_image_library_call_reports_the_folder(project):
    config = load_config(project / "chartgen.yaml")
    with pytest.raises(ChartgenError) as caught:
        build_image(orders(project), config, builder="nerdctl")
    assert caught.value.findings[0].path.endswith("workflow_sources/orders")


def test_every_corpus_folder_gives_a_context_or_a_clear_error(tmp_path):
    from conftest import CORPUS, need_shared

    need_shared(CORPUS)
    config = load_config(start=tmp_path)
    built = 0
    for line in (CORPUS / "INDEX.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        folder = load_workflow(CORPUS / line.split("\t")[0])
        try:
            files = context_files(folder, render_containerfile(spec_for(None)))
        except ChartgenError as exc:
            assert exc.code in ("several-workflows", "no-workflow"), (folder.name, exc.format())
            continue
        built += 1
        assert not any(name.endswith("secret.properties") for name in files)
        expected = {f"resources/{r.file.rel}" for r in folder.resources} | {f"resources/{folder.main.rel}"}
        assert expected <= set(files)
        image_repository(folder.name, config.image)  # a valid reference
    assert built >= 30
