"""The one interface every image builder backend implements, and what they share.

A backend turns (context folder, Containerfile, tags, build arguments) into a local image
and pushes a reference, returning the registry digest. Everything it runs goes through
`BuildLog.run`, which keeps the tool's full output in a log file (redacted) and classifies
failures into one clear `ChartgenError` that names the log.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, ClassVar, Mapping, Sequence

from chartgen.errors import ChartgenError, redact


@dataclass(frozen=True)
class BuilderOptions:
    """Settings a backend may use (from chartgen.yaml `image:` and the command line)."""

    storage_driver: str = ""
    storage_root: str = ""
    run_root: str = ""
    isolation: str = ""
    tls_verify: bool = True
    format: str = "oci"
    authfile: str | None = None       # containers-auth.json / docker config.json format
    timestamp: int | None = None      # fixed file and created time (reproducible layers); None: now
    platform: str = ""                # e.g. linux/amd64; empty: the host's


@dataclass(frozen=True)
class BuildResult:
    image_id: str | None              # None when the backend did not run (kaniko)
    tags: tuple[str, ...]
    command: tuple[str, ...]
    executed: bool = True


@dataclass(frozen=True)
class CommandOutput:
    returncode: int
    output: str                       # redacted


class BuildLog:
    """The builder's own log: every command and its output, redacted, in one file."""

    def __init__(self, path: Path, echo: Callable[[str], None] | None = None) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.echo = echo
        self.path.write_text("", encoding="utf-8")

    def note(self, text: str) -> None:
        line = redact(text)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")
        if self.echo:
            self.echo(line)

    def run(self, argv: Sequence[str], *, env: Mapping[str, str] | None = None,
            cwd: Path | None = None) -> CommandOutput:
        import time

        started = time.monotonic()
        self.note(time.strftime("[%H:%M:%S] $ ") + " ".join(_shell_quote(a) for a in argv))
        collected: list[str] = []
        try:
            process = subprocess.Popen(list(argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, env=_merged_env(env), cwd=cwd,
                                       text=True, errors="replace", bufsize=1)
        except OSError as exc:
            self.note(f"cannot start {argv[0]}: {exc}")
            raise ChartgenError(f"cannot run {argv[0]}: {exc.strerror or exc} (builder log: {self.path})",
                                code="image-builder-missing") from None
        assert process.stdout is not None
        with self.path.open("a", encoding="utf-8") as handle:
            for raw in process.stdout:
                line = redact(raw.rstrip("\n"))
                collected.append(line)
                handle.write(line + "\n")
                handle.flush()
                if self.echo:
                    self.echo(line)
        returncode = process.wait()
        self.note(f"(exit {returncode} after {time.monotonic() - started:.1f}s)")
        return CommandOutput(returncode, "\n".join(collected))


def _merged_env(extra: Mapping[str, str] | None) -> dict[str, str] | None:
    if not extra:
        return None
    env = dict(os.environ)
    env.update(extra)
    return env


def _shell_quote(arg: str) -> str:
    import shlex

    return shlex.quote(arg)


# Output fragments that say what went wrong, checked in this order.
_NOT_FOUND = ("manifest unknown", "name unknown", "not found: manifest", "repository does not exist",
              "requested access to the resource is denied", "no such image", "image not known")
_REFUSED = ("unauthorized", "authentication required", "denied", "forbidden", "405 method not allowed",
            "status 401", "status 403", "status 405", "statuscode: 401", "statuscode: 403",
            "statuscode: 405", "method not allowed", "read-only mode", "readonly")
_TRANSIENT = ("connection refused", "connection reset", "i/o timeout", "tls handshake timeout",
              "timeout", "temporary failure", "no route to host", "unexpected eof", ": eof", "502 bad gateway",
              "503 service unavailable", "504 gateway", "500 internal server error", "status 429",
              "too many requests", "server misbehaving", "status 500", "status 502", "status 503", "status 504",
              "no such host", "network is unreachable", "dial tcp")


def error_line(output: str) -> str:
    """The most telling line of a tool's output (its last `Error:`/`error` line)."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for line in reversed(lines):
        lowered = line.lower()
        if lowered.startswith(("error", "fatal")) or "level=error" in lowered or "level=fatal" in lowered:
            return line
    return lines[-1] if lines else "no output"


def classify(output: str) -> str:
    """'not-found', 'refused', 'transient' or 'failed' for a failed pull/push.

    The final error line decides first; the rest of the output (retry warnings) only when
    that line says nothing recognisable.
    """
    kinds = (("not-found", _NOT_FOUND), ("refused", _REFUSED), ("transient", _TRANSIENT))
    for haystack in (error_line(output).lower(), output[-4000:].lower()):
        for kind, needles in kinds:
            if any(needle in haystack for needle in needles):
                return kind
    return "failed"


class PushError(ChartgenError):
    """A push failed; `transient` says whether trying again may help."""

    def __init__(self, message: str, *, code: str, transient: bool) -> None:
        super().__init__(message, code=code)
        self.transient = transient


_STEP_LINE = re.compile(r"^(\[\d+/\d+\] )?STEP \d+(/\d+)?:")


def step_cause(output: str) -> str:
    """The failing step's own last error line (e.g. Maven's `[ERROR] ...`), if it printed one."""
    lines = output.splitlines()
    starts = [i for i, line in enumerate(lines) if _STEP_LINE.match(line)]
    for line in reversed(lines[(starts[-1] + 1) if starts else 0:]):
        text = line.strip()
        lowered = text.lower()
        if "error" in lowered and "building at step" not in lowered and "subprocess exited" not in lowered:
            return text[:300]
    return ""


def build_failure(tool: str, output: CommandOutput, log: BuildLog, images: Sequence[str]) -> ChartgenError:
    """One clear error for a failed build: missing base image, a failing step, or other."""
    line = error_line(output.output)
    lowered = output.output.lower()
    step = next((raw.strip() for raw in reversed(output.output.splitlines())
                 if "building at step" in raw.lower()), "")
    if step:
        cause = step_cause(output.output)
        return ChartgenError(f"{tool}: a build step failed: {step}{'; ' + cause if cause else ''} "
                             f"(builder log: {log.path})", code="image-build-step-failed")
    if any(n in lowered for n in ("pull", "initializing source", "reading manifest", "creating build container",
                                  "pinging container registry")):
        kind = classify(output.output)
        named = ", ".join(images)
        if kind == "not-found":
            return ChartgenError(f"{tool}: base image not found ({named}): {line} (builder log: {log.path})",
                                 code="image-base-missing")
        if kind in ("refused", "transient"):
            return ChartgenError(f"{tool}: cannot pull a base image ({named}): {line} (is the registry reachable "
                                 f"from here? --builder-image/--runtime-image or chartgen.yaml image.builderImage/"
                                 f"runtimeImage name others; builder log: {log.path})",
                                 code="image-base-pull-failed")
    return ChartgenError(f"{tool} build failed: {line} (builder log: {log.path})", code="image-build-failed")


def push_failure(tool: str, ref: str, output: CommandOutput, log: BuildLog) -> PushError:
    kind = classify(output.output)
    line = error_line(output.output)
    if kind == "refused" or kind == "not-found":
        return PushError(f"{tool}: the registry refused the push of {ref}: {line} "
                         f"(check credentials and permissions; builder log: {log.path})",
                         code="image-push-refused", transient=False)
    if kind == "transient":
        return PushError(f"{tool}: cannot reach the registry to push {ref}: {line} (builder log: {log.path})",
                         code="image-push-unreachable", transient=True)
    return PushError(f"{tool}: push of {ref} failed: {line} (builder log: {log.path})",
                     code="image-push-failed", transient=False)


class Builder(ABC):
    """One image builder backend. Subclasses live one per module in chartgen.image.builders."""

    name: ClassVar[str]
    executable: ClassVar[str]
    # True for backends that push while building (kaniko): build() gets the destinations.
    pushes_during_build: ClassVar[bool] = False

    def __init__(self, options: BuilderOptions | None = None) -> None:
        self.options = options or BuilderOptions()

    @classmethod
    def available(cls) -> bool:
        """True when this backend can build on this machine."""
        return shutil.which(cls.executable) is not None

    @abstractmethod
    def build(self, context_dir: Path, containerfile: Path, tags: Sequence[str],
              build_args: Mapping[str, str], log: BuildLog) -> BuildResult:
        """Build the image; tags are full references (registry/name:tag)."""

    @abstractmethod
    def push(self, ref: str, log: BuildLog) -> str:
        """Push a built reference; return the manifest digest (sha256:...). Raises PushError."""


def build_arg_flags(build_args: Mapping[str, str]) -> list[str]:
    flags: list[str] = []
    for key, value in sorted(build_args.items()):
        flags += ["--build-arg", f"{key}={value}"]
    return flags


def read_digest(path: Path) -> str:
    try:
        digest = path.read_text(encoding="utf-8").strip()
    except OSError:
        return ""
    return digest if digest.startswith("sha256:") else ""


def base_images(containerfile: Path) -> list[str]:
    """The base images a Containerfile names (for error messages)."""
    images: list[str] = []
    try:
        lines = containerfile.read_text(encoding="utf-8").splitlines()
    except OSError:
        return images
    for line in lines:
        parts = line.split()
        if len(parts) >= 2 and parts[0].upper() == "FROM":
            images.append(parts[1])
    return images
