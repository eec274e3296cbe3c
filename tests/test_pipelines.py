"""The Tekton Task and Pipeline in pipelines/: every variable reference resolves, the way
Tekton's admission webhook checks them, images are pinned, nothing is downloaded at run time."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO

PIPELINES = REPO / "pipelines"
TASK_FILE = PIPELINES / "chartgen-build-task.yaml"
PIPELINE_FILE = PIPELINES / "chartgen-pipeline.yaml"
CONTAINERFILE = PIPELINES / "chartgen.Containerfile"

# Interface of tektoncd/catalog git-clone 0.9 (task/git-clone/0.9/git-clone.yaml).
GIT_CLONE = {
    "params": {"url", "revision", "refspec", "submodules", "depth", "sslVerify", "crtFileName",
               "subdirectory", "sparseCheckoutDirectories", "deleteExisting", "httpProxy",
               "httpsProxy", "noProxy", "verbose", "gitInitImage", "userHome"},
    "required_params": {"url"},
    "workspaces": {"output", "ssh-directory", "basic-auth", "ssl-ca-directory"},
    "required_workspaces": {"output"},
    "results": {"commit", "url", "committer-date"},
}

# Tekton only substitutes these prefixes; `$(dirname ...)` in a script is shell.
VARIABLE = re.compile(r"\$\((params|workspaces|results|tasks|context|steps)(\.[^)]*|\[[^)]*)\)")
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def strings(node, where=()):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from strings(value, where + (key,))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from strings(value, where + (i,))
    elif isinstance(node, str):
        yield where, node


def references(node):
    for where, text in strings(node):
        for match in VARIABLE.finditer(text):
            yield where, match.group(0), match.group(1), match.group(2)


def task_interface(task: dict) -> dict:
    spec = task["spec"]
    params = {p["name"]: p for p in spec.get("params", [])}
    workspaces = {w["name"]: w for w in spec.get("workspaces", [])}
    return {
        "params": set(params),
        "required_params": {n for n, p in params.items() if "default" not in p},
        "workspaces": set(workspaces),
        "required_workspaces": {n for n, w in workspaces.items() if not w.get("optional")},
        "results": {r["name"] for r in spec.get("results", [])},
    }


def task_reference_errors(task: dict) -> list[str]:
    """What the webhook rejects in a Task: unknown params, workspaces, results."""
    interface = task_interface(task)
    errors = []
    for where, text, kind, rest in references(task["spec"]):
        name = re.match(r"\.([A-Za-z0-9_-]+)|\[['\"]([^'\"]+)['\"]\]", rest)
        name = name and (name.group(1) or name.group(2))
        if kind == "params" and name not in interface["params"]:
            errors.append(f"{text} at {where}: no such param")
        elif kind == "workspaces":
            m = re.fullmatch(r"\.([a-z0-9-]+)\.(path|bound|claim|volume)", rest)
            if not m or m.group(1) not in interface["workspaces"]:
                errors.append(f"{text} at {where}: no such workspace variable")
        elif kind == "results":
            m = re.fullmatch(r"\.([A-Za-z0-9_-]+)\.path", rest)
            if not m or m.group(1) not in interface["results"]:
                errors.append(f"{text} at {where}: no such result")
        elif kind in ("tasks", "steps"):
            errors.append(f"{text} at {where}: not allowed in a Task")
    return errors


def pipeline_reference_errors(pipeline: dict, interfaces: dict[str, dict]) -> list[str]:
    spec = pipeline["spec"]
    errors = []
    params = {p["name"] for p in spec.get("params", [])}
    workspaces = {w["name"] for w in spec.get("workspaces", [])}
    tasks = {t["name"]: t for t in spec.get("tasks", []) + spec.get("finally", [])}
    for where, text, kind, rest in references(spec):
        if kind == "params":
            m = re.fullmatch(r"\.([A-Za-z0-9_-]+)", rest)
            if not m or m.group(1) not in params:
                errors.append(f"{text} at {where}: no such pipeline param")
        elif kind == "tasks":
            m = re.fullmatch(r"\.([a-z0-9-]+)\.results\.([A-Za-z0-9_-]+)", rest)
            if not m or m.group(1) not in tasks:
                errors.append(f"{text} at {where}: no such pipeline task")
            elif m.group(2) not in interfaces[m.group(1)]["results"]:
                errors.append(f"{text} at {where}: task {m.group(1)} has no result {m.group(2)}")
            elif where[0] == "tasks" and spec["tasks"][where[1]]["name"] == m.group(1):
                errors.append(f"{text} at {where}: a task cannot use its own result")
        elif kind == "workspaces":
            m = re.fullmatch(r"\.([a-z0-9-]+)\.bound", rest)
            if not m or m.group(1) not in workspaces:
                errors.append(f"{text} at {where}: no such pipeline workspace variable")
        elif kind in ("results", "steps"):
            errors.append(f"{text} at {where}: not allowed in a Pipeline")
    for name, task in tasks.items():
        interface = interfaces[name]
        given = {p["name"] for p in task.get("params", [])}
        errors += [f"task {name}: unknown param {p}" for p in sorted(given - interface["params"])]
        errors += [f"task {name}: missing param {p}" for p in sorted(interface["required_params"] - given)]
        bound = {w["name"]: w["workspace"] for w in task.get("workspaces", [])}
        errors += [f"task {name}: unknown workspace {w}" for w in sorted(set(bound) - interface["workspaces"])]
        errors += [f"task {name}: workspace {w} not bound" for w in
                   sorted(interface["required_workspaces"] - set(bound))]
        errors += [f"task {name}: pipeline has no workspace {w}" for w in sorted(set(bound.values()) - workspaces)]
        errors += [f"task {name}: runAfter unknown task {r}" for r in task.get("runAfter", []) if r not in tasks]
    return errors


def interfaces_of(pipeline: dict, task: dict) -> dict[str, dict]:
    result = {}
    for item in pipeline["spec"]["tasks"]:
        ref = item["taskRef"]
        if ref.get("name") == task["metadata"]["name"]:
            result[item["name"]] = task_interface(task)
        elif any(p["name"] == "name" and p["value"] == "git-clone" for p in ref.get("params", [])):
            result[item["name"]] = GIT_CLONE
        else:
            pytest.fail(f"unknown task reference {ref}")
    return result


def test_task_references_resolve():
    task = load(TASK_FILE)
    assert task["apiVersion"] == "tekton.dev/v1" and task["kind"] == "Task"
    assert task["metadata"]["name"] == "chartgen-build"
    assert task_reference_errors(task) == []


def test_task_interface_is_the_documented_one():
    interface = task_interface(load(TASK_FILE))
    assert {"workflow", "config-repository", "registry", "builder"} <= interface["params"]
    assert interface["results"] == {"IMAGE_URL", "IMAGE_DIGEST", "CHART_VERSION", "PR_URL"}
    assert {"source", "dockerconfig", "basic-auth", "ssh-directory"} <= interface["workspaces"]
    assert interface["required_workspaces"] == {"source"}
    assert interface["required_params"] == {"workflow"}


def test_pipeline_references_resolve():
    pipeline, task = load(PIPELINE_FILE), load(TASK_FILE)
    assert pipeline["kind"] == "Pipeline"
    assert pipeline_reference_errors(pipeline, interfaces_of(pipeline, task)) == []
    results = {r["name"] for r in pipeline["spec"]["results"]}
    assert {"IMAGE_URL", "IMAGE_DIGEST", "CHART_VERSION", "PR_URL"} <= results


def test_checker_catches_broken_references():
    """The checks above are not vacuous: each kind of dangling reference is reported."""
    task = load(TASK_FILE)
    step = task["spec"]["steps"][0]
    step["script"] += "\necho $(params.nope) $(workspaces.nope.path) $(results.NOPE.path) $(params.workflow)\n"
    errors = task_reference_errors(task)
    assert len(errors) == 3 and all("nope" in e.lower() for e in errors)

    pipeline = load(PIPELINE_FILE)
    build = pipeline["spec"]["tasks"][1]
    build["params"].append({"name": "bogus", "value": "$(tasks.fetch-source.results.nothing)"})
    build["params"] = [p for p in build["params"] if p["name"] != "workflow"]
    build["workspaces"] = [w for w in build["workspaces"] if w["name"] != "source"]
    errors = pipeline_reference_errors(pipeline, interfaces_of(pipeline, load(TASK_FILE)))
    assert any("has no result nothing" in e for e in errors)
    assert any("unknown param bogus" in e for e in errors)
    assert any("missing param workflow" in e for e in errors)
    assert any("workspace source not bound" in e for e in errors)


def test_images_pinned_by_digest_and_nothing_downloaded():
    task = load(TASK_FILE)
    defaults = {p["name"]: p.get("default") for p in task["spec"]["params"]}
    for step in task["spec"]["steps"]:
        image = step["image"]
        m = re.fullmatch(r"\$\(params\.([a-z-]+)\)", image)
        image = defaults[m.group(1)] if m else image
        assert DIGEST.search(image), f"step {step['name']} image {image} is not pinned by digest"
        script = step.get("script", "")
        for word in ("curl", "wget", "pip install", "microdnf", "apt-get", "git clone", "raw.githubusercontent"):
            assert word not in script, f"step {step['name']} downloads at run time ({word})"
        assert script.startswith("#!"), step["name"]
    assert "kaniko" in defaults["kaniko-image"] and defaults["builder"] == "kaniko"
    for step in task["spec"]["steps"]:
        context = step.get("securityContext", {})
        assert not context.get("privileged")
        if step["name"] != "image":
            assert context.get("runAsNonRoot") is True and context.get("runAsUser") == 65532


def test_every_result_is_written_even_when_a_stage_is_skipped():
    """`$(tasks.build.results.PR_URL)` must resolve even without a PR: chartgen writes
    every declared result (empty when unknown), and the kaniko step writes IMAGE_DIGEST."""
    from chartgen.ci import TEKTON_RESULTS

    task = load(TASK_FILE)
    assert set(TEKTON_RESULTS) == {r["name"] for r in task["spec"]["results"]}
    scripts = "\n".join(s["script"] for s in task["spec"]["steps"])
    assert "--tekton-results" in scripts and "--digest-file=\"$(results.IMAGE_DIGEST.path)\"" in scripts


def test_no_change_is_success():
    """The PR step exits 0 when chartgen reports nothing to change; no `git commit` of an
    empty diff and no direct push to main (the old pipeline's failures)."""
    scripts = "\n".join(s["script"] for s in load(TASK_FILE)["spec"]["steps"])
    assert "git push" not in scripts and "git commit" not in scripts
    assert "set -eu" in scripts


def test_step_scripts_are_valid_shell(tmp_path):
    import shutil
    import subprocess

    sh = shutil.which("sh")
    for step in load(TASK_FILE)["spec"]["steps"]:
        script = VARIABLE.sub("X", step["script"])
        path = tmp_path / f"{step['name']}.sh"
        path.write_text(script)
        proc = subprocess.run([sh, "-n", str(path)], capture_output=True, text=True)
        assert proc.returncode == 0, (step["name"], proc.stderr)


def test_containerfile_pinned_and_self_contained():
    """Every base is pinned by digest (a `FROM ${ARG}` by the ARG's default, declared before
    the first FROM); chartgen comes from pre-built wheels only, bind-mounted for the one RUN
    (no index, nothing left in a layer). tests/test_chartgen_image.py builds and runs it."""
    text = CONTAINERFILE.read_text()
    header = text[:re.search(r"^FROM\s", text, re.M).start()]
    defaults = dict(re.findall(r"^ARG\s+([A-Za-z_][A-Za-z0-9_]*)=(\S+)", header, re.M))
    froms = [re.sub(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", lambda m: defaults.get(m.group(1), m.group(0)), f)
             for f in re.findall(r"^FROM\s+(\S+)", text, re.M)]
    assert froms and all(DIGEST.search(f) for f in froms), froms
    assert froms[0].startswith("docker.io/library/python:3.11-slim@")
    install = re.search(r"^RUN --mount=type=bind,source=dist/wheels,target=(\S+) \\\n\s+(.*)$", text, re.M)
    assert install and f"pip install --no-cache-dir --no-index --find-links {install.group(1)} chartgen" \
        in install.group(2)
    assert not re.search(r"^(COPY|ADD)\s", text, re.M)
    assert re.search(r"^USER 65532", text, re.M) and 'ENTRYPOINT ["chartgen"]' in text


def test_example_pipelinerun_matches_the_pipeline():
    run = load(PIPELINES / "chartgen-pipelinerun.example.yaml")
    pipeline = load(PIPELINE_FILE)["spec"]
    assert run["spec"]["pipelineRef"]["name"] == load(PIPELINE_FILE)["metadata"]["name"]
    declared = {p["name"]: p for p in pipeline["params"]}
    given = {p["name"] for p in run["spec"]["params"]}
    assert given <= set(declared)
    assert {n for n, p in declared.items() if "default" not in p} <= given
    workspaces = {w["name"]: w for w in pipeline["workspaces"]}
    bound = {w["name"] for w in run["spec"]["workspaces"]}
    assert bound <= set(workspaces)
    assert {n for n, w in workspaces.items() if not w.get("optional")} <= bound
