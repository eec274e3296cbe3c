"""`chartgen lint`: real Helm (`helm lint --strict` through helm-python-sdk), yamllint with
chart-testing's rules, and the chart-testing checks that make sense without a cluster:

- Chart.yaml fields (ct's yamale schema `etc/chart_schema.yaml`, as JSON Schema),
- chart folder name = chart name,
- version increment against git (`--since`, default HEAD): a chart whose files differ from
  that revision needs a higher version, and a version never goes down,
- no two objects of the same kind and name (the copy-without-delete bug of the old pipeline),
- values.schema.json is itself a valid draft-07 schema.

ct's maintainer check (names must be GitHub accounts) needs the network and is left out;
maintainers stay optional.
"""

from __future__ import annotations

import fnmatch
import os
import re
import subprocess
from functools import lru_cache
from pathlib import Path
from typing import Iterable

from chartgen.chart.objects import check_duplicates, dependency_values, display_path, rendered_objects, unquote
from chartgen.errors import ERROR, WARNING, Finding, UsageError, did_you_mean

_STR = {"type": "string"}
_STR_LIST = {"type": "array", "items": _STR}
CHART_YAML_SCHEMA = {
    "type": "object",
    "required": ["name", "version", "apiVersion"],
    "additionalProperties": False,
    "properties": {
        "name": _STR, "version": _STR, "apiVersion": _STR, "home": _STR,
        "appVersion": {"type": ["string", "number"]}, "description": _STR, "keywords": _STR_LIST,
        "sources": _STR_LIST, "icon": _STR, "engine": _STR, "condition": _STR, "tags": _STR,
        "deprecated": {"type": "boolean"}, "kubeVersion": _STR, "type": _STR,
        "annotations": {"type": "object", "additionalProperties": _STR},
        "maintainers": {"type": "array", "items": {
            "type": "object", "required": ["name"], "additionalProperties": False,
            "properties": {"name": _STR, "email": _STR, "url": _STR}}},
        "dependencies": {"type": "array", "items": {
            "type": "object", "required": ["name"], "additionalProperties": False,
            "properties": {"name": _STR, "version": _STR, "repository": _STR, "condition": _STR,
                           "tags": _STR_LIST, "enabled": {"type": "boolean"},
                           "import-values": {"type": "array"}, "alias": _STR}}},
    },
}
YAMLLINT_FILES = ("Chart.yaml", "values.yaml")


@lru_cache(maxsize=4)
def _yamllint_config(path: str):
    from yamllint.config import YamlLintConfig, YamlLintConfigError

    try:
        return YamlLintConfig(file=path)
    except (YamlLintConfigError, OSError) as exc:
        raise UsageError(f"cannot read the yamllint configuration: {exc}", path=path, code="yamllint-config") from None


def yamllint_config_path(config) -> str:
    from importlib import resources

    configured = config.chart.yamllint_config if config is not None else ""
    if configured:
        return str(config.resolve(configured))
    return str(resources.files("chartgen") / "data" / "yamllint.yaml")


def check_chart_yaml(chart_dir: Path) -> list[Finding]:
    import jsonschema

    from chartgen.errors import ChartgenError
    from chartgen.yamlio import load_document

    path = chart_dir / "Chart.yaml"
    display = display_path(path)
    try:
        document = load_document(path.read_bytes(), display)
    except OSError:
        return [Finding(display_path(chart_dir), 0, 0, ERROR, "no Chart.yaml: not a chart", "no-chart-yaml")]
    except ChartgenError as exc:
        return list(exc.findings)
    findings = [f for f in document.findings if f.is_error]
    data = document.data
    if not isinstance(data, dict):
        return findings + [Finding(display, 1, 1, ERROR, "Chart.yaml must be a mapping", "chart-yaml")]
    validator = jsonschema.Draft7Validator(CHART_YAML_SCHEMA)
    checked, indexes = data, None
    dependencies = data.get("dependencies")
    if isinstance(dependencies, list):
        # An entry of only known keys with text values has no error (an umbrella has a thousand):
        # the schema judges the others, at their own index.
        indexes = [i for i, entry in enumerate(dependencies) if not _plain_dependency(entry)]
        checked = {**data, "dependencies": [dependencies[i] for i in indexes]}
    for error in validator.iter_errors(checked):
        path = list(error.absolute_path)
        if indexes is not None and path[:1] == ["dependencies"] and len(path) > 1:
            path[1] = indexes[path[1]]
        line, col = document.where(tuple(path))
        where = ".".join(map(str, path)) or "Chart.yaml"
        findings.append(Finding(display, line, col, ERROR, f"{where}: {error.message}", "chart-yaml"))
    name = data.get("name")
    if isinstance(name, str) and name != chart_dir.resolve().name:
        line, col = document.where(("name",))
        findings.append(Finding(display, line, col, ERROR,
                                f"chart name {name!r} differs from its folder {chart_dir.resolve().name!r} "
                                "(chart-testing and Helm repositories expect them equal)", "chart-dir-name"))
    return findings


