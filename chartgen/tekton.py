"""Pin the images of a Tekton Task by digest.

The `chartgen-build` Task runs its steps from images named by params (`image:
$(params.chartgen-image)`), so one file serves every registry: the release job writes
the digest of the image it just pushed, and a cluster that mirrors images writes its
mirror's reference. Only the param's default value is replaced, in place, so the rest of
the file (comments, layout, scripts) stays byte for byte what it was.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from chartgen.errors import ChartgenError, UsageError

# name[:tag]@sha256:<64 hex>; the name as the distribution reference grammar spells it
# (lower-case path components, optional registry host with port).
PINNED_IMAGE = re.compile(
    r"(?P<name>(?:[a-zA-Z0-9.-]+(?::[0-9]+)?/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
    r"(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?"
    r"@(?P<digest>sha256:[0-9a-f]{64})")
PARAM_IMAGE = re.compile(r"\$\(params\.([A-Za-z0-9_.-]+)\)")


@dataclass(frozen=True)
class PinnedImage:
    name: str
    tag: str | None
    digest: str

    @property
    def reference(self) -> str:
        return f"{self.name}{':' + self.tag if self.tag else ''}@{self.digest}"


@dataclass(frozen=True)
class ImagePin:
    """One param whose default was (or would be) replaced."""
    param: str
    old: str
    new: str
    line: int

    @property
    def changed(self) -> bool:
        return self.old != self.new


def parse_pinned_image(reference: str) -> PinnedImage:
    """`name[:tag]@sha256:…`, or a UsageError saying why a tag alone is not enough."""
    match = PINNED_IMAGE.fullmatch(reference.strip())
    if not match:
        if "@" not in reference:
            raise UsageError(f"image {reference!r} is not pinned: give it as NAME[:TAG]@sha256:<64 hex digits> "
                             "(a tag can be moved; a digest names exactly one image)", code="image-not-pinned")
        raise UsageError(f"image {reference!r} is not a valid NAME[:TAG]@sha256:<64 hex digits> reference",
                         code="bad-image-reference")
    return PinnedImage(match["name"], match["tag"], match["digest"])


def image_params(task: dict) -> list[str]:
    """Names of the params a Task uses as step, sidecar or stepTemplate images."""
    spec = task.get("spec") or {}
    containers = [*(spec.get("steps") or []), *(spec.get("sidecars") or [])]
    if isinstance(spec.get("stepTemplate"), dict):
        containers.append(spec["stepTemplate"])
    names: list[str] = []
    for container in containers:
        match = PARAM_IMAGE.fullmatch(str((container or {}).get("image", "")).strip())
        if match and match.group(1) not in names:
            names.append(match.group(1))
    return names


def pin_task_images(text: str, images: dict[str, str], *, path: str = "<task>") -> tuple[str, list[ImagePin]]:
    """Replace the defaults of the image params named in `images` (param -> pinned reference).

    Returns the new text and what changed. Errors name the file, line and column: a file
    that is not a Task, a param the Task does not have or does not use as an image, a
    param without a default to replace, a reference without a digest.
    """
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    pinned = {param: parse_pinned_image(reference).reference for param, reference in images.items()}
    from chartgen.yamlio import check_yaml

    check_yaml(text, str(path))   # alias expansion and depth bounded, as for every YAML read
    try:
        task = YAML(typ="rt").load(text)
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ChartgenError(f"YAML syntax error: {getattr(exc, 'problem', None) or exc}", path=path,
                            line=mark.line + 1 if mark else 0, column=mark.column + 1 if mark else 0,
                            code="yaml-syntax") from None
    if not isinstance(task, dict) or task.get("kind") != "Task" or not str(task.get("apiVersion", "")).startswith(
            "tekton.dev/"):
        raise ChartgenError("not a Tekton Task (apiVersion tekton.dev/…, kind Task)", path=path, line=1, column=1,
                            code="not-a-task")
    used = image_params(task)
    params = {str(p.get("name")): p for p in (task.get("spec", {}).get("params") or []) if isinstance(p, dict)}
    lines = text.splitlines(keepends=True)
    pins: list[ImagePin] = []
    for param, reference in pinned.items():
        if param not in params or param not in used:
            known = ", ".join(used) or "none"
            raise UsageError(f"param {param!r} is not an image param of this Task (image params: {known})",
                             path=path, code="unknown-image-param")
        entry = params[param]
        if "default" not in entry:
            line, column = entry.lc.line + 1, entry.lc.col + 1
            raise ChartgenError(f"param {param!r} has no default to pin", path=path, line=line, column=column,
                                code="no-default")
        line, column = entry.lc.value("default")
        old = str(entry["default"])
        lines[line] = _replace_scalar(lines[line], column, reference)
        pins.append(ImagePin(param, old, reference, line + 1))
    return "".join(lines), pins


def _replace_scalar(line: str, column: int, value: str) -> str:
    """Swap the one-line scalar starting at `column` (plain or quoted), keeping any comment."""
    rest = line[column:]
    if rest[:1] in ("'", '"'):
        end = rest.index(rest[0], 1) + 1
    else:
        comment = re.search(r"\s#", rest)
        end = comment.start() if comment else len(rest.rstrip("\r\n"))
        end = len(rest[:end].rstrip())
    return line[:column] + value + rest[end:]


def pin_task_file(path: Path, images: dict[str, str], *, output: Path | None = None) -> list[ImagePin]:
    """Pin `path` in place (or write to `output`), atomically; nothing is written on error."""
    from chartgen.fsutil import write_atomic

    text = Path(path).read_text(encoding="utf-8")
    new_text, pins = pin_task_images(text, images, path=str(path))
    target = Path(output) if output is not None else Path(path)
    if output is not None or new_text != text:
        write_atomic(target, new_text.encode("utf-8"))
    return pins
