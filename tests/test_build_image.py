"""`chartgen build --image --push` with the real image stage: buildah as root against
stand-in base images in a real registry on 127.0.0.1 (fixtures of test_image_build)."""

from __future__ import annotations

import json
import subprocess

import pytest

from test_image_build import build_storage, make_project, registry, skopeo_inspect, standins  # noqa: F401

pytestmark = pytest.mark.slow


def test_build_with_image_push_reports_the_digest(registry, standins, build_storage, tmp_path):  # noqa: F811
    builder, runtime = standins
    project = make_project(tmp_path, registry, build_storage,
                           extra=f"  builderImage: {builder}\n  runtimeImage: {runtime}\n")
    output, summary = tmp_path / "gh-output", tmp_path / "gh-summary"
    env = {"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(output), "GITHUB_STEP_SUMMARY": str(summary)}
    import os
    import sys

    done = subprocess.run([sys.executable, "-m", "chartgen", "build", "greeting", "--image", "--push",
                           "--source-commit", "c0ffee" + "0" * 34, "--format", "json"], cwd=project,
                          capture_output=True, text=True, timeout=900, env={**os.environ, **env})
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)["workflows"][0]
    assert [s["stage"] for s in report["stages"]] == ["validate", "render", "chart", "lint", "package", "image"]
    reference, digest = report["image"], report["image_digest"]
    assert reference == f"{registry}/orchestrator/serverless-workflow-greeting:c0ffee{'0' * 34}"
    assert digest.startswith("sha256:")
    assert skopeo_inspect(reference)["Digest"] == digest
    outputs = output.read_text()
    assert f"image-digest={digest}\n" in outputs and f"image-url={reference}\n" in outputs
    assert digest[:19] in summary.read_text()
