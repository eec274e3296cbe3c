"""CI integration: GitHub Actions annotations, outputs and summaries; Tekton results.

Everything here is a no-op outside the CI system it serves.
"""

from __future__ import annotations

import os
import sys
from typing import Iterable

from chartgen.errors import Finding, redact


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
