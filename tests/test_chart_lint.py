"""`chartgen lint`: helm lint --strict, yamllint (chart-testing rules), chart-testing checks."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from conftest import need_tool
from test_chart_generate import FIXTURES, make_config


@pytest.fixture
def chart(tmp_path):
    from chartgen.chart import generate_chart

    config = make_config(tmp_path)
    result = generate_chart(FIXTURES / "braces-flow", config)
    return result.path, config


def codes(findings):
    return sorted({f.code for f in findings})


def test_generated_chart_is_clean(chart):
    from chartgen.chart import lint_charts

    path, config = chart
    assert lint_charts([path], config, since=None) == ()


def test_yamllint_uses_chart_testing_rules(chart):
    from chartgen.chart import lint_charts

    path, config = chart
    values = path / "values.yaml"
    text = values.read_text()
    line = text[:text.index("profile: gitops")].count("\n") + 1
    values.write_text(text.replace("profile: gitops", "profile:  gitops  #no space"))
    findings = lint_charts([path], config, since=None)
    yamllint = [f for f in findings if f.code == "yamllint"]
    assert {f.line for f in yamllint} == {line}
    messages = " ".join(f.message for f in yamllint)
    assert "colons" in messages and "comments" in messages and "trailing-spaces" not in messages
    assert all(f.path.endswith("values.yaml") for f in yamllint)


@pytest.mark.parametrize("text", [
    "a: 1\nb:  2   \n",
    "a: [1, 2\nb: 3\n",                       # syntax error
    "key: value\nkey: other\n\n\n\n",
    "list:\n- a\n-  b\n# comment\nc: {x: 1}\nd: yes\n",
    "a:\n  b: 1\n   c: 2\n",                  # syntax error after a cosmetic problem
    "# yamllint disable-file\na:  1\n",
])
def test_yamllint_problems_match_yamllint(text):
    from yamllint import linter

    from chartgen.chart.lint import _yamllint_config, _yamllint_problems, yamllint_config_path

    conf = _yamllint_config(yamllint_config_path(None))
    mine = [(p.line, p.column, p.level, p.message) for p in _yamllint_problems(text, conf, "values.yaml")]
    theirs = [(p.line, p.column, p.level, p.message) for p in linter.run(text, conf, "values.yaml")]
    assert mine == theirs


def test_chart_yaml_fields_are_checked(chart):
    from chartgen.chart import lint_charts

    path, config = chart
    text = (path / "Chart.yaml").read_text()
    (path / "Chart.yaml").write_text(text.replace("name: braces-flow", "name: other-name")
                                     + "maintainers:\n- email: a@example.com\n")
    findings = lint_charts([path], config, since=None)
    assert {"chart-dir-name", "chart-yaml"} <= set(codes(findings))
    missing = [f for f in findings if f.code == "chart-yaml"]
    assert any("'name' is a required property" in f.message and f.line > 1 for f in missing)


def test_helm_lint_strict_failures_are_errors(chart):
    from chartgen.chart import lint_charts

    path, config = chart
    (path / "templates" / "broken.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n"
                                                     "  name: {{ .Values.nope.deeper }}\n")
    findings = lint_charts([path], config, since=None)
    assert "helm-lint" in codes(findings)
    assert all(f.is_error for f in findings if f.code == "helm-lint")


def test_ci_values_files_are_linted_too(chart):
    """chart-testing runs helm lint once per ci/*-values.yaml; so does chartgen lint."""
    from chartgen.chart import lint_charts

    path, config = chart
    (path / "ci").mkdir(exist_ok=True)
    (path / "ci" / "persistence-values.yaml").write_text("persistence:\n  enabled: true\n")
    assert lint_charts([path], config, since=None) == ()
    (path / "ci" / "wrong-values.yaml").write_text("replicas: many\n")
    findings = lint_charts([path], config, since=None)
    assert findings and all("with ci/wrong-values.yaml" in f.message for f in findings if f.code == "helm-lint")


def test_duplicate_objects_are_found(chart):
    """The old PR script left 04-sonataflow_x.yaml and 05-sonataflow_x.yaml side by side."""
    from chartgen.chart import lint_charts

    path, config = chart
    original = path / "templates" / "05-sonataflow_braces-flow.yaml"
    shutil.copy(original, path / "templates" / "06-sonataflow_braces-flow.yaml")
    findings = lint_charts([path], config, since=None)
    duplicates = [f for f in findings if f.code == "duplicate-object"]
    assert len(duplicates) == 1 and "SonataFlow 'braces-flow'" in duplicates[0].message


def test_only_untouched_charts_skip_the_render(chart):
    from chartgen.chart import bump_version
    from chartgen.chart.lint import generated_objects

    path, config = chart
    assert generated_objects(path, config) is not None
    bump_version(path, "minor", config=config)          # chartgen's own edit keeps the hash valid
    assert generated_objects(path, config) is not None
    values = path / "values.yaml"
    values.write_text(values.read_text() + "# a hand edit\n")
    assert generated_objects(path, config) is None


def test_values_schema_must_be_a_valid_schema(chart):
    from chartgen.chart import lint_charts

    path, config = chart
    (path / "values.schema.json").write_text('{"type": "no-such-type"}')
    assert "helm-lint" in codes(lint_charts([path], config, since=None))   # Helm checks the metaschema
    (path / "values.schema.json").write_text('{"$schema": "https://json-schema.org/draft/2020-12/schema"}')
    assert "values-schema" in codes(lint_charts([path], config, since=None))  # Helm < 3.18.5 cannot read it


def test_umbrella_finds_the_same_object_in_two_workflow_charts(tmp_path):
    """Two folders with the same workflow id would fight over one SonataFlow in a namespace."""
    from chartgen.chart import generate_charts, lint_charts

    for name in ("one", "two"):
        shutil.copytree(FIXTURES / "braces-flow", tmp_path / "workflows" / name)
    config = make_config(tmp_path)
    generate_charts([tmp_path / "workflows" / "one", tmp_path / "workflows" / "two"], config)
    charts = sorted(p for p in (tmp_path / "charts").iterdir() if p.is_dir())
    findings = lint_charts(charts, config, since=None)
    duplicates = [f for f in findings if f.code == "duplicate-object"]
    assert duplicates and all("workflows/charts/" in f.path for f in duplicates)
    assert {f.message.split("'")[1] for f in duplicates} >= {"braces-flow", "braces-flow-props"}
    alone = lint_charts([tmp_path / "charts" / "workflows"], config, since=None)   # renders the umbrella itself
    assert {f.code for f in alone} == {"duplicate-object"}


def _git(cwd, *args):
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.com", "HOME": str(cwd), "PATH": "/usr/bin:/bin"}
    subprocess.run(["git", *args], cwd=cwd, check=True, env=env, capture_output=True)


def test_version_increment_against_git(chart, tmp_path):
    from chartgen.chart import bump_version, lint_charts
    from chartgen.chart.versioning import set_chart_version

    need_tool("git")
    path, config = chart
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-qm", "charts")
    assert lint_charts([path], config) == ()
    # a hand edit without a bump: ct's "Needs a version bump!"
    (path / "files" / "application.properties").write_text("changed=1\n")
    assert codes(lint_charts([path], config)) == ["version-not-bumped"]
    bump_version(path, "prerelease", config=config)
    assert lint_charts([path], config) == ()
    # a version below the committed one
    chart_yaml = path / "Chart.yaml"
    chart_yaml.write_text(set_chart_version(chart_yaml.read_text(), "0.0.1"))
    assert "version-decreased" in codes(lint_charts([path], config))


def test_lint_cli_reports_and_exits_1(chart):
    from click.testing import CliRunner

    from chartgen.cli import cli

    path, _ = chart
    shutil.copy(path / "templates" / "05-sonataflow_braces-flow.yaml", path / "templates" / "99-copy.yaml")
    runner = CliRunner()
    result = runner.invoke(cli, ["--config", str(path.parent.parent / "chartgen.yaml"), "lint", "--no-git",
                                 str(path)])
    assert result.exit_code == 1
    assert "99-copy.yaml: error: SonataFlow 'braces-flow' is also rendered by" in result.output
    assert "[duplicate-object]" in result.output


@pytest.mark.parametrize("document, identity", [
    ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  namespace: \"ns\"\ndata:\n  x: |\n    kind: Fake\n",
     ("ConfigMap", "ns", "a")),
    ("# Source: c/templates/x.yaml\nkind: Secret\nmetadata:\n  labels:\n    name: not-this\n  name: 'b'\n",
     ("Secret", "", "b")),
    ("{kind: Service, metadata: {name: c, namespace: d}}\n", ("Service", "d", "c")),
    ("kind: Thing\nmetadata:\n  name: \"with space\"\n", ("Thing", "", "with space")),
    ("# only a comment\n", None),
])
def test_rendered_object_identity(document, identity):
    from chartgen.chart.objects import object_identity

    assert object_identity(document) == identity


def test_chart_yaml_dependency_errors_at_their_own_index(tmp_path):
    """Plain dependency entries skip the schema (an umbrella has a thousand); the others are
    judged as before, at their own index and line."""
    import jsonschema

    from chartgen.chart.lint import CHART_YAML_SCHEMA, check_chart_yaml
    from chartgen.yamlio import load_document

    chart = tmp_path / "demo"
    chart.mkdir()
    entries = [f"- name: flow-{i}\n  version: 1.0.{i}\n  condition: flow-{i}.enabled\n" for i in range(12)]
    entries[3] = "- name: flow-3\n  version: 1.0.3\n  enabled: maybe\n"
    entries[7] = "- version: 1.0.7\n  extra: 1\n"
    entries[9] = "- name: 9\n"
    entries[10] = "- just text\n"
    text = "apiVersion: v2\nname: demo\nversion: 1.0.0\ndependencies:\n" + "".join(entries) + "sources: nope\n"
    (chart / "Chart.yaml").write_text(text)
    document = load_document(text.encode(), "Chart.yaml")
    expected = []
    for error in jsonschema.Draft7Validator(CHART_YAML_SCHEMA).iter_errors(document.data):
        line, _ = document.where(tuple(error.absolute_path))
        expected.append((line, f"{'.'.join(map(str, error.absolute_path))}: {error.message}"))
    found = [(f.line, f.message) for f in check_chart_yaml(chart) if f.code == "chart-yaml"]
    assert sorted(found) == sorted(expected) and len(found) >= 5
    assert {message.split(":")[0] for _, message in found} >= {"dependencies.3.enabled", "dependencies.7",
                                                               "dependencies.9.name", "dependencies.10", "sources"}
