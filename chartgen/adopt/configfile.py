"""Writing what adoption found into chartgen.yaml, keeping everything else as written.

ruamel.yaml's round-trip mode keeps comments, key order and quoting (as `chartgen version`
does for Chart.yaml). Settings the user wrote win: a `workflows:` entry is never replaced, a
version floor only goes up, a setting such as `pr.configRepo` is only filled in when empty.
The result is checked against the schema before the file is replaced (atomically).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Mapping

from chartgen.errors import ChartgenError, UsageError
from chartgen.repo.versions import is_newer

COMMENTS = {
    "workflows": "The chart each workflow folder continues in the chart repository, where it is not the\n"
                 "folder's own name (written by `chartgen adopt`).",
    "versionFloors": "The newest version of each chart published before chartgen (written by `chartgen adopt`):\n"
                     "chart versions always go above these.",
}


def _editor():
    from ruamel.yaml import YAML

    editor = YAML()
    editor.preserve_quotes = True
    editor.width = 1 << 30
    editor.indent(mapping=2, sequence=4, offset=2)
    return editor


def update_settings_text(text: str, *, mapping: Mapping[str, Mapping[str, str]] = {},
                         floors: Mapping[str, str] = {}, fill: Mapping[tuple[str, str], str] = {},
                         path: str = "chartgen.yaml") -> tuple[str, list[str]]:
    """chartgen.yaml text with `mapping` (workflow folder -> {chart, folder}) added where the
    file has no entry for that folder, `floors` (chart -> version) raised where higher, and
    each `fill` setting ((section, key) -> value) set where empty. Returns the new text and
    what changed, as short phrases."""
    from ruamel.yaml.comments import CommentedMap
    from ruamel.yaml.error import YAMLError

    from chartgen.yamlio import check_yaml

    check_yaml(text, path)
    editor = _editor()
    try:
        data = editor.load(text) if text.strip() else CommentedMap()
    except YAMLError as exc:
        raise UsageError(f"chartgen.yaml is not valid YAML: {exc}", path=path, code="config-invalid") from None
    if data is None:
        data = CommentedMap()
    if not isinstance(data, dict):
        raise UsageError("chartgen.yaml must be a mapping of settings", path=path, line=1, code="config-type")
    changes: list[str] = []

    def section(key: str) -> dict:
        if not isinstance(data.get(key), dict):
            data[key] = CommentedMap()
            if key in COMMENTS:
                data.yaml_set_comment_before_after_key(key, before="\n" + COMMENTS[key])
        return data[key]

    for (name, key), value in fill.items():
        if value and not (isinstance(data.get(name), dict) and data[name].get(key)):
            section(name)[key] = value
            changes.append(f"{name}.{key}")
    added = [folder for folder in sorted(mapping) if folder not in (data.get("workflows") or {})]
    for folder in added:
        entry = CommentedMap(mapping[folder])
        entry.fa.set_flow_style()
        section("workflows")[folder] = entry
    if added:
        changes.append(f"workflows ({len(added)})")
    raised = 0
    for chart in sorted(floors):
        current = (data.get("versionFloors") or {}).get(chart)
        if current is None or is_newer(floors[chart], str(current)):
            section("versionFloors")[chart] = floors[chart]
            raised += 1
    if raised:
        changes.append(f"versionFloors ({raised})")
    if not changes:
        return text, []
    out = io.StringIO()
    editor.dump(data, out)
    return out.getvalue(), changes


def update_settings_file(config_path: Path, **changes) -> list[str]:
    """Apply `update_settings_text` to the file, checked against the schema first; nothing is
    written when nothing changes."""
    from chartgen.config import parse_config
    from chartgen.fsutil import write_atomic
    from chartgen.limits import DEFAULT, read_file

    config_path = Path(config_path)
    try:
        text = read_file(config_path, limit=DEFAULT.max_file_size).decode("utf-8")
    except (ChartgenError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {config_path}: {exc}", path=config_path, code="config-unreadable") from None
    new, done = update_settings_text(text, path=str(config_path), **changes)
    if done:
        parse_config(new, str(config_path), config_path.resolve().parent)   # never write a file chartgen refuses
        write_atomic(config_path, new)
    return done
