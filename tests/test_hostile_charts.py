"""Hostile and broken workflow input through the chart: nothing is evaluated, nothing is lost,
nothing crashes (issue 11, chart side).

Every comparison renders the generated chart with real Helm (helm-python-sdk, in-process) and
compares its objects with those `chartgen render` writes for the same folder, both read back
with PyYAML and with Go's YAML (sigs.k8s.io/yaml, what kubectl and Helm use to send objects
to the cluster; reached through Helm's `fromYaml`).

Lone UTF-16 surrogates cannot occur: workflow files are decoded as strict UTF-8, which has no
encoding for them (the bytes ED A0 80 are refused as "not UTF-8 text"); `go_string` refuses
them when the library is handed such a str directly.
"""

from __future__ import annotations

import base64
import copy
import json
import shutil
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chart_helpers import default_image, image_tag_for, object_key, repo_config, with_chart_labels

RELEASE = "rel-5d1e"            # shows only as the app.kubernetes.io/instance label (see printed_text)
NAMESPACE = "ns-8c2f"
EVALUATED = "injected-a8d3"     # what the payloads print when Helm evaluates them
PAYLOADS = [
    '{{ print "injected-" "a8d3" }}',
    '" }}{{ print "injected-" "a8d3" }}{{ "',
    "` }}{{ print `injected-` `a8d3` }}{{ `",
    "{{- print \"injected-\" \"a8d3\" -}}",
    "}}{{ .Release.Name }}{{",
    '\\" }}{{ .Release.Name }}{{ "\\',
    "{{{{ .Release.Name }}}}",
    '{{ "{{" }}{{ .Release.Name }}',
    "{{/* c */}}{{ .Release.Name }}",
]
WORKFLOW = {"id": "hostile", "specVersion": "0.8", "version": "1.0", "name": "Hostile", "description": "d",
            "start": "A", "states": [{"name": "A", "type": "inject", "data": {"v": "x"}, "end": True}]}


# -- helpers -------------------------------------------------------------------------------

def make_folder(root: Path, files: dict[str, str | bytes], workflow: dict | None = None) -> Path:
    """A workflow folder: `files` plus the main workflow written as JSON (any character fits)."""
    root.mkdir(parents=True)
    files = {"hostile.sw.json": json.dumps(workflow or WORKFLOW), **files}
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return root


def render_texts(folder: Path) -> dict[str, str]:
    """`chartgen render` output: file name -> YAML text (secret values blanked as the chart's defaults)."""
    from chartgen.manifests import render_manifests, render_options
    from chartgen.sources import load_workflow

    options = render_options(repo_config().render, namespace=NAMESPACE, image=default_image(folder))
    texts = {}
    for manifest in render_manifests(load_workflow(folder), options):
        if manifest.kind == "Secret":
            manifest.obj["stringData"] = {key: "" for key in manifest.obj["stringData"]}
        texts[manifest.filename] = manifest.to_yaml()
    return texts


def helm_texts(chart_dir: Path, values: dict | None = None) -> dict[str, str]:
    """Helm's output: template file name -> text (NOTES.txt included)."""
    import helm_python

    with helm_python.Chart.load(str(chart_dir)) as chart:
        rendered = chart.render(values or {}, name=RELEASE, namespace=NAMESPACE)
    return {key.rsplit("/", 1)[1]: text for key, text in rendered.items()}


def go_yaml(texts: list[str]) -> list:
    """Each text read by Go's YAML (Helm's fromYaml: sigs.k8s.io/yaml, as kubectl reads manifests)."""
    import helm_python

    work = Path(tempfile.mkdtemp(prefix="goyaml-"))
    try:
        (work / "templates").mkdir()
        (work / "Chart.yaml").write_text("apiVersion: v2\nname: goyaml\nversion: 0.1.0\n")
        for index, text in enumerate(texts):
            (work / "docs").mkdir(exist_ok=True)
            (work / "docs" / f"{index}.yaml").write_bytes(text.encode("utf-8"))
            (work / "templates" / f"{index}.txt").write_text(
                '{{ .Files.Get "docs/%d.yaml" | fromYaml | toJson | b64enc }}' % index)
        with helm_python.Chart.load(str(work)) as chart:
            rendered = chart.render({}, name="g", namespace="g")
    finally:
        shutil.rmtree(work)
    parsed = [json.loads(base64.b64decode(rendered[f"goyaml/templates/{i}.txt"])) for i in range(len(texts))]
    for text, doc in zip(texts, parsed):
        assert "Error" not in doc, (doc, text[:200])
    return parsed