_TEXT_DEPENDENCY_KEYS = frozenset(key for key, value in CHART_YAML_SCHEMA["properties"]["dependencies"]["items"]
                                  ["properties"].items() if value == _STR)


def _plain_dependency(entry) -> bool:
    """A dependency entry CHART_YAML_SCHEMA accepts: a `name`, and only keys of text values."""
    return isinstance(entry, dict) and "name" in entry and \
        all(key in _TEXT_DEPENDENCY_KEYS and isinstance(value, str) for key, value in entry.items())


def _yamllint_problems(text: str, conf, path: str):
    """yamllint's problems for `text`, as `yamllint.linter.run` gives them, but the syntax check
    first runs libyaml's C parser (the same YAML 1.1 grammar): PyYAML's pure-Python parse is
    most of yamllint's time on short files, and only a file that fails is parsed again by it."""
    import yaml
    from yamllint import linter

    if conf.is_file_ignored(path):
        return []
    if not hasattr(linter, "get_cosmetic_problems") or re.match(r"^#\s*yamllint disable-file\s*$",
                                                                  text.split("\n", 1)[0]):
        return list(linter.run(text, conf, path))
    syntax = None
    try:
        for _ in yaml.parse(text, Loader=yaml.CBaseLoader):
            pass
    except yaml.YAMLError:
        syntax = linter.get_syntax_error(text)   # the rare bad file: yamllint's own words
    problems = []
    for problem in linter.get_cosmetic_problems(text, conf, path):
        if syntax and syntax.line <= problem.line and syntax.column <= problem.column:
            problems.append(syntax)   # as yamllint: the syntax error replaces the problem at its place
            syntax = None
            continue
        problems.append(problem)
    if syntax:
        problems.append(syntax)
    return problems


def _text_findings(text: str, conf, path: Path, display: str) -> list[Finding]:
    return [Finding(display, problem.line, problem.column, ERROR if problem.level == "error" else WARNING,
                    f"{problem.desc} ({problem.rule})", "yamllint")
            for problem in _yamllint_problems(text, conf, str(path))]


def _memo_findings(text: str, conf, path: Path, display: str, memo) -> list[Finding]:
    known = memo.get(text, display)
    if known is None:
        known = _text_findings(text, conf, path, display)
        memo.put(text, display, known)
    return known


def _split_findings(text: str, conf, path: Path, display: str, memo, **cut) -> list[Finding] | None:
    """yamllint's findings for a Chart.yaml with a long dependency list, from its pieces (see
    `chartgen.chart.yamlsplit`: the same findings as of the whole file), each piece's kept in
    `memo`; None when the file is not cut or a piece has a syntax error."""
    from dataclasses import replace

    from chartgen.chart.yamlsplit import pieces

    parts = pieces(text, **cut)
    if parts is None:
        return None
    findings = []
    for piece in parts:
        mine = _memo_findings(piece.text, conf, path, display, memo)
        if any(f.message.startswith("syntax error") for f in mine):
            return None     # the whole file's syntax error also ends its token checks there
        findings += [replace(f, line=line) for f in mine if (line := piece.file_line(f.line)) is not None]
    return sorted(findings, key=lambda f: (f.line, f.column))


def run_yamllint(chart_dir: Path, config, memo=None) -> list[Finding]:
    """yamllint's findings for the YAML files of a chart. `memo` (optional): a store with
    `get(text, path)` / `put(text, path, findings)` of each file's findings by its content (the
    umbrella's files at scale: one changed workflow leaves most of them as they were), also of
    the pieces of a Chart.yaml with a long dependency list."""
    conf = _yamllint_config(yamllint_config_path(config))
    findings = []
    files = [chart_dir / name for name in YAMLLINT_FILES]
    files += sorted((chart_dir / "ci").glob("*-values.yaml"))
    for path in files:
        if not path.is_file():
            continue
        display = display_path(path)
        text = path.read_text(encoding="utf-8")
        if memo is None:
            findings += _text_findings(text, conf, path, display)
            continue
        known = memo.get(text, display)
        if known is None:
            known = _split_findings(text, conf, path, display, memo) if path.name == "Chart.yaml" else None
            if known is None:
                known = _text_findings(text, conf, path, display)
            memo.put(text, display, known)
        findings += known
    return findings


