"""values.schema.json: draft-07, closed objects, wrong types fail in Helm before anything renders."""

from __future__ import annotations

import json

import pytest

from test_chart_generate import FIXTURES, make_config


@pytest.fixture(scope="module")
def chart(tmp_path_factory):
    from chartgen.chart import generate_chart

    root = tmp_path_factory.mktemp("schema")
    return generate_chart(FIXTURES / "braces-flow", make_config(root)).path


def _helm_validate(chart_dir, set_expression: str):
    import helm_python

    with helm_python.Chart.load(str(chart_dir)) as loaded:
        values = helm_python.parse_set_string(set_expression)
        loaded.validate_schema(loaded.merge_values(values))
        return loaded.render(values, name="r", namespace="n")


def test_schema_is_draft7_and_accepts_the_defaults(chart):
    import jsonschema

    from chartgen.yamlio import load_data

    schema = json.loads((chart / "values.schema.json").read_text())
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    jsonschema.Draft7Validator.check_schema(schema)
    jsonschema.Draft7Validator(schema).validate(load_data((chart / "values.yaml").read_text()))
    assert schema["additionalProperties"] is False
    assert schema["properties"]["image"]["additionalProperties"] is False


@pytest.mark.parametrize("expression", [
    "image.tag=1",                                   # the classic: an int where a string is needed
    "imag.tag=v1",                                   # misspelt key
    "replicas=two",
    "profile=prod",
    "persistence.enabled=yes-please",
    "persistence.postgresql.serviceRef.port=not-a-port",
    "secrets.values.UNKNOWN_KEY=x",
    "image.pullPolicy=Sometimes",
    "labels.team=1",
])
def test_helm_rejects_wrong_values_early(chart, expression):
    import helm_python

    with pytest.raises(helm_python.HelmError):
        _helm_validate(chart, expression)


@pytest.mark.parametrize("expression", [
    "image.tag=v1",
    "replicas=0",
    "profile=preview",
    "persistence.enabled=true",
    "secrets.existingSecret=mine",
    "global.anything=1",
    "properties.my\\.port=8080",
])
def test_helm_accepts_good_values(chart, expression):
    assert _helm_validate(chart, expression)