def _objects(texts: list[str], reader) -> list[dict]:
    return sorted((doc for doc in reader(texts) if doc), key=object_key)


def py_yaml(texts: list[str]) -> list:
    return [yaml.load(text, Loader=yaml.CSafeLoader) for text in texts]


def chart_of(folder: Path, out: Path) -> Path:
    from chartgen.chart import generate_charts

    return generate_charts([folder], repo_config(), out_dir=out, umbrella=False,
                           image_tag=image_tag_for(folder))[0].path


def assert_chart_equals_render(folder: Path, out: Path) -> dict[str, str]:
    """Generate the chart, render it with Helm, compare with `chartgen render` (PyYAML and Go
    YAML). Returns Helm's output."""
    chart = chart_of(folder, out)
    helm = helm_texts(chart)
    manifests = [text for name, text in sorted(helm.items()) if name.endswith(".yaml") and text.strip()]
    rendered = list(render_texts(folder).values())
    for reader in (py_yaml, go_yaml):
        got, want = _objects(manifests, reader), with_chart_labels(_objects(rendered, reader), chart, release=RELEASE)
        assert [object_key(o) for o in got] == [object_key(o) for o in want]
        for got_obj, want_obj in zip(got, want):
            assert got_obj == want_obj, f"{reader.__name__}: {object_key(got_obj)} differs"
    return helm


def printed_text(helm: dict[str, str]) -> str:
    """Everything Helm printed, less the one place the release name belongs (the instance
    label, checked by assert_chart_equals_render), so a payload printing it shows."""
    return "".join(helm.values()).replace(f"app.kubernetes.io/instance: {RELEASE}", "")


def assert_findings_name_a_file(error) -> None:
    assert error.findings and all(f.path for f in error.findings), error.format()
    assert all(f.code not in ("chart-internal", "internal") for f in error.findings), error.format()


# -- injection -----------------------------------------------------------------------------

def _name_safe(payload: str) -> bool:
    return "/" not in payload


def _places(payload: str) -> dict[str, tuple[dict, dict | None]]:
    """Where workflow text reaches the chart: files and workflow for each place."""
    places: dict[str, tuple[dict, dict | None]] = {}

    def workflow(**changes) -> dict:
        data = copy.deepcopy(WORKFLOW)
        data.update(changes)
        return data

    if _name_safe(payload):
        for top in ("schemas", "specs", "dashboards", "subflows"):
            places[f"{top}-folder"] = ({f"{top}/{payload}/a.json": '{"a": 1}\n'}, None)
        places["file-name"] = ({f"schemas/{payload}.json": '{"a": 1}\n'}, None)
    places["file-content"] = ({"schemas/a.json": json.dumps({"a": payload}) + "\n"}, None)
    places["description"] = ({}, workflow(description=payload))
    places["name"] = ({}, workflow(name=payload))
    places["version"] = ({}, workflow(version=payload))
    places["id"] = ({}, workflow(id=payload))
    places["annotations"] = ({}, workflow(annotations=[payload, f"workflow-type/{payload}"]))
    places["state-name"] = ({}, workflow(start=payload, states=[{**WORKFLOW["states"][0], "name": payload}]))
    places["state-data"] = ({}, workflow(states=[{**WORKFLOW["states"][0], "data": {payload: payload}}]))
    places["function"] = ({}, workflow(functions=[{"name": payload, "operation": payload, "type": "custom"}]))
    places["metadata"] = ({}, workflow(metadata={payload: payload}))
    places["property"] = ({"application.properties": f"{payload.replace('=', '-')}={payload}\n"}, None)
    places["secret"] = ({"secret.properties": f"{payload}={payload}\n"}, None)
    return places


INJECTIONS = [(place, payload) for payload in PAYLOADS for place in _places(payload)]


@pytest.mark.parametrize("place,payload", INJECTIONS,
                         ids=[f"{place}-{PAYLOADS.index(payload)}" for place, payload in INJECTIONS])
def test_no_workflow_text_is_evaluated_by_helm(tmp_path, place, payload):
    from chartgen.errors import ChartgenError

    files, workflow = _places(payload)[place]
    folder = make_folder(tmp_path / "src" / "hostile", files, workflow)
    try:
        helm = assert_chart_equals_render(folder, tmp_path / "charts")
    except ChartgenError as exc:   # refused (e.g. an id or file name no Kubernetes name can hold)
        assert_findings_name_a_file(exc)
        return
    printed = printed_text(helm)
    assert EVALUATED not in printed and RELEASE not in printed


