"""The compatibility matrix of generated charts, and which fit a given operator version.

Ranges use Helm's constraint syntax (Masterminds/semver): comparisons `>= <= > < = !=`
joined by spaces or commas (and), alternatives joined by `||`, `~1.36` (>=1.36.0 <1.37.0),
`^1.36` (>=1.36.0 <2.0.0) and wildcards `1.36.x` / `1.36`.
"""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from chartgen.errors import UsageError

_TERM = re.compile(r"^(?P<op>>=|<=|!=|=>|=<|>|<|=|~|\^)?\s*v?(?P<ver>[0-9xX*]+(?:\.[0-9xX*]+){0,2}(?:-[0-9A-Za-z.-]+)?)$")


@dataclass(frozen=True)
class CompatRow:
    name: str
    version: str
    app_version: str
    workflow_id: str
    workflow_type: str
    operator_versions: str
    sonataflow_api: str
    kube_version: str
    path: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def _parse(text: str):
    import semver

    try:
        return semver.Version.parse(text)
    except ValueError:
        raise UsageError(f"{text!r} is not a version (X.Y.Z)", code="bad-version") from None


def _term_check(op: str, ver: str, candidate) -> bool:
    """Does `candidate` meet one constraint term (`op` `ver`)?"""
    op = {"=>": ">=", "=<": "<="}.get(op, op)
    numbers = ver.split("-")[0].split(".")
    wild = [p in ("x", "X", "*") for p in numbers] + [True] * (3 - len(numbers))
    if any(wild) and "-" not in ver:
        fixed: list[int] = []
        for part, is_wild in zip(numbers, wild):
            if is_wild:
                break
            fixed.append(int(part))
        if not fixed:
            return op not in ("<", ">", "!=")
        low = fixed + [0] * (3 - len(fixed))
        high = fixed[:-1] + [fixed[-1] + 1] + [0] * (3 - len(fixed))
        low_s, high_s = ".".join(map(str, low)), ".".join(map(str, high))
        if op == "^" and low[0]:
            high_s = f"{low[0] + 1}.0.0"
        inside = candidate.compare(low_s) >= 0 and candidate.compare(high_s) < 0
        return {"": inside, "=": inside, "~": inside, "^": inside, "!=": not inside,
                ">": candidate.compare(high_s) >= 0, ">=": candidate.compare(low_s) >= 0,
                "<": candidate.compare(low_s) < 0, "<=": candidate.compare(high_s) < 0}[op]
    version = _parse(ver)
    cmp = candidate.compare(version)
    if op == "~":
        return cmp >= 0 and candidate.compare(f"{version.major}.{version.minor + 1}.0") < 0
    if op == "^":
        upper = (f"{version.major + 1}.0.0" if version.major else
                 f"0.{version.minor + 1}.0" if version.minor else f"0.0.{version.patch + 1}")
        return cmp >= 0 and candidate.compare(upper) < 0
    return {">=": cmp >= 0, "<=": cmp <= 0, ">": cmp > 0, "<": cmp < 0, "": cmp == 0, "=": cmp == 0,
            "!=": cmp != 0}[op]


def satisfies(version: str, constraint: str) -> bool:
    """True when `version` meets the Helm-style `constraint`."""
    text = version.strip().lstrip("v")
    core, sep, rest = text.partition("-")
    while core.count(".") < 2 and core:
        core += ".0"
    try:
        candidate = _parse(core + sep + rest)
    except UsageError:
        raise UsageError(f"{version!r} is not a version (X.Y.Z, or X.Y)", code="bad-version") from None
    for alternative in constraint.split("||"):
        terms = [t for t in re.split(r"\s*,\s*|\s+(?=[<>=!~^v0-9])", alternative.strip()) if t]
        if not terms:
            continue
        ok = True
        for term in terms:
            match = _TERM.match(term.strip())
            if not match:
                raise UsageError(f"cannot read version constraint {constraint!r} (at {term!r})",
                                 code="bad-constraint")
            if not _term_check(match.group("op") or "", match.group("ver"), candidate):
                ok = False
        if ok:
            return True
    return False


def read_row(chart_dir: Path) -> CompatRow | None:
    """The matrix row of a generated workflow chart, or None for other folders."""
    from chartgen.chart.settings import (A_OPERATOR, A_SONATAFLOW_API, A_WORKFLOW_ID, A_WORKFLOW_TYPE)
    from chartgen.chart.versioning import chart_yaml_view

    meta = chart_yaml_view(chart_dir)
    annotations = meta.get("annotations") or {}
    if not isinstance(annotations, dict) or A_WORKFLOW_ID not in annotations:
        return None
    return CompatRow(
        name=str(meta["name"] if "name" in meta else os.path.basename(chart_dir)), version=str(meta.get("version", "")),
        app_version=str(meta.get("appVersion", "") or ""), workflow_id=str(annotations[A_WORKFLOW_ID]),
        workflow_type=str(annotations.get(A_WORKFLOW_TYPE, "")),
        operator_versions=str(annotations.get(A_OPERATOR, "")),
        sonataflow_api=str(annotations.get(A_SONATAFLOW_API, "")),
        kube_version=str(meta.get("kubeVersion", "") or ""), path=str(chart_dir),
    )


def _rows(charts_dir: Path) -> list[CompatRow]:
    """The rows of the folders of `charts_dir` that hold a generated workflow chart, by folder."""
    try:
        with os.scandir(charts_dir) as listing:
            entries = sorted(listing, key=lambda entry: entry.name)
    except (NotADirectoryError, FileNotFoundError):
        return []
    rows = (read_row(entry.path) for entry in entries if not entry.name.startswith(".") and entry.is_dir())
    return [row for row in rows if row is not None]


def workflow_chart_dirs(charts_dir: Path) -> list[Path]:
    """Folders of `charts_dir` that hold a generated workflow chart (not the umbrella)."""
    return [Path(row.path) for row in _rows(Path(charts_dir))]


def compat_matrix(charts_dir: Path | str) -> list[CompatRow]:
    """One row per workflow chart in `charts_dir`, by chart name."""
    return sorted(_rows(Path(charts_dir)), key=lambda r: r.name)


def fits(row: CompatRow, operator_version: str) -> bool:
    return bool(row.operator_versions) and satisfies(operator_version, row.operator_versions)
