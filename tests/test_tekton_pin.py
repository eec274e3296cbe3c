"""`chartgen tekton pin`: the release job's (and a mirroring cluster's) way to point the
chartgen-build Task at an image by digest. Only the param's value changes; every other
byte of the file stays, and bad references are refused before anything is written."""

from __future__ import annotations

import string

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from chartgen.errors import ChartgenError, UsageError
from chartgen.tekton import image_params, parse_pinned_image, pin_task_file, pin_task_images
from test_cli_basics import chartgen
from test_pipelines import TASK_FILE

DIGEST = "sha256:" + "0123456789abcdef" * 4
MIRROR = f"quay.example.com:8443/mirror/chartgen/chartgen:0.1.0@{DIGEST}"

SMALL_TASK = """\
apiVersion: tekton.dev/v1
kind: Task
metadata:
  name: t
spec:
  params:
    - name: tool-image
      default: "registry.example.com/tool:1@sha256:{old}"   # kept comment
    - name: other-image
      type: string
    - name: word
      default: hello
  steps:
    - name: a
      image: $(params.tool-image)
      script: echo hi
    - name: b
      image: $(params.other-image)
""".replace("{old}", "f" * 64)


def test_the_shipped_task_pins_exactly_its_two_step_images():
    task = yaml.safe_load(TASK_FILE.read_text())
    assert image_params(task) == ["chartgen-image", "kaniko-image"]


def test_pin_changes_one_value_and_nothing_else(tmp_path):
    original = TASK_FILE.read_text()
    text, pins = pin_task_images(original, {"chartgen-image": MIRROR}, path=str(TASK_FILE))
    (pin,) = pins
    assert pin.param == "chartgen-image" and pin.new == MIRROR and pin.changed
    before, after = original.splitlines(), text.splitlines()
    assert len(before) == len(after)
    changed = [i for i, (a, b) in enumerate(zip(before, after)) if a != b]
    assert changed == [pin.line - 1]
    assert after[pin.line - 1] == f"      default: {MIRROR}"
    defaults = {p["name"]: p.get("default") for p in yaml.safe_load(text)["spec"]["params"]}
    assert defaults["chartgen-image"] == MIRROR
    # pinning again is a no-op
    again, pins = pin_task_images(text, {"chartgen-image": MIRROR})
    assert again == text and not pins[0].changed


def test_quoted_value_keeps_its_comment_and_both_params_pin_at_once():
    ref = f"ghcr.io/acme/tool:2.0@{DIGEST}"
    other = f"ghcr.io/acme/other@{DIGEST}"
    with pytest.raises(ChartgenError) as caught:
        pin_task_images(SMALL_TASK, {"tool-image": ref, "other-image": other}, path="t.yaml")
    (finding,) = caught.value.findings
    assert finding.code == "no-default" and (finding.path, finding.line) == ("t.yaml", 9)
    text, pins = pin_task_images(SMALL_TASK, {"tool-image": ref}, path="t.yaml")
    assert f"      default: {ref}   # kept comment\n" in text
    assert yaml.safe_load(text)["spec"]["params"][0]["default"] == ref
    assert pins[0].old.endswith("f" * 64)


@pytest.mark.parametrize("reference, code", [
    ("ghcr.io/acme/chartgen:0.1.0", "image-not-pinned"),
    ("ghcr.io/acme/chartgen@sha256:abc", "bad-image-reference"),
    ("ghcr.io/Acme/chartgen@" + DIGEST, "bad-image-reference"),
    ("ghcr.io/acme/chartgen@md5:" + "0" * 32, "bad-image-reference"),
])
def test_unpinned_or_malformed_references_are_refused(reference, code):
    with pytest.raises(UsageError) as caught:
        parse_pinned_image(reference)
    assert caught.value.findings[0].code == code


