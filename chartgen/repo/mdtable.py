"""A markdown-it block rule that renders plain tables fast: the HTML markdown-it's own table
rule and inline parser make of them, without a token per cell.

A README of an umbrella chart holds two tables of a row per workflow; markdown-it spends
about 0.1 ms a row on them (a split by characters, an inline parse and a dozen tokens a
cell). This rule runs before markdown-it's `table` and takes a table only when every line of
it is plain, else it leaves the table to markdown-it:
- at the top level (not in a list or a quote), each line `| cell | cell |` from column 0, the
  second `|---|---|` (no alignment), every row with the header's number of cells, and an empty
  line or the end after the last row (markdown-it would take any other line as a row);
- each cell is printable ASCII made of words (letters, digits, spaces, `.,:;()/=+-`) and code
  spans (`` `text` ``, no backtick, `|` or backslash inside, no space at either end, no two
  spans side by side): no character that starts an inline construct (emphasis, link, image,
  entity, escape, autolink, raw HTML), so the inline parse gives the words as text and each span
  as code, both escaped as markdown-it escapes them.
The table becomes one HTML block token; markdown-it renders such a token as it is. Tests compare
the result with markdown-it's on plain and on hostile tables.
"""

from __future__ import annotations

import re

_WORDS = r"[A-Za-z0-9 .,:;()/=+-]"
_SPAN = r"`[^`|\\ ](?:[^`|\\]*[^`|\\ ])?`(?!`)"
_CELL = re.compile(rf"(?:{_WORDS}|{_SPAN})+")
_PARTS = re.compile(rf"({_SPAN})")
_RULE = re.compile(r"\|(?:-+\|)+")


def _cells(line: str) -> list[str] | None:
    if not (line.startswith("| ") and line.endswith(" |") and line.isascii() and line.isprintable()):
        return None
    cells = line[2:-2].split(" | ")
    if not all(_CELL.fullmatch(cell) and cell[0] != " " and cell[-1] != " " for cell in cells):
        return None
    return cells


def _inline(cell: str) -> str:
    from markdown_it.common.utils import escapeHtml

    return "".join(f"<code>{escapeHtml(part[1:-1])}</code>" if part.startswith("`") else escapeHtml(part)
                   for part in _PARTS.split(cell) if part)


def plain_table(state, start: int, end: int, silent: bool) -> bool:
    """The block rule (markdown-it's signature); see the module's comment."""
    if state.level != 0 or state.blkIndent != 0 or start + 2 > end:   # (parentType is not kept right)
        return False

    def line(number: int) -> str:
        return state.src[state.bMarks[number]:state.eMarks[number]]

    header = _cells(line(start))
    rule = line(start + 1)
    if header is None or not _RULE.fullmatch(rule) or rule.count("|") != len(header) + 1:
        return False
    rows = []
    number = start + 2
    while number < end and line(number):
        cells = _cells(line(number))
        if cells is None or len(cells) != len(header):
            return False
        rows.append(cells)
        number += 1
    if silent:
        return True
    html = ["<table>\n<thead>\n<tr>\n"]
    html += [f"<th>{_inline(cell)}</th>\n" for cell in header]
    html.append("</tr>\n</thead>\n")
    if rows:
        html.append("<tbody>\n")
        for cells in rows:
            html.append("<tr>\n")
            html += [f"<td>{_inline(cell)}</td>\n" for cell in cells]
            html.append("</tr>\n")
        html.append("</tbody>\n")
    html.append("</table>\n")
    token = state.push("html_block", "", 0)
    token.map = [start, number]
    token.content = "".join(html)
    state.line = number
    return True