def run_helm_lint(chart_dir: Path, ci_values: bool = True) -> list[Finding]:
    """`helm lint --strict`, once with the chart's values and, as chart-testing does, once per
    `ci/*-values.yaml` file (unless `ci_values` is false)."""
    import helm_python

    from chartgen.errors import ChartgenError
    from chartgen.yamlio import load_data

    runs: list[tuple[str, dict | None]] = [("", None)]
    for values_file in sorted((chart_dir / "ci").glob("*-values.yaml")) if ci_values else ():
        try:
            values = load_data(values_file.read_bytes(), str(values_file)) or {}
        except ChartgenError as exc:
            return list(exc.findings)
        if values:   # no values: the first run already is that run
            runs.append((f" (with {values_file.relative_to(chart_dir).as_posix()})", values))
    findings = []
    for label, values in runs:
        try:
            report = helm_python.lint(str(chart_dir), values, strict=True)
        except helm_python.HelmError as exc:
            findings.append(Finding(display_path(chart_dir), 0, 0, ERROR, f"helm lint{label}: {exc}", "helm-lint"))
            continue
        for message in report.get("messages", []):
            if message.get("severity", 0) < 2:
                continue  # INFO (e.g. "icon is recommended") does not fail `helm lint --strict`
            where = message.get("path") or ""
            findings.append(Finding(display_path(chart_dir / where) if where else display_path(chart_dir), 0, 0, ERROR,
                                    f"helm lint{label}: {message.get('error', '')}", "helm-lint"))
    return findings


def check_schema(chart_dir: Path) -> list[Finding]:
    """values.schema.json is JSON and declares draft-07 or older (Helm before 3.18.5 reads no
    newer draft). Whether it is a valid schema at all is helm lint's check (metaschema)."""
    import json

    path = chart_dir / "values.schema.json"
    if not path.is_file():
        return []
    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        return [Finding(display_path(path), 0, 0, ERROR, f"not JSON: {exc}", "values-schema")]
    declared = schema.get("$schema", "") if isinstance(schema, dict) else ""
    if not isinstance(schema, dict) or (declared and "draft-0" not in str(declared)):
        return [Finding(display_path(path), 0, 0, ERROR,
                        f"values.schema.json must be a draft-07 (or older) JSON Schema object for Helm < 3.18.5; "
                        f"it declares {declared or type(schema).__name__!r}", "values-schema")]
    return []


