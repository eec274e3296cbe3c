"""Writing an index file, as JSON (one chart version per line) or YAML.

chartgen writes `index.yaml` *as JSON* by default (Helm >= 3.13 detects and reads JSON
directly; JSON is valid YAML for older readers), one chart version per line so git diffs
stay small. An index read incrementally (`chartgen.repo.reading`) is written back by
re-emitting only the blocks of the charts that changed; every other byte is kept.
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Iterable

from chartgen.errors import UsageError
from chartgen.repo.blocks import LazyBlocks
from chartgen.repo.index import INDEX_NAME, IndexFile
from chartgen.repo.reading import ENTRIES_LINE, JSON_GENERATED


FORMATS = ("auto", "json", "yaml")


def _dump_entry(entry: dict) -> str:
    return json.dumps(entry, sort_keys=True, ensure_ascii=False, separators=(", ", ": "))


def _json_block(name: str, versions: Iterable[dict]) -> str:
    lines = ",".join("\n      " + _dump_entry(entry) for entry in versions)
    return "    " + json.dumps(name, ensure_ascii=False) + ": [" + (lines + "\n    ]" if lines else "]")


def _stripped_end(text: str, start: int, end: int) -> int:
    """Where `text[start:end].rstrip().rstrip(",")` ends, without copying the block."""
    while end > start and text[end - 1].isspace():
        end -= 1
    while end > start and text[end - 1] == ",":
        end -= 1
    return end


def _splice_json(index: IndexFile) -> tuple[str, dict[str, tuple[int, int]]]:
    """Re-emit only the changed chart blocks of a JSON index; new charts in name order.
    Also gives where each chart's block is in the text (as `chartgen.repo.reading` finds it):
    a block runs to its separating comma."""
    text, spans = index._source_text, index._spans
    new_names = sorted(set(index.changed) - set(spans))
    region_start = min(start for start, _ in spans.values())
    region_end = max(end for _, end in spans.values())
    pieces: list[str] = []        # joined by ",\n"
    run: list[int] = []           # [start, end] of untouched blocks copied as one piece
    new_spans: dict[str, tuple[int, int]] = {}
    position = region_start       # where the next piece starts

    def add(name: str | None, piece: str) -> None:
        nonlocal position
        if run:
            pieces.append(text[run[0]:run[1]])
            position += run[1] - run[0] + 2
            run.clear()
        if name is not None:
            new_spans[name] = (position, position + len(piece) + 1)
            pieces.append(piece)
            position += len(piece) + 2

    for name, (start, end) in spans.items():
        while new_names and new_names[0] < name:
            added = new_names.pop(0)
            add(added, _json_block(added, index.entries[added]))
        if name in index.changed:
            add(name, _json_block(name, index.entries[name]))
            continue
        cut = _stripped_end(text, start, end)   # the block as written: trailing space and commas cut
        if not (text.startswith(",\n", cut) or end == region_end):
            add(name, text[start:cut])         # not laid out as it is written: re-emitted
            continue
        if not run or run[1] != start - 2:     # (a run's blocks are followed by ",\n")
            add(None, "")
            run[:] = [start, start]
        run[1] = cut
        new_spans[name] = (position + start - run[0], position + cut - run[0] + 1)
    for added in new_names:
        add(added, _json_block(added, index.entries[added]))
    add(None, "")
    tail = text[region_end:]
    if index.changed:
        generated = '\n  "generated": ' + json.dumps(index.generated)
        tail = JSON_GENERATED.sub(lambda _: generated, tail, count=1)
    last = max(new_spans, key=lambda name: new_spans[name][0])
    new_spans[last] = (new_spans[last][0], new_spans[last][1] - 1)   # the last block has no comma
    out = [text[:region_start]]
    for piece in pieces:
        out += (piece, ",\n")
    out[-1] = tail   # one copy of the text, not one per concatenation
    return "".join(out), new_spans


def dump_json_index(index: IndexFile) -> str:
    """The index as JSON, one chart version per line (sorted keys; stable bytes).
    An index read from such JSON keeps every untouched byte."""
    if index.source_format == "json" and index._spans:
        return _splice_json(index)[0]
    out = io.StringIO()
    out.write('{\n  "apiVersion": ' + json.dumps(index.api_version) + ',\n  "entries": {')
    names = sorted(index.entries)
    for i, name in enumerate(names):
        out.write(("," if i else "") + "\n    " + json.dumps(name, ensure_ascii=False) + ": [")
        versions = index.entries[name]
        out.write(",".join("\n      " + _dump_entry(entry) for entry in versions))
        out.write("\n    ]" if versions else "]")
    out.write("\n  }" if names else "}")
    out.write(',\n  "generated": ' + json.dumps(index.generated))
    for key in sorted(index.extra):
        out.write(",\n  " + json.dumps(key) + ": " + json.dumps(index.extra[key], sort_keys=True, ensure_ascii=False))
    out.write("\n}\n")
    return out.getvalue()


def _yaml_block(name: str, versions: Iterable[dict]) -> str:
    from chartgen.yamlio import dump_yaml

    text = dump_yaml({"entries": {name: list(versions)}})
    return text.split("\n", 1)[1]  # drop "entries:"; the block is indented by two spaces


def dump_yaml_index(index: IndexFile) -> str:
    """The index as YAML. An index read from regular YAML keeps every untouched byte."""
    if index.source_format == "yaml" and index._spans:
        return _splice_yaml(index)[0]
    from chartgen.yamlio import dump_yaml

    data: dict = {"apiVersion": index.api_version,
                  "entries": {name: list(index.entries[name]) for name in sorted(index.entries)},
                  "generated": index.generated}
    data.update(index.extra)
    return dump_yaml(data)


_GENERATED_LINE = re.compile(r"^generated:.*$", re.M)


def _splice_yaml(index: IndexFile) -> tuple[str, dict[str, tuple[int, int]]]:
    """Re-emit only the changed chart blocks; new charts go in name order. Also gives where
    each chart's block is in the text (as `chartgen.repo.reading` finds it)."""
    text, spans = index._source_text, index._spans
    new_names = sorted(set(index.changed) - set(spans))
    region_start = min(start for start, _ in spans.values())
    region_end = max(end for _, end in spans.values())
    pieces: list[tuple[list[str], int, int]] = []   # (names, start, end): re-emitted or copied
    for name, (start, end) in spans.items():
        while new_names and new_names[0] < name:
            added = new_names.pop(0)
            pieces.append(([added], -1, -1))
        if name in index.changed:
            pieces.append(([name], -1, -1))
        elif pieces and pieces[-1][2] == start:   # untouched blocks follow each other: one copy
            pieces[-1][0].append(name)
            pieces[-1] = (pieces[-1][0], pieces[-1][1], end)
        else:
            pieces.append(([name], start, end))
    pieces.extend(([added], -1, -1) for added in new_names)
    head, tail = text[:region_start], text[region_end:]
    generated = "generated: " + json.dumps(index.generated)
    if not index.changed:
        pass  # untouched: keep the bytes, `generated` included
    elif _GENERATED_LINE.search(tail):
        tail = _GENERATED_LINE.sub(lambda _: generated, tail, count=1)
    elif _GENERATED_LINE.search(head):
        head = _GENERATED_LINE.sub(lambda _: generated, head, count=1)
    else:
        tail = tail + ("" if tail.endswith("\n") or not tail else "\n") + generated + "\n"
    out, new_spans, position = [head], {}, len(head)
    for names, start, end in pieces:
        if start < 0:
            out.append(_yaml_block(names[0], index.entries[names[0]]))
            new_spans[names[0]] = (position, position + len(out[-1]))
        else:
            out.append(text[start:end])
            new_spans.update((name, (spans[name][0] - start + position, spans[name][1] - start + position))
                             for name in names)
        position += len(out[-1])
    out.append(tail)
    return "".join(out), new_spans


