"""The chart page's fast rule for plain Markdown tables (chartgen.repo.mdtable) gives the HTML of
markdown-it's own rules, on plain tables and on every table it leaves to markdown-it."""

from __future__ import annotations

import random

import pytest


def _render(text: str, fast: bool) -> str:
    import chartgen.repo.mdtable as mdtable
    from chartgen.repo.html import render_markdown

    if fast:
        return str(render_markdown(text))
    real = mdtable.plain_table
    mdtable.plain_table = lambda state, start, end, silent: False
    try:
        return str(render_markdown(text))
    finally:
        mdtable.plain_table = real


def _taken(text: str) -> bool:
    """Whether the fast rule renders a table of `text`."""
    from markdown_it import MarkdownIt

    from chartgen.repo.mdtable import plain_table

    parser = MarkdownIt("commonmark", {"html": False}).enable("table")
    parser.block.ruler.before("table", "plain_table", plain_table)
    return any(t.type == "html_block" for t in parser.parse(text))


ROWS = "\n".join(f"| flow-{i:04d}.enabled | bool | `false` | Install flow-{i:04d} 0.1.{i}-rc.1 (workflow "
                 f"`flow{i}`, generic). |" for i in range(30))
UMBRELLA = ("# workflows\n\n## Workflows\n\n| Key | Type | Default | Description |\n"
            "|-----|------|---------|-------------|\n"
            + ROWS + "\n\n## Compatibility matrix\n\n| Chart | Kubernetes |\n|---|---|\n| a | `>=1.27.0-0 <2` |\n")

PLAIN = {
    "umbrella": UMBRELLA,
    "no body": "| A | B |\n|---|---|\n",
    "at the end without a new line": "| A | B |\n|---|---|\n| x | y |",
    "after a paragraph": "text\n| A | B |\n|---|---|\n| x | y |\n",
    "code with markup inside": "| A |\n|---|\n| `<script>&amp;*x*[a](b)\"'` |\n",
    "after a list": "- item\n\n| A |\n|---|\n| x |\n",
}
HOSTILE = {
    "emphasis": "| A |\n|---|\n| *x* |\n",
    "underscore": "| A |\n|---|\n| a_b_ |\n",
    "link": "| A |\n|---|\n| [x](javascript:alert(1)) |\n",
    "image": "| A |\n|---|\n| ![x](http://e/x.png) |\n",
    "raw html": "| A |\n|---|\n| <script>alert(1)</script> |\n",
    "autolink": "| A |\n|---|\n| <http://e> |\n",
    "entity": "| A |\n|---|\n| &lt;b&gt; |\n",
    "escaped pipe": "| A |\n|---|\n| a \\| b |\n",
    "adjacent code spans": "| A |\n|---|\n| `a``b` |\n",
    "code span with spaces": "| A |\n|---|\n| ` a ` |\n",
    "unclosed code span": "| A |\n|---|\n| `a |\n",
    "alignment": "| A | B |\n|:---|---:|\n| x | y |\n",
    "short row": "| A | B |\n|---|---|\n| x |\n",
    "long row": "| A | B |\n|---|---|\n| x | y | z |\n",
    "text after the table": "| A |\n|---|\n| x |\nmore text\n",
    "no-break space after the table": "| A |\n|---|\n| x |\n\u00a0\n",
    "spaces after the table": "| A |\n|---|\n| x |\n   \n",
    "in a quote": "> | A |\n> |---|\n> | x |\n",
    "in a list": "- | A |\n  |---|\n  | x |\n",
    "indented": "  | A |\n  |---|\n  | x |\n",
    "code block": "    | A |\n    |---|\n    | x |\n",
    "tab": "| A |\n|---|\n| a\tb |\n",
    "non-ASCII": "| A |\n|---|\n| é |\n",
    "empty cell": "| A | B |\n|---|---|\n|  | y |\n",
    "wider spacing": "|  A | B |\n|---|---|\n| x | y |\n",
    "no outer pipes": "A | B\n---|---\nx | y\n",
    "reference link": "| A |\n|---|\n| [x] |\n\n[x]: javascript:alert(1)\n",
    "heading in the table": "| A |\n|---|\n# h |\n",
}


@pytest.mark.parametrize("case", sorted(PLAIN))
def test_plain_tables_are_rendered_as_markdown_it_renders_them(case):
    text = PLAIN[case]
    assert _taken(text)
    assert _render(text, fast=True) == _render(text, fast=False)


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_other_tables_are_left_to_markdown_it(case):
    text = HOSTILE[case]
    assert not _taken(text)
    assert _render(text, fast=True) == _render(text, fast=False)


def test_random_tables():
    """Tables of random cells, some plain and some not: the same HTML either way."""
    rng = random.Random(13)
    plain = ["a", "Z9", "x y", ".", "-", "(x)", "`c`", "`<b> & *i*`", "1.0.0-rc.1", ":", "/", "=", "+", ","]
    other = ["``", "`", "*", "_", "[", "]", "!", "<", ">", "&", "\\", "|", "\u00e9", "\t", "#", "~", " ", "` x`"]
    taken = 0
    for _ in range(300):
        columns = rng.randint(1, 4)
        odd = rng.random() < 0.5

        def cell():
            return "".join(rng.choice(plain + other if odd and rng.random() < 0.3 else plain)
                           for _ in range(rng.randint(1, 4)))

        lines = ["| " + " | ".join(cell() for _ in range(columns)) + " |", "|" + "---|" * columns]
        lines += ["| " + " | ".join(cell() for _ in range(columns)) + " |" for _ in range(rng.randint(0, 4))]
        text = rng.choice(["", "text\n", "# h\n\n"]) + "\n".join(lines) + rng.choice(["\n", "\n\nafter\n", ""])
        taken += _taken(text)
        assert _render(text, fast=True) == _render(text, fast=False), text
    assert taken >= 100, taken
