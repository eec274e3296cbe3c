"""A long Chart.yaml cut into pieces that yamllint judges as it judges the whole file.

An umbrella chart's Chart.yaml lists every workflow under `dependencies:` (three lines each)
and one changed workflow changes one entry, so yamllint of the whole file (0.6 s at 1,000
workflows) would run again for three lines. `pieces` cuts it into
- the head piece: the file without dependency entries 2..n (its real first and last lines,
  every top-level key and blank line, and the first entry), and
- blocks of entries 2..n, each between the fixed lines `dependencies:` / `- name: x` and
  `end: x`,
whose problems are kept by their text (a block's text does not say where it stands, so an
added workflow moves blocks without changing them), and maps their lines back to the file's.

Why that is yamllint's result on the whole file. A file is cut only when
- every dependency entry is flat: lines `- key: value` / `  key: value` of printable ASCII
  with a plain value or none (no quote, comment, anchor, alias, tag, flow or block scalar, tab,
  blank line), and
  the first line after the list that is not empty starts a top-level key;
- `dependencies` is a key of the top-level block mapping of the first document, and PyYAML
  (whose tokens yamllint checks) parses the head piece, which holds the file's text up to the
  list;
- no line starts a `%` directive and no comment can be a `yamllint` directive (the text does
  not name yamllint at all);
and the caller takes the whole file when a piece has a syntax error. Then each entry line is
whole tokens that neither read nor change yamllint's state of the document (indentation width
and sequence style, anchors, quote style, YAML version, disabled rules); at the start of every
entry after the first, the indentation and key stacks are the same (an entry of a block sequence
at column 0, the value of a top-level key), so token rules give an entry line the same problems
after any such prefix, and line rules (trailing spaces, line length) read only the line. What
depends on the file as a whole (document start and end, new line at end of file, blank lines,
duplicate or unordered top-level keys, the first entry's indentation) is judged in the head
piece, which has all of it; problems of a block piece on its fixed lines (where it starts and
ends) are dropped (the head piece has those places).
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass

_ENTRY_LINE = re.compile(r"(?:- |  )[A-Za-z0-9_][A-Za-z0-9_./-]*:(?: +[^ #&*!|>{}\[\]'\"%@`,?:-][^#'\"]*)? *")
_PREFIX = "dependencies:\n- name: x\n"    # a block piece's fixed first lines
_SUFFIX = "end: x\n"                      # and last line
# A block ends after an entry whose first line's CRC-32 is 0 modulo _MEAN_BLOCK (so an added or
# removed entry changes only its own block), or at _MAX_BLOCK entries.
_MEAN_BLOCK = 32
_MAX_BLOCK = 128


@dataclass(frozen=True)
class Piece:
    """Text to lint and where its lines are in the file: `(first, last, shift)` ranges of
    piece lines (1-based) and what to add to them; problems on other lines are dropped."""

    text: str
    ranges: tuple[tuple[int, int, int], ...]

    def file_line(self, line: int) -> int | None:
        for first, last, shift in self.ranges:
            if first <= line <= last:
                return line + shift
        return None


def pieces(text: str, mean_block: int = _MEAN_BLOCK) -> list[Piece] | None:
    """The pieces of `text`, or None when it is not cut (see the module's comment);
    `mean_block`: the mean entries of a block (tests cut small files into many)."""
    if "yamllint" in text or text.startswith("%") or "\n%" in text:
        return None
    lines = text.split("\n")
    try:
        start = lines.index("dependencies:") + 1
    except ValueError:
        return None
    end = start
    while end < len(lines) and _flat(lines[end]):
        end += 1
    after = end
    while after < len(lines) and not lines[after]:
        after += 1
    if after == len(lines) or not re.match(r"[A-Za-z0-9_]", lines[after]):
        return None     # the list must end where a top-level key starts
    entries = [i for i in range(start, end) if lines[i].startswith("- ")]
    if len(entries) < 2 or entries[0] != start:
        return None    # one entry: nothing to gain
    first_end = entries[1]
    head_text = "\n".join(lines[:first_end] + lines[end:])
    if not _dependencies_at(head_text, start - 1):
        return None
    result = [Piece(head_text, ((1, first_end, 0), (first_end + 1, len(lines) + 1, end - first_end)))]
    block_start, count = first_end, 0
    bounds = entries[1:] + [end]
    for entry, following in zip(bounds, bounds[1:]):
        count += 1
        if following == end or count == _MAX_BLOCK or zlib.crc32(lines[entry].encode("utf-8")) % mean_block == 0:
            body = lines[block_start:following]
            result.append(Piece(_PREFIX + "\n".join(body) + "\n" + _SUFFIX,
                                ((3, 2 + len(body), block_start - 2),)))
            block_start, count = following, 0
    return result


def _flat(line: str) -> bool:
    return line.isascii() and line.isprintable() and _ENTRY_LINE.fullmatch(line) is not None


def _dependencies_at(text: str, line: int) -> bool:
    """`dependencies` on 0-based `line` is a plain key of the first document's top-level block
    mapping, and its value a block sequence starting on the next line. PyYAML's own parser:
    yamllint's token checks read its tokens, and stop without a word where its scanner fails
    on what libyaml takes (a tab after a colon), so the whole file's checks would stop there."""
    import yaml

    stack: list[list] = []     # [kind, nodes seen] of the open collections
    found = False
    try:
        for event in yaml.parse(text, Loader=yaml.BaseLoader):
            if isinstance(event, yaml.DocumentEndEvent):
                return False
            if isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
                stack.pop()
                continue
            if not isinstance(event, yaml.NodeEvent):
                continue
            if found:
                return isinstance(event, yaml.SequenceStartEvent) and not event.flow_style \
                    and event.start_mark.line == line + 1 and event.start_mark.column == 0
            is_key = len(stack) == 1 and stack[0][0] == "map" and stack[0][1] % 2 == 0
            if stack:
                stack[-1][1] += 1
            found = is_key and isinstance(event, yaml.ScalarEvent) and event.value == "dependencies" \
                and not event.style and event.start_mark.line == line and event.start_mark.column == 0
            if isinstance(event, yaml.SequenceStartEvent):
                stack.append(["seq", 0])
            elif isinstance(event, yaml.MappingStartEvent):
                stack.append(["map", 0])
    except yaml.YAMLError:
        return False
    return False
