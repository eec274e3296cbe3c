"""CI integration: GitHub Actions annotations, outputs and summaries; Tekton results.

Everything here is a no-op outside the CI system it serves.
"""

from __future__ import annotations

import os
import sys
from typing import Iterable

from chartgen.errors import Finding, redact
from chartgen.markdown import cell as markdown_escape


def in_github_actions() -> bool:
    return os.environ.get("GITHUB_ACTIONS") == "true"


def _escape_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(value: str) -> str:
    return _escape_data(value).replace(":", "%3A").replace(",", "%2C")


def annotate(findings: Iterable[Finding], stream=None) -> None:
    """`::error file=…,line=…::message` lines for GitHub Actions."""
    if not in_github_actions():
        return
    stream = stream or sys.stdout
    for f in findings:
        props = [f"file={_escape_property(f.path)}"]
        if f.line:
            props += [f"line={f.line}", f"col={f.column or 1}"]
        props.append(f"title={_escape_property(f.code)}")
        stream.write(f"::{f.severity} {','.join(props)}::{_escape_data(redact(f.message))}\n")


# ----------------------------------------------------------------- GitHub Actions outputs

def _github_file(variable: str) -> str | None:
    if not in_github_actions():
        return None
    return os.environ.get(variable) or None


def set_outputs(values: dict[str, str], path: str | None = None) -> bool:
    """Append step outputs to `$GITHUB_OUTPUT` (multi-line safe: heredoc with a random delimiter).

    Returns False (and writes nothing) outside GitHub Actions.
    """
    path = path or _github_file("GITHUB_OUTPUT")
    if not path:
        return False
    import secrets

    lines = []
    for name, value in values.items():
        value = redact(str(value))
        if "\n" in value or "\r" in value:
            delimiter = f"ghadelimiter_{secrets.token_hex(8)}"
            while delimiter in value:
                delimiter = f"ghadelimiter_{secrets.token_hex(8)}"
            lines.append(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")
        else:
            lines.append(f"{name}={value}\n")
    with open(path, "a", encoding="utf-8") as handle:
        handle.write("".join(lines))
    return True


def add_summary(markdown: str, path: str | None = None) -> bool:
    """Append Markdown to `$GITHUB_STEP_SUMMARY` (the job's summary page)."""
    path = path or _github_file("GITHUB_STEP_SUMMARY")
    if not path:
        return False
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(redact(markdown).rstrip("\n") + "\n\n")
    return True


def markdown_table(headers: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(markdown_escape(c) for c in row) + " |" for row in rows]
    return "\n".join(out) + "\n"


# ----------------------------------------------------------------------------- Tekton

# The results a chartgen Task declares (pipelines/chartgen-build-task.yaml).
TEKTON_RESULTS = ("IMAGE_URL", "IMAGE_DIGEST", "CHART_VERSION", "PR_URL")


def tekton_results_dir(explicit: str | None = None) -> str | None:
    """Where to write Tekton results: `--tekton-results DIR`, else `$CHARTGEN_TEKTON_RESULTS`.

    Tekton mounts results at /tekton/results/<NAME> (`$(results.NAME.path)`); the Task
    passes that folder explicitly, so nothing is guessed from the environment.
    """
    return explicit or os.environ.get("CHARTGEN_TEKTON_RESULTS") or None


def write_tekton_results(values: dict[str, str], directory: str | None) -> list[str]:
    """Write each known result to `<directory>/<NAME>` (no trailing newline: Tekton takes the
    bytes as they are). A declared result without a value is created empty only if no
    earlier step wrote it, so `$(tasks.x.results.Y)` always resolves and a later step of the
    same Task never erases what an earlier one found. Returns the files written."""
    if not directory:
        return []
    os.makedirs(directory, exist_ok=True)
    written = []
    for name in sorted(set(TEKTON_RESULTS) | set(values)):
        target = os.path.join(directory, name)
        value = values.get(name) or ""
        if not value and os.path.exists(target):
            continue
        with open(target, "w", encoding="utf-8") as handle:
            handle.write(redact(str(value)))
        written.append(target)
    return written