def resolve_format(index: IndexFile, fmt: str = "auto") -> str:
    """`auto` keeps the format the index was read in; a new index is JSON."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown index format {fmt!r} (choose from {', '.join(FORMATS)})", code="usage")
    if fmt == "auto":
        return index.source_format or "json"
    return fmt
def dump_index(index: IndexFile, fmt: str = "auto") -> str:
    return dump_json_index(index) if resolve_format(index, fmt) == "json" else dump_yaml_index(index)


def dump_and_read_back(index: IndexFile, fmt: str, path: str) -> tuple[str, IndexFile]:
    """The index's text (`dump_index`) and what reading that text gives (`parse_index`),
    the latter without reading the whole text again when some blocks were re-emitted into
    the text the index was read from."""
    from chartgen.repo.reading import parse_index, read_back

    fmt = resolve_format(index, fmt)
    if fmt == index.source_format and index._spans and index.changed:
        text, spans = (_splice_json if fmt == "json" else _splice_yaml)(index)
        last_end = max(end for _, end in spans.values())
        if fmt == "json" or text[last_end - 1:last_end] == "\n":
            written = read_back(text, path, index, spans, index.changed)
            if written is not None:
                return text, written
        return text, parse_index(text, path)
    text = dump_index(index, fmt)
    return text, parse_index(text, path)


def write_repository_files(index: IndexFile, folder: Path, *, fmt: str = "auto", html: bool = True,
                           title: str = "Helm charts", base_url: str | None = None, alias: str = "",
                           oci: str = "", archives: Iterable = (), previous: Iterable[Path] = ()) -> list[Path]:
    """Write index.yaml atomically into `folder`, and with `html` the pages: index.html and
    catalogue.json (cards reused from the folder's or the `previous` catalogue), and a page
    for each of `archives` (`chartgen.repo.pages`). Returns the paths.

    index.yaml goes last: a run killed in between leaves the old index, so the next run
    sees the archives as new and writes every file again (never a stale page for good)."""
    from chartgen.fsutil import sweep_leftovers, write_atomic

    sweep_leftovers(folder)   # temporary files of killed runs
    target = folder / INDEX_NAME
    if not html:
        text = dump_index(index, fmt)
    written = []
    if html:
        from chartgen.repo.html import PageOptions
        from chartgen.repo.pages import write_catalogue, write_chart_pages

        text, read_back = dump_and_read_back(index, fmt, str(target))
        options = PageOptions(title, base_url or "", alias, oci)
        written += write_chart_pages(folder, archives, options)
        written += write_catalogue(read_back, folder, options, previous=previous)
    write_atomic(target, text)
    written.insert(0, target)
    return written
