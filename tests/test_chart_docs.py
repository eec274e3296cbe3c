"""What users read: the Mermaid diagram, the README, NOTES.txt."""

from __future__ import annotations

import pytest

from test_chart_generate import FIXTURES, make_config


def test_state_diagram_reads_raw_and_normalised_flows():
    from chartgen.chart.mermaid import state_diagram

    raw = {"start": "Ask \"who\"", "states": [
        {"name": "Ask \"who\"", "type": "switch",
         "dataConditions": [{"name": "Known: yes", "condition": "${ .x }", "transition": "Greet"},
                            {"condition": "${ .y }", "end": True}],
         "defaultCondition": {"transition": {"nextState": "Fail"}}},
        {"name": "Greet", "type": "operation", "transition": "Done",
         "onErrors": [{"errorRef": "timeout", "transition": "Fail"}]},
        {"name": "Done", "type": "inject", "end": {"terminate": True}},
        {"name": "Fail", "type": "inject", "end": True},
    ]}
    text = state_diagram(raw)
    assert text.splitlines() == [
        "stateDiagram-v2",
        '    state "Ask who" as s0',
        '    state "Greet" as s1',
        '    state "Done" as s2',
        '    state "Fail" as s3',
        "    [*] --> s0",
        "    s0 --> s1: Known yes",
        "    s0 --> [*]: condition 2",
        "    s0 --> s3: default",
        "    s1 --> s2",
        "    s1 --> s3: error timeout",
        "    s2 --> [*]",
        "    s3 --> [*]",
    ]
    normalised = dict(raw, start={"stateName": "Ask \"who\""})
    assert state_diagram(normalised) == text


def test_readme_and_notes(tmp_path):
    import helm_python

    from chartgen.chart import generate_chart

    chart = generate_chart(FIXTURES / "braces-flow", make_config(tmp_path)).path
    readme = (chart / "README.md").read_text()
    for expected in ("# braces-flow\n", "![Version: 0.1.0-rc.1]", "## Prerequisites", "## Install",
                     "## Upgrade", "## Values", "## Compatibility", "```mermaid\nstateDiagram-v2",
                     "| 0.1.0-rc.1 | 1.2 | `>=1.36.0 <1.38.0` | `sonataflow.org/v1alpha08` | `>=1.27.0-0` | assessment |",
                     "| persistence.postgresql.serviceRef.databaseSchema | string | `\"braces_flow\"` |",
                     "helm install workflows charts/workflows --namespace sonataflow-infra --set braces-flow.enabled=true"):
        assert expected in readme, expected
    with helm_python.Chart.load(str(chart)) as loaded:
        notes = loaded.render({}, name="r", namespace="team")["braces-flow/templates/NOTES.txt"]
        assert "kubectl wait sonataflow/braces-flow -n team --for=condition=Running" in notes
        assert "http://braces-flow.team.svc/braces-flow" in notes
        assert "Secret values not given in this release" in notes and "API_TOKEN" in notes
        given = loaded.render({"secrets": {"values": {"API_TOKEN": "a", "quarkus.api.password": "b"}}},
                              name="r", namespace="team")["braces-flow/templates/NOTES.txt"]
        assert "not given" not in given
        existing = loaded.render({"secrets": {"existingSecret": "mine"}}, name="r",
                                 namespace="team")["braces-flow/templates/NOTES.txt"]
        assert "existing Secret mine" in existing


def test_readme_with_a_helm_repository_follows_version_bumps(tmp_path):
    from chartgen.chart import bump_version, generate_chart

    config = make_config(tmp_path, "chart:\n  helm_repository: https://charts.example.com\n")
    chart = generate_chart(FIXTURES / "braces-flow", config).path
    readme = (chart / "README.md").read_text()
    assert "helm repo add chartgen https://charts.example.com" in readme
    assert "helm install braces-flow chartgen/braces-flow --version 0.1.0-rc.1 " in readme
    bump_version(chart, "patch", config=config)
    readme = (chart / "README.md").read_text()
    assert "--version 0.1.1 " in readme and "0.1.0-rc.1" not in readme


@pytest.mark.parametrize("count", [3, 5, 12])
def test_umbrella_readme_install_example_enables_a_few_workflows(count):
    """The install example shows at most INSTALL_EXAMPLE_WORKFLOWS `--set` lines (one per
    workflow would be a thousand lines at scale); the table still lists every workflow."""
    from chartgen.chart.compat import CompatRow
    from chartgen.chart.readme import INSTALL_EXAMPLE_WORKFLOWS, umbrella_readme

    rows = [CompatRow(name=f"flow-{i:02d}", version="1.0.0", app_version="1.0.0", workflow_id=f"flow{i}",
                      workflow_type="generic", operator_versions=">=1.36.0", sonataflow_api="sonataflow.org/v1alpha08",
                      kube_version=">=1.27.0-0") for i in range(count)]
    readme = umbrella_readme(name="workflows", description="All.", rows=rows, kube_version=">=1.27.0-0",
                             operator_versions=">=1.36.0", helm_repository="")
    install = readme[readme.index("## Install"):readme.index("## Workflows")]
    shown = min(count, INSTALL_EXAMPLE_WORKFLOWS)
    assert [line.strip() for line in install.splitlines() if line.strip().startswith("--set")] == \
        [f"--set flow-{i:02d}.enabled=true \\" for i in range(shown - 1)] + [f"--set flow-{shown - 1:02d}.enabled=true"]
    assert ("The example enables 5 of the 12 workflows" in install) == (count == 12)
    for i in range(count):
        assert f"| flow-{i:02d}.enabled | bool | `false` |" in readme
