"""`chartgen.yaml`: repository-wide defaults, checked against a schema of its own.

The schema is split by section: `chartgen/data/config/*.json`, one file per section
(each a JSON Schema object with `properties`), merged at load time. Every object is
closed (`additionalProperties: false`), so a misspelt key is an error with its line,
never a silently ignored default. Defaults come from the schema's `default` values.
"""

from __future__ import annotations

import copy
import json
import os
from dataclasses import dataclass, field, replace
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from chartgen.errors import ChartgenError, Finding, UsageError
from chartgen.settings import (BuildSettings, ChartSettings, ImageSettings, PrSettings, PublishSettings,
                               RenderSettings, Settings, ValidateSettings, settings_from_data)

CONFIG_NAME = "chartgen.yaml"


@lru_cache(maxsize=1)
def config_schema() -> dict:
    """The merged JSON Schema for chartgen.yaml."""
    merged: dict = {"type": "object", "additionalProperties": False, "properties": {}}
    folder = resources.files("chartgen") / "data" / "config"
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json"):
            part = json.loads(entry.read_text(encoding="utf-8"))
            for key, value in part.get("properties", {}).items():
                if key in merged["properties"]:
                    raise RuntimeError(f"config key {key!r} defined twice (in {entry.name})")
                merged["properties"][key] = value
    _close_objects(merged)
    return merged


def _close_objects(schema: dict) -> None:
    if schema.get("type") == "object" and "properties" in schema:
        schema.setdefault("additionalProperties", False)
    for value in schema.get("properties", {}).values():
        if isinstance(value, dict):
            _close_objects(value)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            _close_objects(schema[key])


def _apply_defaults(schema: dict, data: Any) -> Any:
    if not isinstance(data, dict) or schema.get("type") != "object":
        return data
    for key, sub in schema.get("properties", {}).items():
        if key not in data and "default" in sub:
            data[key] = copy.deepcopy(sub["default"])
        if key in data:
            data[key] = _apply_defaults(sub, data[key])
    return data


@dataclass(frozen=True)
class Config:
    """Where chartgen.yaml is, and its settings: validated, defaults filled in, typed
    (chartgen.settings). Stages take the section they read: `config.render`, ..."""

    root: Path
    path: Path | None = None
    settings: Settings = field(default_factory=Settings)

    @property
    def build(self) -> BuildSettings:
        return self.settings.build

    @property
    def chart(self) -> ChartSettings:
        return self.settings.chart

    @property
    def image(self) -> ImageSettings:
        return self.settings.image

    @property
    def pr(self) -> PrSettings:
        return self.settings.pr

    @property
    def publish(self) -> PublishSettings:
        return self.settings.publish

    @property
    def render(self) -> RenderSettings:
        return self.settings.render

    @property
    def validate(self) -> ValidateSettings:
        return self.settings.validate

    @property
    def repository(self) -> str:
        return self.settings.repository

    def chart_of(self, workflow: str):
        """The chart (name, folder) of the workflow folder named `workflow` (`workflows:`)."""
        return self.settings.chart_of(workflow)

    def resolve(self, relative: str) -> Path:
        path = Path(relative)
        return path if path.is_absolute() else self.root / path

    @property
    def sources_dir(self) -> Path:
        return self.resolve(self.settings.sources)

    @property
    def shared_dir(self) -> Path:
        return self.resolve(self.settings.shared)

    @property
    def charts_dir(self) -> Path:
        return self.resolve(self.settings.charts)

    @property
    def dist_dir(self) -> Path:
        return self.resolve(self.settings.dist)

    @property
    def limits(self):
        """Bounds on what chartgen reads (`limits:`), as a chartgen.limits.Limits."""
        return self.settings.limits

    def with_overrides(self, **values: Any) -> "Config":
        """The same configuration with some settings replaced (command-line values): a
        top-level path or `repository` as text, a section as its typed value
        (`build=replace(config.build, parallelism=4)`); None leaves a setting as it is."""
        return Config(self.root, self.path, replace(self.settings, **{k: v for k, v in values.items()
                                                                        if v is not None}))


def _config(root: Path, path: Path | None, data: dict) -> Config:
    return Config(root, path, settings_from_data(data, root))


