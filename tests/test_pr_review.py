"""Pull request bodies a reviewer can judge (issue 14): per workflow the semantic diff of the
workflow, the Mermaid state diagram with changed states highlighted, and a collapsed diff of
the objects Helm renders with default values; within GitHub's limit. End to end with the
real chart generator, real git remotes (smart HTTP) and the GitHub stand-in."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from chartgen.config import load_config
from chartgen.gitops.engine import open_pull_requests
from chartgen.gitops.forges import ForgeOptions
from chartgen.gitops.model import BODY_LIMIT
from chartgen.sources import load_workflow
from conftest import REPO
from github_standin import running_standin
from github_standin.gitrepos import git, make_chart_repo
from mermaid_check import check_mermaid_blocks, github_html, mermaid_blocks, text_outside_code

TOKEN = "ghp_" + "R3viewT0ken" + "0123456789abcdef"
SOURCE = "0123456789abcdef0123456789abcdef01234567"


@dataclass
class Hub:
    server: object
    bare: Path
    url: str
    proj: Path

    @property
    def pulls(self) -> dict:
        return self.server.repos["acme/charts"].pulls

    def run(self, names, **settings):
        config = load_config(self.proj / "chartgen.yaml")
        config = config.with_overrides(pr=replace(config.pr, api_url=self.server.api_url, **settings))
        options = ForgeOptions(token=TOKEN, api_url=self.server.api_url, retries=2, backoff_factor=0.05,
                               seconds_between_requests=0, seconds_between_writes=0)
        folders = [load_workflow(self.proj / "workflow_sources" / n) for n in names]
        return open_pull_requests(folders, config, config_repo=self.url, source_commit=SOURCE,
                                  source_ref="https://github.com/acme/flows/pull/7", forge_options=options)

    def body(self, branch: str) -> str:
        (pull,) = [p for p in self.pulls.values() if p["head"]["ref"] == branch and p["state"] == "open"]
        return pull["body"]

    def merge(self, branch: str) -> None:
        git("--git-dir", str(self.bare), "update-ref", "refs/heads/main", f"refs/heads/{branch}")

    def flow(self, name: str) -> Path:
        return self.proj / "workflow_sources" / name / f"{name}.sw.yaml"


@pytest.fixture
def hub(tmp_path, monkeypatch):
    proj = tmp_path / "proj"
    proj.mkdir()
    shutil.copytree(REPO / "workflow_sources", proj / "workflow_sources")
    shutil.copy(REPO / "chartgen.yaml", proj / "chartgen.yaml")
    bare = make_chart_repo(tmp_path)
    with running_standin(tmp_path, monkeypatch, TOKEN, bare) as (server, url):
        yield Hub(server, bare, url, proj)
    assert server.violations == [], "requests GitHub would reject"


def section(body: str, name: str) -> str:
    """The part of the review section about workflow `name`."""
    start = body.index(f"#### `{name}`")
    end = min([i for i in (body.find("\n#### ", start + 1), body.find("\n### Files", start)) if i >= 0])
    return body[start:end]


def row(text: str, title: str) -> list[str]:
    """The cells (added, removed, changed) of the change table's row `title`."""
    (line,) = [l for l in text.splitlines() if l.startswith(f"| {title} |")]
    cells = re.split(r"(?<!\\)\|", line)[2:-1]
    return [c.strip() for c in cells]


GREETING_EDIT = [
    # a state added, one removed, one changed; transitions follow
    ("      - name: French\n        condition: .language == \"French\"\n        transition: GreetInFrench\n",
     "      - name: German\n        condition: .language == \"German\"\n        transition: GreetInGerman\n"),
    ("  - name: GreetInFrench\n    type: inject\n    data:\n      greeting: Bonjour\n",
     "  - name: GreetInGerman\n    type: inject\n    data:\n      greeting: Hallo\n"),
    ("    data:\n      greeting: Hello\n", "    data:\n      greeting: Hi\n"),
    # a function added, an event added
    ("functions:\n", "functions:\n  - name: logWarn\n    type: custom\n    operation: sysout:WARN\n"),
    ("  failOnValidationErrors: true\n", "  failOnValidationErrors: false\n"),
    ("    operation: sysout:INFO\n", "    operation: sysout:DEBUG\n"),
    ("start: ChooseLanguage\n", "start: ChooseLanguage\nevents:\n  - name: greeted\n    kind: produced\n"
                                "    type: dev.example.greeted\n    source: greeting\n"),
]