def test_params_that_are_not_images_and_files_that_are_not_tasks(tmp_path):
    with pytest.raises(UsageError) as caught:
        pin_task_images(SMALL_TASK, {"word": f"x@{DIGEST}"}, path="t.yaml")
    assert caught.value.findings[0].code == "unknown-image-param"
    assert "tool-image, other-image" in caught.value.findings[0].message
    with pytest.raises(ChartgenError) as caught:
        pin_task_images("apiVersion: tekton.dev/v1\nkind: Pipeline\n", {"a": f"x@{DIGEST}"}, path="p.yaml")
    assert caught.value.findings[0].code == "not-a-task"
    with pytest.raises(ChartgenError) as caught:
        pin_task_images("kind: Task\nspec: [\n", {"a": f"x@{DIGEST}"}, path="bad.yaml")
    finding = caught.value.findings[0]
    assert finding.code == "yaml-syntax" and finding.line >= 2


def test_file_is_left_untouched_on_error(tmp_path):
    task = tmp_path / "task.yaml"
    task.write_text(SMALL_TASK)
    with pytest.raises(ChartgenError):
        pin_task_file(task, {"tool-image": f"x@{DIGEST}", "other-image": f"y@{DIGEST}"})
    assert task.read_text() == SMALL_TASK
    assert [p.name for p in tmp_path.iterdir()] == ["task.yaml"]


@settings(max_examples=60, deadline=None)
@given(tag=st.one_of(st.none(), st.text(string.ascii_letters + string.digits + "_.-", min_size=1, max_size=20)
                     .filter(lambda t: t[0] not in ".-")),
       digest=st.text("0123456789abcdef", min_size=64, max_size=64),
       port=st.one_of(st.none(), st.integers(1, 65535)))
def test_any_pinned_reference_round_trips(tag, digest, port):
    host = "registry.example.com" + (f":{port}" if port else "")
    reference = f"{host}/org/chartgen{':' + tag if tag else ''}@sha256:{digest}"
    parsed = parse_pinned_image(reference)
    assert parsed.reference == reference and parsed.tag == tag
    text, _ = pin_task_images(SMALL_TASK, {"tool-image": reference})
    assert yaml.safe_load(text)["spec"]["params"][0]["default"] == reference
    assert text.replace(reference, "X") == SMALL_TASK.replace(
        "registry.example.com/tool:1@sha256:" + "f" * 64, "X").replace('"X"', "X")


def test_cli_pins_in_place_into_output_and_checks(tmp_path):
    task = tmp_path / "task.yaml"
    task.write_text(TASK_FILE.read_text())
    out = tmp_path / "pinned.yaml"
    proc = chartgen("tekton", "pin", str(task), "--image", f"chartgen-image={MIRROR}", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert task.read_text() == TASK_FILE.read_text()
    assert f"chartgen-image: ghcr.io/" in proc.stdout and f"-> {MIRROR}" in proc.stdout
    proc = chartgen("tekton", "pin", str(out), "--check", "--image", f"chartgen-image={MIRROR}")
    assert proc.returncode == 0 and "already" in proc.stdout
    proc = chartgen("tekton", "pin", str(task), "--check", "--image", f"chartgen-image={MIRROR}")
    assert proc.returncode == 1 and task.read_text() == TASK_FILE.read_text()
    proc = chartgen("tekton", "pin", str(task), "--image", f"chartgen-image={MIRROR}")
    assert proc.returncode == 0 and task.read_text() == out.read_text()


@pytest.mark.parametrize("args, code", [
    (["--image", "chartgen-image=ghcr.io/acme/chartgen:latest"], "[image-not-pinned]"),
    (["--image", f"workflow=ghcr.io/acme/chartgen@{DIGEST}"], "[unknown-image-param]"),
    (["--image", "chartgen-image"], "expected PARAM=NAME"),
])
def test_cli_bad_usage_exits_2_and_writes_nothing(tmp_path, args, code):
    task = tmp_path / "task.yaml"
    task.write_text(TASK_FILE.read_text())
    proc = chartgen("tekton", "pin", str(task), *args)
    assert proc.returncode == 2 and code in proc.stderr and "Traceback" not in proc.stderr
    assert task.read_text() == TASK_FILE.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["task.yaml"]