def _git(args: list[str], cwd: Path) -> subprocess.CompletedProcess | None:
    try:
        return subprocess.run(["git", *args], cwd=str(cwd), capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None


def check_version_increment(chart_dirs: list[Path], since: str) -> list[Finding]:
    """chart-testing's --check-version-increment against revision `since`."""
    from chartgen.chart.versioning import greater, parse, read_chart_yaml
    from chartgen.errors import ChartgenError
    from chartgen.yamlio import load_data

    if not chart_dirs:
        return []
    top = _git(["rev-parse", "--show-toplevel"], chart_dirs[0].resolve().parent)
    if top is None or top.returncode != 0:
        return []
    root = Path(top.stdout.decode().strip()).resolve()
    findings = []
    for chart_dir in chart_dirs:
        try:
            rel = chart_dir.resolve().relative_to(root).as_posix()
        except ValueError:
            continue
        shown = _git(["show", f"{since}:{rel}/Chart.yaml"], root)
        if shown is None or shown.returncode != 0:
            continue  # new chart (or unknown revision): nothing to compare
        try:
            old = load_data(shown.stdout, f"{since}:{rel}/Chart.yaml") or {}
            old_version = str(old.get("version", ""))
            new_version = str(read_chart_yaml(chart_dir).get("version", ""))
            parse(old_version)
            parse(new_version)
        except (ChartgenError, AttributeError):
            continue  # Chart.yaml problems are reported by check_chart_yaml
        display = display_path(chart_dir / "Chart.yaml")
        if greater(old_version, new_version):
            findings.append(Finding(display, 0, 0, ERROR, f"chart version went down: {old_version} at {since}, "
                                    f"{new_version} now", "version-decreased"))
            continue
        if old_version != new_version:
            continue
        diff = _git(["diff", "--quiet", since, "--", rel], root)
        untracked = _git(["ls-files", "--others", "--exclude-standard", "--", rel], root)
        changed = (diff is not None and diff.returncode == 1) or bool(untracked and untracked.stdout.strip())
        if changed:
            findings.append(Finding(display, 0, 0, ERROR,
                                    f"chart version not ok. Needs a version bump! ({new_version} at {since} "
                                    "too, but the chart changed; run `chartgen version` or regenerate)",
                                    "version-not-bumped"))
    return findings


def chart_dirs_of(paths: Iterable[str | Path], config) -> list[Path]:
    """Chart folders from command-line arguments (folders or chart names); all charts when none."""
    charts_dir = config.charts_dir
    result: list[Path] = []
    args = list(paths)
    if not args:
        if not charts_dir.is_dir():
            raise UsageError(f"no charts to lint: {charts_dir} does not exist (run `chartgen chart` first)",
                             path=charts_dir, code="no-charts")
        return [p for p in sorted(charts_dir.iterdir()) if (p / "Chart.yaml").is_file() and not p.name.startswith(".")]
    for arg in args:
        path = Path(arg)
        if (path / "Chart.yaml").is_file():
            result.append(path)
        elif (charts_dir / str(arg) / "Chart.yaml").is_file():
            result.append(charts_dir / str(arg))
        else:
            candidate = charts_dir / config.chart_of(Path(str(arg)).name).folder
            if (candidate / "Chart.yaml").is_file():
                result.append(candidate)
            else:
                hint = did_you_mean(path.name, chart_names(charts_dir))
                raise UsageError(f"no chart {arg!r}" + (f"; {hint}" if hint else "")
                                 + f" (looked for {path}/Chart.yaml and {candidate}/Chart.yaml)", path=str(arg),
                                 code="unknown-chart")
    return result


def chart_names(charts_dir: Path) -> list[str]:
    """Names of the chart folders under `charts_dir` (for "did you mean" in error messages)."""
    try:
        return [p.name for p in charts_dir.iterdir() if (p / "Chart.yaml").is_file()]
    except OSError:
        return []


def _python_checks(chart_dir: Path, config, yamllint_memo=None) -> list[Finding]:
    findings = check_chart_yaml(chart_dir)
    # A folder that chartgen.yaml maps to this chart name (`workflows:`, the chart repository's
    # layout kept on purpose) is not a mismatch.
    if config is not None and any(f.code == "chart-dir-name" for f in findings):
        from chartgen.chart.versioning import read_chart_yaml

        name = str(read_chart_yaml(chart_dir).get("name", ""))
        mapped = {(w.chart or name, w.folder) for w in config.settings.workflows}
        if (name, chart_dir.resolve().name) in mapped:
            findings = [f for f in findings if f.code != "chart-dir-name"]
    if any(f.code == "no-chart-yaml" for f in findings):
        return findings
    return findings + run_yamllint(chart_dir, config, yamllint_memo) + check_schema(chart_dir)


_GENERATED_TEMPLATE = re.compile(r"^\d\d-[a-z0-9]+_[a-z0-9.-]+\.yaml$")


def _generated_identity(text: str) -> tuple[str, str, str] | None:
    """(kind, namespace, name) of a template chartgen generated: literal kind and name, the
    release namespace (`default`, as lint renders)."""
    kind = name = None
    namespace = ""
    in_metadata = False
    for line in text.split("\n"):
        if line.startswith("{{"):
            continue
        if line and not line.startswith(" "):
            in_metadata = line == "metadata:"
            if line.startswith("kind: "):
                kind = line[len("kind: "):].strip()
        elif in_metadata and line.startswith("  name: "):
            name = unquote(line[len("  name: "):].strip())
        elif in_metadata and line.startswith("  namespace: "):
            value = line[len("  namespace: "):].strip()
            namespace = "default" if value == "{{ .Release.Namespace | quote }}" else unquote(value)
    if kind and name and re.fullmatch(r"[A-Za-z0-9._-]+", f"{kind}{name}{namespace or 'x'}"):
        return kind, namespace, name
    return None


def generated_objects(chart_dir: Path, config) -> list[tuple[str, str, str, str]] | None:
    """The objects of a chart chartgen wrote and nobody changed since (its content hash holds)
    and without kept hand-written templates, read from the templates without rendering;
    None when that cannot be vouched for. Such a chart has no duplicate objects: chartgen
    refuses them when it writes the chart."""
    from chartgen.chart.versioning import read_chart_yaml
    from chartgen.chart.writer import verify_chart

    templates_dir = chart_dir / "templates"
    if not templates_dir.is_dir():
        return None
    settings = config.chart
    name = str(read_chart_yaml(chart_dir).get("name", ""))
    extras = settings.extras_for(name)
    templates = sorted(p for p in templates_dir.iterdir() if p.is_file())
    manifests = [p for p in templates if not p.name.startswith("_") and p.name != "NOTES.txt"]
    if any(fnmatch.fnmatchcase(f"templates/{p.name}", pattern) for p in templates for pattern in extras) \
            or not all(_GENERATED_TEMPLATE.match(p.name) for p in manifests) or not verify_chart(chart_dir, settings):
        return None
    objects = []
    for path in manifests:
        identity = _generated_identity(path.read_text(encoding="utf-8"))
        if identity is None:
            return None
        objects.append((f"{name}/templates/{path.name}", *identity))
    return objects


def _helm_checks(chart_dir: Path, config=None, ci_values: bool = True) -> tuple[list[Finding], list | None]:
    """helm lint --strict, then (when it passes) the rendered objects' duplicates."""
    import helm_python
    import yaml

    if not (chart_dir / "Chart.yaml").is_file():
        return [], None
    findings = run_helm_lint(chart_dir, ci_values)
    if findings:
        return findings, None
    if dependency_values(chart_dir):
        return findings, None   # an umbrella: checked from its sub-charts' objects (lint_charts)
    objects = generated_objects(chart_dir, config) if config is not None else None
    if objects is not None:
        return [], objects
    try:
        objects = rendered_objects(chart_dir)
    except (helm_python.HelmError, yaml.YAMLError):
        return check_duplicates(chart_dir), None
    return check_duplicates(chart_dir, objects), objects


def _umbrella_duplicates(chart_dir: Path, rendered: dict[str, list],
                         subcharts: list[str] | None = None) -> list[Finding]:
    """Duplicates across an umbrella's sub-charts, from their objects when those were just
    rendered (the embedded charts are links to them); else by rendering the umbrella.
    `subcharts`: the names of its sub-chart folders (those with a Chart.yaml), when known."""
    if subcharts is None:
        subcharts = [p.name for p in sorted((chart_dir / "charts").glob("*")) if (p / "Chart.yaml").is_file()]
    names = list(dependency_values(chart_dir))
    if not subcharts or any(rendered.get(sub) is None for sub in subcharts) or sorted(subcharts) != sorted(names):
        return check_duplicates(chart_dir)
    objects = []
    for sub in subcharts:
        prefix = f"{chart_dir.name}/charts/{sub}/"
        objects += [(prefix + template.split("/", 1)[-1], kind, namespace, name)
                    for template, kind, namespace, name in rendered[sub]]
    return check_duplicates(chart_dir, objects)


def lint_chart(chart_dir: Path, config) -> list[Finding]:
    """Every check of one chart except the git version check."""
    findings, _ = _helm_checks(chart_dir, config)
    if not findings and dependency_values(chart_dir):
        findings = check_duplicates(chart_dir)
    return _python_checks(chart_dir, config) + findings


def lint_charts(paths: Iterable[str | Path], config, *, since: str | None = "HEAD",
                jobs: int | None = None, ci_values: bool = True) -> tuple[Finding, ...]:
    """Lint chart folders (or chart names; all charts of the repository when empty).

    Returns every finding, errors and warnings, sorted; `since=None` skips the git check,
    `ci_values=False` the helm lint runs with each ci/*-values.yaml.
    Helm runs in worker threads (its Go calls release the GIL) while yamllint and the
    Chart.yaml checks run in this one.
    """
    from concurrent.futures import ThreadPoolExecutor

    chart_dirs = chart_dirs_of(paths, config)
    findings: list[Finding] = []
    with ThreadPoolExecutor(max_workers=jobs or max(1, min(4, os.cpu_count() or 1))) as pool:
        helm_results = [pool.submit(_helm_checks, chart_dir, config, ci_values) for chart_dir in chart_dirs]
        for chart_dir in chart_dirs:
            findings += _python_checks(chart_dir, config)
        rendered: dict[str, list | None] = {}
        for chart_dir, future in zip(chart_dirs, helm_results):
            helm_findings, objects = future.result()
            findings += helm_findings
            rendered[chart_dir.resolve().name] = objects
        for chart_dir in chart_dirs:
            if dependency_values(chart_dir) and not any(f.code == "helm-lint" and f.path.startswith(
                    display_path(chart_dir)) for f in findings):
                findings += _umbrella_duplicates(chart_dir, rendered)
    if since:
        findings += check_version_increment(chart_dirs, since)
    return tuple(sorted(set(findings), key=lambda f: (f.path, f.line, f.column, f.code, f.message)))