@pytest.mark.parametrize("payload", [p for p in PAYLOADS if _name_safe(p)])
def test_hostile_workflow_folder_name_is_a_finding(tmp_path, payload):
    """The folder's name gives the image name, which such a name cannot be: a finding on the folder."""
    from chartgen.errors import ChartgenError, printable

    folder = make_folder(tmp_path / "src" / f"wf{payload}\x85x: 1\u2028y", {})
    with pytest.raises(ChartgenError) as caught:
        chart_of(folder, tmp_path / "charts")
    assert_findings_name_a_file(caught.value)
    assert caught.value.exit_code == 1 and caught.value.findings[0].path == printable(str(folder))


def test_values_yaml_header_shows_odd_characters_as_escapes():
    from chartgen.chart.values import values_yaml

    text = values_yaml((), "from src/x\x85evil: 1\u2028more: 2\x7f {{ .Release.Name }}")
    assert yaml.safe_load(text) is None and go_yaml([text + "a: 1\n"]) == [{"a": 1}]
    assert text == "# from src/x\n# evil: 1\n# more: 2\\u007f {{ .Release.Name }}\n"


def test_notes_never_evaluate_workflow_text():
    from chartgen.chart.textfiles import _environment

    helmtext, gostring = _environment().filters["helmtext"], _environment().filters["gostring"]
    assert helmtext('{{ .Release.Name }}\x1b[31m') == '{{ "{{" }} .Release.Name }}\\u001b[31m'
    assert gostring('a"}}{{\U0001F600\u2028') == '"a\\"}}{{\U0001F600\\u2028"'


# -- characters ----------------------------------------------------------------------------

CHARACTERS = {
    "nul": "\x00", "c0-soh": "\x01", "backspace": "\x08", "tab": "\t", "vt": "\x0b", "ff": "\x0c",
    "cr": "\r", "crlf": "\r\n", "esc": "\x1b", "us": "\x1f", "del": "\x7f", "c1-pad": "\x80",
    "nel": "\x85", "c1-apc": "\x9f", "nbsp": "\xa0", "soft-hyphen": "\xad", "line-separator": "\u2028",
    "paragraph-separator": "\u2029", "bom": "\ufeff", "private-use": "\ue000", "nonchar": "\ufffe",
    "replacement": "\ufffd", "astral": "\U0001F600", "astral-private": "\U00100000", "combining": "e\u0301",
    "braces": "{{ }}", "newlines": "\n\n", "quote": "\"'`\\",
}


def _char_places(char: str) -> tuple[dict, dict]:
    files = {
        "schemas/inside.json": f'{{"a": "x{char}y"}}\n',
        "schemas/start.json": f"{char}{{}}\n",
        "schemas/end.json": f"{{}}\n{char}",
        "specs/only.yaml": f"{char}x",
        "application.properties": f"k{char}=v{char}w\n{char}=x\n",
    }
    workflow = copy.deepcopy(WORKFLOW)
    workflow.update(name=f"n{char}", description=f"{char}d{char}", version=f"1{char}")
    workflow["states"][0]["data"] = {f"k{char}": f"v{char}", "end": f"z{char}"}
    return files, workflow


@pytest.mark.parametrize("char", list(CHARACTERS.values()), ids=list(CHARACTERS))
def test_every_character_class_reaches_the_cluster_as_chartgen_render_writes_it(tmp_path, char):
    files, workflow = _char_places(char)
    folder = make_folder(tmp_path / "src" / "hostile", files, workflow)
    assert_chart_equals_render(folder, tmp_path / "charts")
    # and render itself kept every character (no normalisation on the way)
    docs = {doc["metadata"]["name"]: doc for doc in py_yaml(list(render_texts(folder).values()))}
    assert docs["hostile"]["metadata"]["annotations"]["sonataflow.org/description"] == f"{char}d{char}"
    assert docs["01-hostile-resources-schemas"]["data"]["start.json"] == f"{char}{{}}\n"
    assert docs["hostile-props"]["data"]["application.properties"] == f"k{char}=v{char}w\n{char}=x\n"