def edit_greeting(hub: Hub) -> None:
    flow = hub.flow("greeting")
    text = flow.read_text()
    for old, new in GREETING_EDIT:
        assert old in text, old
        text = text.replace(old, new)
    flow.write_text(text)
    props = hub.proj / "workflow_sources/greeting/application.properties"
    text = props.read_text().replace("quarkus.log.level=INFO", "quarkus.log.level=DEBUG")
    props.write_text(text + "greeting.api.url=https://greet.example.com\ngreeting.api.password=hunter2sekrit\n")
    (hub.proj / "workflow_sources/greeting/secret.properties").write_text("GREETING_TOKEN=\n")
    (hub.proj / "workflow_sources/greeting/schemas/workflow-output-schema.json").unlink()
    flow.write_text(flow.read_text().replace(
        "extensions:\n  - extensionid: workflow-output-schema\n    outputSchema: schemas/workflow-output-schema.json\n", ""))


def test_update_shows_the_semantic_diff_diagram_and_rendered_diff(hub):
    hub.run(["greeting"])
    hub.merge("chartgen/greeting")
    edit_greeting(hub)
    (result,) = hub.run(["greeting"])
    assert result.action in ("created", "updated")
    body = hub.body("chartgen/greeting")
    assert len(body) <= BODY_LIMIT
    assert body.index("### Workflow changes") < body.index("### Files") < body.index("### Compatibility")
    text = section(body, "greeting")
    assert re.search(r"\(0\.1\.0\S* → 0\.1\.\S+\)", text.splitlines()[0])
    added, removed, changed = row(text, "states")
    assert added == "`GreetInGerman`" and removed == "`GreetInFrench`"
    assert "`GreetInEnglish` (`data`)" in changed and "`ChooseLanguage` (`dataConditions`)" in changed
    added, removed, _ = row(text, "transitions")
    assert "`ChooseLanguage` → `GreetInGerman` (`German`)" in added and "`GreetInGerman` → `Greet`" in added
    assert "`ChooseLanguage` → `GreetInFrench` (`French`)" in removed
    assert "`Greet` → *end*" not in added + removed
    assert row(text, "functions")[0] == "`logWarn`" and row(text, "functions")[2] == "`logInfo` (`operation`)"
    assert row(text, "events")[0] == "`greeted`"
    assert row(text, "workflow settings")[2] == "`dataInputSchema` (`failOnValidationErrors`)"
    added, _, changed = row(text, "properties")
    assert "`greeting.api.url` = `https://greet.example.com`" in added
    assert "`greeting.api.password` (value hidden)" in added
    assert "`quarkus.log.level`: `INFO` → `DEBUG`" in changed
    assert row(text, "secret keys")[0] == "`GREETING_TOKEN`"
    assert row(text, "resource files")[1] == \
        "`schemas/workflow-output-schema.json`, `shared/schemas/workflow-result-schema.json`"
    assert "hunter2sekrit" not in body                      # credential-like property values never shown
    # the diagram of the new flow, added and changed states highlighted
    (diagram,) = re.findall(r"```mermaid\n(.*?)```", text, re.S)
    ids = dict(re.findall(r'state "([^"]*)" as (s\d+)', diagram))
    assert set(ids) == {"ChooseLanguage", "GreetInEnglish", "GreetInSpanish", "GreetInGerman", "Greet"}
    assert "classDef added" in diagram and "classDef changed" in diagram
    assert f"class {ids['GreetInGerman']} added" in diagram
    (changed_line,) = [l for l in diagram.splitlines() if l.strip().startswith("class ") and l.endswith(" changed")]
    assert set(changed_line.split()[1].split(",")) >= {ids["ChooseLanguage"], ids["GreetInEnglish"]}
    assert "Highlighted states: green added, yellow changed. Removed states: `GreetInFrench`." in text
    check_mermaid_blocks(body)
    # the rendered objects: collapsed unified diffs, Secret values never shown
    assert "Rendered objects (Helm, default values" in text
    summaries = re.findall(r"<summary>(.*?)</summary>", text)
    assert any("<code>SonataFlow/greeting</code> changed" in s for s in summaries)
    assert any("<code>Secret/greeting-secrets</code> added" in s for s in summaries)
    assert any("<code>ConfigMap/01-greeting-resources-schemas</code> changed" in s for s in summaries) or \
        any("ConfigMap/" in s and "resources" in s for s in summaries)
    sonataflow = text[text.index("<code>SonataFlow/greeting</code>"):]
    sonataflow = sonataflow[:sonataflow.index("</details>")]
    assert "\n-        greeting: Hello\n+        greeting: Hi\n" in sonataflow
    assert "+    greeting.api.password=(hidden)\n" in text


