"""chartgen.yaml as typed settings: parsed once, defaults from the schema, typed overrides."""

from __future__ import annotations

from dataclasses import FrozenInstanceError, fields, replace
from pathlib import Path

import pytest

from chartgen.config import _apply_defaults, config_schema, default_config, load_config
from chartgen.settings import PersistenceSettings, Settings, settings_from_data


def test_dataclass_defaults_are_the_schema_defaults():
    """A section built by hand means what an empty chartgen.yaml means."""
    assert settings_from_data(_apply_defaults(config_schema(), {})) == Settings()


def test_every_schema_key_has_a_field():
    def keys(cls, prefix=""):
        found = set()
        for item in fields(cls):
            if item.metadata.get("derived"):
                continue
            key = item.metadata.get("key", item.name)
            if "section" in item.metadata:
                found |= {f"{prefix}{key}.{k}" for k in keys(item.metadata["section"])}
            else:
                found.add(prefix + key)
        return found

    def schema_keys(schema, prefix=""):
        found = set()
        for key, sub in schema.get("properties", {}).items():
            if sub.get("type") == "object" and "properties" in sub:
                found |= schema_keys(sub, f"{prefix}{key}.")
            else:
                found.add(prefix + key)
        return found

    assert keys(Settings) == schema_keys(config_schema())


def test_sections_are_typed_and_frozen(tmp_path: Path):
    (tmp_path / "chartgen.yaml").write_text(
        "repository: https://github.com/acme/flows\n"
        "chart:\n  umbrella: {name: all}\n  maintainers: [{name: Ann, email: ann@example.com}]\n"
        "  extras: {mta: ['crds/*.yaml']}\n"
        "image: {registry: 'quay.io/acme/', logDir: logs, retryDelay: 1}\n"
        "render: {labels: {team: b, app: a}, persistence: {enabled: true, port: 6543}}\n"
        "pr: {layout: [umbrella], commit: {name: bot}}\n"
        "validate: {jq_functions: [myfunc/1]}\n", encoding="utf-8")
    config = load_config(start=tmp_path)
    assert config.chart.umbrella_name == "all" and config.chart.source_repository == config.repository
    assert config.chart.homepage == "https://github.com/acme/flows"
    assert config.chart.maintainer_list() == [{"email": "ann@example.com", "name": "Ann"}]
    assert config.chart.extras_for("mta") == ("crds/*.yaml",)
    assert config.image.registry == "quay.io/acme" and config.image.log_dir == tmp_path / "logs"
    assert config.image.retry_delay == 1.0 and isinstance(config.image.retry_delay, float)
    assert config.render.labels == (("team", "b"), ("app", "a"))           # file order
    assert config.render.persistence_enabled and config.render.persistence == PersistenceSettings(port=6543)
    assert config.pr.layout == ("umbrella",) and config.pr.commit.name == "bot"
    assert config.pr.commit.email == "chartgen@users.noreply.github.com"
    assert config.validate.jq_functions == ("myfunc/1",)
    with pytest.raises(FrozenInstanceError):
        config.pr.base = "other"  # type: ignore[misc]


def test_overrides_are_typed_and_reach_derived_values(tmp_path: Path):
    config = default_config(tmp_path)
    changed = config.with_overrides(repository="https://example.com/r", charts="out", build=None,
                                    pr=replace(config.pr, base="develop"))
    assert changed.charts_dir == tmp_path / "out" and changed.pr.base == "develop"
    assert changed.chart.source_repository == "https://example.com/r"       # follows `repository`
    assert changed.build == config.build                                    # None: unchanged
    assert config.pr.base == "main" and config.charts_dir == tmp_path / "charts"   # original untouched
    with pytest.raises(TypeError):
        config.with_overrides(no_such_setting="x")


def test_to_data_is_plain_json():
    import json

    data = Settings().to_data()
    assert json.loads(json.dumps(data)) == data
    assert data["pr"]["commit"] == {"name": "chartgen", "email": "chartgen@users.noreply.github.com"}