def test_values_of_the_install_reach_the_cluster_exactly(tmp_path):
    """labels, annotations and properties given at install time go through the same helper."""
    folder = make_folder(tmp_path / "src" / "hostile", {"application.properties": "a=1"})
    chart = chart_of(folder, tmp_path / "charts")
    odd = "x\x7fy\x85z\u2028\ufeff\U0001F600\x00"
    helm = helm_texts(chart, {"labels": {"l": odd}, "annotations": {"a": odd}, "properties": {"p": odd}})
    objects = {doc["metadata"]["name"]: doc for doc in go_yaml([t for n, t in helm.items() if n.endswith(".yaml")])}
    flow, props = objects["hostile"], objects["hostile-props"]
    assert flow["metadata"]["labels"]["l"] == odd and flow["metadata"]["annotations"]["a"] == odd
    assert props["metadata"]["annotations"]["a"] == odd
    assert props["data"]["application.properties"] == f"a=1\np={odd}\n"


def test_lone_surrogates_cannot_come_in():
    from chartgen.chart.templates import go_string
    from chartgen.errors import ChartgenError
    from chartgen.sources import SourceFile

    with pytest.raises(ChartgenError) as caught:
        _ = SourceFile(Path("x.json"), "schemas/x.json", b'{"a": "\xed\xa0\x80"}').text
    assert caught.value.code == "encoding"
    with pytest.raises(ChartgenError) as caught:
        go_string("a\ud800")
    assert caught.value.code == "not-unicode"


def test_go_string_is_read_back_exactly_by_go_templates_and_by_yaml():
    """Every code point (in chunks), as a Go template string literal and as a YAML scalar."""
    import helm_python

    from chartgen.chart.templates import go_string

    chunks = ["".join(chr(c) for c in range(start, start + 0x8000) if not 0xD800 <= c <= 0xDFFF)
              for start in range(0, 0x110000, 0x8000)]
    work = Path(tempfile.mkdtemp(prefix="gostring-"))
    try:
        (work / "templates").mkdir()
        (work / "Chart.yaml").write_text("apiVersion: v2\nname: gostring\nversion: 0.1.0\n")
        for index, chunk in enumerate(chunks):
            (work / "templates" / f"{index}.txt").write_text("{{ %s | b64enc }}" % go_string(chunk))
        with helm_python.Chart.load(str(work)) as chart:
            rendered = chart.render({}, name="g", namespace="g")
    finally:
        shutil.rmtree(work)
    for index, chunk in enumerate(chunks):
        assert base64.b64decode(rendered[f"gostring/templates/{index}.txt"]).decode("utf-8") == chunk, index
    documents = [f"k: {go_string(chunk)}\n" for chunk in chunks]
    assert [d["k"] for d in go_yaml(documents)] == chunks
    assert [d["k"] for d in py_yaml(documents)] == chunks


# -- markers -------------------------------------------------------------------------------

FORGED = ["chartgensentinelnamespace", "chartgensentinelimage", "chartgenhole0x", "chartgenhole1x"]


def test_internal_markers_cannot_be_forged(tmp_path):
    workflow = copy.deepcopy(WORKFLOW)
    workflow["description"] = FORGED[0]
    workflow["name"] = FORGED[1]
    workflow["states"][0]["data"] = {marker: marker for marker in FORGED} | {"n": None, FORGED[3]: None}
    files = {"schemas/a.json": json.dumps(FORGED), "application.properties": f"x={FORGED[0]}\n"}
    folder = make_folder(tmp_path / "src" / "hostile", files, workflow)
    helm = assert_chart_equals_render(folder, tmp_path / "charts")
    assert all(marker in "".join(helm.values()) for marker in FORGED)


def test_markers_avoid_every_nonce_the_input_holds(monkeypatch):
    from chartgen.chart import templates

    nonces = iter(["aaaa", "bbbb", "cccc"])
    monkeypatch.setattr(templates.secrets, "token_hex", lambda n: next(nonces))
    markers = templates.new_markers(["xx aaaa", b"bbbb"])
    assert markers.nonce == "cccc" and markers.namespace == "chartgenccccnamespace"


# -- wrong types and odd text: findings or charts, never exit 70 ---------------------------

WRONG_TYPES = {
    "functions": ({"functions": 7}, "workflow.functions must be a list"),
    "events": ({"events": {"e": 1}}, "workflow.events must be a list"),
    "annotations": ({"annotations": 7}, "workflow.annotations must be a list"),
    "errors": ({"errors": {"a": 1}}, "workflow.errors must be a list"),
    "on-errors": ({"states": [{**WORKFLOW["states"][0], "onErrors": 7}]}, "workflow.states[0].onErrors"),
    "conditions": ({"states": [{"name": "A", "type": "switch", "dataConditions": 7,
                                "defaultCondition": {"end": True}}]}, "workflow.states[0].dataConditions"),
    "error-refs": ({"states": [{**WORKFLOW["states"][0], "onErrors": [{"errorRefs": 7, "end": True}]}]},
                   "workflow.states[0].onErrors[0].errorRefs"),
}