def test_new_workflow_shows_everything_as_added(hub):
    (result,) = hub.run(["escalation"])
    body = hub.body("chartgen/escalation")
    text = section(body, "escalation")
    assert "New workflow: everything is added." in text
    for title in ("states", "transitions", "functions", "events", "properties", "secret keys", "resource files"):
        added, removed, changed = row(text, title)
        assert added.strip() and not removed.strip() and not changed.strip(), title
    assert "`RequestApproval`" in row(text, "states")[0]
    assert "`JIRA_API_TOKEN`" in row(text, "secret keys")[0]
    assert "`quarkus.openapi-generator.jira_openapi_yaml.auth.basicAuth.password` (value hidden)" in \
        row(text, "properties")[0]
    assert "class " in text and "classDef changed" not in text
    assert "<summary><code>SonataFlow/escalation</code> added:" in text
    assert "/dev/null" in text
    check_mermaid_blocks(body)


def test_unchanged_workflow_says_so(hub):
    hub.run(["greeting"])
    hub.merge("chartgen/greeting")
    flow = hub.flow("greeting")
    flow.write_text(flow.read_text().replace("description: Greets a person", "description: Greets someone"))
    (result,) = hub.run(["greeting"])
    text = section(hub.body("chartgen/greeting"), "greeting")
    assert "No change to the workflow" in text and "| states |" not in text
    assert "```mermaid" in text and "classDef" not in text and "Highlighted" not in text
    assert "<summary><code>SonataFlow/greeting</code> changed: +1 −1 lines</summary>" in text
    assert text.count("<details>") == 1


HOSTILE_STATES = ["a|b", "tick`s``", "<img src=x onerror=alert(1)>", "@octocat", "#123", "%%{init: {}}%%",
                  "[x](https://evil.example)"]


def write_hostile_workflow(hub: Hub) -> None:
    folder = hub.proj / "workflow_sources" / "hostile"
    folder.mkdir()
    states = "".join(f"  - name: {json.dumps(name)}\n    type: inject\n    data: {{}}\n"
                     + (f"    transition: {json.dumps(HOSTILE_STATES[i + 1])}\n" if i + 1 < len(HOSTILE_STATES)
                        else "    end: true\n")
                     for i, name in enumerate(HOSTILE_STATES))
    (folder / "hostile.sw.yaml").write_text(
        "id: hostile\nversion: '1.0'\nspecVersion: '0.8'\nname: hostile\n"
        f"start: {json.dumps(HOSTILE_STATES[0])}\nstates:\n{states}")


def test_hostile_state_names_stay_text_end_to_end(hub):
    write_hostile_workflow(hub)
    hub.run(["hostile"])
    body = hub.body("chartgen/hostile")
    rendered = github_html(body)
    outside = text_outside_code(rendered)
    for bad in ("<img", "@octocat", "#123", "evil.example"):
        assert bad not in outside, bad
    for row_html in re.findall(r"<tr>(.*?)</tr>", rendered, re.S):
        assert len(re.findall(r"<t[hd]>", row_html)) in (3, 4), row_html     # charts/compat tables: 3-4 cells
    assert "`a\\|b`" in row(section(body, "hostile"), "states")[0]
    assert "``` tick`s`` ```" in body
    check_mermaid_blocks(body)


def test_huge_change_stays_under_the_limit(hub):
    folder = hub.proj / "workflow_sources" / "huge"
    (folder / "specs").mkdir(parents=True)
    names = [f"Step{i:04d}WithAFairlyLongStateName" for i in range(1200)]
    states = "".join(f"  - name: {n}\n    type: inject\n    data: {{step: {i}}}\n"
                     + (f"    transition: {names[i + 1]}\n" if i + 1 < len(names) else "    end: true\n")
                     for i, n in enumerate(names))
    (folder / "huge.sw.yaml").write_text("id: huge\nversion: '1.0'\nspecVersion: '0.8'\nname: huge\n"
                                         f"start: {names[0]}\nstates:\n{states}")
    (folder / "specs" / "big.json").write_text(json.dumps({"k%d" % i: "v" * 40 for i in range(8000)}, indent=1))
    hub.run(["huge"])
    body = hub.body("chartgen/huge")
    assert len(body) <= BODY_LIMIT < 65536
    assert "*Shortened to fit GitHub's limit on pull request bodies: " in body
    text = section(body, "huge")
    assert "diff left out to fit" in text and "<code>SonataFlow/huge</code> added" in text
    assert "`Step0000WithAFairlyLongStateName`" in text and "… and 1175 more" in text
    assert body.rstrip().endswith("the next chartgen run replaces its commit._")   # nothing after it was cut
    assert "### Files" in body and "### Compatibility" in body
    check_mermaid_blocks(body)