def find_config(start: Path | None = None) -> Path | None:
    """The nearest chartgen.yaml in `start` or its parents."""
    here = Path(start or os.getcwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / CONFIG_NAME
        if candidate.is_file():
            return candidate
    return None


def parse_config(text: str, path: str, root: Path) -> Config:
    """Validate the text of a chartgen.yaml; every problem is a finding with its line."""
    from chartgen.yamlio import load_document

    try:
        document = load_document(text, path)
    except ChartgenError as exc:  # a broken chartgen.yaml is bad usage (exit 2), like a bad setting
        raise UsageError(findings=exc.findings) from None
    data = document.data if document.data is not None else {}
    errors = [f for f in document.findings if f.is_error]
    if not isinstance(data, dict):
        raise UsageError("chartgen.yaml must be a mapping of settings", path=path, line=1, code="config-type")
    schema = config_schema()
    token = _validation_token(text, schema)
    if not _validated_before(token):
        errors.extend(_schema_errors(data, schema, document, path))
        if not errors:
            _remember_valid(token)
    errors.extend(_outside_repository(data, document, path, root))
    if errors:
        raise UsageError(findings=errors)
    return _config(root, Path(path), _apply_defaults(schema, data))


# chartgen.yaml texts found valid before, by hash, in the user's cache folder (never the
# repository's, whose content anyone may write): importing jsonschema is a third of the
# time of a build with nothing to do.
def _validation_token(text: str, schema: dict) -> str:
    import hashlib

    from chartgen import __version__

    digest = hashlib.sha256(f"{__version__}\0".encode())
    digest.update(json.dumps(schema, sort_keys=True).encode() + b"\0" + text.encode("utf-8"))
    return digest.hexdigest()


def _memo_dir() -> Path | None:
    from chartgen.fsutil import user_cache_dir

    return user_cache_dir("valid-configs")


def _validated_before(token: str) -> bool:
    folder = _memo_dir()
    return folder is not None and (folder / token).is_file()


def _remember_valid(token: str) -> None:
    folder = _memo_dir()
    if folder is None:
        return
    try:
        (folder / token).touch()
    except OSError:
        pass    # an unwritable cache only costs the next validation


def _schema_errors(data: dict, schema: dict, document, path: str) -> list[Finding]:
    import jsonschema

    errors: list[Finding] = []
    validator = jsonschema.Draft7Validator(schema)
    for error in sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path))):
        pointer = tuple(error.absolute_path)
        line, col = document.where(pointer)
        if error.validator == "additionalProperties":
            extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
            for key in extra:
                kline, kcol = document.where_key(pointer + (key,))
                known = ", ".join(sorted(error.schema.get("properties", {})))
                errors.append(Finding(path, kline, kcol, "error",
                                      f"unknown setting {'.'.join(map(str, pointer + (key,)))!r} "
                                      f"(known here: {known})", "config-unknown-key"))
            continue
        where = ".".join(map(str, pointer)) or "chartgen.yaml"
        errors.append(Finding(path, line, col, "error", f"{where}: {error.message}", "config-invalid"))
    return errors


# Folders chartgen reads workflow content from: they must stay inside the repository, or
# `sources: ../../..` walks (and hashes, and reads every file of) the whole file system.
_INSIDE_KEYS = ("sources", "shared")


def _outside_repository(data: dict, document, path: str, root: Path) -> list[Finding]:
    from chartgen.fsutil import is_inside

    found = []
    for key in _INSIDE_KEYS:
        value = data.get(key)
        if not isinstance(value, str) or is_inside(Path(root) / value, Path(root)):
            continue
        line, col = document.where((key,))
        found.append(Finding(path, line, col, "error",
                             f"{key}: {value!r} resolves to {os.path.realpath(Path(root) / value)}, outside the "
                             f"repository ({os.path.realpath(root)}, the folder of chartgen.yaml); chartgen reads "
                             "workflow content only from inside it", "config-outside-repository"))
    return found


def load_config(path: Path | str | None = None, *, start: Path | None = None) -> Config:
    """Load chartgen.yaml (explicit path, or found upwards from `start`), or defaults."""
    if path is not None:
        config_path = Path(path)
        if not config_path.is_file():
            raise UsageError(f"configuration file {config_path} does not exist", path=config_path,
                             code="config-missing")
    else:
        config_path = find_config(start)
    if config_path is None:
        root = Path(start or os.getcwd()).resolve()
        return _config(root, None, _apply_defaults(config_schema(), {}))
    from chartgen.limits import DEFAULT, read_file

    try:
        text = read_file(config_path, limit=DEFAULT.max_file_size).decode("utf-8")
    except ChartgenError as exc:  # not a regular file, too large, a symlink loop
        raise UsageError(findings=exc.findings) from None
    except UnicodeDecodeError as exc:
        raise UsageError(f"cannot read configuration: {exc}", path=config_path, code="config-unreadable") from None
    return parse_config(text, str(config_path), config_path.resolve().parent)


def default_config(root: Path) -> Config:
    return _config(Path(root), None, _apply_defaults(config_schema(), {}))