@pytest.mark.parametrize("name", list(WRONG_TYPES))
def test_wrong_types_are_findings_of_the_chart_command(tmp_path, capsys, name):
    from chartgen.cli import main

    changes, message = WRONG_TYPES[name]
    workflow = {**copy.deepcopy(WORKFLOW), **changes}
    folder = make_folder(tmp_path / "workflows" / "hostile", {}, workflow)
    (tmp_path / "chartgen.yaml").write_text("sources: workflows\ncharts: charts\n")
    with pytest.raises(SystemExit) as caught:
        main(["--config", str(tmp_path / "chartgen.yaml"), "chart", str(folder)])
    out = capsys.readouterr()
    assert caught.value.code == 1, out
    assert f"{folder / 'hostile.sw.json'}:1:" in out.err and message in out.err and "[not-a-list]" in out.err
    assert not (tmp_path / "charts" / "hostile").exists()


@pytest.mark.parametrize("kind", ["list", "int", "none"])
def test_odd_values_in_what_the_readme_reads_do_not_crash(tmp_path, kind):
    odd = {"list": ["x"], "int": 7, "none": None}[kind]
    workflow = copy.deepcopy(WORKFLOW)
    workflow["events"] = [{"name": "e", "kind": odd}, 7]
    workflow["functions"] = [{"name": odd, "operation": odd}, "f"]
    workflow["start"] = {"stateName": odd}
    workflow["states"] = [{**workflow["states"][0], "onErrors": [{"errorRefs": [odd], "end": True}, 7]}, 7]
    folder = make_folder(tmp_path / "src" / "hostile", {}, workflow)
    from chartgen.chart.generate import draft_chart
    from chartgen.errors import ChartgenError
    from chartgen.sources import load_workflow

    try:
        draft_chart(load_workflow(folder), repo_config())
    except ChartgenError as exc:
        assert_findings_name_a_file(exc)


def test_carriage_returns_in_the_description_give_a_chart(tmp_path):
    workflow = {**WORKFLOW, "description": "line one\r\nline two\rthree\x1b[31m red\u2028four"}
    folder = make_folder(tmp_path / "src" / "hostile", {}, workflow)
    assert_chart_equals_render(folder, tmp_path / "charts")
    chart = tmp_path / "charts" / "hostile"
    readme = (chart / "README.md").read_text(encoding="utf-8")
    assert "line one\nline two\nthree\\u001b[31m red\nfour" in readme
    # Chart.yaml holds the description as Helm keeps it (white space made spaces, the rest dropped)
    meta = yaml.safe_load((chart / "Chart.yaml").read_text(encoding="utf-8"))
    assert meta["description"] == "line one  line two three[31m red four"


# -- property ------------------------------------------------------------------------------

_TEXT = st.text(st.one_of(st.characters(blacklist_categories=("Cs",)),
                          st.sampled_from(sorted(set("".join(CHARACTERS.values())) | set("{}\"'`\\:#-|>&*!%@")))),
                max_size=12)
_FOLDER_NAME = _TEXT.filter(lambda s: s not in ("", ".", "..") and "/" not in s and "\x00" not in s
                            and len(s.encode("utf-8")) < 200)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(description=_TEXT, name=_TEXT, version=_TEXT, state=_TEXT, key=_TEXT, value=_TEXT, content=_TEXT,
       sub_folder=_FOLDER_NAME, prop_key=_TEXT, prop_value=_TEXT)
def test_any_text_is_refused_with_a_finding_or_reaches_the_cluster_exactly(
        tmp_path_factory, description, name, version, state, key, value, content, sub_folder, prop_key,
        prop_value):
    from chartgen.errors import ChartgenError

    work = tmp_path_factory.mktemp("prop")
    workflow = copy.deepcopy(WORKFLOW)
    workflow.update(description=description, name=name, version=version, start=state)
    workflow["states"][0].update(name=state, data={key: value})
    files = {f"schemas/{sub_folder}/a.json": content, "specs/b.yaml": f"x{content}",
             "application.properties": f"{prop_key}={prop_value}\n{content}"}
    folder = make_folder(work / "src" / "hostile", files, workflow)
    try:
        helm = assert_chart_equals_render(folder, work / "charts")
    except ChartgenError as exc:
        assert_findings_name_a_file(exc)
        return
    printed = printed_text(helm)
    assert RELEASE not in printed