def test_run_grouping_shows_each_workflow(hub):
    hub.run(["greeting", "escalation"], grouping="run")
    body = hub.body("chartgen/workflows")
    assert "#### `greeting`" in body and "#### `escalation`" in body
    assert len(mermaid_blocks(body)) == 2
    check_mermaid_blocks(body)


OLD_SONATAFLOW = """apiVersion: sonataflow.org/v1alpha08
kind: SonataFlow
metadata:
  name: greeting
  annotations:
    sonataflow.org/version: 0.9.0
spec:
  flow:
    start: ChooseLanguage
    states:
    - name: ChooseLanguage
      type: switch
      dataConditions:
      - name: Spanish
        condition: .language == "Spanish"
        transition: GreetInSpanish
      defaultCondition:
        transition: GreetInEnglish
    - name: GreetInEnglish
      type: inject
      data: {greeting: Hello}
      transition: Greet
    - name: GreetInSpanish
      type: inject
      data: {greeting: Hola}
      transition: Greet
    - name: GreetInKlingon
      type: inject
      data: {greeting: nuqneH}
      transition: Greet
    - name: Greet
      type: operation
      end: true
"""


def test_chart_of_the_old_pipeline_is_compared_through_its_rendered_objects(tmp_path, monkeypatch):
    """A chart chartgen did not write (no files/flow.yaml: the flow is inline in the SonataFlow
    template) is adopted; the review reads the old flow from what it renders."""
    proj = tmp_path / "proj"
    proj.mkdir()
    shutil.copytree(REPO / "workflow_sources", proj / "workflow_sources")
    shutil.copy(REPO / "chartgen.yaml", proj / "chartgen.yaml")
    bare = make_chart_repo(tmp_path, {
        "charts/greeting/Chart.yaml": "apiVersion: v2\nname: greeting\nversion: 0.0.9\n",
        "charts/greeting/templates/04-sonataflow_greeting.yaml": OLD_SONATAFLOW})
    with running_standin(tmp_path, monkeypatch, TOKEN, bare) as (server, url):
        hub = Hub(server, bare, url, proj)
        hub.run(["greeting"])
        text = section(hub.body("chartgen/greeting"), "greeting")
    assert text.startswith("#### `greeting` (0.0.9 → ")
    assert "New workflow" not in text
    added, removed, changed = row(text, "states")
    assert added == "`GreetInFrench`" and removed == "`GreetInKlingon`"
    assert "`Greet`" in changed and "`GreetInEnglish` (`data`)" not in changed   # {greeting: Hello} is the same
    assert "<code>SonataFlow/greeting</code> changed" in text


def test_base_chart_that_does_not_render_is_read_from_its_files(tmp_path, monkeypatch):
    proj = tmp_path / "proj"
    proj.mkdir()
    shutil.copytree(REPO / "workflow_sources", proj / "workflow_sources")
    shutil.copy(REPO / "chartgen.yaml", proj / "chartgen.yaml")
    flow = (REPO / "charts/greeting/files/flow.yaml").read_text().replace("greeting: Hello", "greeting: Howdy")
    bare = make_chart_repo(tmp_path, {
        "charts/greeting/Chart.yaml": "apiVersion: v2\nname: greeting\nversion: 0.0.9\n",
        "charts/greeting/files/flow.yaml": flow,
        "charts/greeting/templates/broken.yaml": "{{ .Values.nothing.here }}\n"})
    with running_standin(tmp_path, monkeypatch, TOKEN, bare) as (server, url):
        hub = Hub(server, bare, url, proj)
        hub.run(["greeting"])
        text = section(hub.body("chartgen/greeting"), "greeting")
    assert "*Rendered objects not compared: the base's chart does not render (`helm cannot render it:" in text
    assert row(text, "states")[2] == "`GreetInEnglish` (`data`)"
